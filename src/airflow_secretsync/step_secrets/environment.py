"""The run-time half of step secrets: resolve a task's references and export them, scoped.

Airflow-free, so the CLI uses it as well as the operators (values are masked in Airflow logs
by :func:`~airflow_secretsync.refs.resolve_reference`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from airflow_secretsync.errors import SecretReferenceError, SecretSyncError
from airflow_secretsync.refs import parse_reference, resolve_reference


def resolve_step_secrets(task_id: str, secrets: Mapping[str, str]) -> dict[str, str]:
    """``{ENV_NAME: value}`` for ``{ENV_NAME: reference}``, each value masked in Airflow logs
    (without a name; each line and JSON field too, see :mod:`airflow_secretsync.refs.masking`).

    Raises :class:`SecretReferenceError` naming the task, the variable and the reference (never
    a value) for the first reference that cannot be resolved. ``secrets`` hold valid references
    (checked when they were declared).
    """
    values: dict[str, str] = {}
    for name, reference in secrets.items():
        try:
            value = resolve_reference(reference)
        except Exception as exc:
            # our errors carry value-free messages; of anything else only the type is shown
            reason = str(exc) if isinstance(exc, SecretSyncError) else type(exc).__name__
            raise SecretReferenceError(
                f"task '{task_id}': step secret {name} = "
                f"{parse_reference(reference).render()!r} cannot be resolved: {reason}"
            ) from None
        values[name] = value  # masked by resolve_reference: lines and JSON fields too
    return values


@contextmanager
def step_secret_environment(task_id: str, secrets: Mapping[str, str]) -> Iterator[dict[str, str]]:
    """Export ``task_id``'s step secrets to ``os.environ`` for the ``with`` block only.

    All references are resolved before anything is exported. Afterwards, even when the block
    raises, variables that existed get their previous values back and new ones are removed.
    Yields the resolved ``{ENV_NAME: value}``.
    """
    values = resolve_step_secrets(task_id, secrets)
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield values
    finally:
        for name, old in previous.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old
