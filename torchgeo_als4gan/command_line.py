"""One command-line style for every ``als4gan`` command.

LightningCLI (``fit``, ``validate``, ...) sets the style TorchGeo users know:
``--config FILE`` plus dotted overrides with underscores
(``--data.init_args.batch_size=8``) and booleans spelled ``true`` / ``false``.
Every other command is parsed through :func:`parse_command`, so that

* options are spelled with underscores everywhere (``--patch_size``,
  ``--keep_going``); the hyphenated spellings of earlier releases
  (``--patch_size``) still work for this release, with a ``FutureWarning``
  naming the new one;
* a boolean option takes ``--resume``, ``--resume true`` or ``--resume=false``
  whichever parser the command uses;
* commands without a config format of their own take ``--config FILE``: a YAML
  mapping of their options (``patch_size: 256``, ``input: [a.tif, b.tif]``),
  which the command line overrides;
* a ``--config`` file that is not there ends every command, LightningCLI's
  included, with the same line: ``als4gan <command>: error: --config 'x.yaml'
  does not exist``;
* where a command trains with a ``trainer`` section (``fit``, ``validate``,
  ``test``, ``predict``, ``query``, ``pretrain``), ``--devices N`` is short for
  ``--trainer.devices N``, and in LightningCLI's commands ``--seed N`` for
  ``--seed_everything N``, so the shared options are spelled alike everywhere.
"""

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

__all__ = ('canonical_args', 'check_config_file', 'lightning_args', 'parse_command')

_Namespace = TypeVar('_Namespace')
_TRUE, _FALSE = ('true', 'yes', '1', 'on'), ('false', 'no', '0', 'off')


def _is_flag(action: argparse.Action) -> bool:
    """An argparse ``store_true`` / ``store_false`` option."""
    return isinstance(action, argparse._StoreTrueAction | argparse._StoreFalseAction)


def _is_typed_bool(action: argparse.Action) -> bool:
    """A jsonargparse option of type ``bool`` (it needs a value)."""
    return getattr(action, '_typehint', None) is bool


def check_config_file(path: str, command: str) -> Path:
    """The ``--config`` file of a command, refused in one wording if it is not there.

    Args:
        path: the value given to ``--config``.
        command: the command, for the message.

    Returns:
        The path.

    Raises:
        SystemExit: If ``path`` is not a file, with
            ``als4gan <command>: error: --config 'path' does not exist``.
    """
    file = Path(path)
    if not path or not file.is_file():
        what = 'is a folder, not a YAML file' if file.is_dir() else 'does not exist'
        msg = f'als4gan {command}: error: --config {path!r} {what}'
        raise SystemExit(msg)
    return file


def _config_tokens(
    parser: argparse.ArgumentParser, path: str, command: str
) -> list[str]:
    """The options of a ``--config`` YAML file, as command-line tokens."""
    file = check_config_file(path, command)
    try:
        values = yaml.safe_load(file.read_text())
    except yaml.YAMLError as error:
        msg = f'{command}: --config {path!r} is not valid YAML: {error}'
        raise SystemExit(msg) from error
    if not isinstance(values, dict):
        msg = f'{command}: --config {path!r} must hold a mapping of option: value'
        raise SystemExit(msg)
    known = parser._option_string_actions
    tokens: list[str] = []
    for key, value in values.items():
        name = '--' + str(key).replace('-', '_')
        action = known.get(name)
        if action is None:
            msg = f'{command}: --config {path!r}: unknown option {key!r}'
            raise SystemExit(msg)
        if _is_flag(action):
            if not isinstance(value, bool):
                msg = f'{command}: --config {path!r}: {key} must be true or false'
                raise SystemExit(msg)
            if value == isinstance(action, argparse._StoreTrueAction):
                tokens.append(name)
        elif isinstance(value, list):
            if action.nargs in (None, 1, '?') and not isinstance(
                action, argparse._AppendAction
            ):
                msg = f'{command}: --config {path!r}: {key} takes one value, got a list'
                raise SystemExit(msg)
            if isinstance(action, argparse._AppendAction):
                tokens += [f'{name}={item}' for item in value]
            else:
                tokens += [name, *map(str, value)]
        else:
            tokens.append(f'{name}={"" if value is None else value}')
    return tokens


