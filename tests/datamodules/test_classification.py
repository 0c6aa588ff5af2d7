"""Semi-supervised classification datamodules and the metadata teacher on EuroSAT / BigEarthNet."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torchgeo.main import main as torchgeo_main

from torchgeo_als4gan.datamodules import (
    BigEarthNetContextDataModule,
    EuroSATContextDataModule,
)
from torchgeo_als4gan.datamodules.classification import labeled_indices
from torchgeo_als4gan.main import main

ROOT = Path(__file__).parents[2]
DATA = ROOT / 'tests' / 'data'

#: Overrides pointing each classifier config at its fixture, with a tiny ViT.
FIXTURES = {
    'eurosat_context_classifier.yaml': [
        f'--data.init_args.root={DATA / "eurosat"}',
        '--data.init_args.labels_per_class=2',
        '--model.init_args.num_classes=3',
        '--model.init_args.model_kwargs={"img_size": 8, "patch_size": 4, "depth": 1}',
    ],
    'bigearthnet_context_classifier.yaml': [
        f'--data.init_args.root={DATA / "bigearthnet"}',
        '--data.init_args.labeled_ratio=0.5',
        '--model.init_args.model_kwargs={"img_size": 120, "patch_size": 40, "depth": 1}',
    ],
}


def test_every_classifier_config_is_tested() -> None:
    found = {p.name for p in (ROOT / 'configs').glob('*_classifier.yaml')}
    assert found == set(FIXTURES)


def test_labels_per_class_and_ratio() -> None:
    targets = [0] * 5 + [1] * 3 + [2] * 1
    chosen = labeled_indices(targets, 9, 2, None, seed=0)
    counts = np.bincount(np.asarray(targets)[chosen], minlength=3)
    assert counts.tolist() == [2, 2, 1]  # a class with fewer items gives them all
    assert chosen == labeled_indices(targets, 9, 2, None, seed=0)
    assert len(labeled_indices(None, 200, None, 0.05, seed=1)) == 10
    with pytest.raises(
        ValueError, match='exactly one of labels_per_class and labeled_ratio'
    ):
        labeled_indices(targets, 9, 2, 0.5, 0)
    with pytest.raises(ValueError, match='use labeled_ratio for multi-label'):
        labeled_indices(None, 9, 2, None, 0)
    with pytest.raises(ValueError, match=r'labeled_ratio must be in \(0, 1\]'):
        labeled_indices(None, 9, None, 1.5, 0)


def test_eurosat_batches_labelled_and_unlabelled_with_metadata(data_dir: Path) -> None:
    dm = EuroSATContextDataModule(
        root=str(data_dir / 'eurosat'), labels_per_class=1, batch_size=2,
        unlabeled_batch_size=3,
    )  # fmt: skip
    dm.setup('fit')
    assert len(dm.labeled_items) == 3 and len(dm.unlabeled_items) == 9
    assert not set(dm.labeled_items) & set(dm.unlabeled_items)
    labels = [int(dm.train_dataset[i]['label']) for i in dm.labeled_items]
    assert sorted(labels) == [0, 1, 2]
    batch = next(iter(dm.train_dataloader()))
    batch = batch[0] if isinstance(batch, tuple) else batch
    assert batch['labeled']['image'].shape == (2, 13, 8, 8)
    assert batch['unlabeled']['metadata'].shape == (3, 4)
    # normalized with TorchGeo's EuroSAT band statistics on transfer
    out = dm.on_after_batch_transfer(batch, 0)
    assert out['labeled']['image'].abs().mean() < batch['labeled']['image'].abs().mean()


def test_bigearthnet_multilabel_share(data_dir: Path) -> None:
    dm = BigEarthNetContextDataModule(
        root=str(data_dir / 'bigearthnet'), bands='s2', labeled_ratio=0.5, batch_size=2
    )
    dm.setup('fit')
    assert len(dm.labeled_items) == 2 and len(dm.unlabeled_items) == 2
    batch = next(iter(dm.train_dataloader()))
    batch = batch[0] if isinstance(batch, tuple) else batch
    out = dm.on_after_batch_transfer(batch, 0)
    assert out['labeled']['image'].shape == (2, 12, 120, 120)
    assert out['labeled']['label'].shape == (2, 19)
    assert out['labeled']['label'].dtype == torch.long


@pytest.mark.parametrize('config', sorted(FIXTURES))
def test_metadata_teacher_fits_and_evaluates_end_to_end(
    config: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    args = [
        '--config', str(ROOT / 'configs' / config), *FIXTURES[config],
        '--data.init_args.batch_size=2', '--data.init_args.unlabeled_batch_size=2',
        '--data.init_args.num_workers=0', '--data.init_args.steps_per_epoch=2',
        '--trainer.max_steps=2', '--trainer.accelerator=cpu',
        '--trainer.enable_progress_bar=false',
        f'--trainer.default_root_dir={tmp_path}',
        f'--trainer.callbacks.init_args.dirpath={tmp_path / "checkpoints"}',
    ]  # fmt: skip
    torchgeo_main(['fit', *args])
    main(['fit', *args])
    checkpoints = sorted((tmp_path / 'checkpoints').glob('*.ckpt'))
    assert checkpoints
    main([
        'evaluate', '--config', str(ROOT / 'configs' / config), *FIXTURES[config],
        '--data.init_args.num_workers=0', f'--checkpoints={tmp_path / "checkpoints"}',
        '--split=test',
    ])  # fmt: skip
    report = json.loads((tmp_path / 'checkpoints' / 'evaluation_test.json').read_text())
    row = report['checkpoints'][0]
    assert 0 <= row['macro_f1'] <= 1 and row['items'] >= 1
    assert report['best']['macro_f1'] == max(
        r['macro_f1'] for r in report['checkpoints']
    )
