"""get_secret: explicit value -> environment -> AWS -> Vault, graceful without extras."""

from __future__ import annotations

import json
import logging
import sys

import pytest

from airflow_secretsync.errors import SecretReferenceError
from airflow_secretsync.refs import SecretsCache, SecretsProvider, SecretsResolver, get_secret
from airflow_secretsync.refs.lookup import default_secret_name
from devtools.servers import free_port
from tests.helpers import seed_aws, unique


@pytest.fixture
def cache(servers) -> SecretsCache:
    return SecretsCache(SecretsResolver.default())


@pytest.fixture
def name(monkeypatch) -> str:
    """An environment-style name (``SSTEST<id>_API_TOKEN``), unset in the environment."""
    value = unique("SSTEST").upper() + "_API_TOKEN"
    monkeypatch.delenv(value, raising=False)
    return value


@pytest.fixture
def stores(name, aws_client, vault_client):
    """Put a value for ``name`` in AWS and/or Vault under the default mapping."""
    mapped = default_secret_name(name)

    def put(*, aws: str | None = None, vault: str | None = None) -> str:
        if aws is not None:
            seed_aws(aws_client("secretsmanager"), {mapped: aws})
        if vault is not None:
            vault_client.secrets.kv.v2.create_or_update_secret(
                path=mapped, secret={"value": vault, "other": "x"}, mount_point="secret"
            )
        return mapped

    return put


def test_default_name_mapping() -> None:
    assert default_secret_name("GITHUB_TOKEN") == "github/token"
    assert default_secret_name("ANTHROPIC_API_KEY") == "anthropic/api-key"
    assert default_secret_name("TOKEN") == "token"


def test_explicit_value_wins(name, stores, cache, monkeypatch) -> None:
    stores(aws="from-aws-canary", vault="from-vault-canary")
    monkeypatch.setenv(name, "from-env-canary")
    assert get_secret(name, value="explicit-canary", cache=cache) == "explicit-canary"


def test_environment_beats_aws(name, stores, cache, monkeypatch) -> None:
    stores(aws="from-aws-canary")
    monkeypatch.setenv(name, "from-env-canary")
    assert get_secret(name, cache=cache) == "from-env-canary"
    monkeypatch.setenv(name, "")  # empty counts as unset
    assert get_secret(name, value="", cache=cache) == "from-aws-canary"


def test_aws_beats_vault(name, stores, cache) -> None:
    mapped = stores(aws="from-aws-canary", vault="from-vault-canary")
    assert mapped == name.lower().replace("_api_token", "/api-token")
    assert get_secret(name, cache=cache) == "from-aws-canary"


def test_vault_is_last(name, stores, cache, vault_client) -> None:
    mapped = stores(vault="from-vault-canary")
    assert get_secret(name, cache=cache) == "from-vault-canary"
    assert json.loads(get_secret(name, vault_field=None, cache=cache)) == {
        "value": "from-vault-canary",
        "other": "x",
    }
    assert get_secret(name, vault_field="other", cache=cache) == "x"
    mount = unique("kv")
    vault_client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    vault_client.secrets.kv.v2.create_or_update_secret(
        path=mapped, secret={"value": "other-mount"}, mount_point=mount
    )
    assert get_secret(name, vault_mount=mount, cache=cache) == "other-mount"


def test_secret_name_is_configurable(name, aws_client, cache) -> None:
    custom = unique("custom/")
    seed_aws(aws_client("secretsmanager"), {custom: "custom-canary"})
    assert get_secret(name, secret_name=custom, cache=cache) == "custom-canary"
    assert get_secret(name, secret_name=lambda n: custom, cache=cache) == "custom-canary"


def test_connection_ids_are_passed(name, aws_client, servers, monkeypatch, cache) -> None:
    seed_aws(aws_client("secretsmanager", "eu-west-1"), {default_secret_name(name): "ireland"})
    monkeypatch.setenv("AIRFLOW_CONN_AWS_IRELAND", servers.aws.connection_uri("eu-west-1"))
    assert get_secret(name, cache=cache) is None
    assert get_secret(name, aws_connection_id="aws_ireland", cache=cache) == "ireland"


