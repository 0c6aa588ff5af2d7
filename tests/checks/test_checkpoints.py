"""Class 6: reading checkpoints and resuming with other settings."""

from pathlib import Path

import pytest
import torch
import yaml

from tests.checks.conftest import FAST, RASTER_FIT, ROOT, tree_digest
from tests.fixture_args import DATA_ARGS
from torchgeo_als4gan.checks import compare_resume_settings, read_checkpoint
from torchgeo_als4gan.inference import load_segmentation_checkpoint
from torchgeo_als4gan.main import main
from torchgeo_als4gan.models.weights import load_torch_file


@pytest.fixture
def bad_files(tmp_path: Path, raster_checkpoint: Path) -> dict[str, Path]:
    data = raster_checkpoint.read_bytes()
    truncated = tmp_path / 'truncated.ckpt'
    truncated.write_bytes(data[: len(data) // 2])
    text = tmp_path / 'notes.ckpt'
    text.write_text('hello')
    weights = tmp_path / 'weights.ckpt'
    torch.save({'conv.weight': torch.zeros(1)}, weights)
    return {'truncated': truncated, 'text': text, 'weights': weights}


EXPECTED = {
    'truncated': 'is a truncated or damaged PyTorch checkpoint',
    'text': 'is not a PyTorch checkpoint',
    'weights': 'is not a Lightning checkpoint',
}


@pytest.mark.parametrize('kind', list(EXPECTED))
def test_every_checkpoint_reader_names_the_file(
    kind: str,
    bad_files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = bad_files[kind]
    with pytest.raises(ValueError, match=f'{path.name}.* {EXPECTED[kind]}'):
        read_checkpoint(path)
    with pytest.raises(ValueError, match=EXPECTED[kind]):
        load_segmentation_checkpoint(path)
    if kind != 'weights':
        with pytest.raises(ValueError, match=EXPECTED[kind]):
            load_torch_file(path)
    with pytest.raises(
        SystemExit, match=f'--ckpt_path .*{path.name}.* {EXPECTED[kind]}'
    ):
        main(
            [
                *RASTER_FIT,
                f'--ckpt_path={path}',
                f'--trainer.default_root_dir={tmp_path}',
            ]
        )
    with pytest.raises(SystemExit):
        main(['predict-raster', '--checkpoint', str(path), '--input',
              str(ROOT / 'tests' / 'data' / 'georaster' / 'imagery' / 'scene.tif'),
              '--output', str(tmp_path / 'out'), '--device', 'cpu'])  # fmt: skip
    assert EXPECTED[kind] in capsys.readouterr().err


def test_resume_with_other_settings_is_refused(
    raster_checkpoint: Path, tmp_path: Path
) -> None:
    with pytest.raises(SystemExit, match=r'model\.lr: checkpoint 0\.001, now 0\.5'):
        main([*RASTER_FIT, f'--ckpt_path={raster_checkpoint}', '--model.init_args.lr=0.5',
              f'--trainer.default_root_dir={tmp_path}'])  # fmt: skip
    with pytest.raises(SystemExit, match=r"model\.model: checkpoint 'fcn', now 'unet'"):
        main([*RASTER_FIT, f'--ckpt_path={raster_checkpoint}',
              '--model.init_args.model=unet', '--model.init_args.backbone=resnet18',
              f'--trainer.default_root_dir={tmp_path}'])  # fmt: skip
    # weights of another network: named, not a raw load_state_dict traceback
    from torchgeo.trainers import SemanticSegmentationTask

    from torchgeo_als4gan.lightning_cli import check_checkpoint_fits

    other = SemanticSegmentationTask(model='unet', backbone='resnet18', num_classes=3)
    with pytest.raises(
        ValueError,
        match=r"is not a checkpoint of this SemanticSegmentationTask: its weights \(model 'fcn'\) do not fit",
    ):
        check_checkpoint_fits(
            read_checkpoint(raster_checkpoint), other, 'x.ckpt', False
        )
    # the same settings resume
    main([*RASTER_FIT, f'--ckpt_path={raster_checkpoint}', '--trainer.max_epochs=2',
          f'--trainer.default_root_dir={tmp_path}'])  # fmt: skip
    with pytest.raises(ValueError, match=r'model\.x: checkpoint 1, now 2'):
        compare_resume_settings(
            {'x': 1, 'weights': 'a'}, {'x': 2, 'weights': 'b'}, 'c', ['weights']
        )


def test_loop_resume_without_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    loop = {
        'output': str(tmp_path / 'typo'), 'method': 'configs/ucm_self_training.yaml',
        'budgets': [0.3, 0.5], 'device': 'cpu', 'data_args': DATA_ARGS['ucm'],
        'trainer_args': FAST,
    }  # fmt: skip
    path = tmp_path / 'loop.yaml'
    path.write_text(yaml.safe_dump(loop))
    with pytest.raises(SystemExit):
        main(['loop', '--config', str(path), '--resume'])
    assert 'holds no loop run to resume' in capsys.readouterr().err
    assert not list((tmp_path / 'typo').rglob('*.ckpt'))


def test_failing_overwrite_changes_nothing_of_the_user(
    raster_checkpoint: Path, tmp_path: Path
) -> None:
    user = tmp_path / 'user'
    user.mkdir()
    (user / 'scene_classes.tif').write_bytes(b'mine')
    (user / 'readme.txt').write_text('notes')
    before = tree_digest(user)
    bad = tmp_path / 'bad.tif'
    bad.write_text('not a raster')
    for args in (
        ['predict-raster', '--checkpoint', str(raster_checkpoint), '--input', str(bad),
         '--output', str(user), '--overwrite', '--device', 'cpu'],
        ['predict-raster', '--checkpoint', str(raster_checkpoint), '--input',
         str(ROOT / 'tests' / 'data' / 'georaster' / 'imagery' / 'scene.tif'),
         '--output', str(user), '--overwrite', '--patch_size', '100000',
         '--overlap', '0', '--device', 'cpu'],
    ):  # fmt: skip
        with pytest.raises(SystemExit):
            main(args)
        assert tree_digest(user) == before
