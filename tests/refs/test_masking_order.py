"""A shorter secret that starts a longer one never leaves the longer one half visible."""

from __future__ import annotations

from airflow.sdk._shared.secrets_masker import _secrets_masker, redact
from airflow.sdk.log import mask_secret

from airflow_secretsync.refs.masking import mask_in_airflow_logs


def test_the_longest_registered_secret_wins() -> None:
    long = "postgresql://airflow:order-canary-7f3e@meta/airflow"
    for prefix in ("postgres", "postgresql", "postgresql://airflow"):
        mask_secret(prefix)  # e.g. registered earlier by another look-up
    mask_in_airflow_logs(long)
    patterns = _secrets_masker().patterns
    assert len(patterns) >= 4
    assert redact(f"conf={long}") == "conf=***"
