"""Command-line overrides that point a config's datamodule at the fixture data."""

from pathlib import Path

DATA = Path(__file__).parent / 'data'

#: Overrides per dataset, shared by the fit and query config tests.
DATA_ARGS = {
    'ucm': [
        f'--data.init_args.root={DATA / "ucmerced_dlrsd"}',
        '--data.init_args.tile_size=32',
        '--data.init_args.split_fractions=[0.5,0.25,0.25]',
    ],
    'deepglobe': [
        f'--data.init_args.root={DATA / "deepglobe"}',
        '--data.init_args.patch_size=16',
        '--data.init_args.split_fractions=[0.6,0.2,0.2]',
    ],
    'tile_folder': [
        f'--data.init_args.root={DATA / "tile_folder"}',
        '--data.init_args.ignore_value=9',
        '--data.init_args.split_fractions=[0.5,0.25,0.25]',
    ],
    'raster': [
        f'--data.init_args.image_paths={DATA / "georaster" / "imagery"}',
        f'--data.init_args.label_paths={DATA / "georaster" / "vectors" / "labels.geojson"}',
        '--data.init_args.patch_size=16',
        '--data.init_args.split_block=1',
    ],
}
