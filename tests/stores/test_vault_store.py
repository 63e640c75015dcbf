"""The Vault KV v2 store against the real OpenBao dev server."""

from __future__ import annotations

import logging

import pytest
from hvac.exceptions import InvalidPath

from airflow_secretsync.core.merge_store import replace_merged
from airflow_secretsync.errors import ConflictError, StoreError
from airflow_secretsync.stores.base import SecretWrite
from airflow_secretsync.stores.vault import store as vault_module
from tests.helpers import short_lived_approle, wait_until_expired
from tests.stores.conftest import CANARY, unique


@pytest.fixture
def root(vault_client) -> str:
    """A fresh folder on the ``secret`` mount."""
    return unique("vault")


def make_source(factory, root: str, mount: str = "secret", **extra):
    return factory(sources={"src": {"vault": {"mount": mount, "path": root, **extra}}}).source(
        "src"
    )


def put(vault_client, path: str, value: dict, mount: str = "secret") -> None:
    vault_client.secrets.kv.v2.create_or_update_secret(path=path, secret=value, mount_point=mount)


def metadata(vault_client, path: str) -> dict:
    return vault_client.secrets.kv.v2.read_secret_metadata(path=path, mount_point="secret")["data"]


def test_lists_nested_paths_breadth_first_with_values_and_versions(
    factory, vault_client, root
) -> None:
    put(vault_client, f"{root}/top", {"a": 1})
    put(vault_client, f"{root}/app/db", {"host": "db", "port": 5432})
    put(vault_client, f"{root}/app/nested/deep/leaf", {"k": "v"})
    put(vault_client, f"{root}/app/nested/deep/leaf", {"k": "v2"})
    put(vault_client, f"{root}-sibling/outside", {"no": "no"})

    secrets = make_source(factory, root).list_secrets()

    assert sorted(secrets) == ["app/db", "app/nested/deep/leaf", "top"]
    assert secrets["app/db"].value == {"host": "db", "port": 5432}
    assert secrets["app/nested/deep/leaf"].value == {"k": "v2"}
    assert secrets["app/nested/deep/leaf"].version.number == 2
    assert not any(s.managed for s in secrets.values())


def test_empty_or_missing_path_lists_nothing(factory, root) -> None:
    assert make_source(factory, root).list_secrets() == {}


def test_write_marks_ownership_and_keeps_user_metadata(factory, vault_client, root) -> None:
    put(vault_client, f"{root}/theirs", {"a": 1})
    vault_client.secrets.kv.v2.update_metadata(
        path=f"{root}/theirs", mount_point="secret", custom_metadata={"team": "platform"}
    )
    store = make_source(factory, root)
    current = store.list_secrets()["theirs"]
    assert not current.managed

    store.write(SecretWrite("theirs", {"a": 2}, current), owner="Staging")
    store.write(SecretWrite("mine/new", {"b": 1}), owner="Staging")

    assert metadata(vault_client, f"{root}/theirs")["custom_metadata"] == {
        "team": "platform",
        "managed-by": "airflow-secretsync",
        "secretsync-owner": "Staging",
    }
    after = store.list_secrets()
    assert after["theirs"].managed
    assert after["theirs"].version.number == 2
    assert after["theirs"].value == {"a": 2}
    assert after["mine/new"].managed
    assert after["mine/new"].version.number == 1


def test_concurrent_write_between_read_and_write_is_not_overwritten(
    factory, vault_client, root
) -> None:
    put(vault_client, f"{root}/app", {"v": "original"})
    store = make_source(factory, root)
    read = store.list_secrets()["app"]
    put(vault_client, f"{root}/app", {"v": "someone else"})

    with pytest.raises(ConflictError) as exc:
        store.write(SecretWrite("app", {"v": "ours"}, read), owner="T")

    assert "vault://secret/" in str(exc.value)
    assert "'app'" in str(exc.value)
    stored = vault_client.secrets.kv.v2.read_secret_version(
        path=f"{root}/app", mount_point="secret", raise_on_deleted_version=True
    )
    assert stored["data"]["data"] == {"v": "someone else"}


