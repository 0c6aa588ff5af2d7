"""Config files of the orchestration commands, and the fit configs they run."""

import os
import types
import typing
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

from ..checks import read_yaml

__all__ = (
    'build_config',
    'check_method_config',
    'check_shape',
    'check_single_process',
    'method_processes',
    'multi_process',
    'read_config_file',
)

#: Top-level keys of an ``als4gan query`` config that a fit config never has.
_QUERY_KEYS = {'strategy', 'labeled_ratio', 'alpha', 'beta', 'output'}


def read_config_file(file: Path, kind: type) -> dict[str, Any]:
    """Read a YAML config of a dataclass, refusing keys it does not have.

    Args:
        file: the YAML file.
        kind: the dataclass the keys belong to.

    Returns:
        The raw values by key.

    Raises:
        FileNotFoundError: If the file does not exist.
        ValueError: If it has unknown keys.
    """
    raw: dict[str, Any] = read_yaml(file, '--config')
    known = {f.name for f in fields(kind)}
    unknown = sorted(set(raw) - known)
    if unknown:
        msg = f'{os.fspath(file)}: unknown keys {unknown}; valid: {sorted(known)}'
        raise ValueError(msg)
    hints = typing.get_type_hints(kind)
    for key, value in raw.items():
        problem = check_shape(key, hints[key], value)
        if problem is not None:
            msg = f'{os.fspath(file)}: {problem}'
            raise ValueError(msg)
    return raw


_KINDS = {dict: 'a mapping (key: value)', list: 'a list ([a, b] or - a lines)'}


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return 'a mapping'
    if isinstance(value, list):
        return 'a list'
    return f'{value!r}'


def check_shape(where: str, annotation: Any, value: Any) -> str | None:
    """What is wrong with the shape of a YAML value, against its field's type.

    Only the structure is checked (a mapping, a list or a single value, at every
    level of the annotation): a list where a mapping belongs, a single value
    where a list belongs, a mapping or a list where one value belongs. The
    values themselves are checked by the config's own checks.

    Args:
        where: the key, for the message (``method_args.s4gan``).
        annotation: the field's type (``dict[str, list[str]]``, ``int | None``).
        value: the YAML value.

    Returns:
        None if the shape fits, else a message naming ``where``.
    """
    options = (
        typing.get_args(annotation)
        if isinstance(annotation, types.UnionType)
        or typing.get_origin(annotation) is typing.Union
        else (annotation,)
    )
    if value is None and type(None) in options:
        return None
    if Any in options:
        return None
    problems = []
    for option in options:
        origin = typing.get_origin(option) or option
        args = typing.get_args(option)
        if origin is dict:
            if not isinstance(value, dict):
                problems.append(_KINDS[dict])
                continue
            inner = [check_shape(f'{where}.{k}', args[1], v) for k, v in value.items()]
            problem = next((p for p in inner if p is not None), None)
        elif origin is list:
            if not isinstance(value, list):
                problems.append(_KINDS[list])
                continue
            inner = [
                check_shape(f'{where}[{i}]', args[0], v) for i, v in enumerate(value)
            ]
            problem = next((p for p in inner if p is not None), None)
        elif origin is type(None):
            continue
        elif isinstance(value, dict | list):
            problems.append('one value')
            continue
        else:
            return None
        if problem is None:
            return None
        return problem
    return f'{where} must be {" or ".join(problems)}, got {_kind(value)}'


Config = TypeVar('Config')


def build_config(
    file: Path,
    kind: type[Config],
    raw: dict[str, Any],
    extra: Sequence[str],
    default_output: str,
) -> Config:
    """Make an orchestration config from its file's values.

    The output folder defaults to ``<default_output>/<file stem>``; ``extra``
    (e.g. ``--data_arg`` from the command line) follows the file's ``data_args``.

    Args:
        file: the YAML file, for messages.
        kind: the config dataclass.
        raw: the file's values (paths already converted).
        extra: additional ``data_args``.
        default_output: the folder of outputs without an ``output`` key.

    Returns:
        The checked configuration.

    Raises:
        ValueError: If the dataclass refuses a value (the message names the file).
    """
    raw['output'] = Path(raw.get('output', f'{default_output}/{file.stem}'))
    raw['data_args'] = [*raw.get('data_args', []), *extra]
    try:
        return kind(**raw)
    except TypeError as error:
        msg = f'{os.fspath(file)}: {error}'
        raise ValueError(msg) from error


