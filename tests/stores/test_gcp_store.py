"""The gcp store (Secret Manager) on the local API server, through google-cloud-secret-manager."""

from __future__ import annotations

import logging

import pytest

from airflow_secretsync.errors import ConflictError, StoreError
from airflow_secretsync.scopes import overlaps
from airflow_secretsync.stores.base import SecretWrite
from airflow_secretsync.stores.gcp import GcpDestination, GcpSource
from airflow_secretsync.stores.gcp.names import owner_label, secret_id
from tests.stores.conftest import CANARY
from tests.stores.gcp_helpers import (
    OWNER,
    connection,
    dest_block,
    forget,
    ids,
    new_project,
    open_gcp,
    payload,
    raw_client,
    seed,
    values,
    writes,
)


@pytest.fixture
def project(gcp_api, airflow_conn) -> str:
    name = new_project(gcp_api)
    airflow_conn("gcp_test", **connection(gcp_api))
    return name


@pytest.fixture
def sm(gcp_api):
    return raw_client(gcp_api)


def test_source_reads_every_secret_under_the_prefix(gcp_api, sm, project) -> None:
    parent = f"projects/{project}"
    seed(sm, parent, "src-app__db", b'{"user": "app", "port": 5432}')
    seed(sm, parent, "src-token", b"plain-" + CANARY.encode())
    seed(sm, parent, "src-cert", b"\x00\xffbinary")
    rolled_back = seed(sm, parent, "src-rolled", b"old", b"new")
    sm.disable_secret_version(name=f"{rolled_back}/versions/2")
    seed(sm, parent, "src-empty")  # no version at all
    seed(sm, parent, "other-x", b"outside the prefix")

    store = open_gcp(GcpSource(project=project, prefix="src-", connection_id="gcp_test"), "source")

    assert values(store.list_secrets()) == {
        "app/db": {"user": "app", "port": 5432},
        "token": "plain-" + CANARY,
        "cert": b"\x00\xffbinary",
        "rolled": "old",  # the latest *enabled* version
    }
    assert store.description == f"gcp://projects/{project}/secrets/src-"


def test_writes_record_ownership_and_the_exact_path(gcp_api, sm, project) -> None:
    store = open_gcp(dest_block(project))
    store.apply(
        [
            SecretWrite("team/app.db/x y", {"password": CANARY}),
            SecretWrite("token", "text"),
            SecretWrite("cert", b"\x00\xff"),
        ],
        owner=OWNER,
    )
    parent = f"projects/{project}"
    assert ids(sm, parent) == ["out-cert", "out-team__app-db__x-y", "out-token"]
    secret = sm.get_secret(name=f"{parent}/secrets/out-team__app-db__x-y")
    assert dict(secret.labels) == {
        "managed-by": "airflow-secretsync",
        "secretsync-owner": "secretsync-target",
    }
    assert dict(secret.annotations) == {
        "managed-by": "airflow-secretsync",
        "secretsync-owner": OWNER,
        "secretsync-path": "team/app.db/x y",
    }
    assert payload(sm, secret.name) == f'{{"password": "{CANARY}"}}'.encode()
    assert payload(sm, f"{parent}/secrets/out-cert") == b"\x00\xff"
    listed = store.list_secrets()
    assert values(listed) == {
        "team/app.db/x y": {"password": CANARY},
        "token": "text",
        "cert": b"\x00\xff",
    }
    assert {s.owner for s in listed.values()} == {OWNER}


@pytest.mark.parametrize(
    ("policy", "old_state"),
    [("disable", "DISABLED"), ("destroy", "DESTROYED"), ("keep", "ENABLED")],
)
def test_an_update_adds_a_version_and_applies_the_old_version_policy(
    gcp_api, sm, project, policy, old_state
) -> None:
    store = open_gcp(dest_block(project, old_versions=policy))
    store.apply([SecretWrite("db", {"v": 1})], owner=OWNER)
    current = store.list_secrets()["db"]
    store.apply([SecretWrite("db", {"v": 2}, current)], owner=OWNER)

    name = f"projects/{project}/secrets/out-db"
    listed = sm.list_secret_versions(parent=name)
    versions = {v.name.rsplit("/", 1)[1]: v.state.name for v in listed}
    assert versions == {"2": "ENABLED", "1": old_state}
    assert values(store.list_secrets()) == {"db": {"v": 2}}


