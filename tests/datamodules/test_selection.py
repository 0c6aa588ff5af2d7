from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from torchgeo_als4gan.datamodules.selection import (
    check_labeled_ratio,
    labeled_count,
    random_selection,
    read_selection,
    resolve_selection,
)


class TestSelection:
    @pytest.mark.parametrize(
        ('ratio', 'n', 'expected'),
        [
            (0.02, 1679, 34),
            (0.05, 1679, 84),
            (0.125, 1679, 210),
            (1.0, 7, 7),
            (0.01, 3, 1),
        ],
    )
    def test_labeled_count_is_ceil(self, ratio: float, n: int, expected: int) -> None:
        assert labeled_count(ratio, n) == expected

    @pytest.mark.parametrize('ratio', [0, -0.1, 1.5, float('nan')])
    def test_bad_ratio(self, ratio: float) -> None:
        with pytest.raises(ValueError, match=r'labeled_ratio must be in \(0, 1\]'):
            check_labeled_ratio(ratio)

    def test_random_selection(self) -> None:
        ids = [f'img{i}' for i in range(100)]
        first = random_selection(ids, 0.05, seed=0)
        assert len(first) == 5 and first == sorted(first, key=ids.index)
        assert random_selection(ids, 0.05, seed=0) == first
        assert random_selection(ids, 0.05, seed=1) != first

    def test_read_npy(self, tmp_path: Path) -> None:
        np.save(tmp_path / 'a.npy', np.array(['beach01.tif', 'airplane02']))
        assert read_selection(tmp_path / 'a.npy') == ['beach01', 'airplane02']
        np.save(
            tmp_path / 'b.npy', np.array(['x', 'y'], dtype=object), allow_pickle=True
        )
        assert read_selection(tmp_path / 'b.npy') == ['x', 'y']

    def test_read_csv_gpkg_txt(self, tmp_path: Path) -> None:
        pd.DataFrame({'id': ['007', 'b', 'b'], 'score': [1, 2, 3]}).to_csv(
            tmp_path / 's.csv'
        )
        assert read_selection(tmp_path / 's.csv') == ['007', 'b']
        gpd.GeoDataFrame(
            {'id': ['p1']}, geometry=[box(0, 0, 1, 1)], crs='EPSG:32618'
        ).to_file(tmp_path / 's.gpkg')
        assert read_selection(tmp_path / 's.gpkg') == ['p1']
        (tmp_path / 'list').write_text('a\nb\n')
        assert read_selection(tmp_path / 'list') == ['a', 'b']

    def test_read_errors(self, tmp_path: Path) -> None:
        with pytest.raises(FileNotFoundError, match='nope.npy'):
            read_selection(tmp_path / 'nope.npy')
        pd.DataFrame({'name': ['a']}).to_csv(tmp_path / 's.csv')
        with pytest.raises(ValueError, match='no "id" column'):
            read_selection(tmp_path / 's.csv')
        np.save(tmp_path / 'empty.npy', np.array([], dtype=str))
        with pytest.raises(ValueError, match='contains no ids'):
            read_selection(tmp_path / 'empty.npy')

    def test_resolve(self) -> None:
        patches = ['a_r0_c0_p8', 'a_r0_c8_p8', 'b_r0_c0_p8']
        assert resolve_selection(['b_r0_c0_p8', 'a'], patches, ['a', 'a', 'b']) == [
            0,
            1,
            2,
        ]
        with pytest.raises(ValueError, match=r"2 of 3 ids in sel.*\['zz', 'c'\]"):
            resolve_selection(['a', 'zz', 'c'], patches, ['a', 'a', 'b'], source='sel')
