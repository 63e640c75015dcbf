"""Step-scoped secrets (SPEC §7): each task gets only its own secrets, as environment variables.

A step secret is ``ENV_NAME -> reference`` for one task. Only references are stored (config, DAG
file, operator attributes); values are resolved when the task starts executing, exported to its
process environment (so its subprocesses inherit them) for the duration of ``execute`` only,
masked in logs, and removed (or restored to their previous value) afterwards.

Declare them with :func:`attach_step_secrets` (any operator), :func:`with_step_secrets`
(``@task`` functions) or a :class:`~airflow_secretsync.step_secrets.StepSecrets` registry (the
generated pipeline DAG, see :func:`apply_step_secrets`). The registry and the run-time
environment are Airflow-free (:mod:`airflow_secretsync.step_secrets`); this module is the
operator side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from types import MethodType
from typing import Any, TypeVar

from airflow.sdk import BaseOperator, Context

from airflow_secretsync.errors import ConfigError
from airflow_secretsync.refs.masking import REDACTED, redact_pieces, secret_pieces
from airflow_secretsync.step_secrets import (
    StepSecrets,
    step_secret_environment,
    validate_step_secret,
)

#: The operator attribute holding its ``{ENV_NAME: reference}``.
STEP_SECRETS_ATTR = "secretsync_step_secrets"

Op = TypeVar("Op", bound=BaseOperator)


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
    secrets = task_step_secrets(self)
    with step_secret_environment(self.task_id, secrets) as values, _explicit_env(self, values):
        self.log.info("Step secrets in the environment: %s", ", ".join(sorted(values)))
        pieces = {piece for value in values.values() for piece in secret_pieces(value)}
        result = type(self).execute(self, context)
    # The return value becomes an XCom (BashOperator: the last line printed), which Airflow
    # never masks: step secret values in it are replaced before it is pushed.
    clean, found = redact_pieces(result, pieces)
    if found:
        self.log.warning(
            "The return value of task %s held a step secret value; replaced by %s in XCom",
            self.task_id,
            REDACTED,
        )
    return clean


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


# -- the registry's step secrets on the generated pipeline's tasks ----------------------------


def apply_step_secrets(
    secrets: StepSecrets,
    tasks: Mapping[str, BaseOperator],
    task_ids: Iterable[str] | None = None,
) -> None:
    """Attach each step's secrets to ``tasks[task_id]``; one :class:`ConfigError` naming every
    task id of ``secrets`` that is not in ``task_ids`` (default: those of ``tasks``, which may
    then be a subset, as in a task process that builds only its own task)."""
    secrets.check_task_ids(tasks if task_ids is None else task_ids)
    for task_id, entries in secrets.get_step_secrets().items():
        if task_id in tasks:
            attach_step_secrets(tasks[task_id], entries)