def test_missing_optional_secret_is_none_and_required_one_an_error(name, cache) -> None:
    assert get_secret(name, cache=cache) is None
    with pytest.raises(SecretReferenceError) as exc:
        get_secret(name, required=True, cache=cache)
    mapped = default_secret_name(name)
    assert str(exc.value) == (
        f"required secret {name} not found (tried environment, 'ref+awssecrets://{mapped}', "
        f"'ref+vault://secret/{mapped}#/value')"
    )


def test_missing_extra_is_skipped(name, stores, monkeypatch, caplog) -> None:
    stores(aws="from-aws-canary", vault="from-vault-canary")
    monkeypatch.setitem(sys.modules, "airflow.providers.amazon.aws.hooks.base_aws", None)
    cache = SecretsCache(SecretsResolver.default())
    with caplog.at_level(logging.WARNING):
        assert get_secret(name, cache=cache) == "from-vault-canary"
    assert caplog.text == ""
    monkeypatch.setitem(sys.modules, "airflow.providers.hashicorp.hooks.vault", None)
    assert get_secret(name, cache=SecretsCache(SecretsResolver.default())) is None


def test_failing_store_is_logged_without_values_and_skipped(
    name, stores, cache, caplog, monkeypatch
) -> None:
    stores(vault="from-vault-canary")
    monkeypatch.setenv(
        "AIRFLOW_CONN_AWS_DOWN",
        json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "aws-password-canary",
                "extra": {
                    "endpoint_url": f"http://127.0.0.1:{free_port()}",
                    "region_name": "us-east-1",
                    "config_kwargs": {"retries": {"max_attempts": 1}},
                },
            }
        ),
    )
    with caplog.at_level(logging.WARNING, logger="airflow_secretsync.refs.lookup"):
        assert get_secret(name, aws_connection_id="aws_down", cache=cache) == "from-vault-canary"
    assert "canary" not in caplog.text
    mapped = default_secret_name(name)
    assert (
        f"Secret {name}: awssecrets (cannot resolve 'ref+awssecrets://{mapped}"
        "?connection_id=aws_down': EndpointConnectionError (cannot reach http://"
    ) in caplog.text
    assert ")) failed, trying the next store" in caplog.text
    with pytest.raises(SecretReferenceError) as exc:
        get_secret(name, required=True, vault_connection_id="no_such_vault", cache=cache)
    assert str(exc.value).endswith(
        f"; failed: vault (cannot resolve 'ref+vault://secret/{mapped}"
        "?connection_id=no_such_vault': Vault connection 'no_such_vault' is not defined: "
        "define it with the environment variable AIRFLOW_CONN_NO_SUCH_VAULT, in the Airflow UI "
        "(Admin > Connections), or in your secrets backend)"
    )


def test_access_denied_is_never_skipped(name) -> None:
    from airflow.sdk.exceptions import AirflowSecretsBackendAccessDenied

    class Denying(SecretsProvider):
        provider_name = "awssecrets"
        supported_params = frozenset({"connection_id"})

        def get_secret(self, key: str, **params: str) -> str | None:
            raise AirflowSecretsBackendAccessDenied(f"denied: {key}")

    resolver = SecretsResolver()
    resolver.register(Denying())
    with pytest.raises(AirflowSecretsBackendAccessDenied, match="denied: "):
        get_secret(name, cache=SecretsCache(resolver))


def test_returned_values_are_masked(name, stores, cache) -> None:
    from airflow.sdk._shared.secrets_masker import redact

    stores(aws="aws-masked-canary-91")
    assert get_secret(name, cache=cache) == "aws-masked-canary-91"
    assert redact("token aws-masked-canary-91 used") == "token *** used"
