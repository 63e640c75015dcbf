"""The CLI's quieting of third-party loggers through Airflow's ``[logging] namespace_levels``."""

from __future__ import annotations

import os

import pytest

from airflow_secretsync.cli.console import NAMESPACE_LEVELS, QUIET_LOGGERS, quiet_third_party_logs


def test_quieting_is_idempotent_and_the_users_levels_win(monkeypatch: pytest.MonkeyPatch) -> None:
    name = next(iter(QUIET_LOGGERS))
    monkeypatch.setenv(NAMESPACE_LEVELS, f"{name}=DEBUG my.app=INFO")
    quiet_third_party_logs()
    once = dict(item.split("=", 1) for item in os.environ[NAMESPACE_LEVELS].split())
    for _ in range(3):  # every in-process CLI run calls it
        quiet_third_party_logs()
    again = os.environ[NAMESPACE_LEVELS]
    assert dict(item.split("=", 1) for item in again.split()) == once
    assert len(again.split()) == len(once)  # nothing repeated
    assert once[name] == "DEBUG"  # the user's level wins
    assert once["my.app"] == "INFO"
    assert all(once[other] == level for other, level in QUIET_LOGGERS.items() if other != name)
