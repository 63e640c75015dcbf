"""Helpers for the store tests: unique locations on the session's OpenBao and moto servers."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from airflow_secretsync.config.model import PipelineConfig
from airflow_secretsync.stores.factory import StoreFactory

#: A value that must never appear in a log, an exception or a repr.
CANARY = "canary-Zq8v-do-not-leak"


def unique(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def pipeline(**sections: Any) -> PipelineConfig:
    """A config with the given ``sources`` / ``targets`` / ``merge_store`` sections (merge
    disabled when there is no merge store)."""
    if "merge_store" not in sections:
        sections.setdefault("pipeline", {"merge": {"enabled": False}})
    return PipelineConfig.model_validate({"version": 1, **sections})


@pytest.fixture
def factory(servers) -> Iterator[Any]:
    """Build a :class:`StoreFactory` for a config (closed after the test)."""
    made: list[StoreFactory] = []

    def make(**sections: Any) -> StoreFactory:
        made.append(StoreFactory(pipeline(**sections)))
        return made[-1]

    yield make
    for item in made:
        item.close()


@pytest.fixture
def airflow_conn(monkeypatch: pytest.MonkeyPatch):
    """Define an extra Airflow connection (``AIRFLOW_CONN_<ID>``) for one test."""

    def define(conn_id: str, **connection: Any) -> str:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))
        return conn_id

    return define


@pytest.fixture
def vault_conn_fields(servers) -> dict[str, Any]:
    """The fields of the default Vault connection, to derive variants from."""
    return json.loads(os.environ["AIRFLOW_CONN_VAULT_DEFAULT"])
