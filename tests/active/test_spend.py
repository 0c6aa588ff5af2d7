"""Budgets in the user's units: spending a ranking, and the prices of pool items."""

from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from torchgeo_als4gan.active.costs import (
    footprint_area_km2,
    item_measures,
    read_cost_file,
    valid_pixel_counts,
)
from torchgeo_als4gan.active.spend import (
    check_budget_amounts,
    most_affordable,
    spend_in_order,
    spent,
)


def test_a_patch_that_does_not_fit_is_skipped_for_a_cheaper_one() -> None:
    price = np.array([2.0, 3.0, 1.0, 1.0, 0.5])
    assert spend_in_order([0, 1, 2, 3, 4], price, 4.0) == [0, 2, 3]
    assert spend_in_order([1, 0, 2], price, 4.0) == [1, 2]
    assert spend_in_order([4, 1], price, 0.4) == []  # nothing fits


def test_items_with_nothing_to_label_are_never_bought() -> None:
    price = np.array([0.0, 1.0, 0.0, 1.0])
    assert spend_in_order([0, 1, 2, 3], price, 10.0) == [1, 3]


def test_a_batch_is_as_long_as_the_cheapest_items_that_fit() -> None:
    price = np.array([2.0, 3.0, 1.0, 1.0, 0.5, 0.0])
    # 0.5 + 1 + 1 fit in 3 (2.5), adding 2 would not; the free item never counts
    assert most_affordable([0, 1, 2, 3, 4, 5], price, 3.0) == 3
    assert most_affordable([0, 1], price, 5.0) == 2  # exactly the amount
    assert most_affordable([1, 5], price, 2.9) == 0
    # no ranking of the candidates buys more than that many
    for order in ([0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 0, 4, 1, 3]):
        assert len(spend_in_order(order, price, 3.0)) <= 3


def test_what_a_selection_spent_in_every_unit() -> None:
    measures = {'items': np.ones(3), 'area_km2': np.array([0.5, 0.25, 0.125])}
    assert spent([0, 2], measures) == {'items': 2.0, 'area_km2': 0.625}


@pytest.mark.parametrize(
    ('unit', 'amounts', 'match'),
    [
        ('hectares', [1.0], 'budget unit must be one of'),
        ('fraction', [0.5, 1.5], 'fractions in \\(0, 1\\]'),
        ('items', [10, 20.5], 'whole numbers of items'),
        ('area_km2', [2.0, 1.0], 'strictly increasing'),
        ('area_km2', [], 'non-empty list of amounts > 0 in area_km2'),
        ('cost', [float('nan')], 'amounts > 0 in cost'),
    ],
)
def test_bad_budgets_name_the_option(
    unit: str, amounts: list[float], match: str
) -> None:
    with pytest.raises(ValueError, match=match) as error:
        check_budget_amounts(unit, amounts, 'budgets')
    assert 'budget' in str(error.value)


def _raster(
    path: Path, data: np.ndarray, crs: str, res: float, origin: tuple[float, float]
) -> None:
    with rasterio.open(
        path, 'w', driver='GTiff', width=data.shape[1], height=data.shape[0], count=1,
        dtype='uint8', crs=crs, transform=from_origin(*origin, res, res), nodata=0,
    ) as dst:  # fmt: skip
        dst.write(data[None])


def _grid(path: Path, height: int, width: int, size: int, res: float,
          origin: tuple[float, float], crs: str) -> gpd.GeoDataFrame:  # fmt: skip
    rows = {'path': [], 'row': [], 'col': []}  # type: dict[str, list[object]]
    boxes = []
    for row in range(0, height, size):
        for col in range(0, width, size):
            left, top = origin[0] + col * res, origin[1] - row * res
            boxes.append(shapely.box(left, top - size * res, left + size * res, top))
            rows['path'].append(str(path))
            rows['row'].append(row)
            rows['col'].append(col)
    return gpd.GeoDataFrame(rows, geometry=boxes, crs=crs)