def check_method_config(name: str, path: Path, processes: bool = False) -> None:
    """Refuse a method config that is not a segmentation fit config.

    Args:
        name: where the config is named (``methods.<key>``, ``method``), for
            the message.
        path: the config file.
        processes: its fits run as their own ``als4gan fit`` process, so a
            multi-device (DDP) trainer is allowed.

    Raises:
        ValueError: If it is an ``als4gan query`` config, lacks the model or
            data section, or asks for several training processes (unless
            ``processes``: its fits run as their own ``als4gan fit`` process).
    """
    raw = read_yaml(path, f'{name}:', mapping=False)
    model = raw.get('model') if isinstance(raw, dict) else None
    class_path = model.get('class_path', '') if isinstance(model, dict) else ''
    if (
        not isinstance(raw, dict)
        or _QUERY_KEYS & set(raw)
        or str(class_path).endswith('ActiveLearnerTask')
    ):
        msg = (
            f'{name}: {os.fspath(path)!r} is not a segmentation fit config'
            ' (it looks like an `als4gan query` config); methods take configs such'
            ' as configs/ucm_s4gan.yaml, and the query config goes to query_config'
        )
        raise ValueError(msg)
    if not isinstance(model, dict) or not isinstance(raw.get('data'), dict):
        msg = f'{name}: {os.fspath(path)!r} needs model and data sections'
        raise ValueError(msg)
    trainer = raw.get('trainer')
    if isinstance(trainer, dict) and not processes:
        check_single_process(
            f'{name}: {os.fspath(path)!r}', trainer.get('devices'),
            trainer.get('strategy'),
        )  # fmt: skip


def multi_process(devices: Any, strategy: Any = None) -> bool:
    """Whether a trainer's ``devices`` / ``strategy`` start several processes.

    Args:
        devices: the trainer's ``devices``.
        strategy: the trainer's ``strategy``.

    Returns:
        True for more than one device or a DDP strategy.
    """
    many = (isinstance(devices, int) and devices > 1) or (
        isinstance(devices, list | tuple) and len(devices) > 1
    )
    if isinstance(devices, str) and devices.strip().isdigit():
        many = int(devices) > 1
    return bool(many or 'ddp' in str(strategy or '').lower())


def method_processes(path: Path, trainer_args: Sequence[str]) -> bool:
    """Whether a method config (with the overrides) trains on several processes.

    Args:
        path: the method's fit config.
        trainer_args: ``--trainer.*`` overrides applied to it.

    Returns:
        True when its trainer (or an override) asks for several devices or DDP.
    """
    raw = read_yaml(path, 'method', mapping=False)
    trainer = raw.get('trainer') if isinstance(raw, dict) else None
    devices = trainer.get('devices') if isinstance(trainer, dict) else None
    strategy = trainer.get('strategy') if isinstance(trainer, dict) else None
    for arg in trainer_args:
        key, _, value = str(arg).partition('=')
        if key == '--trainer.devices':
            devices = value
        elif key == '--trainer.strategy':
            strategy = value
    return multi_process(devices, strategy)


def check_single_process(where: str, devices: Any, strategy: Any = None) -> None:
    """Refuse a multi-process (DDP) trainer for fits run in-process.

    ``als4gan experiment`` and ``als4gan loop`` run every fit inside their own
    process; Lightning's DDP launcher would start the other ranks by rerunning
    the whole command (every rank repeating the experiment).

    Args:
        where: the config or option, for the message.
        devices: the trainer's ``devices``.
        strategy: the trainer's ``strategy``.

    Raises:
        ValueError: If more than one device or a DDP strategy is asked for.
    """
    if multi_process(devices, strategy):
        msg = (
            f'{where}: trainer devices {devices!r} / strategy {strategy!r} would start'
            ' several processes, but the experiment runner and the loop train in'
            ' their own process (Lightning would rerun the whole command per'
            ' rank); use devices: 1 here, and several devices for single fits'
            " (`als4gan fit`) or pool scoring (the loop's score_devices)"
        )
        raise ValueError(msg)
