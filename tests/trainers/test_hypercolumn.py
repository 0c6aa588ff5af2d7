"""HypercolumnTask: pixels stage -> dense stage, statistics, class weights, checks."""

from pathlib import Path

import pytest
import torch

from tests.fixture_args import DATA_ARGS
from torchgeo_als4gan.inference import load_segmentation_checkpoint
from torchgeo_als4gan.main import main
from torchgeo_als4gan.models import HypercolumnSegmenter
from torchgeo_als4gan.trainers import HypercolumnTask, S4GANTask, SelfTrainingTask
from torchgeo_als4gan.trainers.hypercolumn import inverse_frequency_weights

ROOT = Path(__file__).parents[2]
SMALL = ['--model.init_args.hidden=[16,16]', '--data.init_args.batch_size=2',
         '--data.init_args.num_workers=0', '--data.init_args.steps_per_epoch=3',
         '--trainer.max_epochs=1', '--trainer.accelerator=cpu',
         '--trainer.enable_progress_bar=false', '--trainer.logger=false']  # fmt: skip


def fit(tmp_path: Path, config: str, *extra: str) -> Path:
    root = tmp_path / config.removesuffix('.yaml')
    main(['fit', '--config', str(ROOT / 'configs' / config), *DATA_ARGS['raster'], *SMALL,
          f'--trainer.default_root_dir={root}', *extra])  # fmt: skip
    (checkpoint,) = root.rglob('last.ckpt')
    return checkpoint


def test_inverse_frequency_weights() -> None:
    weights = inverse_frequency_weights(torch.tensor([90, 10, 0]))
    torch.testing.assert_close(weights, torch.tensor([100 / 180, 100 / 20, 1.0]))
    # a labelled pixel weighs 1 on average
    assert float((weights[:2] * torch.tensor([90.0, 10.0])).sum()) == pytest.approx(100)


def test_pixels_stage_then_dense_stage_reproduces_the_mlp(tmp_path: Path) -> None:
    pixels = fit(tmp_path, 'raster_hypercolumn_pixels.yaml')
    first = HypercolumnTask.load_from_checkpoint(pixels, map_location='cpu').eval()
    assert bool(first.stats_ready)  # z-scoring measured on training pixels, saved
    assert not torch.allclose(
        first.model.feature_std, torch.ones_like(first.model.feature_std)
    )
    weights = first.class_weight
    assert (
        weights.shape == (3,)
        and (weights > 0).all()
        and not torch.allclose(weights, torch.ones(3))
    )
    dense = HypercolumnTask(
        backbone='vgg16', num_classes=3, hidden=[16, 16], stage='dense',
        init_checkpoint=str(pixels),
    ).eval()  # fmt: skip
    x = torch.randn(2, 3, 16, 16)
    rows, cols, batch = (
        torch.tensor([0, 7, 15]),
        torch.tensor([3, 8, 15]),
        torch.tensor([0, 1, 1]),
    )
    with torch.no_grad():
        mlp = first.model.forward_pixels(x, rows, cols, batch)
        torch.testing.assert_close(
            dense.model(x)[batch, :, rows, cols], mlp, atol=1e-4, rtol=1e-4
        )
    torch.testing.assert_close(dense.class_weight, first.class_weight)
    # the dense stage trains and its checkpoint is a segmentation model for every command
    checkpoint = fit(
        tmp_path,
        'raster_hypercolumn_dense.yaml',
        f'--model.init_args.init_checkpoint={pixels}',
    )
    model = load_segmentation_checkpoint(checkpoint)
    probs, _ = model.predict(torch.rand(1, 3, 21, 19) * 255)
    assert probs.shape == (1, 3, 21, 19)  # stride 1, any size


def test_dense_stage_from_another_model_is_refused(tmp_path: Path) -> None:
    pixels = fit(tmp_path, 'raster_hypercolumn_pixels.yaml')
    with pytest.raises(
        ValueError,
        match=r'not a pixels stage of this model: num_classes: 3 there, 4 here',
    ):
        HypercolumnTask(
            num_classes=4, hidden=[16, 16], stage='dense', init_checkpoint=str(pixels)
        )
    with pytest.raises(ValueError, match=r'hidden: \[16, 16\] there, \[8\] here'):
        HypercolumnTask(
            num_classes=3, hidden=[8], stage='dense', init_checkpoint=str(pixels)
        )
    with pytest.raises(ValueError, match="stage must be 'pixels' or 'dense'"):
        HypercolumnTask(stage='points')
    with pytest.raises(ValueError, match="class_weights must be 'inverse'"):
        HypercolumnTask(class_weights='balanced')  # type: ignore[arg-type]


def test_semi_supervised_tasks_take_model_hypercolumn() -> None:
    task = SelfTrainingTask(model='hypercolumn', backbone='resnet18', num_classes=3,
                            freeze_backbone=True)  # fmt: skip
    assert task.model.taps[0] == 'conv1' and task.model.feature_channels > 3
    assert not any(p.requires_grad for p in task.model.backbone.parameters())
    task.eval()
    assert task(torch.randn(1, 3, 20, 24)).shape == (1, 3, 20, 24)
    gan = S4GANTask(model='hypercolumn', backbone='resnet18', num_classes=3).eval()
    assert isinstance(gan.model, HypercolumnSegmenter)
    assert gan(torch.randn(1, 3, 17, 23)).shape == (1, 3, 17, 23)


def test_superpixel_pooling_trains_and_predicts_per_superpixel(tmp_path: Path) -> None:
    checkpoint = fit(
        tmp_path, 'raster_hypercolumn_pixels.yaml', '--model.init_args.pooling=superpixel',
        '--model.init_args.n_segments=6',
    )  # fmt: skip
    task = HypercolumnTask.load_from_checkpoint(checkpoint, map_location='cpu').eval()
    x = torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        segments = task.model.segments(x)
        logits = task.model(x, segments)
    for label in segments.unique():  # one prediction per superpixel
        where = segments[0] == label
        values = logits[0][:, where]
        torch.testing.assert_close(values, values[:, :1].expand_as(values))
    with pytest.raises(ValueError, match="pooling must be 'pixel' or 'superpixel'"):
        HypercolumnTask(pooling='region')  # type: ignore[arg-type]
