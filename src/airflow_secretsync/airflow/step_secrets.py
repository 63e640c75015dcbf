"""Step-scoped secrets (SPEC §7): each task gets only its own secrets, as environment variables.

A step secret is ``ENV_NAME -> reference`` for one task. Only references are stored (config, DAG
file, operator attributes); values are resolved when the task starts executing, exported to its
process environment (so its subprocesses inherit them) for the duration of ``execute`` only,
masked in logs, and removed (or restored to their previous value) afterwards.

Declare them with :func:`attach_step_secrets` (any operator), :func:`with_step_secrets`
(``@task`` functions) or a :class:`StepSecrets` registry (the generated pipeline DAG).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from types import MethodType
from typing import Any, TypeVar

from airflow.sdk import BaseOperator, Context

from airflow_secretsync.airflow.step_secret_env import step_secret_environment
from airflow_secretsync.config import PipelineConfig
from airflow_secretsync.config.checks import ENV_NAME
from airflow_secretsync.config.pipeline import PipelineGraph
from airflow_secretsync.errors import ConfigError, SecretSyncError
from airflow_secretsync.refs import parse_reference

#: The operator attribute holding its ``{ENV_NAME: reference}``.
STEP_SECRETS_ATTR = "secretsync_step_secrets"
OPTION_FORM = "TASK:NAME=REF (e.g. sync.Production:DB_PASSWORD=ref+vault://secret/db#/password)"

Op = TypeVar("Op", bound=BaseOperator)


def validate_step_secret(name: str, reference: str) -> None:
    """Raise :class:`ConfigError` for a bad variable name, ``SecretReferenceError`` for a bad
    reference (which is never quoted unless it looks like a reference)."""
    if not isinstance(name, str) or not ENV_NAME.match(name):
        raise ConfigError(
            f"step secret name {name!r} is not an environment variable name "
            "(letters, digits and '_', not starting with a digit)"
        )
    parse_reference(reference)


def _entries(secrets: Mapping[str, str] | None, named: Mapping[str, str]) -> dict[str, str]:
    entries = {**(secrets or {}), **named}
    for name, reference in entries.items():
        validate_step_secret(name, reference)
    return entries


# -- any operator ----------------------------------------------------------------------------


def attach_step_secrets(
    operator: Op, secrets: Mapping[str, str] | None = None, /, **named: str
) -> Op:
    """Give ``operator`` step secrets (added to any it already has; same name: the new one wins).

    ``execute`` is wrapped once, on this instance (see :func:`_wrap`): the references are
    resolved when it starts and the variables exist until it returns or raises. Operators
    that pass an explicit ``env`` mapping to their subprocess (``BashOperator(env=...)``) get
    the variables there too. Returns ``operator``.
    """
    if not isinstance(operator, BaseOperator):
        raise ConfigError(
            f"step secrets attach to an operator instance, not {type(operator).__name__} "
            "(mapped tasks are not supported)"
        )
    entries = _entries(secrets, named)
    current = getattr(operator, STEP_SECRETS_ATTR, None)
    if current is None:
        _wrap(operator)
    setattr(operator, STEP_SECRETS_ATTR, {**(current or {}), **entries})
    return operator


def _wrap(operator: BaseOperator) -> None:
    """Bind the wrappers to ``operator``. Deep copies of it get wrappers bound to the copy; the
    shallow copy Airflow executes (``prepare_for_execution``, where templates are rendered)
    is re-bound by :func:`_prepare_for_execution`."""
    operator.execute = MethodType(_execute_with_step_secrets, operator)  # type: ignore[method-assign]
    operator.prepare_for_execution = MethodType(_prepare_for_execution, operator)  # type: ignore[method-assign]


def _prepare_for_execution(self: BaseOperator) -> BaseOperator:
    prepared = type(self).prepare_for_execution(self)
    _wrap(prepared)
    return prepared


def task_step_secrets(operator: BaseOperator) -> dict[str, str]:
    """The ``{ENV_NAME: reference}`` attached to ``operator`` (empty if none)."""
    return dict(getattr(operator, STEP_SECRETS_ATTR, None) or {})


def _execute_with_step_secrets(self: BaseOperator, context: Context) -> Any:
    secrets = getattr(self, STEP_SECRETS_ATTR)
    with step_secret_environment(self.task_id, secrets) as values, _explicit_env(self, values):
        self.log.info("Step secrets in the environment: %s", ", ".join(sorted(values)))
        return type(self).execute(self, context)


@contextmanager
def _explicit_env(operator: BaseOperator, values: Mapping[str, str]) -> Iterator[None]:
    """Add ``values`` to an explicit ``env`` dict (BashOperator's, which replaces os.environ
    for its subprocess unless ``append_env``) for the duration only: it is a template field,
    and rendered fields are recorded before and after ``execute``, never during."""
    env = getattr(operator, "env", None)
    if not isinstance(env, dict) or not values:
        yield
        return
    operator.env = {**env, **values}
    try:
        yield
    finally:
        operator.env = env


# -- @task functions -------------------------------------------------------------------------


class _StepSecretTask:
    """A ``@task`` (or ``@task.bash``...) whose calls attach step secrets to the new operator."""

    def __init__(self, task_decorator: Any, secrets: Mapping[str, str]) -> None:
        self._task = task_decorator
        self._secrets = dict(secrets)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        output = self._task(*args, **kwargs)
        attach_step_secrets(output.operator, self._secrets)
        return output

    def override(self, **kwargs: Any) -> _StepSecretTask:
        return _StepSecretTask(self._task.override(**kwargs), self._secrets)

    def __getattr__(self, name: str) -> Any:
        if name in ("partial", "expand", "expand_kwargs"):
            raise ConfigError("step secrets are not supported on mapped tasks")
        return getattr(self._task, name)


def with_step_secrets(
    secrets: Mapping[str, str] | None = None, /, **named: str
) -> Callable[[Any], Any]:
    """Step secrets for a ``@task``, written above it, or for an operator.

    ``@with_step_secrets(API_TOKEN="ref+vault://secret/reporting#/token")`` over ``@task``:
    every task the decorated function creates (``override`` included) gets them.
    """
    entries = _entries(secrets, named)

    def decorate(target: Any) -> Any:
        if isinstance(target, BaseOperator):
            return attach_step_secrets(target, entries)
        if callable(target) and callable(getattr(target, "override", None)):
            return _StepSecretTask(target, entries)
        raise ConfigError(
            "@with_step_secrets decorates a @task (write it above @task) or an operator, "
            f"not {type(target).__name__}"
        )

    return decorate


# -- the registry used by the pipeline DAG and the CLI ---------------------------------------


class StepSecrets:
    """Step secrets by task id: ``{task_id: {ENV_NAME: reference}}``, references only.

    Steps without secrets are not kept: removing a step's last secret removes the step.
    """

    def __init__(self, secrets: Mapping[str, Mapping[str, str]] | None = None) -> None:
        self._secrets: dict[str, dict[str, str]] = {}
        for task_id, entries in (secrets or {}).items():
            for name, reference in entries.items():
                self.add_step_secret(task_id, name, reference)

    @classmethod
    def from_config(cls, config: PipelineConfig, graph: PipelineGraph | None = None) -> StepSecrets:
        """The config's step secrets per generated task: a target's ``step_secrets`` apply to
        its ``merge.<T>`` and ``sync.<T>`` tasks; top-level ``step_secrets[task_id]`` entries
        beat them name by name. ``graph``: the config's, when the caller has built it."""
        registry = cls()
        for task in (graph or PipelineGraph.from_config(config)).tasks:
            if task.target is not None:
                for name, reference in config.targets[task.target].step_secrets.items():
                    registry.add_step_secret(task.task_id, name, reference)
        for task_id, entries in config.step_secrets.items():
            for name, reference in entries.items():
                registry.add_step_secret(task_id, name, reference)
        return registry

    def add_step_secret(self, task_id: str, name: str, reference: str) -> None:
        """Set ``name`` for ``task_id`` (replacing an earlier reference for that name)."""
        validate_step_secret(name, reference)
        self._secrets.setdefault(task_id, {})[name] = reference

    def remove_step_secret(self, task_id: str, name: str) -> None:
        """Remove ``name`` from ``task_id``; ``KeyError`` if the step or the name is unknown."""
        entries = self._entries_of(task_id)
        if name not in entries:
            raise KeyError(f"task '{task_id}' has no step secret '{name}'")
        del entries[name]
        if not entries:
            del self._secrets[task_id]

    def list_step_secrets(self, task_id: str) -> dict[str, str]:
        """``{ENV_NAME: reference}`` of ``task_id``; ``KeyError`` if it has none."""
        return dict(self._entries_of(task_id))

    def get_step_secrets(self) -> dict[str, dict[str, str]]:
        """Every step's secrets (a copy)."""
        return {task_id: dict(entries) for task_id, entries in self._secrets.items()}

    def for_task(self, task_id: str) -> dict[str, str]:
        """``task_id``'s secrets, empty if it has none."""
        return dict(self._secrets.get(task_id, {}))

    def scope(self, task_id: str) -> AbstractContextManager[dict[str, str]]:
        """``task_id``'s secrets in ``os.environ`` for a ``with`` block (see the CLI)."""
        return step_secret_environment(task_id, self.for_task(task_id))

    def check_task_ids(self, task_ids: Iterable[str]) -> None:
        """Raise one :class:`ConfigError` naming every step that is not one of ``task_ids``."""
        known = list(task_ids)
        problems = [
            f"step secrets for unknown task '{task_id}'{_did_you_mean(task_id, known)}; "
            f"tasks: {', '.join(known)}"
            for task_id in self._secrets
            if task_id not in known
        ]
        if problems:
            raise ConfigError(problems)

    def apply(
        self, tasks: Mapping[str, BaseOperator], task_ids: Iterable[str] | None = None
    ) -> None:
        """Attach each step's secrets to ``tasks[task_id]`` after :meth:`check_task_ids`
        against ``task_ids`` (default: those of ``tasks``, which may then be a subset)."""
        self.check_task_ids(tasks if task_ids is None else task_ids)
        for task_id, entries in self._secrets.items():
            if task_id in tasks:
                attach_step_secrets(tasks[task_id], entries)

    def _entries_of(self, task_id: str) -> dict[str, str]:
        if task_id not in self._secrets:
            raise KeyError(f"task '{task_id}' has no step secrets")
        return self._secrets[task_id]


def _did_you_mean(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def pipeline_task_ids(config: PipelineConfig) -> list[str]:
    """The ids of a generated pipeline's tasks, relative to the DAG or task group."""
    return list(PipelineGraph.from_config(config).task_ids)


def parse_step_secret_option(text: str) -> tuple[str, str, str]:
    """``TASK:NAME=REF`` -> ``(task_id, name, reference)``; :class:`ConfigError` if malformed.

    Nothing after ``=`` is quoted in errors: it may be a value pasted by mistake.
    """
    head, equals, reference = text.partition("=")  # task ids and names hold no '=' or ':'
    task_id, colon, name = head.rpartition(":")
    shown = f"'{head}=...'" if colon and equals else "a value"
    if not (equals and colon and task_id and name and reference):
        raise ConfigError(f"--step-secret {shown}: expected {OPTION_FORM}")
    try:
        validate_step_secret(name, reference)
    except SecretSyncError as exc:
        raise ConfigError(f"--step-secret {shown}: {exc}") from None
    return task_id, name, reference
