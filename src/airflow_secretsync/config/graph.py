"""The target graph (inheritance and imports), merge levels and the run plan (SPEC §1-§2)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Literal

from airflow_secretsync.config.problems import Problem, did_you_mean, format_loc
from airflow_secretsync.errors import ConfigError

if TYPE_CHECKING:
    from airflow_secretsync.config.model import PipelineConfig

# A target's (inherits, imports) as written; items that are not names are ignored here.
RawEdges = tuple[Sequence[object], Sequence[object]]


@dataclass(frozen=True)
class Contribution:
    """One input of a target's merge: a parent or imported target, or a source."""

    name: str
    kind: Literal["source", "target"]


def graph_problems(sources: Collection[str], targets: Mapping[str, RawEdges]) -> list[Problem]:
    """Every naming and cycle mistake in the graph, each at the key path that causes it."""
    problems = [
        Problem(("targets", name), f"'{name}' is both a source and a target", at_key=True)
        for name in targets
        if name in sources
    ]
    everything = [*sources, *targets]
    for name, (inherits, imports) in targets.items():
        for index, parent in enumerate(inherits):
            if not isinstance(parent, str) or parent in targets:
                continue
            loc = ("targets", name, "inherits", index)
            if parent in sources:
                message = f"'{parent}' is a source; only targets can be inherited (import it)"
            else:
                message = f"unknown target '{parent}'{did_you_mean(parent, targets)}"
            problems.append(Problem(loc, message))
        for index, item in enumerate(imports):
            if isinstance(item, str) and item not in sources and item not in targets:
                message = f"unknown source or target '{item}'{did_you_mean(item, everything)}"
                problems.append(Problem(("targets", name, "imports", index), message))
    problems.extend(_cycle_problems(targets))
    return problems


def _target_deps(targets: Mapping[str, RawEdges]) -> dict[str, list[str]]:
    """Each target's known target dependencies (parents, then imported targets), in order."""
    return {
        name: list(
            dict.fromkeys(n for n in (*inherits, *imports) if isinstance(n, str) and n in targets)
        )
        for name, (inherits, imports) in targets.items()
    }


def _cycle_problems(targets: Mapping[str, RawEdges]) -> list[Problem]:
    """One problem per cycle, found with graphlib; the reported edge is dropped to find more."""
    order = {name: index for index, name in enumerate(targets)}
    graph = {name: set(deps) for name, deps in _target_deps(targets).items()}
    problems = []
    while True:
        try:
            TopologicalSorter(graph).prepare()
            return problems
        except CycleError as exc:
            ring = list(reversed(exc.args[1][:-1]))  # graphlib lists dependency -> dependent
        start = min(range(len(ring)), key=lambda i: order[ring[i]])
        ring = ring[start:] + ring[:start]
        problems.append(_cycle_problem([*ring, ring[0]], targets))
        graph[ring[0]].discard(ring[1 % len(ring)])


def _cycle_problem(path: list[str], targets: Mapping[str, RawEdges]) -> Problem:
    kinds = ["inherits" if nxt in targets[name][0] else "imports" for name, nxt in pairwise(path)]
    first, second = path[0], path[1]
    edges = targets[first][0 if kinds[0] == "inherits" else 1]
    loc = ("targets", first, kinds[0], list(edges).index(second))
    label = {"inherits": "inheritance", "imports": "import"}
    kind = label[kinds[0]] if len(set(kinds)) == 1 else "inheritance/import"
    text = " -> ".join(path) + (" (self-reference)" if len(path) == 2 else "")
    return Problem(loc, f"{kind} cycle: {text}")


