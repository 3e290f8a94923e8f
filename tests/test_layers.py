"""The package's imports keep its layers: they go down, or to a neutral module, and never
round in a circle.

Every import of every module under src/stompbox counts: at module level, under
``if TYPE_CHECKING:`` and inside functions, since each is a dependency a reader has to
follow. The graph is read with :mod:`ast`, without importing anything. An import names
the module it reads from (``from stompbox.protocol import Frame`` reads
``stompbox.protocol``); the parent packages Python also runs on the way are not counted.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "stompbox"
SRC = Path(__file__).resolve().parents[1] / "src"

# -- the rules, as data --------------------------------------------------------------------

LAYERS: dict[str, tuple[str, ...]] = {
    # layer: the modules in it; a package name covers all its submodules
    "neutral": ("stompbox._version", "stompbox.net"),
    "protocol": ("stompbox.protocol",),
    "broker": ("stompbox.broker",),
    "security": ("stompbox.security",),
    "sockjs": ("stompbox.sockjs",),
    "server": ("stompbox.server",),
    "client": ("stompbox.client",),
    "relay": ("stompbox.relay",),
    "app": ("stompbox.app",),
    # the command line: the stompbox.cli package
    "cli": ("stompbox.cli", "stompbox.__main__"),
}

ROOT = "root"
"""The layer of ``stompbox/__init__.py`` alone, which re-exports the client for users."""

MAY_IMPORT: dict[str, frozenset[str]] = {
    # layer: the other layers it may import (its own layer it always may)
    "neutral": frozenset(),
    "protocol": frozenset({"neutral"}),
    "broker": frozenset({"protocol", "neutral"}),
    "security": frozenset({"broker", "protocol", "neutral"}),
    "sockjs": frozenset({"neutral"}),
    "server": frozenset({"sockjs", "security", "broker", "protocol", "neutral"}),
    "client": frozenset({"protocol", "neutral"}),
    "relay": frozenset({"client", "protocol", "neutral"}),
    "app": frozenset(
        {"server", "sockjs", "security", "broker", "protocol", "relay", "client", "neutral"}
    ),
    "cli": frozenset(LAYERS) - {"cli"},
    ROOT: frozenset({"client", "neutral"}),
}

FORBIDDEN: dict[str, dict[str, str]] = {
    # layer: {module outside the package: why the layer may not import it}
    "protocol": {
        "asyncio": "the protocol is sans-IO: the transports own the event loop",
        "socket": "the protocol is sans-IO: it sees bytes, never sockets",
    },
    "broker": {
        "asyncio": "the broker is synchronous, called from the event loop by its one owner",
    },
    "security": {
        "asyncio": "verifiers and rules are plain objects; the server decides where they run",
        "socket": "security sees credentials and names, never sockets",
    },
}

# -- reading the import graph ----------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the module it reads from
    path: Path
    line: int
    where: str  # "module level", "under TYPE_CHECKING" or "in a function"

    def __str__(self) -> str:
        return f"{self.path.relative_to(SRC.parent)}:{self.line} ({self.where})"


def discover() -> dict[str, Path]:
    """Every module of the package by dotted name (``pkg/__init__.py`` is ``pkg``)."""
    modules: dict[str, Path] = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


MODULES = discover()


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, where: str) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import under ``node``, with where it sits."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, where
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from _walk(child, "in a function")
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            inner = where if where == "in a function" else "under TYPE_CHECKING"
            for statement in child.body:
                yield from _walk_one(statement, inner)
            for statement in child.orelse:
                yield from _walk_one(statement, where)
        else:
            yield from _walk(child, where)


def _walk_one(node: ast.stmt, where: str) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node, where
    else:
        yield from _walk(node, where)


def _base(module: str, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` reads from."""
    if node.level == 0:
        return node.module or ""
    is_package = MODULES[module].name == "__init__.py"
    parts = module.split(".") if is_package else module.split(".")[:-1]
    if node.level > 1:
        parts = parts[: -(node.level - 1)]
    return ".".join([*parts, *([node.module] if node.module else [])])


