"""The target graph and the run plan: levels, ancestors, selections."""

from __future__ import annotations

import textwrap

import pytest

from airflow_secretsync.config import Contribution, TargetGraph, build_plan, parse_config
from airflow_secretsync.config.model import PipelineConfig
from airflow_secretsync.errors import ConfigError

# A diamond with a side branch:  Base -> {Staging, Qa} -> Production ; Tools imports Qa.
CONFIG = textwrap.dedent(
    """\
    version: 1
    merge_store: {vault: {path: merged}}
    sources:
      team-a: {vault: {path: team-a}}
      legacy: {aws: {prefix: legacy/}}
    targets:
      Tools: {imports: [Qa, team-a]}
      Base: [team-a]
      Staging: {inherits: Base, imports: [legacy], aws: {prefix: staging/}}
      Qa: {inherits: Base, vault: {path: qa}}
      Production: {inherits: [Staging, Qa], imports: [legacy, Base], vault: {path: prod}}
      Lonely: {imports: [legacy]}
    """
)


@pytest.fixture(scope="module")
def config() -> PipelineConfig:
    return parse_config(CONFIG)


def test_levels_put_each_target_after_its_parents_and_imports(config) -> None:
    graph = TargetGraph.from_config(config)
    assert graph.levels() == (
        ("Base", "Lonely"),
        ("Staging", "Qa"),
        ("Tools", "Production"),
    )


def test_contributions_are_parents_then_imports_in_order(config) -> None:
    graph = TargetGraph.from_config(config)
    assert graph.contributions("Production") == (
        Contribution("Staging", "target"),
        Contribution("Qa", "target"),
        Contribution("legacy", "source"),
        Contribution("Base", "target"),
    )
    assert graph.dependencies("Production") == ("Staging", "Qa", "Base")
    assert graph.dependencies("Base") == ()


def test_ancestors_follow_inherits_and_target_imports(config) -> None:
    graph = TargetGraph.from_config(config)
    assert graph.ancestors(["Production"]) == {"Staging", "Qa", "Base"}
    assert graph.ancestors(["Tools"]) == {"Qa", "Base"}
    assert graph.ancestors(["Base", "Lonely"]) == set()


def test_plan_of_everything(config) -> None:
    plan = build_plan(config)
    assert plan.requested == ("Base", "Lonely", "Staging", "Qa", "Tools", "Production")
    assert plan.selected == plan.requested
    assert plan.sync_targets == ("Staging", "Qa", "Production")
    assert build_plan(config, []) == plan  # an empty selection means everything


def test_plan_of_a_selection_merges_ancestors_and_syncs_only_the_selection(config) -> None:
    plan = build_plan(config, ["Production"])
    assert plan.requested == ("Production",)
    assert plan.selected == ("Base", "Staging", "Qa", "Production")
    assert plan.merge_levels == (("Base",), ("Staging", "Qa"), ("Production",))
    assert plan.sync_targets == ("Production",)
    assert build_plan(config, iter(["Production", "Production"])) == plan
    assert plan.to_dict() == {
        "requested": ["Production"],
        "selected": ["Base", "Staging", "Qa", "Production"],
        "merge_levels": [["Base"], ["Staging", "Qa"], ["Production"]],
        "sync_targets": ["Production"],
    }


def test_plan_selection_without_destination_syncs_nothing(config) -> None:
    plan = build_plan(config, ["Tools", "Lonely"])
    assert plan.merge_levels == (("Base", "Lonely"), ("Qa",), ("Tools",))
    assert plan.sync_targets == ()


def test_unknown_selection_is_a_clear_error(config) -> None:
    with pytest.raises(ConfigError) as caught:
        build_plan(config, ["Prodution", "legacy", "Qa"])
    assert caught.value.errors == [
        "unknown target 'Prodution' (did you mean 'Production'?)",
        "'legacy' is a source, not a target: select the targets that import it",
    ]


def test_a_model_built_in_python_is_checked_too() -> None:
    """The graph re-checks names and cycles for configs that did not come from a file."""
    config = PipelineConfig.model_validate(
        {
            "version": 1,
            "pipeline": {"merge": {"enabled": False}},
            "sources": {"s": {"vault": {}}},
            "targets": {"A": {"inherits": "B"}, "B": {"inherits": ["A"], "imports": ["x"]}},
        }
    )
    with pytest.raises(ConfigError) as caught:
        TargetGraph.from_config(config)
    assert caught.value.errors == [
        "targets.B.imports[0]: unknown source or target 'x'",
        "targets.A.inherits[0]: inheritance cycle: A -> B -> A",
    ]


def test_a_wide_graph_levels_quickly_and_deterministically() -> None:
    targets = {f"T{i}": ([f"T{i // 2}"] if i else [], []) for i in range(1000)}
    graph = TargetGraph(["src"], targets)
    levels = graph.levels()
    assert [len(level) for level in levels] == [1, 1, 2, 4, 8, 16, 32, 64, 128, 256, 488]
    assert levels[3] == ("T4", "T5", "T6", "T7")
