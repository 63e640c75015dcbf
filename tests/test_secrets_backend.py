"""ChainedSecretsBackend against the real servers, directly and as Airflow's configured backend."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from airflow_secretsync.airflow.secrets_backend import (
    CLASS_PATH,
    CLASS_PATHS,
    ChainedSecretsBackend,
)
from airflow_secretsync.errors import ConfigError
from devtools.servers import free_port
from tests.helpers import seed_aws, short_lived_approle, unique, wait_until_expired
from tests.refs.third_party import install_providers

LOGGER = "airflow_secretsync.airflow.secrets_backend"
VAR_CANARY = "canary-variable-2f9c71e0"
CONN_CANARY = "canary-conn-password-8d41b3aa"


@pytest.fixture
def ns() -> str:
    """A namespace no other test uses on the shared servers."""
    return unique("sb")


@pytest.fixture
def airflow_backend(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Forget Airflow's memoised secrets backends before and after the test (Airflow 3.3
    memoises them; 3.2 builds them anew for every look-up, so there is nothing to forget)."""
    from airflow.sdk import configuration

    clear_secrets_backends_cache = getattr(
        configuration, "clear_secrets_backends_cache", lambda: None
    )
    clear_secrets_backends_cache()
    yield
    monkeypatch.undo()
    clear_secrets_backends_cache()


DAG_SOURCE = """
import os

from airflow.sdk import DAG, BaseHook, Variable, task
from airflow.sdk._shared.secrets_masker import redact

with DAG(dag_id="DAG_ID", schedule=None) as dag:

    @task
    def read_variable() -> dict:
        value = Variable.get("VAR_KEY")
        return {
            "ok": value == os.environ["SECRETSYNC_TEST_EXPECT_VAR"],
            "masked": redact(f"value={value}") == "value=***",
        }

    @task
    def read_connection() -> dict:
        conn = BaseHook.get_connection("CONN_ID")
        return {
            "conn_type": conn.conn_type,
            "host": conn.host,
            "login": conn.login,
            "password_ok": conn.password == os.environ["SECRETSYNC_TEST_EXPECT_PW"],
            "masked": redact(f"pw={conn.password}") == "pw=***",
        }

    read_variable() >> read_connection()
"""


def test_dag_reads_variable_and_connection_through_the_backend(
    dag_file, servers, vault_client, aws_client, ns, airflow_backend, monkeypatch, capfd, caplog
) -> None:
    vault_client.secrets.kv.v2.create_or_update_secret(
        path=f"{ns}/variables/api_key", secret={"value": VAR_CANARY}, mount_point="secret"
    )
    seed_aws(
        aws_client("secretsmanager"),
        {
            f"{ns}/connections/warehouse": {
                "conn_type": "postgres",
                "host": "db.example.com",
                "login": "svc",
                "password": CONN_CANARY,
            },
            f"{ns}/variables/api_key": "the AWS copy loses: vault comes first",
        },
    )
    kwargs = {
        "providers": [
            {"provider": "vault", "connection_id": "no_such_vault"},  # fails, is skipped
            {"provider": "vault", "variables_prefix": f"secret/{ns}/variables"},
            "awssecrets",
        ],
        "connections_prefix": f"{ns}/connections",
        "variables_prefix": f"{ns}/variables",
    }
    monkeypatch.setenv("AIRFLOW__SECRETS__BACKEND", CLASS_PATH)
    monkeypatch.setenv("AIRFLOW__SECRETS__BACKEND_KWARGS", json.dumps(kwargs))
    monkeypatch.setenv("SECRETSYNC_TEST_EXPECT_VAR", VAR_CANARY)
    monkeypatch.setenv("SECRETSYNC_TEST_EXPECT_PW", CONN_CANARY)
    dag_id = f"backend_{ns}"
    source = DAG_SOURCE.replace("DAG_ID", dag_id).replace("VAR_KEY", "api_key")
    dag = dag_file(dag_id, source.replace("CONN_ID", "warehouse"))

    with caplog.at_level(logging.INFO):
        run = dag.test()

    tis = {ti.task_id: ti for ti in run.get_task_instances()}
    assert {k: ti.state for k, ti in tis.items()} == {
        "read_variable": "success",
        "read_connection": "success",
    }
    assert tis["read_variable"].xcom_pull(task_ids="read_variable") == {"ok": True, "masked": True}
    assert tis["read_connection"].xcom_pull(task_ids="read_connection") == {
        "conn_type": "postgres",
        "host": "db.example.com",
        "login": "svc",
        "password_ok": True,
        "masked": True,
    }
    out = capfd.readouterr()
    logs = out.out + out.err + caplog.text
    assert (
        "Secret provider providers[0] vault connection_id=no_such_vault failed to look up "
        "variable 'api_key', skipping it: cannot resolve "
        f"'ref+vault://{ns}/variables/api_key?connection_id=no_such_vault': "
        "Vault connection 'no_such_vault' is not defined"
    ) in logs
    assert VAR_CANARY not in logs
    assert CONN_CANARY not in logs