def test_create_of_a_secret_that_appeared_after_the_read_conflicts(
    factory, vault_client, root
) -> None:
    store = make_source(factory, root)
    assert store.list_secrets() == {}
    put(vault_client, f"{root}/new", {"v": "theirs"})

    with pytest.raises(ConflictError):
        store.write(SecretWrite("new", {"v": "ours"}), owner="T")


@pytest.mark.parametrize("how", ["deleted", "destroyed"])
def test_deleted_secret_is_not_current_and_can_be_written_again(
    factory, vault_client, root, how
) -> None:
    put(vault_client, f"{root}/gone", {"v": 1})
    put(vault_client, f"{root}/gone", {"v": 2})
    if how == "deleted":
        vault_client.secrets.kv.v2.delete_latest_version_of_secret(
            path=f"{root}/gone", mount_point="secret"
        )
    else:
        vault_client.secrets.kv.v2.destroy_secret_versions(
            path=f"{root}/gone", versions=[2], mount_point="secret"
        )
    store = make_source(factory, root)
    assert store.list_secrets() == {}

    store.write(SecretWrite("gone", {"v": 3}), owner="T")

    assert store.list_secrets()["gone"].value == {"v": 3}
    assert store.list_secrets()["gone"].version.number == 3


def test_delete_removes_metadata_and_all_versions(factory, vault_client, root) -> None:
    put(vault_client, f"{root}/old", {"v": 1})
    put(vault_client, f"{root}/old", {"v": 2})
    store = make_source(factory, root)

    store.delete(store.list_secrets()["old"])

    assert store.list_secrets() == {}
    with pytest.raises(InvalidPath):
        vault_client.secrets.kv.v2.read_secret_metadata(path=f"{root}/old", mount_point="secret")


@pytest.mark.parametrize(
    ("value", "raw"),
    [
        ("plain text", {"value": "plain text"}),
        (42, {"value": "42"}),
        ([1, "a"], {"value": '[1, "a"]'}),
        ({"n": 1.0, "t": (1, 2)}, {"n": 1.0, "t": [1, 2]}),
    ],
)
def test_non_dict_values_are_stored_under_value_and_read_back(
    factory, vault_client, root, value, raw
) -> None:
    store = make_source(factory, root)

    store.write(SecretWrite("x", value), owner="T")

    stored = vault_client.secrets.kv.v2.read_secret_version(
        path=f"{root}/x", mount_point="secret", raise_on_deleted_version=True
    )
    assert stored["data"]["data"] == raw
    assert store.list_secrets()["x"].value == store.to_stored(value)
    assert store.to_stored(value) == (value if not isinstance(value, dict) else raw)


def test_only_values_this_tool_wrapped_are_unwrapped(factory, vault_client, root) -> None:
    put(vault_client, f"{root}/human", {"value": "x"})
    store = make_source(factory, root)
    store.write(SecretWrite("was-text", "text"), owner="T")
    current = store.list_secrets()["was-text"]
    store.write(SecretWrite("was-text", {"value": "now a dict"}, current), owner="T")

    secrets = store.list_secrets()

    assert secrets["human"].value == {"value": "x"}
    assert secrets["was-text"].value == {"value": "now a dict"}
    assert "secretsync-value" not in metadata(vault_client, f"{root}/was-text")["custom_metadata"]


def test_binary_value_is_refused_naming_the_path(factory, root) -> None:
    store = make_source(factory, root)
    with pytest.raises(StoreError) as exc:
        store.write(SecretWrite("certs/key", CANARY.encode()), owner="T")
    assert "'certs/key'" in str(exc.value)
    assert "binary" in str(exc.value)
    assert CANARY not in str(exc.value)
    assert store.list_secrets() == {}


