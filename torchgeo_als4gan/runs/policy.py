"""The policy every fit of a grid or loop is trained and scored under."""

from dataclasses import dataclass, field
from pathlib import Path

__all__ = (
    'POLICY_FOLDER',
    'RESUME_FOLDER',
    'SELECTION_FILE_ARG',
    'TEST_CLASSES',
    'TEST_CONFUSION',
    'RunPolicy',
    'check_extra_tests',
    'discard_checkpoints_after',
    'policy_args',
    'resume_checkpoint',
)

#: Folder of a run's checkpoints written under the policy.
POLICY_FOLDER = 'policy_checkpoints'

#: Folder of a run's full-state checkpoint (``last.ckpt``) to continue from.
RESUME_FOLDER = 'resume'

#: Per-item confusion matrices of a run's chosen checkpoint on test.
TEST_CONFUSION = 'test_confusion.npy'
#: The class names of a run's test confusions (a JSON list), for reports.
TEST_CLASSES = 'test_classes.json'

#: Override that hands a selection file to the datamodule.
SELECTION_FILE_ARG = '--data.init_args.selection_file='


def check_extra_tests(extra_tests: object) -> None:
    """Refuse ``extra_tests`` that are not names mapped to override lists.

    Args:
        extra_tests: the YAML's ``extra_tests``.

    Raises:
        ValueError: If it is not a mapping of identifiers to lists.
    """
    if not isinstance(extra_tests, dict):
        msg = f'extra_tests must map names to lists of overrides, got {extra_tests!r}'
        raise ValueError(msg)
    for name, args in extra_tests.items():
        if not str(name).isidentifier() or not isinstance(args, list):
            msg = (
                'extra_tests must map names (letters, digits, _) to lists of'
                f' overrides, got {name!r}: {args!r}'
            )
            raise ValueError(msg)


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
        resume_every: keep the fit's full state every this many iterations
            in ``<run>/resume/last.ckpt`` (None: not kept; an interrupted run
            starts again).
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
    resume_every: int | None = None

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
        *_resume_args(policy, run),
    ]  # fmt: skip


def _resume_args(policy: RunPolicy, run: Path) -> list[str]:
    """A second ``ModelCheckpoint``: the full state, every ``resume_every`` steps."""
    if policy.resume_every is None:
        return []
    return [
        '--trainer.callbacks+=lightning.pytorch.callbacks.ModelCheckpoint',
        f'--trainer.callbacks.dirpath={run / RESUME_FOLDER}',
        '--trainer.callbacks.save_top_k=0', '--trainer.callbacks.save_last=true',
        f'--trainer.callbacks.every_n_train_steps={policy.resume_every}',
        '--trainer.callbacks.enable_version_counter=false',
    ]  # fmt: skip


def resume_checkpoint(policy: RunPolicy, run: Path) -> Path | None:
    """The full-state checkpoint an interrupted fit of ``run`` continues from.

    Args:
        policy: the policy (only with ``resume_every`` is one kept).
        run: the run folder.

    Returns:
        ``<run>/resume/last.ckpt`` when the policy keeps one and it exists.
    """
    path = run / RESUME_FOLDER / 'last.ckpt'
    return path if policy.resume_every is not None and path.is_file() else None


def discard_checkpoints_after(run: Path, resume: Path) -> list[Path]:
    """Delete the policy checkpoints an interrupted fit wrote after ``resume``.

    The fit continues from ``resume``'s step; checkpoints of later steps belong
    to the part that is trained again and would be scored twice.

    Args:
        run: the run folder.
        resume: the full-state checkpoint the fit continues from.

    Returns:
        The deleted files.
    """
    import torch

    state = torch.load(resume, map_location='cpu', weights_only=False, mmap=True)
    step = int(state['global_step'])
    deleted = []
    for path in sorted((run / POLICY_FOLDER).glob('*.ckpt')):
        # named {epoch}-{step}-{val_miou:.4f}.ckpt by the policy
        parts = path.stem.split('-')
        if len(parts) >= 3 and parts[1].isdigit() and int(parts[1]) > step:
            path.unlink()
            deleted.append(path)
    return deleted