@pytest.fixture
def seeded(ns, vault_client, aws_client) -> dict[str, str]:
    """Variables, connections and config in both stores; returns the canary values."""
    values = {
        "vault_var": f"vault-var-canary-{ns}",
        "aws_var": f"aws-var-canary-{ns}",
        "vault_uri": f"postgres://svc:vault-pw-canary-{ns}@db.internal:5432/app",
        "aws_uri": f"http://svc:aws-pw-canary-{ns}@api.example.com:8080",
        "config": f"postgresql://airflow:config-canary-{ns}@meta/airflow",
    }
    kv = vault_client.secrets.kv.v2
    for path, data in {
        "variables/shared": {"value": values["vault_var"]},
        "variables/json_var": {"value": {"a": 1}},
        "variables/two_keys": {"value": "x", "other": "y"},
        "connections/vault_uri": {"conn_uri": values["vault_uri"]},
        "connections/vault_fields": {"conn_type": "http", "host": "h.example", "login": "u"},
    }.items():
        kv.create_or_update_secret(path=f"{ns}/{path}", secret=data, mount_point="secret")
    seed_aws(
        aws_client("secretsmanager"),
        {
            f"{ns}/variables/shared": "the AWS copy loses to Vault",
            f"{ns}/variables/aws_only": values["aws_var"],
            f"{ns}/connections/aws_uri": values["aws_uri"],
            f"{ns}/config/sql_alchemy_conn": values["config"],
        },
    )
    return values


def chained(ns: str, *first: str | dict, **kwargs) -> ChainedSecretsBackend:
    """Vault (its mount in per-provider prefixes) then AWS, unless other providers are given."""
    vault = {
        "provider": "vault",
        "connections_prefix": f"secret/{ns}/connections",
        "variables_prefix": f"secret/{ns}/variables",
        "config_prefix": None,
    }
    options = {
        "providers": [*first, vault, "awssecrets"],
        "connections_prefix": f"{ns}/connections",
        "variables_prefix": f"{ns}/variables",
        "config_prefix": f"{ns}/config",
        **kwargs,
    }
    return ChainedSecretsBackend(**options)


def count_aws_calls(backend: ChainedSecretsBackend) -> list[str]:
    """The SecretIds of every GetSecretValue call the backend's AWS provider makes from now on."""
    calls: list[str] = []
    backend.cache.resolver.provider("awssecrets").client().meta.events.register(
        "before-parameter-build.secrets-manager.GetSecretValue",
        lambda params, **_: calls.append(params["SecretId"]),
    )
    return calls


def test_first_hit_wins_for_every_kind(ns, seeded) -> None:
    backend = chained(ns)
    assert backend.get_variable("shared") == seeded["vault_var"]
    assert backend.get_variable("aws_only") == seeded["aws_var"]
    assert backend.get_variable("json_var") == '{"a": 1}'
    assert json.loads(backend.get_variable("two_keys")) == {"value": "x", "other": "y"}
    assert backend.get_variable("missing") is None
    assert backend.get_config("sql_alchemy_conn") == seeded["config"]
    assert backend.get_config("missing") is None
    assert backend.get_conn_value("vault_uri") == seeded["vault_uri"]
    assert backend.get_conn_value("aws_uri") == seeded["aws_uri"]
    conn = backend.get_connection("aws_uri")
    assert (conn.conn_type, conn.host, conn.port, conn.login) == (
        "http",
        "api.example.com",
        8080,
        "svc",
    )
    assert conn.password == f"aws-pw-canary-{ns}"
    fields = backend.get_connection("vault_fields")
    assert (fields.conn_type, fields.host, fields.login) == ("http", "h.example", "u")
    assert backend.get_connection("missing") is None