def test_steady_state_reads_only(gcp_api, sm, project) -> None:
    store = open_gcp(dest_block(project))
    store.apply([SecretWrite("a", "x"), SecretWrite("b", {"k": "v"})], owner=OWNER)
    forget(gcp_api)
    store.list_secrets()
    store.apply([], owner=OWNER)
    assert writes(gcp_api) == []


def test_delete_removes_the_secret_after_rechecking_the_owner(gcp_api, sm, project) -> None:
    store = open_gcp(dest_block(project))
    store.apply([SecretWrite("gone", "x"), SecretWrite("kept", "y")], owner=OWNER)
    listed = store.list_secrets()
    sm.update_secret(
        request={
            "secret": {"name": listed["kept"].version.name, "annotations": {"x": "y"}},
            "update_mask": {"paths": ["annotations"]},
        }
    )
    store.delete(listed["gone"])
    with pytest.raises(ConflictError, match="owner changed"):
        store.delete(listed["kept"])
    assert ids(sm, f"projects/{project}") == ["out-kept"]
    store.delete(listed["gone"])  # already gone: nothing to do


def test_conflicts_become_conflict_errors(gcp_api, sm, project) -> None:
    store = open_gcp(dest_block(project))
    store.apply([SecretWrite("a", "1"), SecretWrite("b", "1"), SecretWrite("c", "1")], owner=OWNER)
    listed = store.list_secrets()
    name = listed["a"].version.name
    # a version added by someone else after the listing: not overwritten
    sm.add_secret_version(request={"parent": name, "payload": {"data": b"theirs"}})
    with pytest.raises(ConflictError, match="'a': a version was added"):
        store.write(SecretWrite("a", "mine", listed["a"]), owner=OWNER)
    assert payload(sm, name) == b"theirs"
    # labels changed after the listing: the etag no longer matches
    b = listed["b"].version
    sm.update_secret(
        request={
            "secret": {"name": b.name, "labels": {**b.labels, "x": "y"}},
            "update_mask": {"paths": ["labels"]},
        }
    )
    with pytest.raises(ConflictError, match="'b'"):
        store.write(SecretWrite("b", "mine", listed["b"]), owner="other/owner")
    with pytest.raises(ConflictError, match="'b'"):
        store.write(SecretWrite("b", "mine", listed["b"]), owner=OWNER)
    assert payload(sm, b.name) == b"1"
    # created by someone else after the listing said it was absent
    seed(sm, f"projects/{project}", "out-new", b"theirs")
    with pytest.raises(ConflictError, match="'new': created by someone else"):
        store.write(SecretWrite("new", "mine"), owner=OWNER)
    # a delete with a stale etag
    c = listed["c"]
    sm.update_secret(
        request={
            "secret": {"name": c.version.name, "labels": {**c.version.labels, "x": "y"}},
            "update_mask": {"paths": ["labels"]},
        }
    )
    with pytest.raises(ConflictError, match="'c'"):
        store.delete(c)
    assert "out-c" in ids(sm, f"projects/{project}")


def test_name_collisions_fail_before_any_write(gcp_api, sm, project) -> None:
    store = open_gcp(dest_block(project))
    seed(sm, f"projects/{project}", "out-by-hand", b"x")
    store.list_secrets()
    forget(gcp_api)
    with pytest.raises(StoreError, match=r"'a__b' and 'a/b' map to the same secret id 'out-a__b'"):
        store.apply([SecretWrite("a/b", "1"), SecretWrite("a__b", "2")], owner=OWNER)
    with pytest.raises(StoreError, match=r"'by.hand' and 'by-hand' map to the same secret id"):
        store.apply([SecretWrite("by.hand", "1")], owner=OWNER)
    with pytest.raises(StoreError, match=r"'by.hand' and 'by-hand'"):
        store.to_stored("1", path="by.hand")  # what the diff calls: dry runs see it too
    with pytest.raises(StoreError, match="256 characters"):
        store.apply([SecretWrite("x" * 252, "1")], owner=OWNER)
    assert writes(gcp_api) == []


def test_a_secret_made_by_hand_reads_with_slashes_for_double_underscores(sm, project) -> None:
    seed(sm, f"projects/{project}", "out-team__db", b"x")
    store = open_gcp(dest_block(project))
    (secret,) = store.list_secrets().values()
    assert (secret.path, secret.owner) == ("team/db", None)
    assert secret_id("out-", "team/db") == "out-team__db"