def canonical_args(
    parser: argparse.ArgumentParser, argv: Sequence[str], command: str
) -> list[str]:
    """The arguments in the one style the command's parser reads.

    Args:
        parser: the command's parser (argparse or jsonargparse).
        argv: the arguments after the command name.
        command: the command, for messages.

    Returns:
        The arguments with old spellings replaced, booleans in the parser's
        form and a ``--config`` file's options (when the parser has no
        ``--config`` of its own) put before the others.

    Raises:
        SystemExit: If a ``--config`` file is missing, unreadable or names an
            option the command does not have.
    """
    known = parser._option_string_actions
    own_config = '--config' in known
    args = list(argv)
    out: list[str] = []
    front: list[str] = []
    i = 0
    while i < len(args):
        token = args[i]
        i += 1
        if token == '--':
            out += args[i - 1 :]
            break
        if not token.startswith('--'):
            out.append(token)
            continue
        name, eq, value = token.partition('=')
        if name not in known and '.' not in name and '-' in name[2:]:
            new = '--' + name[2:].replace('-', '_')
            if new in known or (new == '--config' and not own_config):
                warnings.warn(
                    f'als4gan {command}: {name} is deprecated; use {new}'
                    ' (the old spelling goes in the next release)',
                    FutureWarning,
                    stacklevel=2,
                )
                name = new
        if name == '--devices' and name not in known and '--trainer.devices' in known:
            name = '--trainer.devices'
        if name == '--config' and not own_config:
            path = value if eq else (args[i] if i < len(args) else '')
            i += 0 if eq else 1
            front += _config_tokens(parser, path, command)
            continue
        if name == '--config':
            check_config_file(
                value if eq else (args[i] if i < len(args) else ''), command
            )
        action = known.get(name)
        if action is not None and _is_flag(action):
            if not eq and i < len(args) and args[i].lower() in (*_TRUE, *_FALSE):
                value, eq = args[i], '='
                i += 1
            if eq and value.lower() not in (*_TRUE, *_FALSE):
                msg = f'{command}: {name} takes true or false, got {value!r}'
                raise SystemExit(msg)
            if not eq or value.lower() in _TRUE:
                out.append(name)
            continue
        if (
            action is not None
            and _is_typed_bool(action)
            and not eq
            and (i >= len(args) or args[i].lower() not in (*_TRUE, *_FALSE))
        ):
            out.append(f'{name}=true')
            continue
        out.append(name + eq + value if eq else name)
    return front + out


#: LightningCLI options that the other commands spell the shared way.
_LIGHTNING_ALIASES = {'--devices': '--trainer.devices', '--seed': '--seed_everything'}


def lightning_args(argv: Sequence[str]) -> list[str]:
    """A LightningCLI command line (``fit``, ...) with the shared spellings read.

    ``--devices N`` becomes ``--trainer.devices N`` and ``--seed N``
    ``--seed_everything N``; every ``--config`` file is checked to be there
    (:func:`check_config_file`) before LightningCLI builds anything.

    Args:
        argv: the arguments after ``als4gan``, the subcommand first.

    Returns:
        The arguments LightningCLI reads.

    Raises:
        SystemExit: If a ``--config`` file is not there.
    """
    args = list(argv)
    command = args[0] if args and not args[0].startswith('-') else 'fit'
    out: list[str] = []
    for i, token in enumerate(args):
        if token == '--':
            return out + args[i:]
        name, eq, value = token.partition('=')
        if name == '--config':
            path = value if eq else (args[i + 1] if i + 1 < len(args) else '')
            check_config_file(path, command)
        out.append(_LIGHTNING_ALIASES.get(name, name) + eq + value)
    return out


def parse_command(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None, command: str
) -> Any:
    """Parse a command's arguments in the one style (see the module docstring).

    Args:
        parser: the command's parser.
        argv: the arguments after the command name (None: ``sys.argv[2:]``).
        command: the command name.

    Returns:
        The parser's namespace.
    """
    args = list(sys.argv[2:] if argv is None else argv)
    return parser.parse_args(canonical_args(parser, args, command))
