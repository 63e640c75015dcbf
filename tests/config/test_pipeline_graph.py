"""The pipeline graph: the one place that derives task ids and edges."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

from airflow_secretsync.config import parse_config
from airflow_secretsync.config.pipeline import PipelineGraph, TaskSpec, task_id

SRC = Path(__file__).resolve().parents[2] / "src" / "airflow_secretsync"

CONFIG = textwrap.dedent(
    """\
    version: 1
    merge_store: {vault: {path: merged}}
    sources:
      team-a: {vault: {path: team-a}}
      legacy: {aws: {prefix: legacy/}}
    targets:
      Base: [team-a]
      Staging: {inherits: Base, imports: [legacy], aws: {prefix: staging/}}
      Qa: {inherits: Base, vault: {path: qa}}
      Production: {inherits: [Staging, Qa], imports: [legacy, Base], vault: {path: prod}}
    """
)


def graph_of(text: str) -> PipelineGraph:
    return PipelineGraph.from_config(parse_config(text))


def test_tasks_in_run_order_with_their_upstream_ids() -> None:
    assert graph_of(CONFIG).tasks == (
        TaskSpec("merge.Base", "merge", "Base", ()),
        TaskSpec("merge.Staging", "merge", "Staging", ("merge.Base",)),
        TaskSpec("merge.Qa", "merge", "Qa", ("merge.Base",)),
        TaskSpec(
            "merge.Production", "merge", "Production", ("merge.Staging", "merge.Qa", "merge.Base")
        ),
        TaskSpec("sync.Staging", "sync", "Staging", ("merge.Staging",)),
        TaskSpec("sync.Qa", "sync", "Qa", ("merge.Qa",)),
        TaskSpec("sync.Production", "sync", "Production", ("merge.Production",)),
        TaskSpec(
            "report",
            "report",
            None,
            (
                "merge.Base",
                "merge.Staging",
                "merge.Qa",
                "merge.Production",
                "sync.Staging",
                "sync.Qa",
                "sync.Production",
            ),
        ),
    )


def test_a_disabled_phase_has_no_tasks() -> None:
    no_store = "pipeline: {merge: {enabled: false}}"
    no_merge = graph_of(CONFIG.replace("merge_store: {vault: {path: merged}}", no_store))
    assert [s.task_id for s in no_merge.tasks] == [
        "sync.Staging",
        "sync.Qa",
        "sync.Production",
        "report",
    ]
    assert all(spec.upstream == () for spec in no_merge.phase("sync"))
    no_sync = graph_of(CONFIG + "pipeline: {sync: {enabled: false}}\n")
    assert [s.phase for s in no_sync.tasks] == ["merge"] * 4 + ["report"]


def test_a_selection_changes_the_plan_not_the_tasks() -> None:
    config = parse_config(CONFIG)
    whole = PipelineGraph.from_config(config)
    selected = PipelineGraph.from_config(config, ["Qa"])
    assert selected.tasks == whole.tasks
    assert selected.plan.selected == ("Base", "Qa")
    assert selected.plan.sync_targets == ("Qa",)


def test_look_ups_and_contributions() -> None:
    graph = graph_of(CONFIG)
    assert "sync.Qa" in graph
    assert "sync.Base" not in graph  # Base has no destination
    assert graph["sync.Qa"].upstream == ("merge.Qa",)
    assert graph.task_ids[-1] == task_id("report") == "report"
    assert [c.name for c in graph.contributions("Production")] == [
        "Staging",
        "Qa",
        "legacy",
        "Base",
    ]
    assert graph.dependencies("Production") == ("Staging", "Qa", "Base")


@pytest.mark.parametrize("pattern", [r'f"(merge|sync)\.\{', r'"(merge|sync)\.\{'])
def test_task_ids_are_derived_in_exactly_one_module(pattern: str) -> None:
    """No product module but config/pipeline.py spells a generated task id."""
    spelled = [
        path.relative_to(SRC).as_posix()
        for path in SRC.rglob("*.py")
        if re.search(pattern, path.read_text())
    ]
    assert spelled in ([], ["config/pipeline.py"])