def test_regional_secrets(gcp_api, sm, project) -> None:
    store = open_gcp(dest_block(project, location="europe-west1"))
    store.apply([SecretWrite("db", {"k": CANARY})], owner=OWNER)
    parent = f"projects/{project}/locations/europe-west1"
    assert ids(sm, parent) == ["out-db"]
    assert ids(sm, f"projects/{project}") == []
    assert values(store.list_secrets()) == {"db": {"k": CANARY}}


def test_too_large_a_value_is_refused_without_showing_it(gcp_api, project) -> None:
    store = open_gcp(dest_block(project))
    with pytest.raises(StoreError) as caught:
        store.to_stored(CANARY * 5000, path="big")
    assert "'big'" in str(caught.value)
    assert "65536" in str(caught.value)
    assert CANARY not in str(caught.value)


def test_wrong_credentials_name_the_connection(gcp_api, airflow_conn, project) -> None:
    airflow_conn("gcp_bad", **connection(gcp_api, access_token="wrong"))
    block = GcpSource(project=project, connection_id="gcp_bad")
    with pytest.raises(StoreError) as caught:
        open_gcp(block, "source").list_secrets()
    message = str(caught.value)
    assert "connection 'gcp_bad'" in message
    assert "credentials were rejected" in message
    assert "OAuth" not in message  # no server text
    with pytest.raises(StoreError, match="GCP connection 'gcp_missing' is not defined"):
        open_gcp(GcpSource(project=project, connection_id="gcp_missing"), "source")
    airflow_conn("gcp_key", conn_type="google_cloud_platform", extra={"keyfile_dict": CANARY})
    with pytest.raises(StoreError) as caught:
        open_gcp(GcpSource(project=project, connection_id="gcp_key"), "source")
    assert "GCP connection 'gcp_key': the service account key is invalid" in str(caught.value)
    assert CANARY not in str(caught.value)
    block = GcpSource(project="not-my-project", connection_id="gcp_test")
    with pytest.raises(StoreError, match="HTTP 403: permission denied") as caught:
        open_gcp(block, "source").list_secrets()
    assert "secretmanager.secrets.list" not in str(caught.value)


def test_project_comes_from_the_connection(gcp_api, sm, airflow_conn, project) -> None:
    airflow_conn("gcp_proj", **connection(gcp_api, project=project))
    seed(sm, f"projects/{project}", "p-x", b"1")
    store = open_gcp(GcpSource(prefix="p-", connection_id="gcp_proj"), "source")
    assert values(store.list_secrets()) == {"x": "1"}
    airflow_conn("gcp_noproj", **connection(gcp_api))
    with pytest.raises(StoreError, match=r"no project.*'gcp_noproj'"):
        open_gcp(GcpSource(connection_id="gcp_noproj"), "source")


def test_no_value_in_logs(gcp_api, sm, project, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    store = open_gcp(dest_block(project))
    store.apply([SecretWrite("a", {"k": CANARY}), SecretWrite("b", CANARY)], owner=OWNER)
    listed = store.list_secrets()
    store.apply([SecretWrite("a", {"k": CANARY + "2"}, listed["a"])], owner=OWNER)
    assert repr(listed["a"]).count(CANARY) == 0
    assert CANARY not in caplog.text


def test_scopes() -> None:
    def scope(block_type=GcpDestination, **fields):
        return block_type(**fields).scope()

    a = scope(project="proj-a", prefix="app")
    assert str(a) == "gcp:proj-a:app"
    assert overlaps(a, scope(GcpSource, project="proj-a", prefix="app-x"))
    assert not overlaps(a, scope(project="proj-a", prefix="other"))
    assert not overlaps(a, scope(project="proj-b", prefix="app"))
    assert not overlaps(a, scope(project="proj-a", location="europe-west1", prefix="app"))
    assert overlaps(a, scope(prefix="app"))  # the connection's project could be proj-a
    assert str(scope(project="proj-a", location="europe-west1")) == "gcp:proj-a:europe-west1:*"


def test_block_validation() -> None:
    with pytest.raises(ValueError, match="prefix"):
        GcpDestination(project="proj-a", prefix="a/b")
    with pytest.raises(ValueError, match="set by secretsync"):
        GcpDestination(project="proj-a", labels={"managed-by": "me"})
    with pytest.raises(ValueError, match="replica_locations is for global"):
        GcpDestination(project="proj-a", location="europe-west1", replica_locations=["us-east1"])


def test_owner_label_is_label_safe() -> None:
    assert owner_label("My_DAG/Prod.EU") == "my_dag-prod-eu"
    long = owner_label("d" * 80 + "/t")
    assert len(long) == 63
    assert long.startswith("d" * 54 + "-")
