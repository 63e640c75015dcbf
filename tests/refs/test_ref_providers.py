"""Each built-in provider against the real servers: values, JSON paths, parameters, failures."""

from __future__ import annotations

import json
import sys

import pytest

from airflow_secretsync.errors import MissingExtraError, SecretReferenceError
from airflow_secretsync.refs import (
    AwsSecretsProvider,
    EnvSecretsProvider,
    SecretsResolver,
    VaultSecretsProvider,
    resolve_reference,
)
from devtools.servers import free_port
from tests.helpers import seed_aws, unique

CANARY = "canary-provider-value-7f3a91"


@pytest.fixture
def resolver(servers) -> SecretsResolver:
    """A fresh resolver (fresh hook clients) with the built-in providers."""
    return SecretsResolver.default()


def value(resolver: SecretsResolver, text: str) -> str | None:
    return resolver.resolve(text).value


def test_env_provider(resolver, monkeypatch) -> None:
    name = unique("SECRETSYNC_TEST_").upper()
    monkeypatch.setenv(name, json.dumps({"db": {"password": CANARY, "port": 5432}}))
    assert json.loads(value(resolver, f"ref+env://{name}"))["db"]["password"] == CANARY
    assert value(resolver, f"ref+env://{name}#/db/password") == CANARY
    assert value(resolver, f"ref+env://{name}#db/port") == "5432"
    assert value(resolver, f"ref+env://{name}#/db") == f'{{"password":"{CANARY}","port":5432}}'
    missing = resolver.resolve(f"ref+env://{name}_MISSING")
    assert (missing.found, missing.value) == (False, None)
    assert resolver.resolve(f"ref+env://{name}#/db/user").found is False


def test_fragment_on_non_json_is_an_error_without_the_value(resolver, monkeypatch) -> None:
    name = unique("SECRETSYNC_TEST_").upper()
    monkeypatch.setenv(name, CANARY)
    with pytest.raises(SecretReferenceError) as exc:
        resolver.resolve(f"ref+env://{name}#/password")
    assert str(exc.value) == (
        f"'ref+env://{name}#/password': the secret is not JSON, so the '#' path cannot be applied"
    )


def test_json_paths_into_lists_and_nulls(resolver, monkeypatch) -> None:
    name = unique("SECRETSYNC_TEST_").upper()
    monkeypatch.setenv(name, json.dumps({"hosts": ["a", {"b": True}], "gone": None}))
    assert value(resolver, f"ref+env://{name}#/hosts/0") == "a"
    assert value(resolver, f"ref+env://{name}#/hosts/1/b") == "true"
    assert value(resolver, f"ref+env://{name}#/hosts/2") is None
    assert value(resolver, f"ref+env://{name}#/hosts/x") is None
    assert value(resolver, f"ref+env://{name}#/gone") is None


def test_aws_string_json_and_binary_secrets(resolver, aws_client) -> None:
    base = unique("refs/")
    seed_aws(
        aws_client("secretsmanager"),
        {
            f"{base}/plain": CANARY,
            f"{base}/json": {"password": CANARY, "user": "svc"},
            f"{base}/binary": CANARY.encode(),
            f"/{base}/leading-slash": "slashed",
        },
    )
    assert value(resolver, f"ref+awssecrets://{base}/plain") == CANARY
    assert value(resolver, f"ref+awssecrets://{base}/json#/password") == CANARY
    assert value(resolver, f"ref+awssecrets://{base}/json#user") == "svc"
    assert value(resolver, f"ref+awssecrets://{base}/binary") == CANARY
    assert value(resolver, f"ref+awssecrets:///{base}/leading-slash") == "slashed"
    assert resolver.resolve(f"ref+awssecrets://{base}/leading-slash").found is False
    assert resolver.resolve(f"ref+awssecrets://{base}/missing").found is False


def test_aws_non_utf8_binary_is_a_clear_error(resolver, aws_client) -> None:
    name = unique("refs/binary-")
    seed_aws(aws_client("secretsmanager"), {name: b"\xff\xfe" + CANARY.encode()})
    with pytest.raises(SecretReferenceError) as exc:
        resolver.resolve(f"ref+awssecrets://{name}")
    assert str(exc.value) == (
        f"AWS secret {name!r} is binary, not UTF-8 text; it cannot be used as a string"
    )