def test_returned_values_are_masked(ns, seeded) -> None:
    from airflow.sdk._shared.secrets_masker import redact

    backend = chained(ns)
    backend.get_conn_value("aws_uri")
    backend.get_config("sql_alchemy_conn")
    assert redact(f"uri={seeded['aws_uri']}") == "uri=***"
    assert redact(f"conf={seeded['config']}") == "conf=***"


def test_none_prefix_disables_a_kind(ns, seeded) -> None:
    backend = chained(ns, variables_prefix=None, config_prefix=None)
    calls = count_aws_calls(backend)
    assert backend.get_variable("aws_only") is None
    assert backend.get_config("sql_alchemy_conn") is None
    assert calls == []
    assert backend.get_variable("shared") == seeded["vault_var"]  # Vault overrides the prefix
    assert backend.get_conn_value("aws_uri") == seeded["aws_uri"]
    assert calls == [f"{ns}/connections/aws_uri"]


def test_lookup_patterns_skip_other_ids(ns, seeded) -> None:
    backend = chained(ns, connections_lookup_pattern="^AWS_", variables_lookup_pattern="aws")
    calls = count_aws_calls(backend)
    assert backend.get_conn_value("vault_uri") is None
    assert backend.get_variable("shared") is None
    assert calls == []
    assert backend.get_conn_value("aws_uri") == seeded["aws_uri"]
    assert backend.get_variable("aws_only") == seeded["aws_var"]
    assert calls == [f"{ns}/connections/aws_uri", f"{ns}/variables/aws_only"]


def test_hits_and_misses_are_cached(ns, seeded) -> None:
    backend = chained(ns)
    calls = count_aws_calls(backend)
    for _ in range(3):
        assert backend.get_variable("aws_only") == seeded["aws_var"]
        assert backend.get_variable("missing") is None
    assert calls == [f"{ns}/variables/aws_only", f"{ns}/variables/missing"]


def test_zero_ttls_disable_the_cache(ns, seeded) -> None:
    backend = chained(ns, cache_ttl_seconds=0, cache_miss_ttl_seconds=0)
    calls = count_aws_calls(backend)
    for _ in range(2):
        backend.get_variable("aws_only")
        backend.get_variable("missing")
    assert len(calls) == 4


def test_concurrent_lookups_cost_one_call(ns, seeded) -> None:
    backend = chained(ns)
    calls = count_aws_calls(backend)
    start = threading.Barrier(12)

    def look_up(_: int) -> str | None:
        start.wait()
        return backend.get_variable("aws_only")

    with ThreadPoolExecutor(12) as pool:
        assert list(pool.map(look_up, range(12))) == [seeded["aws_var"]] * 12
    assert calls == [f"{ns}/variables/aws_only"]


def test_failing_provider_is_logged_without_values_and_skipped(
    ns, seeded, monkeypatch, caplog
) -> None:
    port = free_port()
    monkeypatch.setenv(
        "AIRFLOW_CONN_VAULT_DOWN",
        json.dumps(
            {
                "conn_type": "vault",
                "host": "127.0.0.1",
                "port": port,
                "password": "vault-token-canary",
                "extra": {"auth_type": "token", "kv_engine_version": 2},
            }
        ),
    )
    backend = chained(ns, {"provider": "vault", "connection_id": "vault_down"})
    with caplog.at_level(logging.WARNING, logger=LOGGER):
        assert backend.get_variable("aws_only") == seeded["aws_var"]
    assert [r.getMessage() for r in caplog.records if r.name == LOGGER] == [
        "Secret provider providers[0] vault connection_id=vault_down failed to look up "
        "variable 'aws_only', skipping it: cannot resolve "
        f"'ref+vault://{ns}/variables/aws_only?connection_id=vault_down': Vault connection "
        f"'vault_down': cannot reach Vault at http://127.0.0.1:{port} (ConnectionError)"
    ]
    assert "canary" not in caplog.text


