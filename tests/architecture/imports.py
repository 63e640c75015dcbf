"""Our modules' imports of each other, read from the source with ``ast`` (nothing is imported)."""

from __future__ import annotations

import ast
import graphlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from devtools.paths import REPO

#: Where our modules live: a source root and the top-level packages under it.
ROOTS: tuple[tuple[Path, tuple[str, ...]], ...] = (
    (REPO / "src", ("airflow_secretsync",)),
    (REPO, ("benchmarks", "devtools", "tests")),
)


def modules() -> dict[str, Path]:
    """Every module of ours by dotted name (a package by its ``__init__.py``)."""
    found: dict[str, Path] = {}
    for root, packages in ROOTS:
        for package in packages:
            for path in sorted((root / package).rglob("*.py")):
                parts = path.relative_to(root).with_suffix("").parts
                if parts[-1] == "__init__":
                    parts = parts[:-1]
                found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _anywhere(body: Iterable[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement: in functions and under ``if TYPE_CHECKING`` too."""
    for node in body:
        yield from (n for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom))


def _module_level(body: Iterable[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """Import statements run when the module is imported: not in functions or classes, nor
    under ``if TYPE_CHECKING``."""
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _module_level(node.body)
            yield from _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody):
                yield from _module_level(block)
            for handler in node.handlers:
                yield from _module_level(handler.body)
        elif isinstance(node, ast.With):
            yield from _module_level(node.body)


def _imported(name: str, path: Path, node: ast.Import | ast.ImportFrom) -> Iterator[str]:
    if isinstance(node, ast.Import):
        yield from (alias.name for alias in node.names)
        return
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    if node.level:
        base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
        base = f"{base}.{node.module}" if node.module else base
    else:
        base = node.module or ""
    yield base
    yield from (f"{base}.{alias.name}" for alias in node.names)  # ``from pkg import module``


def import_graph(*, lazy: bool = False) -> dict[str, set[str]]:
    """``{module: modules of ours it imports at module level}`` (``lazy``: anywhere, in
    functions and for type checking too). Importing ``a.b.c`` runs ``a`` and ``a.b`` first,
    so those count too, except the importer's own packages (they are already being imported
    when it runs)."""
    statements = _anywhere if lazy else _module_level
    ours = modules()
    graph: dict[str, set[str]] = {}
    for name, path in ours.items():
        own = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        edges: set[str] = set()
        for node in statements(ast.parse(path.read_text(), str(path)).body):
            for target in _imported(name, path, node):
                parts = target.split(".")
                for i in range(1, len(parts) + 1):
                    prefix = ".".join(parts[:i])
                    if prefix in ours and prefix not in own and prefix != name:
                        edges.add(prefix)
        graph[name] = edges
    return graph


def first_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (``[a, b, ..., a]``) of ``graph``, or ``None`` when it has none."""
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        return list(reversed(exc.args[1]))
    return None
