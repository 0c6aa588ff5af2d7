"""SourceTargetDataModule: source + target labelled batches, target-only evaluation."""

from pathlib import Path
from typing import Any

import pytest
import torch
from lightning import Trainer
from torchgeo.main import main as torchgeo_main
from torchgeo.trainers import SemanticSegmentationTask

from torchgeo_als4gan.datamodules import (
    GeoSegmentationDataModule,
    SourceTargetDataModule,
)
from torchgeo_als4gan.datamodules.domains import class_lookup
from torchgeo_als4gan.main import main

ROOT = Path(__file__).parents[2]
DATA = ROOT / 'tests' / 'data' / 'georaster'
CLASSES = ('background', 'building', 'water')


def raster(**kwargs: Any) -> GeoSegmentationDataModule:
    options: dict[str, Any] = {
        'image_paths': str(DATA / 'imagery'),
        'label_paths': str(DATA / 'vectors' / 'labels.geojson'),
        'label_name': 'landcover', 'classes': CLASSES, 'patch_size': 16,
        'split_block': 1, 'batch_size': 2,
    }  # fmt: skip
    options.update(kwargs)
    return GeoSegmentationDataModule(**options)


class Training:
    training = True


def first_batch(dm: SourceTargetDataModule) -> dict[str, Any]:
    dm.trainer = Training()  # type: ignore[assignment]
    batch = next(iter(dm.train_dataloader()))
    batch = batch[0] if isinstance(batch, tuple) else batch
    moved = dm.transfer_batch_to_device(batch, torch.device('cpu'), 0)
    out: dict[str, Any] = dm.on_after_batch_transfer(moved, 0)
    return out


def test_class_lookup_by_name_map_and_ignore() -> None:
    table = class_lookup(['water', 'urban', 'cloud', 'background'], CLASSES,
                         {'urban': 'building', 'cloud': None}, 255)  # fmt: skip
    assert table.tolist() == [2, 1, 255, 0]
    assert class_lookup(['snow'], CLASSES, None, 255).tolist() == [255]
    with pytest.raises(ValueError, match=r"source \['forest'\].*target \['road'\]"):
        class_lookup(['water'], CLASSES, {'forest': 'road'}, 255)


def test_joined_batches_in_the_configured_ratio_with_mapped_classes() -> None:
    target = raster(labeled_ratio=0.5, unlabeled=True)
    # the same imagery as a source whose classes come in another order
    source = raster(classes=('water', 'building', 'background'), unlabeled=True)
    dm = SourceTargetDataModule(target, source, source_ratio=1.5)
    dm.setup('fit')
    assert dm.lookup is not None and dm.lookup.tolist() == [2, 1, 0]
    out = first_batch(dm)
    labeled = out['labeled']
    # 2 target items + round(1.5 * 2) = 3 source items; the unlabelled stream is the target's
    assert labeled['domain'].tolist() == [0, 0, 1, 1, 1]
    assert labeled['image'].shape == (5, 3, 16, 16)
    assert out['unlabeled']['image'].shape[0] == 2
    masks = labeled['mask']
    assert set(masks.unique().tolist()) <= {0, 1, 2, 255}
    # source mask values are source class indices; they become target indices
    view = dm._source_view(
        {'image': torch.zeros(1, 3, 1, 4), 'mask': torch.tensor([[[0, 1, 2, 255]]])},
        torch.zeros(1, 3, 1, 4),
    )
    assert view['mask'].tolist() == [[[2, 1, 0, 255]]]
    # every epoch is as long as the target's own
    joined, alone = dm.train_dataloader(), target.train_dataloader()
    iter(joined), iter(alone)
    assert len(joined) == len(alone)


def test_source_ratio_zero_is_target_only_and_bands_must_match() -> None:
    dm = SourceTargetDataModule(
        raster(labeled_ratio=0.5, unlabeled=False), raster(), source_ratio=0
    )
    dm.setup('fit')
    out = first_batch(dm)
    assert 'domain' not in out and out['image'].shape[0] == 2
    two_bands = SourceTargetDataModule(
        raster(labeled_ratio=0.5, unlabeled=False), raster(bands=[1, 2]), source_ratio=1
    )
    two_bands.setup('fit')
    with pytest.raises(ValueError, match='source images have 2 bands, target images 3'):
        first_batch(two_bands)
    mapped = SourceTargetDataModule(
        raster(labeled_ratio=0.5, unlabeled=False),
        raster(bands=[1, 2]),
        1,
        band_map=[0, 1, 1],
    )
    mapped.setup('fit')
    assert first_batch(mapped)['image'].shape == (4, 3, 16, 16)
    with pytest.raises(ValueError, match='source_ratio must not be negative'):
        SourceTargetDataModule(raster(), raster(), -1)


def test_evaluation_sees_target_data_only() -> None:
    target = raster(labeled_ratio=0.5, unlabeled=False)
    dm = SourceTargetDataModule(target, raster(), source_ratio=1.0)
    seen: list[int] = []

    class Recording(SemanticSegmentationTask):
        def validation_step(
            self, batch: Any, batch_idx: int, dataloader_idx: int = 0
        ) -> None:
            assert 'domain' not in batch
            seen.append(batch['image'].shape[0])
            super().validation_step(batch, batch_idx, dataloader_idx)

    model = Recording(
        model='unet',
        backbone='resnet18',
        in_channels=3,
        num_classes=3,
        ignore_index=255,
    )
    trainer = Trainer(
        max_epochs=1, limit_train_batches=1, accelerator='cpu', logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
    )  # fmt: skip
    trainer.fit(model, dm)
    assert sum(seen) == int((target.footprints['split'] == 'val').sum()) > 0
    # checkpoints get the target's prediction metadata (classes, normalization)
    from torchgeo_als4gan.datamodules.metadata import INFERENCE_KEY

    meta = dm.state_dict()[INFERENCE_KEY]
    assert dm.classes == target.classes and list(meta['classes']) == list(CLASSES)