def imports_of(module: str) -> Iterator[tuple[Import | None, str, int, str]]:
    """(import within the package or None, the absolute name imported, line, where)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    for node, where in _walk(tree, "module level"):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            if node.module == "__future__":
                continue
            base = _base(module, node)
            # ``from pkg import sub`` reads the submodule; ``from pkg import name``, pkg
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        for name in dict.fromkeys(names):
            internal = name == PACKAGE or name.startswith(PACKAGE + ".")
            found = Import(module, name, path, node.lineno, where) if internal else None
            yield found, name, node.lineno, where


def internal_imports() -> list[Import]:
    return [found for module in MODULES for found, *_ in imports_of(module) if found]


def layer_of(module: str) -> str | None:
    if module == PACKAGE:
        return ROOT
    best: tuple[int, str] | None = None
    for layer, prefixes in LAYERS.items():
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                best is None or len(prefix) > best[0]
            ):
                best = (len(prefix), layer)
    return best[1] if best else None


def _below(layer: str) -> set[str]:
    """Every layer ``layer`` may reach, directly or through others."""
    seen: set[str] = set()
    todo = list(MAY_IMPORT[layer])
    while todo:
        lower = todo.pop()
        if lower not in seen:
            seen.add(lower)
            todo.extend(MAY_IMPORT[lower])
    return seen


def _fail_with(title: str, problems: list[str]) -> None:
    if problems:
        pytest.fail("\n".join([title, *(f"  {problem}" for problem in problems)]), pytrace=False)


def _describe(layer: str) -> str:
    if layer == ROOT:
        return "the package root stompbox/__init__.py"
    return f"{layer} ({', '.join(LAYERS[layer])})"


# -- the rules ---------------------------------------------------------------------------------


def test_every_module_has_a_layer() -> None:
    homeless = [module for module in MODULES if layer_of(module) is None]
    _fail_with(
        "modules in no layer; add them to LAYERS in tests/test_layers.py:",
        [f"{MODULES[module].relative_to(SRC.parent)}: {module}" for module in homeless],
    )


def test_imports_go_down_the_layers() -> None:
    problems = []
    for found in internal_imports():
        source, target = layer_of(found.module), layer_of(found.target)
        if source is None or target is None or source == target:
            continue  # homeless modules fail test_every_module_has_a_layer
        if target == ROOT:
            problems.append(
                f"{found}: {found.module} imports {found.target}, the package root, which "
                "re-exports the client for users and runs it on import; import the module "
                "that defines the name (stompbox._version, stompbox.client, ...) instead"
            )
        elif target not in MAY_IMPORT[source]:
            direction = "upwards" if source in _below(target) else "sideways"
            allowed = ", ".join(sorted(MAY_IMPORT[source])) or "no other layer"
            problems.append(
                f"{found}: {found.module} imports {found.target}, {direction} from "
                f"{source} to {_describe(target)}; {source} may import only: {allowed}"
            )
    _fail_with("imports against the layers:", problems)


def test_sans_io_layers_import_no_io() -> None:
    problems = []
    for module in MODULES:
        rules = FORBIDDEN.get(layer_of(module) or "", {})
        for found, name, line, where in imports_of(module):
            top = name.split(".")[0]
            if found is None and top in rules:
                place = f"{MODULES[module].relative_to(SRC.parent)}:{line} ({where})"
                problems.append(f"{place}: {module} imports {name}: {rules[top]}")
    _fail_with("I/O where there must be none:", problems)


def find_cycles(edges: dict[str, dict[str, Import]]) -> list[list[Import]]:
    """Each elementary import cycle, as the imports that close it, shortest first."""
    cycles: list[list[Import]] = []
    seen: set[frozenset[tuple[str, str]]] = set()

    def search(start: str, node: str, path: list[Import], on_path: set[str]) -> None:
        for target, found in sorted(edges.get(node, {}).items()):
            if target == start:
                cycle = [*path, found]
                key = frozenset((step.module, step.target) for step in cycle)
                if key not in seen:
                    seen.add(key)
                    cycles.append(cycle)
            elif target > start and target not in on_path:  # each cycle once, from its least
                on_path.add(target)
                search(start, target, [*path, found], on_path)
                on_path.discard(target)

    for start in sorted(edges):
        search(start, start, [], {start})
    return sorted(cycles, key=lambda cycle: (len(cycle), cycle[0].module))


def test_no_import_cycles() -> None:
    edges: dict[str, dict[str, Import]] = {}
    for found in internal_imports():
        if found.target in MODULES:
            edges.setdefault(found.module, {}).setdefault(found.target, found)
    cycles = find_cycles(edges)
    _fail_with(
        f"{len(cycles)} import cycle(s); each import below closes one:",
        [
            " -> ".join([cycle[0].module, *(step.target for step in cycle)])
            + "".join(f"\n      {step}: {step.module} imports {step.target}" for step in cycle)
            for cycle in cycles
        ],
    )


def test_the_checks_see_every_kind_of_import() -> None:
    """The walker finds imports at module level, under TYPE_CHECKING and in functions."""
    tree = ast.parse(
        "import a\n"
        "if TYPE_CHECKING:\n    from b import c\n"
        "def f():\n    import d\n    if typing.TYPE_CHECKING:\n        import e\n"
        "class K:\n    async def m(self):\n        from g import h\n"
    )
    found = [(node.lineno, where) for node, where in _walk(tree, "module level")]
    assert found == [
        (1, "module level"),
        (3, "under TYPE_CHECKING"),
        (5, "in a function"),
        (7, "in a function"),
        (10, "in a function"),
    ]


def test_cycle_finder_reports_each_cycle_once() -> None:
    def edge(module: str, target: str) -> Import:
        return Import(module, target, SRC / "x.py", 1, "module level")

    graph = {"a": ["b"], "b": ["a", "c"], "c": ["a"], "d": ["d"]}
    edges = {m: {t: edge(m, t) for t in targets} for m, targets in graph.items()}
    cycles = [[step.target for step in cycle] for cycle in find_cycles(edges)]
    assert cycles == [["d"], ["b", "a"], ["b", "c", "a"]]
