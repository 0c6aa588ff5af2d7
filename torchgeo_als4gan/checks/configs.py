"""YAML config files: one reader that names the file, line and column of an error."""

import os
from pathlib import Path
from typing import Any

import yaml

__all__ = ('read_yaml',)


def read_yaml(
    path: str | os.PathLike[str], argument: str = '--config', mapping: bool = True
) -> Any:
    """Read a YAML file written by a user.

    Args:
        path: the file.
        argument: the option or key that named it, for the message.
        mapping: the file must hold a mapping (``key: value`` lines); an empty
            file is an empty mapping.

    Returns:
        The parsed content.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it is not valid YAML (file, line and column named) or not a
            mapping when one is expected.
    """
    file = Path(path)
    if not file.is_file():
        what = 'is a folder, not a file' if file.is_dir() else 'does not exist'
        msg = f'{argument} {os.fspath(file)!r} {what}'
        raise FileNotFoundError(msg)
    try:
        text = file.read_text()
    except (OSError, UnicodeDecodeError) as error:
        msg = f'{argument} {os.fspath(file)!r} cannot be read as text: {error}'
        raise ValueError(msg) from error
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, 'problem_mark', None)
        where = f', line {mark.line + 1}, column {mark.column + 1}' if mark else ''
        problem = getattr(error, 'problem', None) or str(error).splitlines()[0]
        msg = f'{argument} {os.fspath(file)!r} is not valid YAML{where}: {problem}'
        raise ValueError(msg) from None
    if mapping:
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            msg = (
                f'{argument} {os.fspath(file)!r} must hold `key: value` settings,'
                f' got a {type(raw).__name__}'
            )
            raise ValueError(msg)
    return raw
