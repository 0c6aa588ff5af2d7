"""Every ``als4gan`` command in the README and docs/ parses as written."""

import re
import shlex
from pathlib import Path

import pytest

from .parse_only import parse_only

ROOT = Path(__file__).parents[1]


def doc_commands() -> list[tuple[str, str]]:
    """(file, command line) of every ``als4gan`` line in a shell block."""
    found = []
    for path in [*sorted((ROOT / 'docs').glob('*.md')), ROOT / 'README.md']:
        for block in re.findall(r'```(?:bash|sh)\n(.*?)```', path.read_text(), re.S):
            for line in re.sub(r'\\\n\s*', ' ', block).splitlines():
                line = line.split(' #')[0].strip()
                if line.startswith('als4gan '):
                    found.append((path.name, line))
    return found


def test_the_docs_hold_commands() -> None:
    assert len(doc_commands()) >= 30


@pytest.mark.parametrize(('page', 'line'), doc_commands())
def test_a_documented_command_parses(
    page: str, line: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    line = re.sub(r'\[(--[^\]]*)\]', r'\1', line)  # optional parts, written [--x ...]
    if '<' in line:  # a placeholder the reader fills: only the spelling is checked
        line = re.sub(r'=<[^>]*>\S*', '=placeholder', line)
    monkeypatch.chdir(ROOT)
    words = shlex.split(line)
    assert parse_only(words[1:], monkeypatch), f'{page}: {line}'