def test_source_target_config_fits_with_both_clis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    side = [
        f'.init_args.image_paths={DATA / "imagery"}',
        f'.init_args.label_paths={DATA / "vectors" / "labels.geojson"}',
        '.init_args.patch_size=16', '.init_args.split_block=1',
        '.init_args.batch_size=2', '.init_args.num_workers=0',
    ]  # fmt: skip
    args = [
        'fit', '--config', str(ROOT / 'configs' / 'raster_source_target_self_training.yaml'),
        *[f'--data.init_args.target{a}' for a in side],
        *[f'--data.init_args.source{a}' for a in side],
        '--data.init_args.source.init_args.split_fractions=[1.0,0.0,0.0]',
        '--model.init_args.backbone=resnet18', '--trainer.fast_dev_run=true',
        '--trainer.accelerator=cpu', f'--trainer.default_root_dir={tmp_path}',
    ]  # fmt: skip
    torchgeo_main(args)
    main(args)


def test_every_source_target_config_is_tested() -> None:
    found = {p.name for p in (ROOT / 'configs').glob('*_source_target*.yaml')}
    assert found == {'raster_source_target_self_training.yaml'}


def test_source_only_baseline_keeps_the_target_unlabelled_stream() -> None:
    dm = SourceTargetDataModule(
        raster(labeled_ratio=0.5, unlabeled=True), raster(), source_ratio=2.0,
        target_labels=False,
    )  # fmt: skip
    dm.setup('fit')
    out = first_batch(dm)
    assert out['labeled']['domain'].tolist() == [1, 1, 1, 1]
    assert out['unlabeled']['image'].shape[0] == 2
    with pytest.raises(ValueError, match='target_labels: false needs source_ratio > 0'):
        SourceTargetDataModule(raster(), raster(), 0.0, target_labels=False)


def test_a_source_without_labels_is_refused() -> None:
    unlabelled = GeoSegmentationDataModule(
        image_paths=str(DATA / 'imagery'), classes=CLASSES, patch_size=16, batch_size=2
    )
    dm = SourceTargetDataModule(raster(labeled_ratio=0.5), unlabelled, 1.0)
    with pytest.raises(
        ValueError, match='source datamodule GeoSegmentationDataModule has no labelled'
    ):
        dm.setup('fit')


@pytest.mark.parametrize('method', ['supervised', 's4gan', 'self_training'])
def test_every_method_trains_on_joined_batches(
    method: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import yaml

    monkeypatch.chdir(tmp_path)
    raw = yaml.safe_load((ROOT / 'configs' / f'raster_{method}.yaml').read_text())
    sides = {}
    for side in ('target', 'source'):
        data = yaml.safe_load(yaml.safe_dump(raw['data']))
        data['init_args'].update({
            'image_paths': str(DATA / 'imagery'),
            'label_paths': str(DATA / 'vectors' / 'labels.geojson'),
            'patch_size': 16, 'split_block': 1, 'batch_size': 2, 'num_workers': 0,
        })  # fmt: skip
        sides[side] = data
    raw['data'] = {
        'class_path': 'torchgeo_als4gan.datamodules.SourceTargetDataModule',
        'init_args': {**sides, 'source_ratio': 1.0},
    }
    path = tmp_path / 'joined.yaml'
    path.write_text(yaml.safe_dump(raw))
    seen: list[int] = []
    original = SourceTargetDataModule.on_after_batch_transfer

    def recording(self: Any, batch: Any, dataloader_idx: int) -> Any:
        out = original(self, batch, dataloader_idx)
        labeled = out.get('labeled', out) if isinstance(out, dict) else out
        if 'domain' in labeled:
            seen.append(int(labeled['domain'].sum()))
        return out

    monkeypatch.setattr(SourceTargetDataModule, 'on_after_batch_transfer', recording)
    main([
        'fit', '--config', str(path), '--model.init_args.backbone=resnet18',
        '--trainer.fast_dev_run=true', '--trainer.accelerator=cpu',
        f'--trainer.default_root_dir={tmp_path}',
    ])  # fmt: skip
    assert seen and all(n == 2 for n in seen)  # 2 source items in every training batch


def test_context_vectors_are_joined_when_both_domains_have_them() -> None:
    dates = str(DATA / 'dates.csv')
    dm = SourceTargetDataModule(
        raster(labeled_ratio=0.5, unlabeled=False, context=True, date_table=dates),
        raster(context=True, date_table=dates), source_ratio=1.0,
    )  # fmt: skip
    dm.setup('fit')
    out = first_batch(dm)
    assert out['metadata'].shape == (4, 4) and out['metadata_valid'].all()
    plain = SourceTargetDataModule(
        raster(labeled_ratio=0.5, unlabeled=False, context=True, date_table=dates),
        raster(), source_ratio=1.0,
    )  # fmt: skip
    plain.setup('fit')
    assert 'metadata' not in first_batch(plain)  # only one side knows it
