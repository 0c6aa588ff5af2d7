"""Models from checkpoints, the predict-raster command and the Lightning callback."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import rasterio
import torch
from lightning.pytorch import Trainer
from torchgeo.samplers import GridGeoSampler
from torchgeo.trainers import ClassificationTask

from tests.fixture_args import DATA
from torchgeo_als4gan.datamodules import GeoSegmentationDataModule
from torchgeo_als4gan.datasets import GeoImagery
from torchgeo_als4gan.inference import (
    RasterPredictionWriter,
    load_segmentation_checkpoint,
    predict_raster,
)
from torchgeo_als4gan.main import main
from torchgeo_als4gan.samplers import RasterTileGeoSampler
from torchgeo_als4gan.trainers import S4GANTask

from .conftest import CLASSES

IMAGE = DATA / 'georaster' / 'imagery' / 'scene.tif'


def test_checkpoint_carries_normalization_and_classes(s4gan_checkpoint: Path) -> None:
    model = load_segmentation_checkpoint(s4gan_checkpoint)
    assert model.classes == CLASSES
    assert model.in_channels == 3
    torch.testing.assert_close(model.mean, torch.tensor([120.0, 110.0, 100.0]))
    torch.testing.assert_close(model.std, torch.tensor([60.0, 50.0, 40.0]))
    assert model.discriminator is not None
    assert not model.network.training
    probs, score = model.predict(torch.rand(2, 3, 32, 32) * 255)
    torch.testing.assert_close(probs.sum(dim=1), torch.ones(2, 32, 32))
    assert score is not None and score.shape == (2,)
    assert torch.all((score >= 0) & (score <= 1))


def test_predict_raster_command(
    s4gan_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / 'pred'
    main([
        'predict-raster', '--checkpoint', str(s4gan_checkpoint), '--input', str(IMAGE),
        '--output', str(out), '--patch_size', '32', '--overlap', '8', '--batch_size', '4',
        '--probabilities', '--uncertainty', '--vector', str(out / 'polygons.gpkg'),
        '--min_area', '2', '--device', 'cpu', '--no_progress',
    ])  # fmt: skip
    printed = capsys.readouterr().out
    assert 'scene_classes.tif' in printed and 'polygons.gpkg (layer scene)' in printed
    with rasterio.open(IMAGE) as src:
        crs, transform, shape = src.crs, src.transform, (src.height, src.width)
    with rasterio.open(out / 'scene_uncertainty.tif') as dst:
        assert dst.descriptions == ('entropy', 'discriminator_score')
        assert (dst.crs, dst.transform, (dst.height, dst.width)) == (
            crs,
            transform,
            shape,
        )
        bands = dst.read()
    valid = ~np.isnan(bands[0])
    assert valid.sum() > 0.9 * valid.size
    assert np.all((bands[:, valid] >= 0) & (bands[:, valid] <= 1 + 1e-6))
    with rasterio.open(out / 'scene_classes.tif') as dst:
        assert json.loads(dst.tags()['classes']) == list(CLASSES)
    # the same model from Python gives the same classes
    model = load_segmentation_checkpoint(s4gan_checkpoint)
    [result] = predict_raster(
        model, [IMAGE], tmp_path / 'py', patch_size=32, overlap=8, batch_size=4,
        progress=False,
    )  # fmt: skip
    with (
        rasterio.open(result.outputs['classes']) as a,
        rasterio.open(out / 'scene_classes.tif') as b,
    ):
        np.testing.assert_array_equal(a.read(), b.read())


def test_command_errors_are_one_line(
    s4gan_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def error(*args: str) -> str:
        with pytest.raises(SystemExit) as exit_info:
            main(['predict-raster', '--no_progress', *args])
        assert exit_info.value.code == 2
        return capsys.readouterr().err

    base = ['--checkpoint', str(s4gan_checkpoint), '--output', str(tmp_path / 'o')]
    assert "'nope.tif' is not a file" in error(*base, '--input', 'nope.tif')
    text = tmp_path / 'x.ckpt'
    text.write_text('not a checkpoint')
    message = error(
        '--checkpoint', str(text), '--input', str(IMAGE), '--output', str(tmp_path)
    )
    assert "x.ckpt' is not a PyTorch checkpoint" in message


def test_non_segmentation_checkpoint_is_refused(tmp_path: Path) -> None:
    task = ClassificationTask(model='resnet18', num_classes=3, in_channels=3)
    trainer = Trainer(
        logger=False, enable_checkpointing=False, default_root_dir=tmp_path
    )
    trainer.strategy.connect(task)
    path = tmp_path / 'classifier.ckpt'
    trainer.save_checkpoint(path)
    with pytest.raises(
        ValueError,
        match=r"classifier.ckpt is not a checkpoint of a segmentation model \(its model is 'resnet18'",
    ):
        load_segmentation_checkpoint(path)
    with pytest.raises(FileNotFoundError, match="missing.ckpt' does not exist"):
        load_segmentation_checkpoint(tmp_path / 'missing.ckpt')
    torch.save({'weights': torch.zeros(1)}, tmp_path / 'plain.pt')
    with pytest.raises(ValueError, match='no state_dict'):
        load_segmentation_checkpoint(tmp_path / 'plain.pt')


def test_foreign_checkpoint_needs_mean_and_std(
    s4gan_checkpoint: Path, tmp_path: Path
) -> None:
    checkpoint = torch.load(s4gan_checkpoint, weights_only=False)
    for key in [
        k for k, v in checkpoint.items() if isinstance(v, dict) and 'inference' in v
    ]:
        del checkpoint[key]['inference']
    path = tmp_path / 'foreign.ckpt'
    torch.save(checkpoint, path)
    with pytest.raises(ValueError, match='has no normalization'):
        load_segmentation_checkpoint(path)
    model = load_segmentation_checkpoint(path, mean=[1, 2, 3], std=4)
    assert model.classes == ('class_0', 'class_1', 'class_2')
    torch.testing.assert_close(model.std, torch.full((3,), 4.0))
    with pytest.raises(ValueError, match='2 values; the model takes 3 bands'):
        load_segmentation_checkpoint(path, mean=[1, 2], std=4)


def test_als4gan_predict_with_the_writer_callback(
    s4gan_checkpoint: Path, tmp_path: Path
) -> None:
    out = tmp_path / 'lightning'
    main([
        'predict', '--config', 'configs/raster_s4gan.yaml',
        f'--data.init_args.image_paths={IMAGE.parent}',
        f'--data.init_args.predict_paths={IMAGE}',
        '--data.init_args.patch_size=32', '--data.init_args.predict_overlap=8',
        '--data.init_args.batch_size=3', '--data.init_args.mean=[120,110,100]',
        '--data.init_args.std=[60,50,40]',
        '--model.init_args.model=fcn',
        '--model.init_args.d_width=8', '--trainer.logger=false',
        '--trainer.enable_progress_bar=false', '--trainer.accelerator=cpu',
        f'--trainer.default_root_dir={tmp_path}',
        '--trainer.callbacks+=torchgeo_als4gan.inference.RasterPredictionWriter',
        f'--trainer.callbacks.output_dir={out}',
        '--trainer.callbacks.uncertainty=true',
        f'--ckpt_path={s4gan_checkpoint}',
    ])  # fmt: skip
    [result] = predict_raster(
        load_segmentation_checkpoint(s4gan_checkpoint), [IMAGE], tmp_path / 'py',
        patch_size=32, overlap=8, uncertainty=True, progress=False,
    )  # fmt: skip
    for kind in ('classes', 'uncertainty'):
        with (
            rasterio.open(out / f'scene_{kind}.tif') as a,
            rasterio.open(result.outputs[kind]) as b,
        ):
            assert (a.crs, a.transform, a.shape) == (b.crs, b.transform, b.shape)
            assert a.descriptions == b.descriptions
            x, y = a.read(), b.read()
    np.testing.assert_allclose(x, y, atol=1e-4)  # uncertainty, incl. D's score
    with (
        rasterio.open(out / 'scene_classes.tif') as a,
        rasterio.open(result.outputs['classes']) as b,
    ):
        assert (a.read() != b.read()).mean() < 0.001


def _predict_with_writer(
    checkpoint: Path,
    datamodule: object,
    writer: RasterPredictionWriter,
    tmp_path: Path,
    **kwargs: object,
) -> None:
    task = S4GANTask.load_from_checkpoint(checkpoint, map_location='cpu')
    trainer = Trainer(
        accelerator='cpu', logger=False, enable_progress_bar=False, callbacks=[writer],
        default_root_dir=tmp_path, **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip
    trainer.predict(task, datamodule=datamodule)  # type: ignore[arg-type]


def test_writer_refuses_unfinished_rasters_and_other_samplers(
    s4gan_checkpoint: Path, tmp_path: Path
) -> None:
    def datamodule(**kwargs: object) -> GeoSegmentationDataModule:
        return GeoSegmentationDataModule(
            image_paths=str(IMAGE), classes=CLASSES, patch_size=32, batch_size=2,
            predict_overlap=8, **kwargs,  # type: ignore[arg-type]
        )  # fmt: skip

    out = tmp_path / 'out'
    with pytest.raises(RuntimeError, match='ended before every tile'):
        _predict_with_writer(
            s4gan_checkpoint, datamodule(), RasterPredictionWriter(out), tmp_path,
            limit_predict_batches=1,
        )  # fmt: skip
    assert os.listdir(out) == []  # no partial output, no temporary file
    writer = RasterPredictionWriter(out)
    _predict_with_writer(s4gan_checkpoint, datamodule(), writer, tmp_path)
    assert [sorted(w) for w in writer.written] == [['classes']]
    with pytest.raises(FileExistsError, match='scene_classes.tif'):
        _predict_with_writer(
            s4gan_checkpoint, datamodule(), RasterPredictionWriter(out), tmp_path
        )

    class OtherSampler(GeoSegmentationDataModule):
        def setup(self, stage: str) -> None:
            super().setup(stage)
            self.predict_sampler = GridGeoSampler(self.predict_dataset, 32, 32)

    with pytest.raises(ValueError, match='RasterTileGeoSampler'):
        _predict_with_writer(
            s4gan_checkpoint,
            OtherSampler(
                image_paths=str(IMAGE), classes=CLASSES, patch_size=32,
                predict_overlap=8,
            ),
            RasterPredictionWriter(tmp_path / 'other'), tmp_path,
        )  # fmt: skip


def test_tile_sampler_needs_files_on_the_dataset_grid(tmp_path: Path) -> None:
    with rasterio.open(IMAGE) as src:
        profile, data = src.profile, src.read()
    profile['transform'] = profile['transform'] * rasterio.Affine.scale(2)
    coarse = tmp_path / 'coarse.tif'
    with rasterio.open(coarse, 'w', **profile) as dst:
        dst.write(data)
    imagery = GeoImagery([str(IMAGE), str(coarse)])
    with pytest.raises(
        ValueError,
        match=r"\.tif' is in EPSG:32618 at .* not on the dataset grid \(EPSG:32618",
    ):
        RasterTileGeoSampler(imagery, 32, 8)
    sampler = RasterTileGeoSampler(GeoImagery(str(IMAGE)), 32, 8)
    assert len(sampler) == len(list(sampler)) == len(sampler.files[0][1])