@pytest.mark.parametrize('size', [4, 40])
def test_valid_pixels_exclude_nodata_and_the_outside_of_the_raster(
    tmp_path: Path, size: int
) -> None:
    rng = np.random.default_rng(0)
    height, width = 90, 100
    data = rng.integers(1, 255, (height, width)).astype('uint8')
    data[:, :30] = 0  # a nodata band on the left
    data[50:60, 40:80] = 0
    path = tmp_path / 'scene.tif'
    _raster(path, data, 'EPSG:32633', 0.5, (500000.0, 4000000.0))
    grid = _grid(path, height, width, size, 0.5, (500000.0, 4000000.0), 'EPSG:32633')
    valid, whole = valid_pixel_counts(grid)
    expected = [
        np.count_nonzero(data[r : r + size, c : c + size])
        for r, c in zip(grid['row'], grid['col'], strict=True)
    ]
    assert (whole == size * size).all()
    if size <= 32:  # measured exactly
        np.testing.assert_array_equal(valid, expected)
    else:  # on a decimated grid: the whole and its parts still close
        assert valid.sum() == pytest.approx(np.count_nonzero(data), rel=0.05)
        np.testing.assert_allclose(valid, expected, atol=0.1 * size * size)
    assert valid[0] < whole[0]  # the left patches hold nodata
    # patches reaching past the raster count only their inside
    assert valid[-1] <= (height - grid['row'].iloc[-1]) * (width - grid['col'].iloc[-1])


def test_area_is_planar_in_metres_and_geodesic_in_degrees() -> None:
    square = gpd.GeoDataFrame(
        geometry=[shapely.box(0, 0, 1000, 1000)], crs='EPSG:32633'
    )
    assert footprint_area_km2(square)[0] == pytest.approx(1.0)
    feet = gpd.GeoDataFrame(geometry=[shapely.box(0, 0, 1000, 1000)], crs='EPSG:2263')
    assert footprint_area_km2(feet)[0] == pytest.approx(0.3048006**2, rel=1e-5)
    degree = gpd.GeoDataFrame(geometry=[shapely.box(10.0, 50.0, 10.01, 50.01)],
                              crs='EPSG:4326')  # fmt: skip
    utm = degree.to_crs(degree.estimate_utm_crs()).area.iloc[0] / 1e6
    assert footprint_area_km2(degree)[0] == pytest.approx(utm, rel=2e-3)
    assert footprint_area_km2(degree)[0] == pytest.approx(
        0.7946, rel=0.01
    )  # not 1e-4 deg²


def test_area_budgets_need_a_georeferenced_pool() -> None:
    with pytest.raises(
        ValueError, match="budgets in \\['area_km2'\\] need a georeferenced"
    ):
        item_measures(['a', 'b'], None, ['area_km2'])
    measures = item_measures(['a', 'b'], None, ['items'])
    assert measures['items'].tolist() == [1.0, 1.0] and 'area_km2' not in measures


def test_cost_file_read_back_and_refused_when_incomplete(tmp_path: Path) -> None:
    path = tmp_path / 'costs.csv'
    path.write_text('id,cost\nb,30\na,12.5\n')
    assert read_cost_file(path, ['a', 'b']).tolist() == [12.5, 30.0]
    with pytest.raises(
        ValueError, match="has no cost for 1 pool item\\(s\\), e.g. \\['c'\\]"
    ):
        read_cost_file(path, ['a', 'b', 'c'])
    path.write_text('id,seconds\na,1\n')
    with pytest.raises(ValueError, match='must have the columns id and cost'):
        read_cost_file(path, ['a'])
    path.write_text('id,cost\na,-1\nb,x\n')
    with pytest.raises(ValueError, match="the cost of \\['a', 'b'\\] is not a number"):
        read_cost_file(path, ['a', 'b'])
    with pytest.raises(ValueError, match='does not exist'):
        read_cost_file(tmp_path / 'none.csv', ['a'])


def test_a_labelling_log_prices_the_patches_not_drawn_yet_at_its_median(
    tmp_path: Path,
) -> None:
    path = tmp_path / 'labels_cost.csv'
    path.write_text('id,cost\na,10\nb,30\nc,20\n')
    prices = item_measures(['a', 'x', 'b', 'y'], None, ['cost'], 'file', path)['cost']
    assert prices.tolist() == [10.0, 20.0, 30.0, 20.0]
    with pytest.raises(ValueError, match='has no cost for 2 pool item'):
        item_measures(['x', 'y'], None, ['cost'], 'file', path)
