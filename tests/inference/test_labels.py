"""Label round-trip: drawn polygons in queried patches -> exactly those labelled pixels."""

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import torch
from rasterio.transform import from_origin
from shapely.geometry import box

from torchgeo_als4gan.active.costs import read_cost_file
from torchgeo_als4gan.datamodules import GeoSegmentationDataModule
from torchgeo_als4gan.datasets import GeoImagery
from torchgeo_als4gan.inference import rasterize_patch_labels
from torchgeo_als4gan.inference.annotation_cost import annotation_costs
from torchgeo_als4gan.main import main
from torchgeo_als4gan.samplers import grid_footprints

from .conftest import CLASSES, write_raster

X0, Y0, RES = 600000.0, 5000000.0, 10.0
SELECTED = ['field_r0_c32', 'field_r32_c64', 'field_r64_c0']


def pixel_box(row0: int, row1: int, col0: int, col1: int) -> box:
    """Rows [row0, row1) x columns [col0, col1) of the raster, in EPSG:32633."""
    return box(X0 + col0 * RES, Y0 - row1 * RES, X0 + col1 * RES, Y0 - row0 * RES)


@pytest.fixture
def task(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A raster, the queried patches (as `als4gan query` writes them) and drawn polygons."""
    image = np.random.default_rng(5).integers(1, 255, (3, 96, 128), dtype=np.uint8)
    raster = write_raster(
        tmp_path / 'field.tif', image, 'EPSG:32633', from_origin(X0, Y0, RES, RES)
    )
    footprints = grid_footprints(GeoImagery(raster), 32)
    selected = footprints.set_index('id').loc[SELECTED].reset_index()
    selected['rank'] = range(1, len(selected) + 1)
    patches = tmp_path / 'selection.gpkg'
    selected.to_file(patches, layer='selection', driver='GPKG')
    drawn = gpd.GeoDataFrame(
        {'class': ['building', 'water', '2']},
        geometry=[
            pixel_box(4, 12, 36, 50),  # inside field_r0_c32
            pixel_box(40, 70, 60, 80),  # partly inside field_r32_c64
            pixel_box(80, 90, 100, 110),  # inside no queried patch
        ],
        crs='EPSG:32633',
    ).to_crs('EPSG:4326')  # annotators may work in any CRS
    path = tmp_path / 'drawn.geojson'
    drawn.to_file(path, driver='GeoJSON')
    return raster, patches, path


def expected_masks(background: int) -> dict[str, np.ndarray]:
    masks = {pid: np.full((32, 32), background, dtype=np.uint8) for pid in SELECTED}
    masks['field_r0_c32'][4:12, 4:18] = 1  # rows 4-11, columns 36-49 of the raster
    masks['field_r32_c64'][8:32, 0:16] = 2  # rows 40-63, columns 64-79 only
    return masks


@pytest.mark.parametrize('background', [0, None])
def test_drawn_polygons_become_exactly_the_expected_pixels(
    task: tuple[Path, Path, Path], tmp_path: Path, background: int | None
) -> None:
    raster, patches, drawn = task
    result = rasterize_patch_labels(
        patches, drawn, tmp_path / 'labels', CLASSES, background=background
    )
    assert result.ids == SELECTED
    assert result.features_outside == 1
    expected = expected_masks(255 if background is None else background)
    for pid, path in zip(result.ids, result.files, strict=True):
        with rasterio.open(path) as src, rasterio.open(raster) as image:
            assert src.crs == image.crs
            assert src.nodata == 255
            assert src.res == image.res
            np.testing.assert_array_equal(src.read(1), expected[pid], err_msg=pid)
    labelled = sum(int((m != 255).sum()) for m in expected.values())
    assert result.labeled_pixels == labelled


def test_training_continues_with_the_patches_as_labelled_set(
    task: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    raster, patches, drawn = task
    main([
        'labels', '--patches', str(patches), '--drawn', str(drawn), '--classes', *CLASSES,
        '--output', str(tmp_path / 'labels'),
    ])  # fmt: skip
    datamodule = GeoSegmentationDataModule(
        image_paths=str(raster), label_paths=str(tmp_path / 'labels'), classes=CLASSES,
        patch_size=32, batch_size=2, split_fractions=(1.0, 0.0, 0.0), scale=None,
        hflip=False,
    )  # fmt: skip
    datamodule.setup('fit')
    assert sorted(datamodule.labeled_ids) == sorted(SELECTED)
    assert len(datamodule.unlabeled_footprints) == 12 - 3
    assert datamodule.scene is not None
    expected = expected_masks(0)
    for row in datamodule.labeled_footprints.itertuples():
        minx, miny, maxx, maxy = row.geometry.bounds
        sample = datamodule.scene[minx:maxx:RES, miny:maxy:RES]
        np.testing.assert_array_equal(sample['mask'].numpy(), expected[row.id])
    batch, _, _ = next(iter(datamodule.train_dataloader()))
    assert set(torch.unique(batch['labeled']['mask']).tolist()) <= {0, 1, 2}


def test_round_trip_errors(
    task: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, patches, drawn = task
    out = tmp_path / 'labels'
    rasterize_patch_labels(patches, drawn, out, CLASSES)
    with pytest.raises(FileExistsError, match='field_r0_c32.tif.*--overwrite'):
        rasterize_patch_labels(patches, drawn, out, CLASSES)
    rasterize_patch_labels(patches, drawn, out, CLASSES, overwrite=True)
    with pytest.raises(
        ValueError, match=r"drawn.geojson': values \['2', 'water'\] of 'class'"
    ):
        rasterize_patch_labels(
            patches, drawn, tmp_path / 'x', ('background', 'building')
        )
    ids_only = tmp_path / 'ids.gpkg'
    gpd.read_file(patches)[['id', 'geometry']].to_file(ids_only, driver='GPKG')
    with pytest.raises(ValueError, match=r"no \['path'\] column"):
        rasterize_patch_labels(ids_only, drawn, tmp_path / 'y', CLASSES)
    with pytest.raises(SystemExit):
        main(['labels', '--patches', str(tmp_path / 'nope.gpkg'), '--drawn', str(drawn),
              '--classes', *CLASSES, '--output', str(tmp_path / 'z')])  # fmt: skip
    assert "nope.gpkg' does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(['labels', '--patches', str(patches), '--drawn', str(drawn), '--classes', *CLASSES,
              '--output', str(tmp_path / 'z'), '--background', 'grass'])  # fmt: skip
    assert (
        "--background must be a class index, 'none' or 'auto'"
        in capsys.readouterr().err
    )


def _labels(patches: Path, drawn: Path, out: Path, *extra: str) -> None:
    main(['labels', '--patches', str(patches), '--drawn', str(drawn),
          '--classes', *CLASSES, '--output', str(out), *extra])  # fmt: skip


def test_patches_without_polygons_are_warned(
    task: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, patches, drawn = task
    _labels(patches, drawn, tmp_path / 'labels')
    err = capsys.readouterr().err
    # field_r64_c0 has no polygon: it is all background, said per patch
    assert (
        'warning: patch field_r64_c0 has no drawn polygon: written as all background'
        in err
    )
    assert 'field_r0_c32 has no drawn' not in err


def test_nothing_overlapping_is_refused_before_writing(
    task: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, patches, _ = task
    empty = tmp_path / 'empty.gpkg'
    gpd.GeoDataFrame({'class': []}, geometry=[], crs='EPSG:32633').to_file(empty)
    out = tmp_path / 'labels'
    with pytest.raises(SystemExit):
        _labels(patches, empty, out)
    assert 'No drawn polygon (0 in --drawn) overlaps any of the 3 queried patches' in (
        capsys.readouterr().err
    )
    assert not out.exists() or list(out.iterdir()) == []
    # lon/lat polygons in a Shapefile whose .prj was lost: read as UTM metres
    lonlat = gpd.read_file(task[2])  # the drawn polygons, in EPSG:4326
    shp = tmp_path / 'drawn.shp'
    lonlat.to_file(shp)
    shp.with_suffix('.prj').unlink()
    with pytest.raises(SystemExit):
        _labels(patches, shp, out)
    err = capsys.readouterr().err
    assert "drawn.shp' has no CRS (a Shapefile needs its .prj next to it)" in err
    assert not out.exists() or list(out.iterdir()) == []


def test_background_and_ignore_index_ranges(
    task: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, patches, drawn = task
    out = tmp_path / 'labels'
    for extra, message in (
        (['--background', '9'], r"--background must be a class index in 0..2 (['background', 'building', 'water']) or 'none', got 9"),
        (['--background', '-1'], '--background must be a class index in 0..2'),
        (['--ignore_index', '1'], '--ignore_index must be in 0..255 and not a class index'),
        (['--ignore_index', '300'], '--ignore_index must be in 0..255'),
    ):  # fmt: skip
        with pytest.raises(SystemExit):
            _labels(patches, drawn, out, *extra)
        assert message in capsys.readouterr().err
    assert not out.exists()


def test_self_intersecting_polygon_is_repaired(
    task: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from shapely.geometry import Polygon

    _, patches, _ = task
    # a bow tie over field_r0_c32 (rows 0-31, columns 32-63): invalid for GEOS
    x = [X0 + 36 * RES, X0 + 60 * RES]
    y = [Y0 - 4 * RES, Y0 - 28 * RES]
    bowtie = Polygon([(x[0], y[0]), (x[1], y[1]), (x[1], y[0]), (x[0], y[1])])
    assert not bowtie.is_valid
    drawn = tmp_path / 'bowtie.gpkg'
    gpd.GeoDataFrame({'class': [1]}, geometry=[bowtie], crs='EPSG:32633').to_file(drawn)
    _labels(patches, drawn, tmp_path / 'labels')
    assert '1 invalid drawn geometries (e.g. self-intersecting) were repaired' in (
        capsys.readouterr().err
    )
    with rasterio.open(tmp_path / 'labels' / 'field_r0_c32.tif') as src:
        mask = src.read(1)
    assert 100 < int((mask == 1).sum()) < 24 * 24  # the two triangles


def test_unreadable_vector_files_are_named(
    task: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, patches, drawn = task
    text = tmp_path / 'notes.gpkg'
    text.write_text('these are my polygons\n')
    with pytest.raises(SystemExit):
        _labels(patches, text, tmp_path / 'a')
    assert "--drawn '" in (err := capsys.readouterr().err) and 'notes.gpkg' in err
    assert 'is not a vector file geopandas can read' in err
    with pytest.raises(SystemExit):
        _labels(text, drawn, tmp_path / 'b')
    assert 'notes.gpkg' in (err := capsys.readouterr().err)
    assert 'cannot be read as a GeoPackage' in err


def test_points_become_sparse_masks(
    task: tuple[Path, Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from shapely.geometry import Point

    _, patches, _ = task

    def centre(row: int, col: int) -> Point:
        return Point(X0 + (col + 0.5) * RES, Y0 - (row + 0.5) * RES)

    points = gpd.GeoDataFrame(
        {'class': ['building', 'water', 'background', 'water']},
        geometry=[centre(5, 40), centre(20, 33), centre(40, 70), centre(90, 120)],
        crs='EPSG:32633',
    )  # the last point is inside no queried patch
    drawn = tmp_path / 'points.gpkg'
    points.to_file(drawn, driver='GPKG')
    main(['labels', '--patches', str(patches), '--drawn', str(drawn), '--classes',
          *CLASSES, '--output', str(tmp_path / 'sparse')])  # fmt: skip
    out = capsys.readouterr()
    assert '4 drawn point(s): only their pixels are labelled' in out.out
    assert '1 drawn feature(s) overlap no queried patch' in out.err
    with rasterio.open(tmp_path / 'sparse' / 'field_r0_c32.tif') as src:
        mask = src.read(1)
    expected = np.full((32, 32), 255, dtype=np.uint8)  # the rest stays unlabelled
    expected[5, 8], expected[20, 1] = 1, 2  # raster (5, 40) and (20, 33)
    np.testing.assert_array_equal(mask, expected)
    # a radius of 1 pixel labels the 3 x 3 cross-shaped disc around each point
    result = rasterize_patch_labels(
        patches, drawn, tmp_path / 'discs', CLASSES, background='auto', point_radius=1.0
    )
    assert result.background is None and result.points == 4
    with rasterio.open(tmp_path / 'discs' / 'field_r0_c32.tif') as src:
        disc = src.read(1)
    assert (disc == 1).sum() == 5 and disc[4, 8] == disc[5, 9] == 1
    with pytest.raises(
        ValueError, match='point.* but --background is 0: .*use --background none'
    ):
        rasterize_patch_labels(patches, drawn, tmp_path / 'x', CLASSES, background=0)
    with pytest.raises(ValueError, match='--point_radius must be a number of pixels'):
        rasterize_patch_labels(patches, drawn, tmp_path / 'y', CLASSES, point_radius=-1)


def test_what_each_patch_cost_is_recorded_for_the_next_round(
    task: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    _, patches, drawn = task
    frame = gpd.read_file(drawn)
    frame['edit_time'] = ['2026-12-01T10:00:00', '2026-12-01T10:00:40',
                          '2026-12-01T11:30:00']  # fmt: skip
    timed = tmp_path / 'timed.gpkg'
    frame.to_file(timed, driver='GPKG')
    rasterize_patch_labels(patches, timed, tmp_path / 'labels', CLASSES)
    costs = pd.read_csv(tmp_path / 'labels_cost.csv')
    assert list(costs['id']) == SELECTED
    assert list(costs['features']) == [1, 1, 0]  # the third patch has no polygon
    assert list(costs['vertices']) == [5, 5, 0]  # closed rectangles
    # drawing order: the first feature gets the median gap (40 s), the second
    # 40 s; the third was drawn after a break (capped at 600 s) in no patch
    assert list(costs['seconds']) == [40.0, 40.0, 0.0]
    assert (costs['cost_unit'] == 'seconds').all()
    assert read_cost_file(tmp_path / 'labels_cost.csv', SELECTED).tolist() == [
        40.0,
        40.0,
        0.0,
    ]
    # without times the vertex count is the cost
    rasterize_patch_labels(patches, drawn, tmp_path / 'plain', CLASSES)
    plain = pd.read_csv(tmp_path / 'plain_cost.csv')
    assert plain['seconds'].iloc[:2].isna().all()
    assert (
        list(plain['cost']) == [5.0, 5.0, 0.0]
        and (plain['cost_unit'] == 'vertices').all()
    )


def test_a_feature_across_two_patches_shares_its_time() -> None:
    features = gpd.GeoDataFrame(
        {'seconds': [30.0, 12.0]},
        geometry=[pixel_box(0, 4, 0, 40), pixel_box(40, 44, 0, 4)], crs='EPSG:32633',
    )  # fmt: skip
    hits = [np.array([0]), np.array([0, 1])]
    table = annotation_costs(['a', 'b'], hits, features)
    assert table['seconds'].tolist() == [15.0, 27.0]
    with pytest.raises(ValueError, match="--time_column 'when' is not an attribute"):
        annotation_costs(['a'], [np.array([0])], features, time_column='when')
