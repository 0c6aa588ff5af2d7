"""One command-line style: old spellings warn, booleans and --config work everywhere."""

from pathlib import Path

import pytest
from jsonargparse import ArgumentParser

from torchgeo_als4gan.active.query.cli import build_parser as query_parser
from torchgeo_als4gan.command_line import canonical_args, parse_command
from torchgeo_als4gan.inference.cli import predict_raster_parser

REQUIRED = ['--checkpoint', 'm.ckpt', '--input', 'a.tif', '--output', 'out']


def test_an_old_spelling_warns_and_means_the_same() -> None:
    parser = predict_raster_parser()
    new = parse_command(parser, [*REQUIRED, '--patch_size', '64', '--min_area=3'], 'x')
    with pytest.warns(
        FutureWarning, match='--patch-size is deprecated; use --patch_size'
    ):
        old = parse_command(
            parser, [*REQUIRED, '--patch-size', '64', '--min-area=3'], 'x'
        )
    assert vars(old) == vars(new)
    assert new.patch_size == 64 and new.min_area == 3


@pytest.mark.parametrize(
    ('spelling', 'value'),
    [
        ([], False), (['--no_progress'], True), (['--no_progress', 'true'], True),
        (['--no_progress=false'], False), (['--no_progress', 'FALSE'], False),
    ],
)  # fmt: skip
def test_argparse_flags_take_every_boolean_spelling(
    spelling: list[str], value: bool
) -> None:
    cfg = parse_command(
        predict_raster_parser(), [*REQUIRED, *spelling], 'predict-raster'
    )
    assert cfg.no_progress is value
    assert cfg.input == ['a.tif']  # the value after a flag is not eaten unless boolean


def test_a_flag_with_another_value_is_refused() -> None:
    with pytest.raises(
        SystemExit, match="--overwrite takes true or false, got 'maybe'"
    ):
        canonical_args(predict_raster_parser(), ['--overwrite=maybe'], 'predict-raster')


@pytest.mark.parametrize(
    ('spelling', 'value'),
    [(['--resume'], True), (['--resume', 'true'], True), (['--resume=false'], False)],
)
def test_jsonargparse_booleans_take_the_bare_flag_too(
    spelling: list[str], value: bool
) -> None:
    parser = ArgumentParser()
    parser.add_argument('--resume', type=bool, default=False)
    parser.add_argument('--seed', type=int, default=0)
    cfg = parse_command(parser, [*spelling, '--seed', '3'], 'query')
    assert cfg.resume is value and cfg.seed == 3
    # the query command's own parser is read the same way
    assert canonical_args(query_parser(), ['--resume'], 'query') == ['--resume=true']


def test_a_config_file_holds_the_options_and_the_command_line_wins(
    tmp_path: Path,
) -> None:
    config = tmp_path / 'predict.yaml'
    config.write_text(
        'checkpoint: m.ckpt\ninput: [a.tif, b.tif]\noutput: out\npatch_size: 256\n'
        'no_progress: true\nuncertainty: false\nmin-area: 5\n'
    )
    parser = predict_raster_parser()
    cfg = parse_command(parser, ['--config', str(config), '--patch_size', '128'], 'x')
    assert cfg.input == ['a.tif', 'b.tif'] and cfg.output == 'out'
    assert cfg.patch_size == 128  # the command line overrides the file
    assert cfg.no_progress is True and cfg.uncertainty is False and cfg.min_area == 5


@pytest.mark.parametrize(
    ('text', 'message'),
    [
        ('patchsize: 3\n', "unknown option 'patchsize'"),
        ('no_progress: 3\n', 'no_progress must be true or false'),
        ('patch_size: [1, 2]\n', 'patch_size takes one value, got a list'),
        ('- a\n', 'must hold a mapping of option: value'),
    ],
)
def test_bad_config_files_name_the_file_and_the_option(
    tmp_path: Path, text: str, message: str
) -> None:
    config = tmp_path / 'bad.yaml'
    config.write_text(text)
    with pytest.raises(SystemExit, match=message) as error:
        canonical_args(
            predict_raster_parser(), ['--config', str(config)], 'predict-raster'
        )
    assert 'bad.yaml' in str(error.value)
    with pytest.raises(SystemExit, match='does not exist'):
        canonical_args(
            predict_raster_parser(), ['--config', 'nope.yaml'], 'predict-raster'
        )


def test_devices_is_short_for_trainer_devices_where_a_command_trains() -> None:
    out = canonical_args(query_parser(), ['--devices', '2', '--devices=3'], 'query')
    assert out == ['--trainer.devices', '2', '--trainer.devices=3']
    # predict-raster's own --devices (processes of its parallel step) is kept
    out = canonical_args(predict_raster_parser(), ['--devices', '2'], 'predict-raster')
    assert out == ['--devices', '2']