def test_aws_secret_scheduled_for_deletion_is_missing(resolver, aws_client) -> None:
    client = aws_client("secretsmanager")
    name = unique("refs/deleted-")
    seed_aws(client, {name: CANARY})
    client.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    assert resolver.resolve(f"ref+awssecrets://{name}").found is False


def test_aws_versions(resolver, aws_client) -> None:
    client = aws_client("secretsmanager")
    name = unique("refs/versioned-")
    first = client.create_secret(Name=name, SecretString="first")["VersionId"]
    client.put_secret_value(SecretId=name, SecretString="second")
    assert value(resolver, f"ref+awssecrets://{name}") == "second"
    assert value(resolver, f"ref+awssecrets://{name}?version_stage=AWSPREVIOUS") == "first"
    assert value(resolver, f"ref+awssecrets://{name}?version_id={first}") == "first"
    assert value(resolver, f"ref+awssecrets://{name}?version={first}") == "first"


def test_aws_region_and_connection_id(resolver, aws_client, servers, monkeypatch) -> None:
    name = unique("refs/regional-")
    seed_aws(aws_client("secretsmanager", region="eu-west-1"), {name: "in-ireland"})
    assert resolver.resolve(f"ref+awssecrets://{name}").found is False  # aws_default: us-east-1
    assert value(resolver, f"ref+awssecrets://{name}?region=eu-west-1") == "in-ireland"
    monkeypatch.setenv("AIRFLOW_CONN_AWS_IRELAND", servers.aws.connection_uri("eu-west-1"))
    assert value(resolver, f"ref+awssecrets://{name}?connection_id=aws_ireland") == "in-ireland"
    provider = AwsSecretsProvider(connection_id="aws_ireland")
    assert provider.get_secret(name) == "in-ireland"
    assert AwsSecretsProvider(region="eu-west-1").get_secret(name) == "in-ireland"


def test_vault_kv2_values_paths_and_versions(resolver, vault_client) -> None:
    path = unique("refs/")
    kv = vault_client.secrets.kv.v2
    kv.create_or_update_secret(path=path, secret={"token": "v1"}, mount_point="secret")
    kv.create_or_update_secret(
        path=path, secret={"token": CANARY, "nested": {"k": 1}}, mount_point="secret"
    )
    assert value(resolver, f"ref+vault://secret/{path}#/token") == CANARY
    assert value(resolver, f"ref+vault://secret/{path}#/nested/k") == "1"
    assert json.loads(value(resolver, f"ref+vault://secret/{path}")) == {
        "token": CANARY,
        "nested": {"k": 1},
    }
    assert value(resolver, f"ref+vault://secret/{path}?version=1#/token") == "v1"
    assert value(resolver, f"ref+vault:///secret/{path}/#/token") == CANARY
    assert resolver.resolve(f"ref+vault://secret/{path}#/missing").found is False
    assert resolver.resolve(f"ref+vault://secret/{path}-missing#/token").found is False
    kv.delete_latest_version_of_secret(path=path, mount_point="secret")
    assert resolver.resolve(f"ref+vault://secret/{path}#/token").found is False
    assert value(resolver, f"ref+vault://secret/{path}?version=1#/token") == "v1"


def test_vault_other_mount(resolver, vault_client) -> None:
    mount = unique("kv")
    vault_client.sys.enable_secrets_engine("kv", path=mount, options={"version": "2"})
    vault_client.secrets.kv.v2.create_or_update_secret(
        path="ci", secret={"github_token": CANARY}, mount_point=mount
    )
    assert resolve_reference(f"ref+vault://{mount}/ci#/github_token") == CANARY


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("ref+vault://secret", "vault key 'secret' must be MOUNT/PATH, e.g. secret/app/db"),
        ("ref+vault://secret/x?version=latest", "vault key 'secret/x': version must be"),
        (
            "ref+vault://secret/x?region=eu-west-1",
            "'ref+vault://secret/x?region=eu-west-1': provider 'vault' does not support "
            "parameter(s) region (supported: connection_id, version)",
        ),
        (
            "ref+vualt://secret/x",
            "'ref+vualt://secret/x': unknown secret provider 'vualt' (did you mean 'vault'?); "
            "known: awssecrets, env, vault",
        ),
    ],
)
def test_reference_mistakes_are_clear(resolver, text: str, message: str) -> None:
    with pytest.raises(SecretReferenceError) as exc:
        resolver.resolve(text)
    assert message in str(exc.value)