def test_unicode_and_64kb_values_round_trip(factory, root) -> None:
    store = make_source(factory, root)
    unicode_value = {"grüße": "日本語 🔐", "emoji": "☃" * 10}
    big_value = {"blob": "x" * 65_536, "n": 1}
    store.write(SecretWrite("ünï/cödé", unicode_value), owner="T")
    store.write(SecretWrite("big", big_value), owner="T")

    secrets = store.list_secrets()

    assert secrets["ünï/cödé"].value == unicode_value
    assert secrets["big"].value == big_value


@pytest.mark.parametrize("bad", ["../escape", "a//b", "/absolute", "a/./b"])
def test_invalid_paths_are_rejected(factory, root, bad) -> None:
    with pytest.raises(StoreError, match="invalid path"):
        make_source(factory, bad)
    store = make_source(factory, root)
    with pytest.raises(StoreError, match="invalid path"):
        store.write(SecretWrite(bad, {"a": 1}))
    assert store.list_secrets() == {}


def test_listing_depth_is_bounded(factory, vault_client, root, monkeypatch) -> None:
    put(vault_client, f"{root}/a/b/c/d", {"v": 1})
    monkeypatch.setattr(vault_module, "MAX_DEPTH", 2)
    with pytest.raises(StoreError, match="deeper than 2 levels"):
        make_source(factory, root).list_secrets()


def test_one_client_and_one_kv_version_lookup_per_connection(factory, vault_client, root) -> None:
    put(vault_client, f"{root}/a/x", {"v": 1})
    made = factory(
        sources={"a": {"vault": {"path": f"{root}/a"}}, "b": {"vault": {"path": f"{root}/b"}}}
    )
    first, second = made.source("a"), made.source("b")
    assert first.connection is second.connection
    requests: list[str] = []
    first.connection.client.adapter.session.hooks["response"].append(
        lambda response, *args, **kwargs: requests.append(response.request.url)
    )

    for store in (first, second, first):
        store.list_secrets()

    assert sum("sys/internal/ui/mounts" in url for url in requests) == 1
    assert sum("/data/" in url for url in requests) == 2  # one read per secret and listing


def test_kv_version_1_mount_is_refused(factory, vault_client) -> None:
    mount = unique("kv1")
    vault_client.sys.enable_secrets_engine("kv", path=mount, options={"version": "1"})
    try:
        with pytest.raises(StoreError, match="not a KV version 2"):
            make_source(factory, "x", mount=mount).list_secrets()
    finally:
        vault_client.sys.disable_secrets_engine(path=mount)


def test_permission_denied_names_location_and_path(
    factory, vault_client, vault_conn_fields, airflow_conn, root
) -> None:
    put(vault_client, f"{root}/locked", {"secret": CANARY})
    policy = unique("list-only")
    vault_client.sys.create_or_update_policy(
        name=policy,
        policy=f'path "secret/metadata/{root}/*" {{ capabilities = ["list"] }}\n'
        f'path "secret/metadata/{root}" {{ capabilities = ["list"] }}',
    )
    token = vault_client.auth.token.create(policies=[policy], ttl="10m")["auth"]["client_token"]
    conn = airflow_conn("vault_limited", **{**vault_conn_fields, "password": token})

    with pytest.raises(StoreError) as exc:
        make_source(factory, root, connection_id=conn).list_secrets()

    message = str(exc.value)
    assert "permission denied" in message
    assert "'locked'" in message
    assert f"vault://secret/{root}" in message
    assert "vault_limited" in message
    assert CANARY not in message
    assert token not in message
    assert exc.value.__cause__ is None
    assert exc.value.__suppress_context__


def test_wrong_token_gives_one_clear_error(factory, vault_conn_fields, airflow_conn, root) -> None:
    conn = airflow_conn("vault_bad_token", **{**vault_conn_fields, "password": CANARY})
    with pytest.raises(StoreError) as exc:
        make_source(factory, root, connection_id=conn)
    assert "rejected the credentials" in str(exc.value)
    assert "vault_bad_token" in str(exc.value)
    assert CANARY not in str(exc.value)
    assert exc.value.__suppress_context__


