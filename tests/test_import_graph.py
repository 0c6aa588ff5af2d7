"""The package's import graph has no circle, between modules or between packages."""

import ast
from collections import defaultdict
from pathlib import Path

import torchgeo_als4gan

PACKAGE = 'torchgeo_als4gan'
ROOT = Path(torchgeo_als4gan.__file__).parent


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    found = {}
    for path in ROOT.rglob('*.py'):
        parts = list(path.relative_to(ROOT.parent).with_suffix('').parts)
        if parts[-1] == '__init__':
            parts = parts[:-1]
        found['.'.join(parts)] = path
    return found


def _imported(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that ``module`` imports, wherever the import is.

    Imports inside functions and under ``TYPE_CHECKING`` count: a circle that
    only a deferred import keeps from failing is still a circle.
    """
    package = module if path.name == '__init__.py' else module.rpartition('.')[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ''
            if node.level:
                anchor = package.split('.')
                anchor = anchor[: len(anchor) - node.level + 1]
                base = '.'.join([*anchor, *([base] if base else [])])
            names = [f'{base}.{alias.name}' for alias in node.names] + [base]
        for name in names:
            while name and name not in modules:
                name = name.rpartition('.')[0]
            if name.startswith(PACKAGE) and name != module:
                targets.add(name)
    return targets


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, set()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _module_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imported(name, path, modules) for name, path in modules.items()}


def _package_of(module: str, modules: dict[str, Path]) -> str:
    """The package a module belongs to (a package's ``__init__``: itself)."""
    if modules[module].name == '__init__.py':
        return module
    return module.rpartition('.')[0]


def test_the_graph_is_read() -> None:
    graph = _module_graph()
    # known edges: a relative import of a module, of a package, from a function
    assert 'torchgeo_als4gan.runs.policy' in graph['torchgeo_als4gan.runs.fit']
    assert 'torchgeo_als4gan.runs' in graph['torchgeo_als4gan.active.loop.config']
    assert (
        'torchgeo_als4gan.active.query.cli'
        in graph['torchgeo_als4gan.experiments.runner']
    )
    assert len(graph) > 100


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': {'a'}}) == [
        ['a', 'b', 'c']
    ]
    assert _cycles({'a': {'b'}, 'b': set()}) == []


def test_no_module_circle() -> None:
    cycles = _cycles(_module_graph())
    assert not cycles, f'modules importing each other: {cycles}'


def test_no_package_circle() -> None:
    # packages as rooms: a subpackage is a room of its own (active.query may
    # use trainers, which use the scores of active)
    modules = _modules()
    packages: dict[str, set[str]] = defaultdict(set)
    for module, targets in _module_graph().items():
        here = _package_of(module, modules)
        for target in targets:
            there = _package_of(target, modules)
            if there not in (here, PACKAGE) and not here.startswith(f'{there}.'):
                packages[here].add(there)
    cycles = _cycles(packages)
    assert not cycles, f'packages importing each other: {cycles}'