def test_undefined_connection_names_it(resolver) -> None:
    with pytest.raises(SecretReferenceError) as exc:
        resolver.resolve("ref+vault://secret/x?connection_id=no_such_vault#/k")
    assert str(exc.value) == (
        "cannot resolve 'ref+vault://secret/x?connection_id=no_such_vault#/k': "
        "Vault connection 'no_such_vault' is not defined: define it with the environment "
        "variable AIRFLOW_CONN_NO_SUCH_VAULT, in the Airflow UI (Admin > Connections), or in "
        "your secrets backend"
    )


def test_unreachable_server_fails_without_values(resolver, monkeypatch, caplog) -> None:
    port = free_port()
    monkeypatch.setenv(
        "AIRFLOW_CONN_VAULT_DOWN",
        json.dumps(
            {
                "conn_type": "vault",
                "host": "127.0.0.1",
                "port": port,
                "password": CANARY,
                "extra": {"auth_type": "token", "kv_engine_version": 2},
            }
        ),
    )
    with pytest.raises(SecretReferenceError) as exc:
        resolver.resolve("ref+vault://secret/x?connection_id=vault_down#/k")
    assert str(exc.value) == (
        "cannot resolve 'ref+vault://secret/x?connection_id=vault_down#/k': Vault connection "
        f"'vault_down': cannot reach Vault at http://127.0.0.1:{port} (ConnectionError)"
    )
    assert exc.value.__cause__ is None
    assert CANARY not in caplog.text


@pytest.mark.parametrize(
    ("module", "provider", "text", "extra"),
    [
        (
            "airflow.providers.amazon.aws.hooks.base_aws",
            AwsSecretsProvider,
            "ref+awssecrets://x",
            "amazon",
        ),
        (
            "airflow.providers.hashicorp.hooks.vault",
            VaultSecretsProvider,
            "ref+vault://a/b",
            "hashicorp",
        ),
    ],
)
def test_missing_extra_is_named(monkeypatch, module, provider, text, extra) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if the extra were not installed
    resolver = SecretsResolver()
    resolver.register(provider())
    with pytest.raises(MissingExtraError) as exc:
        resolver.resolve(text)
    assert f"pip install 'airflow-secretsync[{extra}]'" in str(exc.value)


def test_resolve_reference_masks_and_names_missing_ones(resolver, monkeypatch) -> None:
    from airflow.sdk._shared.secrets_masker import redact

    name = unique("SECRETSYNC_TEST_").upper()
    monkeypatch.setenv(name, json.dumps({"token": CANARY}))
    assert resolve_reference(f"ref+env://{name}#/token") == CANARY
    assert redact(f"the token is {CANARY}") == "the token is ***"
    with pytest.raises(SecretReferenceError) as exc:
        resolve_reference(f"ref+env://{name}#/other")
    assert str(exc.value) == f"secret reference 'ref+env://{name}#/other': no such secret or key"


def test_register_validates_names_and_providers() -> None:
    resolver = SecretsResolver()
    resolver.register(EnvSecretsProvider(), name="environment")
    assert resolver.names == ["environment"]
    with pytest.raises(SecretReferenceError, match="invalid secret provider name 'Bad'"):
        resolver.register(EnvSecretsProvider(), name="Bad")
    with pytest.raises(SecretReferenceError, match="has no get_secret"):
        resolver.register(object(), name="nothing")  # type: ignore[arg-type]
    with pytest.raises(SecretReferenceError, match="unknown secret provider 'env'"):
        resolver.resolve("ref+env://HOME")


def test_a_changed_connection_is_picked_up(resolver, vault_client, servers, monkeypatch) -> None:
    path = unique("refs/switch-")
    vault_client.secrets.kv.v2.create_or_update_secret(
        path=path, secret={"k": "v"}, mount_point="secret"
    )
    ref = f"ref+vault://secret/{path}?connection_id=vault_switch#/k"
    monkeypatch.setenv("AIRFLOW_CONN_VAULT_SWITCH", servers.vault.connection_uri())
    assert value(resolver, ref) == "v"
    moved = json.loads(servers.vault.connection_uri()) | {"password": "rotated-away-token"}
    monkeypatch.setenv("AIRFLOW_CONN_VAULT_SWITCH", json.dumps(moved))
    with pytest.raises(SecretReferenceError, match="rejected the credentials"):
        resolver.resolve(ref)
    monkeypatch.setenv("AIRFLOW_CONN_VAULT_SWITCH", servers.vault.connection_uri())
    assert value(resolver, ref) == "v"
