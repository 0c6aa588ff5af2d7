"""The policy every fit of a grid or loop is trained and scored under."""

from dataclasses import dataclass, field
from pathlib import Path

__all__ = (
    'POLICY_FOLDER',
    'SELECTION_FILE_ARG',
    'TEST_CONFUSION',
    'RunPolicy',
    'policy_args',
)

#: Folder of a run's checkpoints written under the policy.
POLICY_FOLDER = 'policy_checkpoints'

#: Per-item confusion matrices of a run's chosen checkpoint on test.
TEST_CONFUSION = 'test_confusion.npy'

#: Override that hands a selection file to the datamodule.
SELECTION_FILE_ARG = '--data.init_args.selection_file='


@dataclass(frozen=True)
class RunPolicy:
    """How one method is fitted and scored, the same for every run compared.

    Attributes:
        data_args: datamodule overrides of every step.
        model_args: model overrides (fit and evaluation).
        trainer_args: trainer overrides (fit only).
        device: where checkpoints are evaluated (``auto``, ``cpu``, ``cuda``).
        checkpoint_top_k: checkpoints kept per run by validation mIoU.
        val_check_interval: validate every this many training iterations
            (None: at the end of every epoch).
        bootstrap_samples: resamples of the test items for intervals.
        bootstrap_seed: seed of the resamples.
        extra_tests: more test sets, name -> datamodule overrides.
    """

    data_args: tuple[str, ...] = ()
    model_args: tuple[str, ...] = ()
    trainer_args: tuple[str, ...] = ()
    device: str = 'auto'
    checkpoint_top_k: int = 3
    val_check_interval: int | None = None
    bootstrap_samples: int = 1000
    bootstrap_seed: int = 0
    extra_tests: dict[str, list[str]] = field(default_factory=dict)

    @property
    def description(self) -> str:
        """The checkpoint policy in words (recorded with every result)."""
        every = (
            'every epoch'
            if self.val_check_interval is None
            else f'every {self.val_check_interval} iterations'
        )
        return f'best {self.checkpoint_top_k} by val_miou, validated {every}'


def policy_args(policy: RunPolicy, run: Path) -> list[str]:
    """Trainer arguments that give every method the same checkpoint policy.

    Whatever the method config says: the scores of
    :class:`~torchgeo_als4gan.evaluation.SegmentationScores` (``val_miou`` by
    one code path for every task, TorchGeo's included) and one
    ``ModelCheckpoint`` on ``val_miou`` keeping the best
    ``checkpoint_top_k`` in the run's own folder, validated at the same
    interval, weights only. Only these checkpoints are scored.

    Args:
        policy: the policy.
        run: the run folder.

    Returns:
        ``--trainer.*`` overrides.
    """
    interval = (
        ['--trainer.check_val_every_n_epoch=1']
        if policy.val_check_interval is None
        else [
            f'--trainer.val_check_interval={policy.val_check_interval}',
            '--trainer.check_val_every_n_epoch=null',
        ]
    )
    return [
        '--trainer.enable_checkpointing=true',
        '--trainer.callbacks+=torchgeo_als4gan.evaluation.SegmentationScores',
        '--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint',
        f'--trainer.callbacks.dirpath={run / POLICY_FOLDER}',
        '--trainer.callbacks.monitor=val_miou', '--trainer.callbacks.mode=max',
        f'--trainer.callbacks.save_top_k={policy.checkpoint_top_k}',
        # scored, never resumed (an interrupted run starts again): no optimizer
        # state, which would double every file (0.23 GB per demo checkpoint)
        '--trainer.callbacks.save_weights_only=true',
        '--trainer.callbacks.filename={epoch}-{step}-{val_miou:.4f}',
        '--trainer.callbacks.auto_insert_metric_name=false', *interval,
    ]  # fmt: skip