def test_server_down_gives_one_clear_error(factory, vault_conn_fields, airflow_conn, root) -> None:
    from devtools.servers import free_port

    port = free_port()
    conn = airflow_conn("vault_down", **{**vault_conn_fields, "port": port})
    with pytest.raises(StoreError) as exc:
        make_source(factory, root, connection_id=conn)
    assert f"cannot reach Vault at http://127.0.0.1:{port}" in str(exc.value)
    assert exc.value.__suppress_context__


def test_namespace_comes_from_the_connection(
    factory, vault_client, vault_conn_fields, airflow_conn
) -> None:
    import hvac

    namespace = unique("ns")
    vault_client.sys.create_namespace(path=namespace)
    in_namespace = hvac.Client(url=vault_client.url, token=vault_client.token, namespace=namespace)
    in_namespace.sys.enable_secrets_engine("kv", path="kv", options={"version": "2"})
    in_namespace.secrets.kv.v2.create_or_update_secret(
        path="team/app", secret={"ns": namespace}, mount_point="kv"
    )
    extra = {**vault_conn_fields["extra"], "namespace": namespace}
    conn = airflow_conn("vault_ns", **{**vault_conn_fields, "extra": extra})

    secrets = make_source(factory, "team", mount="kv", connection_id=conn).list_secrets()

    assert secrets["app"].value == {"ns": namespace}


def test_vault_merge_store_replace_merged_holds_exactly_the_given_secrets(
    factory, vault_client, root
) -> None:
    made = factory(
        sources={"src": {"vault": {"path": root}}},
        targets={"Base": ["src"]},
        merge_store={"vault": {"mount": "secret", "path": f"{root}/merged"}},
    )
    store = made.merge_store("Base")
    assert store.description == f"vault://secret/{root}/merged/Base"
    replace_merged(store, {"a": {"v": 1}, "b/c": {"v": 2}}, owner="Base")
    replace_merged(store, {"a": {"v": 1}, "d": "text"}, owner="Base")

    secrets = store.list_secrets()

    assert {p: s.value for p, s in secrets.items()} == {"a": {"v": 1}, "d": "text"}
    assert secrets["a"].version.number == 1  # unchanged secrets are not written again
    assert all(s.managed for s in secrets.values())


def test_nothing_leaks_into_logs_or_reprs(factory, vault_client, root, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="airflow_secretsync")
    put(vault_client, f"{root}/s", {"password": CANARY})
    store = make_source(factory, root)
    secrets = store.list_secrets()
    store.write(SecretWrite("s2", {"password": CANARY}), owner="T")
    assert secrets["s"].value == {"password": CANARY}
    assert CANARY not in caplog.text
    assert CANARY not in repr(secrets)
    assert CANARY not in repr(store)


def test_approle_login_through_the_hook_and_refused_login(
    factory, vault_client, vault_conn_fields, airflow_conn, root
) -> None:
    mount = unique("approle")
    vault_client.sys.enable_auth_method("approle", path=mount)
    policy = unique("reader")
    vault_client.sys.create_or_update_policy(
        name=policy,
        policy='path "secret/*" { capabilities = ["read", "list"] }',
    )
    vault_client.auth.approle.create_or_update_approle(
        "sync", token_policies=[policy], mount_point=mount
    )
    role_id = vault_client.auth.approle.read_role_id("sync", mount_point=mount)["data"]["role_id"]
    secret_id = vault_client.auth.approle.generate_secret_id("sync", mount_point=mount)["data"][
        "secret_id"
    ]
    put(vault_client, f"{root}/app", {"v": 1})
    extra = {**vault_conn_fields["extra"], "auth_type": "approle", "auth_mount_point": mount}
    fields = {**vault_conn_fields, "login": role_id, "extra": extra}

    good = airflow_conn("vault_approle", **{**fields, "password": secret_id})
    assert make_source(factory, root, connection_id=good).list_secrets()["app"].value == {"v": 1}

    bad = airflow_conn("vault_approle_bad", **{**fields, "password": CANARY})
    with pytest.raises(StoreError) as exc:
        make_source(factory, root, connection_id=bad)
    assert "Vault connection 'vault_approle_bad'" in str(exc.value)
    assert "answered HTTP 400: invalid request" in str(exc.value)  # the body is not quoted
    assert CANARY not in str(exc.value)
    assert secret_id not in str(exc.value)


