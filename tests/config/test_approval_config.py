"""``approval: required`` in the config and the pipeline graph (fast: no Airflow, no stores)."""

from __future__ import annotations

import pytest

from airflow_secretsync.config import parse_config
from airflow_secretsync.config.pipeline import PipelineGraph
from airflow_secretsync.errors import ConfigError

HEADER = """\
version: 1
merge_store: {vault: {path: merged}}
sources:
  team-a: {vault: {path: team-a}}
"""


def config(pipeline: str, targets: str):
    return parse_config(HEADER + pipeline + "targets:\n  Base: [team-a]\n" + targets, "p.yaml")


def only_error(pipeline: str, targets: str) -> str:
    with pytest.raises(ConfigError) as caught:
        config(pipeline, targets)
    (error,) = caught.value.errors
    return error


PIPELINE = "pipeline:\n  sync: {approval: required, approvers: [alice]}\n"
TARGETS = """\
  Prod:
    inherits: Base
    vault: {path: prod}
    approval_timeout_minutes: 30
  Dev:
    inherits: Base
    vault: {path: dev}
    approval: none
"""


def test_a_target_overrides_the_pipelines_approval_key_by_key() -> None:
    cfg = config(PIPELINE, TARGETS)
    prod = cfg.approval("Prod")
    assert (prod.approval, prod.approval_timeout_minutes, prod.approvers) == (
        "required",
        30,
        ["alice"],
    )
    assert cfg.needs_approval("Prod")
    assert not cfg.needs_approval("Dev")
    assert not cfg.needs_approval("Base")  # no destination


def test_approval_defaults_to_none_with_a_day_to_respond() -> None:
    cfg = config("", "  Prod: {inherits: Base, vault: {path: prod}}\n")
    assert not cfg.needs_approval("Prod")
    assert cfg.approval("Prod").approval_timeout_minutes == 24 * 60
    assert cfg.approval("Prod").approvers == []


def test_a_target_needing_approval_syncs_through_plan_and_approve() -> None:
    graph = PipelineGraph.from_config(config(PIPELINE, TARGETS))
    edges = {spec.task_id: spec.upstream for spec in graph.tasks if spec.target != "Base"}
    assert edges == {
        "merge.Prod": ("merge.Base",),
        "merge.Dev": ("merge.Base",),
        "plan.Prod": ("merge.Prod",),
        "approve.Prod": ("plan.Prod",),
        "sync.Prod": ("approve.Prod",),
        "sync.Dev": ("merge.Dev",),
        "report": (
            "merge.Base", "merge.Prod", "merge.Dev", "plan.Prod", "approve.Prod", "sync.Prod",
            "sync.Dev",
        ),
    }  # fmt: skip
    assert graph.needs_approval("Prod")
    assert not graph.needs_approval("Dev")
    assert [spec.task_id for spec in graph.phase("sync")] == ["sync.Prod", "sync.Dev"]


def test_without_merge_the_plan_is_the_first_task() -> None:
    cfg = parse_config(
        "version: 1\npipeline:\n  merge: {enabled: false}\n  sync: {approval: required}\n"
        "sources:\n  a: {vault: {path: a}}\ntargets:\n  T: {imports: [a], vault: {path: t}}\n",
        "p.yaml",
    )
    graph = PipelineGraph.from_config(cfg)
    assert [(s.task_id, s.upstream) for s in graph.tasks[:3]] == [
        ("plan.T", ()),
        ("approve.T", ("plan.T",)),
        ("sync.T", ("approve.T",)),
    ]


@pytest.mark.parametrize(
    ("pipeline", "targets", "expected"),
    [
        pytest.param(
            "pipeline:\n  sync: {approval: yes}\n",
            "",
            "p.yaml:6:20: pipeline.sync.approval: should be 'none' or 'required'",
            id="approval-value",
        ),
        pytest.param(
            "pipeline:\n  sync: {approval: required}\n",
            "  Prod: {inherits: Base, vault: {path: p}, approval_timeout_minutes: 0}\n",
            "p.yaml:9:70: targets.Prod.approval_timeout_minutes: should be greater than 0",
            id="timeout-zero",
        ),
        pytest.param(
            "",
            "  Prod: {inherits: Base, vault: {path: p}, approvers: [alice]}\n",
            "p.yaml:7:44: targets.Prod.approvers: has no effect: target 'Prod' needs no "
            "approval (set 'approval: required' on the target or under pipeline.sync)",
            id="approvers-without-approval",
        ),
        pytest.param(
            "",
            "  Mid: {inherits: Base, approval: required}\n",
            "p.yaml:7:35: targets.Mid.approval: target 'Mid' has no destination, so there "
            "is nothing to approve",
            id="approval-without-destination",
        ),
    ],
)
def test_each_approval_mistake_is_one_located_error(
    pipeline: str, targets: str, expected: str
) -> None:
    assert only_error(pipeline, targets) == expected


def test_a_step_secret_for_a_plan_task_of_a_target_without_approval_is_explained() -> None:
    error = only_error(
        "step_secrets:\n  plan.Prod: {TOKEN: 'ref+env://TOKEN'}\n",
        "  Prod: {inherits: Base, vault: {path: p}}\n",
    )
    assert error.endswith(
        "step_secrets[\"plan.Prod\"]: target 'Prod' needs no approval, so there is no task "
        "'plan.Prod'"
    )
