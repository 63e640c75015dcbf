"""Config rules the schema cannot express, checked on the raw YAML data.

Checking the raw data (tolerating any shape the schema will reject anyway) lets one run report
every mistake at once: a cycle and a wrong type in another block both show up.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pydantic import TypeAdapter, ValidationError

from airflow_secretsync.config.graph import graph_problems
from airflow_secretsync.config.model import MERGE_STORE_MISSING, TASK_ID_SAFE, store_choice_problem
from airflow_secretsync.config.overlaps import overlap_problems
from airflow_secretsync.config.pipeline import PipelineGraph
from airflow_secretsync.config.problems import Loc, Problem, did_you_mean
from airflow_secretsync.config.yaml_reader import YamlDocument
from airflow_secretsync.errors import SecretReferenceError
from airflow_secretsync.stores.registry import Role, kinds_for

if TYPE_CHECKING:
    from airflow_secretsync.config.model import PipelineConfig

MAX_TARGET_NAME = 200  # leaves room for the task group prefixes within Airflow's 250
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
DAG_ID = re.compile(r"^[\w.-]{1,250}$")  # Airflow's rule for DAG ids
_TARGET_NAME = re.compile(TASK_ID_SAFE)
_SPECIAL_SCHEDULES = {"@once", "@continuous"}
_CRON_PRESETS = {  # as Airflow expands them
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _names(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else value if isinstance(value, list) else []


def _target_body(value: Any) -> dict[str, Any]:
    """A target's mapping; ``Base: [team-a]`` is shorthand for ``Base: {imports: [team-a]}``."""
    return {"imports": value} if isinstance(value, list | str) else _dict(value)


def check_document(doc: YamlDocument, file_stem: str | None) -> list[Problem]:
    """Every rule violation in a config document that the schema alone would not catch."""
    data: dict[str, Any] = doc.data
    sources = _dict(data.get("sources"))
    targets = {name: _target_body(body) for name, body in _dict(data.get("targets")).items()}
    edges = {n: (_names(b.get("inherits")), _names(b.get("imports"))) for n, b in targets.items()}
    return [
        *_top_level(data),
        *_dag(_dict(data.get("dag")), file_stem),
        *_merge_store(data),
        *(
            problem
            for name, body in sources.items()
            for problem in _one_store(body, ("sources", name), "source")
        ),
        *(problem for name, body in targets.items() for problem in _target(name, body)),
        *_approval(data, targets),
        *graph_problems(sources, edges),
        *_step_secret_references(data),
        *overlap_problems(data, targets, doc),
    ]


def _top_level(data: dict[str, Any]) -> Iterator[Problem]:
    """``version`` is exactly the integer 1 (not ``true``, ``1.0`` or ``"1"``); the model's
    internal ``source_file`` field cannot be set from the file."""
    if "source_file" in data:
        yield Problem(("source_file",), "unknown key 'source_file'", at_key=True)
    if "version" not in data:
        return  # the schema reports the missing key
    version = data["version"]
    if type(version) is int and version == 1:
        return
    if type(version) is int:
        message = f"unsupported version {version}: only version 1 exists"
    else:
        message = "must be the number 1 (the only config version)"
    yield Problem(("version",), message)


def _dag(dag: dict[str, Any], file_stem: str | None) -> Iterator[Problem]:
    dag_id = dag.get("dag_id")
    if isinstance(dag_id, str) and not DAG_ID.match(dag_id):
        yield Problem(
            ("dag", "dag_id"),
            "not a valid DAG id: use up to 250 letters, digits, '_', '-' and '.'",
        )
    elif dag_id is None and file_stem is not None and not DAG_ID.match(f"secretsync_{file_stem}"):
        yield Problem(
            ("dag", "dag_id"),
            f"the file name '{file_stem}' does not make a valid DAG id: set dag.dag_id",
        )
    schedule = dag.get("schedule")
    if isinstance(schedule, str) and not _valid_schedule(schedule):
        yield Problem(
            ("dag", "schedule"),
            "not a cron expression or preset (@hourly, @daily, @weekly, @monthly, "
            "@quarterly, @yearly, @once, @continuous)",
        )


def _valid_schedule(schedule: str) -> bool:
    if schedule in _SPECIAL_SCHEDULES:
        return True
    try:
        from croniter import croniter
    except ImportError:  # pragma: no cover - croniter comes with Airflow
        return True
    try:
        croniter(_CRON_PRESETS.get(schedule, schedule))
    except Exception:  # croniter raises assorted errors on junk input
        return False
    return True


def _merge_enabled(data: dict[str, Any]) -> bool:
    """``pipeline.merge.enabled`` as the model reads it (default true; not a boolean: the
    schema reports it)."""
    enabled = _dict(_dict(data.get("pipeline")).get("merge")).get("enabled", True)
    try:
        return TypeAdapter(bool).validate_python(enabled)
    except ValidationError:
        return True


