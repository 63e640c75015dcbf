"""Look-up security (SPEC §8) against the real OpenBao: ids and reference paths never escape
their prefix (rejected before any request), and an access-denied answer fails closed unless
``on_access_denied: continue``."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
import requests.adapters

from airflow_secretsync.airflow.secrets_backend import ChainedSecretsBackend
from airflow_secretsync.errors import ConfigError, SecretReferenceError
from airflow_secretsync.refs import get_secret, resolve_reference
from airflow_secretsync.step_secrets import StepSecrets, parse_step_secret_option
from tests.helpers import seed_vault, unique

RESTRICTED = f"canary-restricted-{uuid.uuid4().hex}"
ATTACKER = f"canary-attacker-{uuid.uuid4().hex}"
ESCAPES = [
    "app_x/../../../restricted/admin",
    "app_x/%2e%2e/%2e%2e/%2e%2e/restricted/admin",
    "app_x/./../../../restricted/admin",
    "app_x//../../restricted/admin",
    "app_x/\x00/../../restricted/admin",
    "app_x\n/../../../restricted/admin",
    "app_x/..%2f..%2f..%2frestricted/admin",
]


@pytest.fixture
def http_requests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URL of every HTTP request sent from now on (hvac and botocore both use urllib3
    through requests or their own session: hvac's goes through requests' HTTPAdapter)."""
    sent: list[str] = []
    original = requests.adapters.HTTPAdapter.send

    def send(self, request, *args, **kwargs):
        sent.append(request.url)
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    return sent


@pytest.fixture
def restricted(vault_client) -> None:
    seed_vault(vault_client, "restricted", {"admin": {"value": RESTRICTED}})


@pytest.mark.parametrize("key", ESCAPES)
def test_variable_id_cannot_escape_its_prefix(restricted, http_requests, key, caplog) -> None:
    backend = ChainedSecretsBackend(
        providers=["vault"],
        variables_prefix="secret/airflow/variables",
        variables_lookup_pattern="^app_",
        cache_ttl_seconds=0,
        cache_miss_ttl_seconds=0,
    )
    with caplog.at_level(logging.WARNING, logger="airflow_secretsync.secrets"):
        assert backend.get_variable(key) is None
    assert [url for url in http_requests if "/v1/secret/" in url] == []
    assert "Not looked up: variable id" in caplog.text
    # the same backend still reads what is really below its prefix
    assert backend.get_variable("app_other") is None
    assert any("/v1/secret/data/airflow/variables/app_other" in url for url in http_requests)


def test_lookup_pattern_is_matched_on_the_validated_id(restricted, http_requests) -> None:
    backend = ChainedSecretsBackend(
        providers=["vault"], variables_prefix="secret", variables_lookup_pattern="^restricted/"
    )
    assert backend.get_variable("restricted/admin") == RESTRICTED
    assert backend.get_variable("restricted/../restricted/admin") is None
    assert len([url for url in http_requests if "restricted" in url]) == 1


@pytest.mark.parametrize(
    "reference",
    [
        "ref+vault://secret/airflow/../restricted/admin#/value",
        "ref+vault://secret/airflow/%2e%2e/restricted/admin#/value",
        "ref+vault://secret/airflow/%252e%252e/restricted/admin#/value",
        "ref+vault://secret/airflow//restricted/admin#/value",
        "ref+vault://secret/airflow/%0a/../restricted/admin#/value",
    ],
)
def test_reference_paths_cannot_escape(restricted, http_requests, reference) -> None:
    with pytest.raises(SecretReferenceError) as exc:
        resolve_reference(reference)
    assert RESTRICTED not in str(exc.value)
    with pytest.raises(SecretReferenceError):
        StepSecrets().add_step_secret("sync.Prod", "TOKEN", reference)
    with pytest.raises((SecretReferenceError, ConfigError)):
        parse_step_secret_option(f"sync.Prod:TOKEN={reference}")
    assert [url for url in http_requests if "restricted" in url] == []


@pytest.fixture
def limited_vault(servers, vault_client, monkeypatch) -> str:
    """An Airflow connection whose OpenBao token may read ``<ns>/allowed`` only; the namespace
    also holds ``<ns>/restricted``, which the token is denied."""
    ns = unique("deny")
    seed_vault(vault_client, ns, {"allowed": {"value": "ok"}, "restricted": {"value": RESTRICTED}})
    policy = f'path "secret/data/{ns}/allowed" {{ capabilities = ["read"] }}'
    vault_client.sys.create_or_update_policy(name=ns, policy=policy)
    token = vault_client.auth.token.create(policies=[ns], ttl="10m")["auth"]["client_token"]
    host, port = servers.vault.url.removeprefix("http://").split(":")
    monkeypatch.setenv(
        "AIRFLOW_CONN_VAULT_LIMITED",
        json.dumps(
            {
                "conn_type": "vault",
                "host": host,
                "port": int(port),
                "password": token,
                "extra": {"auth_type": "token", "kv_engine_version": 2},
            }
        ),
    )
    monkeypatch.setenv("restricted", ATTACKER)  # what the env provider would answer
    return ns


def _chain(ns: str, **kwargs) -> ChainedSecretsBackend:
    return ChainedSecretsBackend(
        providers=[
            {"provider": "vault", "connection_id": "vault_limited"},
            {"provider": "env", "variables_prefix": ""},
        ],
        variables_prefix=f"secret/{ns}",
        sep="/",
        **kwargs,
    )


def test_access_denied_fails_closed_by_default(limited_vault, caplog) -> None:
    from airflow.sdk.exceptions import AirflowSecretsBackendAccessDenied

    ns = limited_vault
    backend = _chain(ns)
    assert backend.get_variable("allowed") == "ok"
    with pytest.raises(AirflowSecretsBackendAccessDenied) as exc:
        backend.get_variable("restricted")
    message = str(exc.value)
    assert "denied access" in message
    assert "on_access_denied: continue" in message
    assert RESTRICTED not in message + caplog.text
    assert ATTACKER not in message + caplog.text


def test_on_access_denied_continue_falls_through(limited_vault, caplog) -> None:
    ns = limited_vault
    backend = _chain(ns, on_access_denied="continue")
    with caplog.at_level(logging.WARNING, logger="airflow_secretsync.secrets"):
        assert backend.get_variable("restricted") == ATTACKER
    assert "HTTP 403: permission denied" in caplog.text
    assert RESTRICTED not in caplog.text


def test_get_secret_stops_at_access_denied(limited_vault) -> None:
    """get_secret's chain (AWS, then Vault): a denied Vault read is not skipped silently."""
    from airflow_secretsync.errors import SecretAccessDeniedError

    ns = limited_vault
    kwargs = {"secret_name": f"{ns}/restricted", "vault_connection_id": "vault_limited"}
    with pytest.raises(SecretAccessDeniedError, match="HTTP 403"):
        get_secret("SS_UNSET_NAME", **kwargs)
    assert get_secret("SS_UNSET_NAME", on_access_denied="continue", **kwargs) is None
