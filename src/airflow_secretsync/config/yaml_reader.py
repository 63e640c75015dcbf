"""YAML to plain data that remembers where every key and value was written.

PyYAML composes a node tree (with line marks) and this module turns it into dicts, lists and
scalars while recording the position of each key path. It also rejects what PyYAML would
silently accept: duplicate keys, non-scalar keys, recursive aliases. Mapping keys are always
kept as written (``on:`` stays ``"on"``, ``1:`` stays ``"1"``): every key here is a name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from airflow_secretsync.config.problems import Loc, render
from airflow_secretsync.errors import ConfigError

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"
_YAML_TAG = "tag:yaml.org,2002:"
MAX_NODES = 500_000  # alias bombs ("billion laughs") stop here


@dataclass(frozen=True, order=True)
class Position:
    """A 1-based line and column in the config file."""

    line: int
    column: int


class YamlDocument:
    """Plain ``data`` plus the position of every key path in ``file``."""

    def __init__(
        self, data: Any, file: str, values: dict[Loc, Position], keys: dict[Loc, Position]
    ) -> None:
        self.data = data
        self.file = file
        self._values = values
        self._keys = keys

    def position(self, loc: Loc, *, at_key: bool = False) -> Position:
        """Where ``loc`` is written; parts missing from the file are skipped.

        Skipping makes shorthand forms and missing keys land on the nearest written parent:
        ``targets.Base.imports[0]`` of ``Base: [team-a]`` is found at ``targets.Base[0]``.
        """
        found: Loc = ()
        for part in loc:
            if (*found, part) in self._values:
                found = (*found, part)
        if at_key and found in self._keys:
            return self._keys[found]
        return self._values.get(found, Position(1, 1))

    def error_line(self, loc: Loc, message: str, *, at_key: bool = False) -> str:
        """``message`` about ``loc``, prefixed with file, line and column."""
        pos = self.position(loc, at_key=at_key)
        return render(self.file, pos.line, pos.column, loc, message)


def read_yaml(text: str | bytes, file: str) -> YamlDocument:
    """Parse one YAML document; every syntax problem raises :class:`ConfigError` with a line."""
    if isinstance(text, bytes):
        text = _decode(text, file)
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        builder = _Builder(loader, file)
        data = builder.build(node, ()) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        raise ConfigError(_syntax_error(exc, file)) from None
    except yaml.YAMLError as exc:  # ReaderError: a character YAML does not allow
        line, column = _line_column(text, getattr(exc, "position", 0))
        reason = getattr(exc, "reason", None) or "unreadable input"
        raise ConfigError(render(file, line, column, (), f"YAML error: {reason}")) from None
    except RecursionError:
        raise ConfigError(render(file, 1, 1, (), "YAML nesting is too deep")) from None
    finally:
        loader.dispose()
    if builder.errors:
        raise ConfigError(list(dict.fromkeys(builder.errors)))
    return YamlDocument(data, file, builder.values, builder.keys)


def _decode(raw: bytes, file: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line, column = before.count(b"\n") + 1, exc.start - before.rfind(b"\n")
        raise ConfigError(render(file, line, column, (), "the file is not UTF-8 text")) from None


def _line_column(text: str, offset: int) -> tuple[int, int]:
    before = text[:offset]
    return before.count("\n") + 1, offset - before.rfind("\n")


def _syntax_error(exc: yaml.MarkedYAMLError, file: str) -> str:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    reason = " ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
    return render(file, line, column, (), f"YAML syntax error: {reason}")


def _pos(node: Node) -> Position:
    return Position(node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    """Walks the node tree, recording positions and collecting structural mistakes."""

    def __init__(self, loader: Any, file: str) -> None:
        self.loader = loader
        self.file = file
        self.values: dict[Loc, Position] = {}
        self.keys: dict[Loc, Position] = {}
        self.errors: list[str] = []
        self._active: set[int] = set()
        self._count = 0

    def _error(self, node: Node, loc: Loc, message: str) -> None:
        pos = _pos(node)
        self.errors.append(render(self.file, pos.line, pos.column, loc, message))

    def build(self, node: Node, loc: Loc) -> Any:
        self._count += 1
        if self._count > MAX_NODES:
            raise yaml.MarkedYAMLError(
                problem=f"the document expands to more than {MAX_NODES} values (alias bomb?)",
                problem_mark=node.start_mark,
            )
        self.values[loc] = _pos(node)
        if isinstance(node, ScalarNode):
            if node.tag == _STR_TAG:  # the common case, without PyYAML's generic dispatch
                return node.value
            return self._scalar(node, loc)
        return self._container(node, loc)

    def _scalar(self, node: ScalarNode, loc: Loc) -> Any:
        """The scalar's value; one that PyYAML cannot convert (``2001-13-01``, a 5000-digit
        integer, ``!!int text``, bad ``!!binary``) is a config error that never quotes it."""
        try:
            return self.loader.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            if exc.problem and exc.problem.startswith("could not determine a constructor"):
                self._error(node, loc, f"unsupported YAML tag '{node.tag}'")
                return None
        except (ValueError, TypeError, AttributeError, LookupError, ArithmeticError):
            pass
        kind = node.tag.rpartition(":")[2] if node.tag.startswith(_YAML_TAG) else "value"
        self._error(node, loc, f"this value cannot be read as a YAML {kind} (not shown)")
        return None

    def _container(self, node: Node, loc: Loc, skip: frozenset[str] = frozenset()) -> Any:
        if id(node) in self._active:
            self._error(node, loc, "recursive YAML alias")
            return None
        self._active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return self._sequence(node, loc)
            return self._mapping(node, loc, skip)
        finally:
            self._active.discard(id(node))

    def _sequence(self, node: SequenceNode, loc: Loc) -> list[Any] | None:
        if node.tag != _SEQ_TAG:
            self._error(node, loc, f"unsupported YAML tag '{node.tag}'")
            return None
        return [self.build(item, (*loc, index)) for index, item in enumerate(node.value)]

    def _mapping(self, node: MappingNode, loc: Loc, skip: frozenset[str]) -> dict[str, Any] | None:
        """Explicit keys first, then ``<<:`` merges for the keys still missing."""
        if node.tag != _MAP_TAG:
            self._error(node, loc, f"unsupported YAML tag '{node.tag}'")
            return None
        explicit: dict[str, Any] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag == _MERGE_TAG:
                merges.append(value_node)
            elif not isinstance(key_node, ScalarNode):
                self._error(key_node, loc, "a mapping key must be a plain name")
            elif key_node.value in explicit:
                self._error(key_node, (*loc, key_node.value), f"duplicate key '{key_node.value}'")
            elif key_node.value not in skip:
                key = key_node.value
                self.keys[(*loc, key)] = _pos(key_node)
                explicit[key] = self.build(value_node, (*loc, key))
        merged: dict[str, Any] = {}
        taken = skip | explicit.keys()
        for merge in merges:
            for source in merge.value if isinstance(merge, SequenceNode) else [merge]:
                if not isinstance(source, MappingNode):
                    self._error(source, loc, "'<<' merges only mappings")
                    continue
                merged.update(self._container(source, loc, taken | merged.keys()) or {})
        return {**merged, **explicit}
