"""Declaring step secrets: the registry, the config, the DAG builder and the CLI option."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_secretsync.airflow import SecretSyncDagBuilder, StepSecrets, build_dag
from airflow_secretsync.airflow.step_secrets import task_step_secrets
from airflow_secretsync.config import load_config
from airflow_secretsync.errors import ConfigError, SecretReferenceError
from airflow_secretsync.step_secrets import parse_step_secret_option
from tests.helpers import write_config

CANARY = "canary-3f9a7c21-registry"

CONFIG = """
version: 1
dag: {dag_id: step_secrets_registry}
merge_store: {vault: {path: merged}}
sources:
  platform: {vault: {path: src}}
targets:
  Base:
    imports: [platform]
    step_secrets: {BASE_TOKEN: "ref+env://BASE_TOKEN_SOURCE"}
  Staging:
    inherits: Base
    aws: {prefix: staging/}
    step_secrets:
      DB_PASSWORD: "ref+vault://secret/staging/db#/password"
      SHARED: "ref+env://SHARED_SOURCE"
step_secrets:
  sync.Staging: {DB_PASSWORD: "ref+awssecrets://staging/db#/password"}
  report: {SLACK_WEBHOOK: "ref+vault://secret/ci/slack#/url"}
"""


@pytest.fixture
def config_path(tmp_path: Path) -> Path:
    return write_config(tmp_path, CONFIG)


def test_add_list_remove_get_and_cleanup() -> None:
    secrets = StepSecrets({"extract": {"API_KEY": "ref+env://API_KEY_SOURCE"}})
    secrets.add_step_secret("extract", "DB_PASSWORD", "ref+vault://secret/db#/password")
    secrets.add_step_secret("load", "DB_PASSWORD", "ref+awssecrets://prod/db#/password")
    secrets.add_step_secret("load", "DB_PASSWORD", "ref+vault://secret/prod/db#/password")

    assert secrets.list_step_secrets("extract") == {
        "API_KEY": "ref+env://API_KEY_SOURCE",
        "DB_PASSWORD": "ref+vault://secret/db#/password",
    }
    assert secrets.get_step_secrets()["load"] == {
        "DB_PASSWORD": "ref+vault://secret/prod/db#/password"
    }
    secrets.list_step_secrets("load").clear()  # copies: the registry is unchanged
    secrets.get_step_secrets()["load"].clear()
    assert secrets.list_step_secrets("load") == {
        "DB_PASSWORD": "ref+vault://secret/prod/db#/password"
    }

    secrets.remove_step_secret("load", "DB_PASSWORD")
    assert "load" not in secrets.get_step_secrets()  # the emptied step is gone
    with pytest.raises(KeyError, match="load"):
        secrets.list_step_secrets("load")
    with pytest.raises(KeyError, match="load"):
        secrets.remove_step_secret("load", "DB_PASSWORD")
    with pytest.raises(KeyError, match="NOPE"):
        secrets.remove_step_secret("extract", "NOPE")
    assert set(secrets.list_step_secrets("extract")) == {"API_KEY", "DB_PASSWORD"}


def test_invalid_declarations_are_refused_without_quoting_values() -> None:
    secrets = StepSecrets()
    with pytest.raises(ConfigError, match="not an environment variable name"):
        secrets.add_step_secret("extract", "1-BAD", "ref+env://X")
    with pytest.raises(SecretReferenceError) as exc:
        secrets.add_step_secret("extract", "TOKEN", CANARY)  # a value where a reference belongs
    assert CANARY not in str(exc.value)
    assert secrets.get_step_secrets() == {}


def test_config_precedence_task_entry_beats_target_entry(config_path: Path) -> None:
    secrets = StepSecrets.from_config(load_config(config_path))

    assert secrets.get_step_secrets() == {
        "merge.Base": {"BASE_TOKEN": "ref+env://BASE_TOKEN_SOURCE"},
        "merge.Staging": {
            "DB_PASSWORD": "ref+vault://secret/staging/db#/password",
            "SHARED": "ref+env://SHARED_SOURCE",
        },
        "sync.Staging": {
            "DB_PASSWORD": "ref+awssecrets://staging/db#/password",
            "SHARED": "ref+env://SHARED_SOURCE",
        },
        "report": {"SLACK_WEBHOOK": "ref+vault://secret/ci/slack#/url"},
    }


def test_generated_dag_tasks_carry_their_references(config_path: Path) -> None:
    dag = build_dag(config_path)

    assert task_step_secrets(dag.task_dict["merge.Base"]) == {
        "BASE_TOKEN": "ref+env://BASE_TOKEN_SOURCE"
    }
    assert task_step_secrets(dag.task_dict["sync.Staging"])["DB_PASSWORD"] == (
        "ref+awssecrets://staging/db#/password"
    )
    assert task_step_secrets(dag.task_dict["report"]) == {
        "SLACK_WEBHOOK": "ref+vault://secret/ci/slack#/url"
    }


def test_builder_edits_beat_the_config(config_path: Path) -> None:
    builder = SecretSyncDagBuilder(config_path, dag_id="step_secrets_builder")
    builder.add_step_secret("sync.Staging", "SHARED", "ref+vault://secret/shared#/token")
    builder.remove_step_secret("sync.Staging", "DB_PASSWORD")
    builder.remove_step_secret("merge.Base", "BASE_TOKEN")

    dag = builder.build()

    assert dag.dag_id == "step_secrets_builder"
    assert task_step_secrets(dag.task_dict["sync.Staging"]) == {
        "SHARED": "ref+vault://secret/shared#/token"
    }
    assert task_step_secrets(dag.task_dict["merge.Base"]) == {}
    assert task_step_secrets(dag.task_dict["merge.Staging"])["SHARED"] == "ref+env://SHARED_SOURCE"


def test_unknown_task_is_one_clear_error(config_path: Path) -> None:
    builder = SecretSyncDagBuilder(config_path)
    builder.add_step_secret("sync.Stagin", "TOKEN", "ref+env://TOKEN_SOURCE")

    with pytest.raises(
        ConfigError, match=r"unknown task 'sync\.Stagin' \(did you mean 'sync\.Staging'"
    ):
        builder.build()


def test_task_group_keys_step_secrets_within_the_group(config_path: Path) -> None:
    from airflow.sdk import DAG

    from airflow_secretsync.airflow import SecretSyncTaskGroup

    custom = StepSecrets({"merge.Base": {"ONLY_THIS": "ref+env://ONLY_THIS_SOURCE"}})
    with DAG("step_secrets_group", schedule=None) as dag:
        SecretSyncTaskGroup(config_path)
        SecretSyncTaskGroup(config_path, group_id="custom", step_secrets=custom)

    assert task_step_secrets(dag.task_dict["secretsync.report"]) == {
        "SLACK_WEBHOOK": "ref+vault://secret/ci/slack#/url"
    }
    assert task_step_secrets(dag.task_dict["custom.merge.Base"]) == {
        "ONLY_THIS": "ref+env://ONLY_THIS_SOURCE"
    }
    assert task_step_secrets(dag.task_dict["custom.sync.Staging"]) == {}


def test_cli_option_parses() -> None:
    assert parse_step_secret_option(
        "sync.Prod:DB_PASSWORD=ref+vault://secret/db?version=2#/pw"
    ) == (
        "sync.Prod",
        "DB_PASSWORD",
        "ref+vault://secret/db?version=2#/pw",
    )


@pytest.mark.parametrize(
    ("option", "shown"),
    [
        (CANARY, "a value"),
        (f"sync.Prod:{CANARY}", "a value"),
        (f"sync.Prod:TOKEN{CANARY}", "a value"),
        (f":TOKEN={CANARY}", "':TOKEN=...'"),
        (f"sync.Prod:={CANARY}", "'sync.Prod:=...'"),
        ("sync.Prod:TOKEN=", "'sync.Prod:TOKEN=...'"),
        (f"sync.Prod:BAD-NAME={CANARY}", "'sync.Prod:BAD-NAME=...'"),
        (f"sync.Prod:TOKEN={CANARY}", "'sync.Prod:TOKEN=...'"),
    ],
)
def test_cli_option_errors_never_echo_the_value(option: str, shown: str) -> None:
    with pytest.raises(ConfigError) as exc:
        parse_step_secret_option(option)
    message = str(exc.value)
    assert message.startswith(f"--step-secret {shown}: ")
    assert "\n" not in message
    assert CANARY not in message