def test_a_long_lived_store_logs_in_again_when_its_approle_token_expired(
    factory, vault_client, vault_conn_fields, airflow_conn, root
) -> None:
    """AppRole tokens of 2 s (TTL = max TTL): a store used after its token expired logs in
    again (a 403 answer) and retries once; listing, reading and writing keep working."""
    mount, role_id, secret_id = short_lived_approle(vault_client)
    put(vault_client, f"{root}/app", {"v": 1})
    extra = {**vault_conn_fields["extra"], "auth_type": "approle", "auth_mount_point": mount}
    conn_id = airflow_conn(
        "vault_short",
        **{**vault_conn_fields, "login": role_id, "password": secret_id, "extra": extra},
    )
    store = make_source(factory, root, connection_id=conn_id)
    assert store.list_secrets()["app"].value == {"v": 1}
    first_token = store.connection.client.token

    wait_until_expired(vault_client, first_token)
    put(vault_client, f"{root}/later", {"v": 2})
    assert {p: s.value for p, s in store.list_secrets().items()} == {
        "app": {"v": 1},
        "later": {"v": 2},
    }
    assert store.connection.client.token != first_token

    wait_until_expired(vault_client, store.connection.client.token)
    store.write(SecretWrite("written", {"v": 3}), owner="T")
    assert vault_client.secrets.kv.v2.read_secret_version(
        path=f"{root}/written", mount_point="secret", raise_on_deleted_version=True
    )["data"]["data"] == {"v": 3}


def test_a_missing_permission_is_still_refused_after_logging_in_again(
    factory, vault_client, vault_conn_fields, airflow_conn, root
) -> None:
    """A 403 that is a policy's answer fails again after the one re-login: a clear StoreError."""
    mount, role_id, secret_id = short_lived_approle(
        vault_client, 'path "secret/metadata/elsewhere/*" { capabilities = ["list"] }'
    )
    extra = {**vault_conn_fields["extra"], "auth_type": "approle", "auth_mount_point": mount}
    conn_id = airflow_conn(
        "vault_narrow",
        **{**vault_conn_fields, "login": role_id, "password": secret_id, "extra": extra},
    )
    put(vault_client, f"{root}/app", {"v": CANARY})
    with pytest.raises(StoreError) as exc:
        make_source(factory, root, connection_id=conn_id).list_secrets()
    assert "permission denied" in str(exc.value)
    assert CANARY not in str(exc.value)


def test_kubernetes_auth_without_its_token_file_is_a_store_error(
    factory, vault_conn_fields, airflow_conn, tmp_path, root
) -> None:
    missing = tmp_path / "no-such-token"
    extra = {
        **vault_conn_fields["extra"],
        "auth_type": "kubernetes",
        "kubernetes_role": "sync",
        "kubernetes_jwt_path": str(missing),
    }
    conn_id = airflow_conn("vault_k8s", **{**vault_conn_fields, "extra": extra})
    with pytest.raises(StoreError) as exc:
        make_source(factory, root, connection_id=conn_id)
    assert str(exc.value) == (
        f"Vault connection 'vault_k8s': cannot read {missing} (No such file or directory)"
    )


def test_an_invalid_connection_never_quotes_its_fields(
    factory, vault_conn_fields, airflow_conn, root
) -> None:
    """The hashicorp provider's error quotes the unknown auth type: a value pasted there by
    mistake must not reach the message."""
    extra = {**vault_conn_fields["extra"], "auth_type": CANARY}
    conn_id = airflow_conn("vault_bad_auth", **{**vault_conn_fields, "extra": extra})
    with pytest.raises(StoreError) as exc:
        make_source(factory, root, connection_id=conn_id).list_secrets()
    assert "Vault connection 'vault_bad_auth' is invalid" in str(exc.value)
    assert CANARY not in str(exc.value)
