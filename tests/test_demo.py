from pathlib import Path

import numpy as np
import pytest
import rasterio

from torchgeo_als4gan.demo import make_scene
from torchgeo_als4gan.main import main


def test_make_scene(tmp_path: Path) -> None:
    image, mask = make_scene(tmp_path, size=64, seed=1)
    with rasterio.open(image) as src, rasterio.open(mask) as msk:
        assert src.crs.to_epsg() == 32618 and src.count == 3
        assert src.transform == msk.transform
        classes = np.bincount(msk.read(1).ravel(), minlength=3)
        assert (classes > 0).all() and classes[1] < classes[0]  # buildings are rarer
    again, _ = make_scene(tmp_path / 'again', size=64, seed=1)
    assert again.read_bytes() == image.read_bytes()


def test_demo_runs_and_refuses_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / 'demo'
    main(['demo', '--output', str(out), '--epochs', '1', '--size', '192'])
    printed = capsys.readouterr().out
    assert '| random 25%' in printed and 'supervised' in printed
    assert (out / 'data' / 'imagery' / 'scene.tif').is_file()
    with pytest.raises(SystemExit):
        main(['demo', '--output', str(out), '--epochs', '1'])
    assert 'pass --overwrite' in capsys.readouterr().err
    main(
        ['demo', '--output', str(out), '--epochs', '1', '--size', '192', '--overwrite']
    )


def test_demo_rejects_small_scene(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(['demo', '--output', str(tmp_path / 'small'), '--size', '64'])
    assert '--size must be at least 192 pixels, got 64' in capsys.readouterr().err
    assert not (tmp_path / 'small').exists()
