"""Step secrets by task id (SPEC §7): the registry, its checks and the ``--step-secret`` form.

References only; values are resolved when a task runs (see :mod:`.environment`). Airflow-free:
the CLI and the generated DAG share it; attaching to operators lives in
:mod:`airflow_secretsync.airflow.step_secrets`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager

from airflow_secretsync.config import PipelineConfig
from airflow_secretsync.config.checks import ENV_NAME
from airflow_secretsync.config.pipeline import PipelineGraph
from airflow_secretsync.errors import ConfigError, SecretSyncError
from airflow_secretsync.refs import parse_reference
from airflow_secretsync.step_secrets.environment import step_secret_environment

OPTION_FORM = "TASK:NAME=REF (e.g. sync.Production:DB_PASSWORD=ref+vault://secret/db#/password)"


def validate_step_secret(name: str, reference: str) -> None:
    """Raise :class:`ConfigError` for a bad variable name, ``SecretReferenceError`` for a bad
    reference (which is never quoted unless it looks like a reference)."""
    if not isinstance(name, str) or not ENV_NAME.match(name):
        raise ConfigError(
            f"step secret name {name!r} is not an environment variable name "
            "(letters, digits and '_', not starting with a digit)"
        )
    parse_reference(reference)


class StepSecrets:
    """Step secrets by task id: ``{task_id: {ENV_NAME: reference}}``, references only.

    Steps without secrets are not kept: removing a step's last secret removes the step.
    """

    def __init__(
        self, secrets: Mapping[str, Mapping[str, str]] | StepSecrets | None = None
    ) -> None:
        """``secrets``: by task id, checked here; or another registry's (already checked)."""
        if isinstance(secrets, StepSecrets):
            self._secrets: dict[str, dict[str, str]] = secrets.get_step_secrets()
            return
        self._secrets = {}
        for task_id, entries in (secrets or {}).items():
            for name, reference in entries.items():
                self.add_step_secret(task_id, name, reference)

    @classmethod
    def from_config(cls, config: PipelineConfig, graph: PipelineGraph | None = None) -> StepSecrets:
        """The config's step secrets per generated task: a target's ``step_secrets`` apply to
        its ``merge.<T>``, ``plan.<T>`` and ``sync.<T>`` tasks (not to ``approve.<T>``, which
        reads no store); top-level ``step_secrets[task_id]`` entries
        beat them name by name. ``graph``: the config's, when the caller has built it."""
        registry = cls()
        for task in (graph or PipelineGraph.from_config(config)).tasks:
            if task.target is not None and task.phase != "approve":
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

    def scope(self, task_id: str) -> AbstractContextManager[dict[str, str]]:
        """``task_id``'s secrets (if any) in ``os.environ`` for a ``with`` block (the CLI)."""
        return step_secret_environment(task_id, self._secrets.get(task_id, {}))

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

    def _entries_of(self, task_id: str) -> dict[str, str]:
        if task_id not in self._secrets:
            raise KeyError(f"task '{task_id}' has no step secrets")
        return self._secrets[task_id]


def _did_you_mean(name: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


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