def _merge_store(data: dict[str, Any]) -> Iterator[Problem]:
    store = data.get("merge_store")
    if store is not None:
        yield from _one_store(store, ("merge_store",), "merge_store")
    elif _merge_enabled(data):
        written = "enabled" in _dict(_dict(data.get("pipeline")).get("merge"))
        loc = ("pipeline", "merge", "enabled") if written else ("merge_store",)
        yield Problem(loc, MERGE_STORE_MISSING)


def _one_store(block: Any, loc: Loc, role: Role) -> Iterator[Problem]:
    """The model's rule (one kind per block), placed at the key that breaks it: the block's
    key when none is given, else the second kind written."""
    if not isinstance(block, dict):
        return  # the schema reports the wrong type
    present = [name for name in block if name in kinds_for(role) and block[name] is not None]
    problem = store_choice_problem(role, present)
    if problem:
        yield Problem((*loc, present[1]) if len(present) > 1 else loc, problem, at_key=True)


def _target(name: str, body: dict[str, Any]) -> Iterator[Problem]:
    loc: Loc = ("targets", name)
    if not _TARGET_NAME.match(name):
        yield Problem(
            loc,
            f"target name '{name}' cannot be used in an Airflow task id: use letters, digits, "
            "'_', '-' and '.', starting with a letter, digit or '_'",
            at_key=True,
        )
    elif len(name) > MAX_TARGET_NAME:
        yield Problem(loc, f"target name longer than {MAX_TARGET_NAME} characters", at_key=True)
    yield from _one_store(body, loc, "destination")
    for key in ("include", "exclude"):
        for index, pattern in enumerate(_names(body.get(key))):
            if isinstance(pattern, str):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    yield Problem((*loc, key, index), f"invalid regular expression: {exc}")
    yield from _env_references(_dict(body.get("step_secrets")), (*loc, "step_secrets"))


def _approval(data: dict[str, Any], targets: dict[str, dict[str, Any]]) -> Iterator[Problem]:
    """Approval keys on a target that asks for no approval, or ``approval: required`` on a
    target without a destination, are mistakes (they would silently do nothing)."""
    default = _dict(_dict(data.get("pipeline")).get("sync")).get("approval", "none")
    for name, body in targets.items():
        approval = body.get("approval", default)
        if approval == "none":
            for key in ("approvers", "approval_timeout_minutes"):
                if key in body:
                    yield Problem(
                        ("targets", name, key),
                        f"has no effect: target '{name}' needs no approval (set 'approval: "
                        "required' on the target or under pipeline.sync)",
                        at_key=True,
                    )
        elif (
            approval == "required"
            and "approval" in body
            and not any(body.get(kind) is not None for kind in kinds_for("destination"))
        ):
            yield Problem(
                ("targets", name, "approval"),
                f"target '{name}' has no destination, so there is nothing to approve",
            )


def _env_references(secrets: dict[str, Any], loc: Loc) -> Iterator[Problem]:
    """``{ENV_NAME: reference}``: valid variable names, references that parse."""
    for env_name, reference in secrets.items():
        if not ENV_NAME.match(env_name):
            yield Problem(
                (*loc, env_name),
                f"'{env_name}' is not an environment variable name (letters, digits, '_')",
                at_key=True,
            )
        if isinstance(reference, str):
            problem = _reference_problem(reference)
            if problem:
                yield Problem((*loc, env_name), problem)


def _reference_problem(reference: str) -> str | None:
    """Why ``reference`` does not parse, or None (the message never shows a non-reference)."""
    from airflow_secretsync.refs.reference import parse_reference  # only configs that need it

    try:
        parse_reference(reference)
    except SecretReferenceError as exc:
        return str(exc)
    return None


def _step_secret_references(data: dict[str, Any]) -> Iterator[Problem]:
    """Top-level ``step_secrets`` hold valid env names and references (task ids: see
    :func:`task_problems`)."""
    for task_id, secrets in _dict(data.get("step_secrets")).items():
        yield from _env_references(_dict(secrets), ("step_secrets", task_id))


def task_problems(config: PipelineConfig) -> list[Problem]:
    """Top-level ``step_secrets`` name tasks of the :class:`PipelineGraph` (checked on the
    model, once everything else is valid)."""
    graph = PipelineGraph.from_config(config)
    return [
        Problem(("step_secrets", task), _unknown_task(task, graph, config), at_key=True)
        for task in config.step_secrets
        if task not in graph
    ]


def _unknown_task(task: str, graph: PipelineGraph, config: PipelineConfig) -> str:
    phase, _, target = task.partition(".")
    if phase in ("plan", "approve") and target in config.targets:
        return f"target '{target}' needs no approval, so there is no task '{task}'"
    if phase in ("merge", "sync") and target in config.targets:
        if phase == "sync" and config.targets[target].destination is None:
            reason = f"target '{target}' has no destination"
        else:
            reason = f"pipeline.{phase}.enabled is false"
        return f"{reason}, so there is no task '{task}'"
    return (
        f"unknown task id '{task}'{did_you_mean(task, graph.task_ids)}: "
        "the DAG's tasks are merge.<target>, sync.<target> and report"
    )
