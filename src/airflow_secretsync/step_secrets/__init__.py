"""Step-scoped secrets without Airflow: the registry by task id and the scoped environment."""

from airflow_secretsync.step_secrets.environment import (
    resolve_step_secrets,
    step_secret_environment,
)
from airflow_secretsync.step_secrets.registry import (
    OPTION_FORM,
    StepSecrets,
    parse_step_secret_option,
    validate_step_secret,
)

__all__ = [
    "OPTION_FORM",
    "StepSecrets",
    "parse_step_secret_option",
    "resolve_step_secrets",
    "step_secret_environment",
    "validate_step_secret",
]