class TargetGraph:
    """Targets with their parents and imports; raises :class:`ConfigError` if inconsistent."""

    def __init__(
        self,
        sources: Iterable[str],
        targets: Mapping[str, tuple[Sequence[str], Sequence[str]]],
    ) -> None:
        self._sources = frozenset(sources)
        self._edges = {name: (tuple(i), tuple(m)) for name, (i, m) in targets.items()}
        problems = graph_problems(self._sources, self._edges)
        if problems:
            raise ConfigError([f"{format_loc(p.loc)}: {p.message}" for p in problems])
        self._deps = _target_deps(self._edges)
        self._order = {name: index for index, name in enumerate(self._edges)}

    @classmethod
    def from_config(cls, config: PipelineConfig) -> TargetGraph:
        edges = {name: (t.inherits, t.imports) for name, t in config.targets.items()}
        return cls(config.sources, edges)

    @property
    def targets(self) -> tuple[str, ...]:
        """Every target, in declaration order."""
        return tuple(self._edges)

    def contributions(self, target: str) -> tuple[Contribution, ...]:
        """What ``desired(target)`` merges, in order: parents, then imports (later wins)."""
        inherits, imports = self._edges[target]
        parents = [Contribution(name, "target") for name in inherits]
        imported = [
            Contribution(name, "source" if name in self._sources else "target") for name in imports
        ]
        return (*parents, *imported)

    def dependencies(self, target: str) -> tuple[str, ...]:
        """Targets that must be merged before ``target`` (its parents and imported targets)."""
        return tuple(self._deps[target])

    def ancestors(self, names: Iterable[str]) -> frozenset[str]:
        """Every target that ``names`` depend on, directly or not (``names`` excluded)."""
        seen: set[str] = set()
        pending = [dep for name in names for dep in self._deps[name]]
        while pending:
            name = pending.pop()
            if name not in seen:
                seen.add(name)
                pending.extend(self._deps[name])
        return frozenset(seen)

    def levels(self, only: Collection[str] | None = None) -> tuple[tuple[str, ...], ...]:
        """Merge levels: each target comes after everything it inherits or imports.

        ``only`` restricts the result to those targets (pass a set closed under dependencies,
        such as a selection plus its ancestors). Within a level, declaration order.
        """
        members = set(self._edges if only is None else only)
        sorter = TopologicalSorter(
            {name: [d for d in self._deps[name] if d in members] for name in members}
        )
        sorter.prepare()
        levels = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready(), key=self._order.__getitem__)
            levels.append(tuple(ready))
            sorter.done(*ready)
        return tuple(levels)


@dataclass(frozen=True)
class Plan:
    """What a run does. ``requested``: the targets asked for (all when none were named);
    ``selected``: those plus their ancestors, i.e. every target merged, in run order;
    ``merge_levels``: ``selected`` level by level; ``sync_targets``: the requested targets
    that have a destination, in run order."""

    requested: tuple[str, ...]
    selected: tuple[str, ...]
    merge_levels: tuple[tuple[str, ...], ...]
    sync_targets: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "requested": list(self.requested),
            "selected": list(self.selected),
            "merge_levels": [list(level) for level in self.merge_levels],
            "sync_targets": list(self.sync_targets),
        }


def build_plan(
    config: PipelineConfig,
    targets: Iterable[str] | None = None,
    graph: TargetGraph | None = None,
) -> Plan:
    """The plan for ``targets`` (all when None or empty): they and their ancestors are merged,
    and those of them with a destination are synced. Unknown names raise :class:`ConfigError`.
    ``graph``: the config's :class:`TargetGraph`, when the caller has built it already.
    """
    graph = graph or TargetGraph.from_config(config)
    names = list(dict.fromkeys(targets or ()))
    unknown = [_unknown_target(name, config) for name in names if name not in config.targets]
    wanted = set(names or graph.targets)
    if unknown:
        raise ConfigError(unknown)
    levels = graph.levels(graph.ancestors(wanted) | wanted)
    in_order = [name for level in levels for name in level]
    requested = tuple(name for name in in_order if name in wanted)
    return Plan(
        requested=requested,
        selected=tuple(in_order),
        merge_levels=levels,
        sync_targets=tuple(n for n in requested if config.targets[n].destination is not None),
    )


def _unknown_target(name: str, config: PipelineConfig) -> str:
    if name in config.sources:
        return f"'{name}' is a source, not a target: select the targets that import it"
    hint = did_you_mean(name, config.targets) or f" (targets: {', '.join(config.targets)})"
    return f"unknown target '{name}'{hint}"
