"""Run an ``als4gan`` command line only up to its parser: options and configs checked."""

import argparse
from collections.abc import Sequence

import jsonargparse
import pytest

from torchgeo_als4gan.main import main


class ParsedError(Exception):
    """Raised right after a command's parser accepted its arguments."""


def parse_only(words: Sequence[str], monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Run ``als4gan <words>`` until its parser has accepted them.

    Args:
        words: the arguments after ``als4gan``.
        monkeypatch: the test's monkeypatch (the parsers are restored after).

    Returns:
        What the parsers returned (at least one namespace).
    """
    parsed: list[object] = []
    for cls in (argparse.ArgumentParser, jsonargparse.ArgumentParser):
        original = cls.parse_args

        def stop_after(
            self: object, *args: object, _f: object = original, **kw: object
        ) -> object:
            parsed.append(_f(self, *args, **kw))  # type: ignore[operator]
            raise ParsedError

        monkeypatch.setattr(cls, 'parse_args', stop_after)
    with pytest.raises(ParsedError):
        main(list(words))
    return parsed
