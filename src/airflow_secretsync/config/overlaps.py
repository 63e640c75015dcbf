"""Cross-block rule: no two store blocks that must stay apart share a scope (SPEC §3a).

Destinations must not overlap each other or any source, and the merge store must not overlap
any source or destination (its scope is its whole path or prefix). Sources may overlap each
other: reading twice harms nothing. Works on the raw YAML data like the other checks: each
store block is validated on its own, so a mistake elsewhere does not hide an overlap.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from pydantic import ValidationError

from airflow_secretsync.config.model import Connections
from airflow_secretsync.config.problems import Loc, Problem, format_loc
from airflow_secretsync.config.yaml_reader import YamlDocument
from airflow_secretsync.scopes import Scope, overlap_hint, overlaps
from airflow_secretsync.stores.registry import Role, kinds_for

_SOURCE = "source"
_DESTINATION = "destination"
_MERGE_STORE = "merge store"
_APART = {
    frozenset({_DESTINATION}),
    frozenset({_DESTINATION, _SOURCE}),
    frozenset({_MERGE_STORE, _SOURCE}),
    frozenset({_MERGE_STORE, _DESTINATION}),
}
_ROLES: dict[str, Role] = {
    _MERGE_STORE: "merge_store",
    _SOURCE: "source",
    _DESTINATION: "destination",
}


@dataclass(frozen=True)
class _Block:
    role: str
    loc: Loc
    scope: Scope


def overlap_problems(
    data: dict[str, Any], targets: dict[str, dict[str, Any]], doc: YamlDocument
) -> list[Problem]:
    """One problem per overlapping pair, at the block written later, naming the other one."""
    problems = []
    for first, second in combinations(_blocks(data, targets), 2):
        if frozenset({first.role, second.role}) in _APART and overlaps(first.scope, second.scope):
            later = second if _where(doc, second) >= _where(doc, first) else first
            problems.append(_problem(later, first if later is second else second, doc))
    return problems


def _where(doc: YamlDocument, block: _Block) -> tuple[int, int]:
    position = doc.position(block.loc, at_key=True)
    return position.line, position.column


def _problem(block: _Block, other: _Block, doc: YamlDocument) -> Problem:
    line, column = _where(doc, other)
    hints = [overlap_hint(block.scope, other.scope)]
    conns = block.scope.connection, other.scope.connection
    if conns[0] != conns[1]:
        hints.append(
            f"connections '{conns[0]}' and '{conns[1]}' may reach the same server, "
            "so the location alone decides"
        )
    return Problem(
        block.loc,
        f"{block.role} scope {block.scope} overlaps {other.role} {format_loc(other.loc)} "
        f"({doc.file}:{line}:{column}, {other.scope}); {'; '.join(hints)}",
        at_key=True,
    )


def _blocks(data: dict[str, Any], targets: dict[str, dict[str, Any]]) -> Iterator[_Block]:
    defaults = _connections(data.get("connections"))
    yield from _store_blocks(_MERGE_STORE, ("merge_store",), data.get("merge_store"), defaults)
    sources = data.get("sources")
    for name, body in sources.items() if isinstance(sources, dict) else ():
        yield from _store_blocks(_SOURCE, ("sources", name), body, defaults)
    for name, body in targets.items():
        yield from _store_blocks(_DESTINATION, ("targets", name), body, defaults)


def _store_blocks(role: str, loc: Loc, body: Any, defaults: Any) -> Iterator[_Block]:
    """The scope of each store block in ``body`` that is valid on its own."""
    if not isinstance(body, dict):
        return
    available = kinds_for(_ROLES[role])
    kinds = [name for name in available if body.get(name) is not None]
    if len(kinds) > 1:
        return  # "exactly one of" is reported; which block stays is the user's call
    for name in kinds:
        kind = available[name]
        try:
            store = kind.blocks[_ROLES[role]].model_validate(body[name])
        except ValidationError:
            continue  # the schema check reports it
        if not store.connection_id:
            default = getattr(defaults, kind.connection)
            store = store.model_copy(update={"connection_id": default})
        yield _Block(role, (*loc, name), store.scope())


def _connections(raw: Any) -> Any:
    try:
        return Connections.model_validate(raw if isinstance(raw, dict) else {})
    except ValidationError:
        return Connections()