DENYING_PROVIDER = """
from airflow.sdk.exceptions import AirflowSecretsBackendAccessDenied

from airflow_secretsync.refs import SecretsProvider


class DenyingProvider(SecretsProvider):
    provider_name = "denying"

    def get_secret(self, key, **params):
        if key.endswith("/restricted"):
            raise AirflowSecretsBackendAccessDenied(f"{key} is not for you")
        return None
"""


def test_access_denied_is_honoured(ns, seeded, aws_client, tmp_path, monkeypatch) -> None:
    from airflow.sdk.exceptions import AirflowSecretsBackendAccessDenied

    install_providers(
        tmp_path,
        monkeypatch,
        {"denying": "secretsync_test_denying:DenyingProvider"},
        {"secretsync_test_denying": DENYING_PROVIDER},
    )
    seed_aws(aws_client("secretsmanager"), {f"{ns}/variables/restricted": "aws-would-leak"})
    backend = chained(ns, "denying")
    with pytest.raises(AirflowSecretsBackendAccessDenied, match="restricted is not for you"):
        backend.get_variable("restricted")
    assert backend.get_variable("aws_only") == seeded["aws_var"]  # None from it: next provider


def test_team_scoped_lookups_are_not_served(ns, seeded) -> None:
    backend = chained(ns)
    assert backend.get_variable("aws_only", team_name="team_a") is None
    assert backend.get_conn_value("aws_uri", team_name="team_a") is None


def test_every_kwargs_problem_is_listed() -> None:
    with pytest.raises(ConfigError) as exc:
        ChainedSecretsBackend(
            providers=["vualt", {"provider": "vault", "region": "x"}, {"variables_prefix": 1}],
            conections_prefix="x",
            cache_ttl_seconds=-1,
            variables_lookup_pattern="(",
        )
    assert exc.value.errors == [
        "ChainedSecretsBackend: variables_lookup_pattern: invalid regular expression: "
        "missing ), unterminated subpattern at position 0",
        "ChainedSecretsBackend: cache_ttl_seconds: Input should be greater than or equal to 0",
        "ChainedSecretsBackend: unknown option 'conections_prefix' "
        "(did you mean 'connections_prefix'?)",
        "ChainedSecretsBackend: providers[0]: unknown secret provider 'vualt' "
        "(did you mean 'vault'?); known: awssecrets, env, vault",
        "ChainedSecretsBackend: providers[1]: provider 'vault' does not support parameter(s) "
        "region (supported: connection_id, version)",
        "ChainedSecretsBackend: providers[2].variables_prefix: must be a string or null",
        "ChainedSecretsBackend: providers[2]: 'provider' (a provider name) is required",
    ]
    with pytest.raises(ConfigError, match="providers: required, e\\.g\\."):
        ChainedSecretsBackend()


@pytest.mark.parametrize("class_path", CLASS_PATHS)
def test_malformed_kwargs_json_fails_at_startup(airflow_backend, monkeypatch, class_path) -> None:
    from airflow.sdk.configuration import initialize_secrets_backends
    from airflow.sdk.execution_time.secrets import DEFAULT_SECRETS_SEARCH_PATH_WORKERS

    monkeypatch.setenv("AIRFLOW__SECRETS__BACKEND", class_path)
    monkeypatch.setenv(
        "AIRFLOW__SECRETS__BACKEND_KWARGS", '{"providers": ["vault"], "x": "kwargs-canary",}'
    )
    with pytest.raises(ConfigError) as exc:
        initialize_secrets_backends()
    assert str(exc.value) == (
        "ChainedSecretsBackend: [secrets] backend_kwargs is not valid JSON: "
        "Expecting property name enclosed in double quotes (line 1, column 47)\n"
        "ChainedSecretsBackend: providers: required, e.g. "
        '{"providers": ["vault", "awssecrets"]}'
    )
    monkeypatch.setenv("AIRFLOW__SECRETS__BACKEND", "")
    monkeypatch.setenv("AIRFLOW__WORKERS__SECRETS_BACKEND", class_path)
    monkeypatch.setenv("AIRFLOW__WORKERS__SECRETS_BACKEND_KWARGS", '["vault"]')
    with pytest.raises(ConfigError, match=r"\[workers\] secrets_backend_kwargs must be a JSON"):
        initialize_secrets_backends(DEFAULT_SECRETS_SEARCH_PATH_WORKERS)


