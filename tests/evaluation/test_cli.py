import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from torchgeo_als4gan.main import main
from torchgeo_als4gan.trainers import S4GANTask

from ..fixture_args import DATA_ARGS

ROOT = Path(__file__).parents[2]
CONFIG = str(ROOT / 'configs' / 'ucm_s4gan.yaml')
SMALL = [
    *DATA_ARGS['ucm'],
    '--data.init_args.batch_size=2',
    '--data.init_args.num_workers=0',
    '--data.init_args.steps_per_epoch=1',
    '--model.init_args.backbone=resnet18',
]


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp('run')
    main([
        'fit', '--config', CONFIG, *SMALL, '--trainer.max_epochs=2',
        '--trainer.accelerator=cpu', f'--trainer.default_root_dir={root}',
        '--trainer.logger=false', '--trainer.enable_progress_bar=false',
    ])  # fmt: skip
    return root / 'checkpoints'


def evaluate(folder: Path, *extra: str) -> None:
    main(['evaluate', '--config', CONFIG, *SMALL, '--checkpoints', str(folder), *extra])


def test_evaluate_writes_scores_and_best(
    checkpoints: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / 'scores.json'
    evaluate(checkpoints, '--split=test', f'--output={output}', '--device=cpu')
    report = json.loads(output.read_text())
    assert report['split'] == 'test' and len(report['classes']) == 17
    rows = report['checkpoints']
    assert sorted(Path(r['checkpoint']).name for r in rows) == sorted(
        p.name for p in checkpoints.glob('*.ckpt')
    )
    for row in rows:
        assert set(row) == {
            'checkpoint', 'pixel_accuracy', 'mean_accuracy', 'fw_iou', 'miou',
            'per_class_iou',
        }  # fmt: skip
        assert 0 <= row['miou'] <= 1 and len(row['per_class_iou']) == 17
    best = max(rows, key=lambda r: r['miou'])
    assert report['best'] == {'checkpoint': best['checkpoint'], 'miou': best['miou']}
    assert 'best on test' in capsys.readouterr().out
    # the same figure as the task's own test loop on that checkpoint
    from lightning import Trainer

    from torchgeo_als4gan.datamodules import UCMercedDLRSDDataModule

    task = S4GANTask.load_from_checkpoint(best['checkpoint'], map_location='cpu')
    data = UCMercedDLRSDDataModule(
        root=ROOT / 'tests' / 'data' / 'ucmerced_dlrsd', tile_size=32, batch_size=2,
        split_fractions=[0.5, 0.25, 0.25],
    )  # fmt: skip
    trainer = Trainer(accelerator='cpu', logger=False, enable_progress_bar=False)
    (metrics,) = trainer.test(task, data)
    assert metrics['test_miou'] == pytest.approx(best['miou'], abs=1e-6)
    assert metrics['test_pixel_accuracy'] == pytest.approx(
        best['pixel_accuracy'], abs=1e-6
    )


def test_evaluate_refuses_to_overwrite(checkpoints: Path, tmp_path: Path) -> None:
    output = tmp_path / 'scores.json'
    output.write_text('keep me')
    with pytest.raises(SystemExit, match='scores.json.*--overwrite'):
        evaluate(checkpoints, f'--output={output}')
    assert output.read_text() == 'keep me'
    evaluate(checkpoints, f'--output={output}', '--overwrite=true')
    assert json.loads(output.read_text())['split'] == 'val'


def test_evaluate_bad_folders(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match='is not a folder'):
        evaluate(tmp_path / 'missing')
    with pytest.raises(SystemExit, match=r'holds no \.ckpt file'):
        evaluate(tmp_path)


def test_evaluate_checkpoint_of_another_model(
    checkpoints: Path, tmp_path: Path
) -> None:
    other = tmp_path / 'other'
    other.mkdir()
    torch.save({'state_dict': {'model.weight': torch.zeros(1)}}, other / 'x.ckpt')
    with pytest.raises(
        SystemExit, match=r'x\.ckpt.*does not fit the configured S4GANTask'
    ):
        evaluate(other, f'--output={tmp_path / "o.json"}')


def test_s4gan_ddp_two_cpu_processes(tmp_path: Path) -> None:
    """2-process CPU DDP training; both processes' steps and the checkpoints agree."""
    script = Path(sys.executable).with_name('als4gan')
    done = subprocess.run(
        [
            str(script), 'fit', '--config', CONFIG, *SMALL,
            '--data.init_args.steps_per_epoch=2', '--trainer.max_epochs=2',
            '--trainer.accelerator=cpu', '--trainer.devices=2',
            '--trainer.strategy=ddp', f'--trainer.default_root_dir={tmp_path}',
            '--trainer.logger=false', '--trainer.enable_progress_bar=false',
        ],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    last = torch.load(tmp_path / 'checkpoints' / 'last.ckpt', weights_only=False)
    # the 2 x 2 draws of an epoch are split between the processes: 1 iteration each
    assert last['lr_schedulers'][0]['last_epoch'] == 2
    assert last['global_step'] == 4  # 2 epochs x 1 iteration x (G + D)
    assert len(list((tmp_path / 'checkpoints').glob('*.ckpt'))) == 3


def test_truncated_checkpoint_is_named_and_the_rest_scored(
    checkpoints: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    folder = tmp_path / 'ckpts'
    shutil.copytree(checkpoints, folder)
    good = sorted(folder.glob('*.ckpt'))
    broken = folder / 'broken.ckpt'
    broken.write_bytes(good[0].read_bytes()[:1000])
    output = tmp_path / 'scores.json'
    with pytest.warns(UserWarning, match=r'skipped Weights file .*broken\.ckpt'):
        evaluate(folder, f'--output={output}', '--device=cpu')
    report = json.loads(output.read_text())
    assert len(report['checkpoints']) == len(good)
    assert [Path(r['checkpoint']).name for r in report['unreadable']] == ['broken.ckpt']
    assert 'broken.ckpt' in capsys.readouterr().out


def test_classes_in_another_order_are_refused(tmp_path: Path) -> None:
    tiles = ['--data.init_args.root=' + str(ROOT / 'tests' / 'data' / 'tile_folder'),
             '--data.init_args.ignore_value=9',
             '--data.init_args.split_fractions=[0.5,0.25,0.25]',
             '--data.init_args.batch_size=2', '--data.init_args.labeled_ratio=0.5',
             '--model.init_args.model=fcn', '--model.init_args.num_filters=2']  # fmt: skip
    config = str(ROOT / 'configs' / 'tile_folder_supervised.yaml')
    main([
        'fit', '--config', config, *tiles, '--trainer.max_epochs=1',
        '--trainer.accelerator=cpu', f'--trainer.default_root_dir={tmp_path}',
        '--trainer.logger=false', '--trainer.enable_progress_bar=false',
    ])  # fmt: skip
    base = ['evaluate', '--config', config, *tiles, '--checkpoints', str(tmp_path),
            '--device=cpu']  # fmt: skip
    main([*base, f'--output={tmp_path / "ok.json"}'])
    with pytest.raises(
        SystemExit,
        match=r"trained on the classes \['background', 'building', 'water'\] but the"
        r" data config lists \['building', 'background', 'water'\]",
    ):
        main([*base, '--data.init_args.classes=[building,background,water]',
              f'--output={tmp_path / "swapped.json"}'])  # fmt: skip
    assert not (tmp_path / 'swapped.json').exists()