@pytest.mark.parametrize("class_path", CLASS_PATHS)
def test_per_key_env_overrides(ns, seeded, airflow_backend, monkeypatch, class_path) -> None:
    """Both the module path and the compatibility path ``airflow_secretsync.secrets`` work."""
    from airflow.sdk.configuration import initialize_secrets_backends

    monkeypatch.setenv("AIRFLOW__SECRETS__BACKEND", class_path)
    for key, value in {
        "PROVIDERS": "env, awssecrets",
        "VARIABLES_PREFIX": f"{ns}/variables",
        "CACHE_TTL_SECONDS": "0",
    }.items():
        monkeypatch.setenv(f"AIRFLOW__SECRETS__BACKEND_KWARG__{key}", value)
    backend = initialize_secrets_backends()[0]
    assert isinstance(backend, ChainedSecretsBackend)
    assert [e.provider for e in backend.entries] == ["env", "awssecrets"]
    assert backend.settings.cache_ttl_seconds == 0
    assert backend.get_variable("aws_only") == seeded["aws_var"]


def test_listed_by_airflow_providers_secrets(airflow_db) -> None:
    out = subprocess.run(
        [str(Path(sys.executable).with_name("airflow")), "providers", "secrets", "-o", "json"],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    ).stdout
    # the JSON is the line that starts with "[{"; Airflow may print warnings (providers without
    # a `cli` section, as older amazon ones) to stdout before it
    rows = next(json.loads(line) for line in out.splitlines() if line.startswith("[{"))
    names = {row["secrets_backend_class_name"] for row in rows}
    assert CLASS_PATH in names


def test_a_long_lived_backend_logs_in_again_when_its_approle_token_expired(
    ns, vault_client, monkeypatch
) -> None:
    """The backend lives as long as the Airflow process; its Vault provider's AppRole token
    (2 s) expires: the next look-up logs in again and is answered."""
    mount, role_id, secret_id = short_lived_approle(vault_client)
    default = json.loads(os.environ["AIRFLOW_CONN_VAULT_DEFAULT"])
    extra = {**default["extra"], "auth_type": "approle", "auth_mount_point": mount}
    monkeypatch.setenv(
        "AIRFLOW_CONN_VAULT_SHORT",
        json.dumps({**default, "login": role_id, "password": secret_id, "extra": extra}),
    )
    kv = vault_client.secrets.kv.v2
    kv.create_or_update_secret(path=f"{ns}/variables/one", secret={"value": VAR_CANARY})
    vault = {"provider": "vault", "connection_id": "vault_short", "config_prefix": None}
    backend = ChainedSecretsBackend(
        providers=[vault],
        variables_prefix=f"secret/{ns}/variables",
        connections_prefix=f"secret/{ns}/connections",
        cache_ttl_seconds=0,  # every look-up asks Vault
        cache_miss_ttl_seconds=0,
    )
    assert backend.get_variable("one") == VAR_CANARY
    client = backend.cache.resolver.provider("vault").client("vault_short")
    first_token = client.token

    wait_until_expired(vault_client, first_token)
    kv.create_or_update_secret(path=f"{ns}/variables/two", secret={"value": "second"})
    assert backend.get_variable("two") == "second"
    assert backend.get_variable("one") == VAR_CANARY
    assert backend.get_variable("missing") is None
    assert client.token != first_token


def test_the_cache_bound_is_an_argument(monkeypatch) -> None:
    names = [unique("SECRETSYNC_TEST_BOUND_") for _ in range(3)]
    for name in names:
        monkeypatch.setenv(f"V_{name}", "value")
    backend = ChainedSecretsBackend(
        providers=["env"], variables_prefix="V", sep="_", cache_max_entries=2
    )
    assert [backend.get_variable(name) for name in names] == ["value"] * 3
    assert backend.cache.size() == 2
    with pytest.raises(ConfigError) as exc:
        ChainedSecretsBackend(providers=["env"], cache_max_entries=0)
    assert exc.value.errors == [
        "ChainedSecretsBackend: cache_max_entries: Input should be greater than or equal to 1"
    ]
