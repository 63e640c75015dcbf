"""The ``kubernetes`` store kind against the local Kubernetes API server, through the official
client: sync through the engine, ownership, conflicts, name mapping, credentials, leaks."""

from __future__ import annotations

import base64
import itertools
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from airflow_secretsync.client_logging import quiet_client_loggers
from airflow_secretsync.core.engine import Engine, RunOptions
from airflow_secretsync.errors import ConflictError, StoreError
from airflow_secretsync.scopes import overlaps
from airflow_secretsync.stores.base import SecretWrite, SourceStore, StoredSecret
from airflow_secretsync.stores.kubernetes import KIND, KubernetesDestination, KubernetesSource
from airflow_secretsync.stores.kubernetes import store as k8s_store
from airflow_secretsync.stores.registry import Clients, OpenContext
from devtools.apiservers.base import ApiServer, start_api_server
from tests.stores.conftest import CANARY, pipeline

DAG_ID = "secretsync_k8s"
OWNER = f"{DAG_ID}/Prod"
MANAGED_BY = "app.kubernetes.io/managed-by"
_namespaces = itertools.count()


@pytest.fixture(scope="module")
def kubernetes_api() -> Iterator[ApiServer]:
    server = start_api_server("kubernetes")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def namespace(kubernetes_api: ApiServer) -> str:
    name = f"k8s-{next(_namespaces)}"
    kubernetes_api.control("PUT", f"namespaces/{name}")
    return name


@pytest.fixture
def core(kubernetes_api: ApiServer) -> Iterator[client.CoreV1Api]:
    """A client of its own, to seed and inspect Secrets."""
    configuration = client.Configuration(
        host=kubernetes_api.url,
        api_key={"BearerToken": kubernetes_api.token},
        api_key_prefix={"BearerToken": "Bearer"},
    )
    api = client.ApiClient(configuration)
    yield client.CoreV1Api(api)
    api.close()


@pytest.fixture
def k8s_conn(kubernetes_api: ApiServer, airflow_conn) -> str:
    return airflow_conn(
        "k8s_test", conn_type="kubernetes", host=kubernetes_api.url, password=kubernetes_api.token
    )


@pytest.fixture
def clients() -> Iterator[Clients]:
    made = Clients()
    yield made
    made.close()


@pytest.fixture
def open_store(k8s_conn: str, clients: Clients):
    """Open a ``kubernetes`` block through the kind, as the factory will."""

    def make(role: str = "destination", **block: Any) -> Any:
        model = KIND.blocks[role]
        context = OpenContext(
            role=role,
            name="Prod",
            config=pipeline(),
            clients=clients,
            owner=OWNER if role == "destination" else "",
        )
        return KIND.open(model(connection_id=k8s_conn, **block), context)

    return make


class MemorySource(SourceStore):
    description = "memory://"

    def __init__(self, secrets: dict[str, Any]) -> None:
        self.secrets = secrets

    def list_secrets(self) -> dict[str, StoredSecret]:
        return {path: StoredSecret(path, value) for path, value in self.secrets.items()}


class Stores:
    """The engine's stores: an in-memory or Kubernetes source, a Kubernetes destination."""

    def __init__(self, source: SourceStore, destination: Any) -> None:
        self._source, self._destination = source, destination

    def source(self, name: str) -> SourceStore:
        return self._source

    def destination(self, target: str) -> Any:
        return self._destination

    def merge_store(self, target: str) -> Any:
        raise AssertionError("merging is disabled in these tests")


def run(source: SourceStore | dict, destination: Any, *, dry_run: bool = False, **sync: Any):
    """One engine run of target ``Prod`` (imports ``src``) into ``destination``."""
    adopt = sync.pop("adopt", False)
    config = pipeline(
        dag={"dag_id": DAG_ID},
        pipeline={"merge": {"enabled": False}, "sync": sync},
        sources={"src": {"vault": {"path": "unused"}}},  # the Stores above stand in for it
        targets={"Prod": {"imports": ["src"], "vault": {"path": "unused-dest"}, "adopt": adopt}},
    )
    if isinstance(source, dict):
        source = MemorySource(source)
    with quiet_client_loggers():
        report = Engine(config, Stores(source, destination), RunOptions(dry_run=dry_run)).run()
    (target,) = report.targets
    return target


def writes(api: ApiServer) -> list[dict[str, Any]]:
    return [r for r in api.control("GET", "requests") if r["method"] != "GET"]


def forget(api: ApiServer) -> None:
    api.control("DELETE", "requests")


def b64(text: str | bytes) -> str:
    return base64.b64encode(text if isinstance(text, bytes) else text.encode()).decode()


def seed(core, namespace: str, name: str, labels=None, annotations=None, type_=None, **data):
    meta = client.V1ObjectMeta(name=name, labels=labels, annotations=annotations)
    body = client.V1Secret(metadata=meta, type=type_, data={k: b64(v) for k, v in data.items()})
    return core.create_namespaced_secret(namespace, body)


def contents(core, namespace: str) -> dict[str, client.V1Secret]:
    return {s.metadata.name: s for s in core.list_namespaced_secret(namespace).items}


def decoded(secret: client.V1Secret) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in (secret.data or {}).items()}


DESIRED = {
    "app/db": {"user": "app", "password": CANARY, "port": 5432, "opts": {"tls": True}},
    "App/Cache_Main": "redis-" + CANARY,
    "list": [1, "two"],
}


# -- the sync cycle --------------------------------------------------------------------------


def test_first_sync_then_steady_state_then_modify(kubernetes_api, core, namespace, open_store):
    store = open_store(namespace=namespace, prefix="app-")
    first = run(DESIRED, store)
    assert (first.status, first.summary.added) == ("success", 3)

    secrets = contents(core, namespace)
    assert set(secrets) == {"app-app.db", "app-app.cache-main", "app-list"}
    db = secrets["app-app.db"]
    assert db.type == "Opaque"
    assert decoded(db) == {
        "user": "app",
        "password": CANARY,
        "port": "5432",
        "opts": '{"tls": true}',
    }
    assert db.metadata.labels == {MANAGED_BY: "airflow-secretsync", "secretsync.io/managed": "true"}
    assert db.metadata.annotations == {"secretsync.io/owner": OWNER, "secretsync.io/path": "app/db"}
    cache = secrets["app-app.cache-main"]
    assert decoded(cache) == {"value": "redis-" + CANARY}
    assert cache.metadata.annotations["secretsync.io/value"] == "string"
    assert cache.metadata.annotations["secretsync.io/path"] == "App/Cache_Main"
    assert decoded(secrets["app-list"]) == {"value": '[1, "two"]'}

    forget(kubernetes_api)
    steady = run(DESIRED, store)
    assert (steady.status, steady.summary.unchanged, steady.summary.changed) == ("success", 3, 0)
    assert writes(kubernetes_api) == []

    changed = {**DESIRED, "app/db": {"user": "app2", "password": CANARY, "port": 5432, "x": "1"}}
    modified = run(changed, store)
    assert modified.summary.modified == 1
    (change,) = modified.changes
    assert (change.keys_added, change.keys_removed, change.keys_modified) == (
        ("x",),
        ("opts",),
        ("user",),
    )
    assert [w["method"] for w in writes(kubernetes_api)] == ["PUT"]
    assert decoded(contents(core, namespace)["app-app.db"])["user"] == "app2"


def test_values_round_trip(core, namespace, open_store):
    store = open_store(namespace=namespace)
    values = {"s": "text", "n": 1.5, "l": [1, {"a": None}], "b": b"\x00\xffbin", "d": {"k": "v"}}
    for path, value in values.items():
        store.write(SecretWrite(path, store.to_stored(value, path=path)), owner=OWNER)
    listed = store.list_secrets()
    assert {path: s.value for path, s in listed.items()} == values
    assert {s.owner for s in listed.values()} == {OWNER}
    assert base64.b64decode(contents(core, namespace)["b"].data["value"]) == b"\x00\xffbin"


def test_dry_run_writes_nothing(kubernetes_api, core, namespace, open_store):
    forget(kubernetes_api)
    report = run(DESIRED, open_store(namespace=namespace), dry_run=True)
    assert report.summary.added == 3
    assert writes(kubernetes_api) == []
    assert contents(core, namespace) == {}


def test_delete_orphans_deletes_own_secrets_only(core, namespace, open_store):
    store = open_store(namespace=namespace)
    run({"keep": {"a": "1"}, "gone": {"a": "2"}}, store)
    seed(core, namespace, "unmanaged", password=CANARY)
    seed(
        core,
        namespace,
        "foreign",
        labels={MANAGED_BY: "airflow-secretsync"},
        annotations={"secretsync.io/owner": "other_dag/Prod"},
        password=CANARY,
    )
    report = run({"keep": {"a": "1"}}, store, delete_orphans=True)
    assert report.status == "success"
    assert [(c.path, c.change_type) for c in report.changes] == [("gone", "removed")]
    assert set(contents(core, namespace)) == {"keep", "unmanaged", "foreign"}


def test_foreign_secrets_need_adopt(kubernetes_api, core, namespace, open_store):
    seed(core, namespace, "db", labels={"team": "a"}, annotations={"note": "x"}, password="old")
    seed(
        core,
        namespace,
        "api",
        labels={MANAGED_BY: "airflow-secretsync"},
        annotations={"secretsync.io/owner": "other_dag/Prod"},
        token="old",
    )
    store = open_store(namespace=namespace)
    desired = {"db": {"password": CANARY}, "api": {"token": CANARY}}
    forget(kubernetes_api)
    refused = run(desired, store)
    assert refused.status == "failed"
    assert "api" in refused.error
    assert "db" in refused.error
    assert writes(kubernetes_api) == []

    adopted = run(desired, store, adopt=True)
    assert (adopted.status, adopted.summary.modified) == ("success", 2)
    db = contents(core, namespace)["db"]
    assert decoded(db) == {"password": CANARY}
    assert db.metadata.labels["team"] == "a"  # the user's own labels and annotations stay
    assert db.metadata.annotations["note"] == "x"
    assert db.metadata.annotations["secretsync.io/owner"] == OWNER
    assert contents(core, namespace)["api"].metadata.annotations["secretsync.io/owner"] == OWNER


def test_other_secret_types_are_skipped_and_never_touched(core, namespace, open_store):
    seed(core, namespace, "tls", type_="kubernetes.io/tls", **{"tls.crt": "c", "tls.key": "k"})
    store = open_store(namespace=namespace)
    assert store.list_secrets() == {}
    report = run({"tls": {"a": "1"}}, store)
    assert report.status == "failed"
    assert "'tls'" in report.error
    assert "kubernetes.io/tls" in report.error
    assert decoded(contents(core, namespace)["tls"]) == {"tls.crt": "c", "tls.key": "k"}


# -- name mapping ----------------------------------------------------------------------------


def test_collisions_after_mapping_fail_before_any_write(
    kubernetes_api, core, namespace, open_store
):
    store = open_store(namespace=namespace)
    forget(kubernetes_api)
    for dry_run in (True, False):
        report = run(
            {"a/b": {"k": "1"}, "A.b": {"k": "2"}, "c": {"k": "3"}}, store, dry_run=dry_run
        )
        assert report.status == "failed"
        assert "'A.b' and 'a/b' both map to the Secret 'a.b'" in report.error
    assert writes(kubernetes_api) == []
    assert contents(core, namespace) == {}


def test_a_path_mapping_to_an_existing_secret_of_another_path_is_refused(
    kubernetes_api, core, namespace, open_store
):
    seed(core, namespace, "app.db", password="old")
    forget(kubernetes_api)
    report = run({"app/db": {"password": CANARY}}, open_store(namespace=namespace), adopt=True)
    assert report.status == "failed"
    assert "'app/db' maps to the Secret 'app.db', which already holds 'app.db'" in report.error
    assert writes(kubernetes_api) == []


@pytest.mark.parametrize(
    ("value", "problem"),
    [({"bad key!": "x"}, "key 'bad key!' cannot be a Secret data key"), ({"k": b"\x00"}, "binary")],
)
def test_values_a_secret_cannot_hold_are_refused(namespace, open_store, value, problem):
    store = open_store(namespace=namespace)
    with pytest.raises(StoreError, match="'p'") as caught:
        store.to_stored(value, path="p")
    assert problem in str(caught.value)


def test_a_path_that_maps_to_no_valid_name_is_refused(namespace, open_store):
    store = open_store(namespace=namespace)
    with pytest.raises(StoreError, match=r"'-x/y': maps to '-x\.y', which is not a valid Secret"):
        store.to_stored({}, path="-x/y")


# -- conflicts -------------------------------------------------------------------------------


def test_stale_writes_and_deletes_are_conflicts(core, namespace, open_store):
    store = open_store(namespace=namespace)
    store.write(SecretWrite("db", {"a": "1"}), owner=OWNER)
    (current,) = store.list_secrets().values()
    stale = core.read_namespaced_secret("db", namespace)
    stale.data = {"a": b64("changed")}
    core.replace_namespaced_secret("db", namespace, stale)  # a concurrent writer

    with pytest.raises(ConflictError, match="'db': changed since it was read"):
        store.write(SecretWrite("db", {"a": "2"}, current), owner=OWNER)
    with pytest.raises(ConflictError, match="not deleted"):
        store.delete(current)
    with pytest.raises(ConflictError, match="created by someone else"):
        store.write(SecretWrite("db", {"a": "3"}), owner=OWNER)
    assert decoded(contents(core, namespace)["db"]) == {"a": "changed"}


def test_a_conflict_is_re_diffed_by_the_engine(kubernetes_api, core, namespace, open_store):
    """A Secret created between the listing and the POST: the engine re-reads, finds it
    unmanaged, and refuses to overwrite it."""
    store = open_store(namespace=namespace)
    listed = store.list_secrets

    def list_then_race() -> dict[str, StoredSecret]:
        result = listed()
        if "db" not in contents(core, namespace):
            seed(core, namespace, "db", password="theirs")
        return result

    store.list_secrets = list_then_race
    forget(kubernetes_api)
    report = run({"db": {"password": CANARY}}, store)
    # the racing writer's create, then ours: a conflict, re-diffed into a refusal
    assert [(w["method"], w["status"]) for w in writes(kubernetes_api)] == [
        ("POST", 201),
        ("POST", 409),
    ]
    assert report.status == "failed"
    assert "adopt" in report.error
    assert decoded(contents(core, namespace)["db"]) == {"password": "theirs"}


# -- source role -----------------------------------------------------------------------------


def test_source_reads_opaque_secrets_filtered_by_label(core, namespace, open_store, monkeypatch):
    monkeypatch.setattr(k8s_store, "PAGE_SIZE", 2)  # the listing follows `continue` tokens
    for name in ("a", "b", "c", "d"):
        seed(core, namespace, name, labels={"team": "x"}, key=name)
    seed(core, namespace, "e", labels={"team": "y"}, key="e")
    seed(core, namespace, "tls", labels={"team": "x"}, type_="kubernetes.io/tls", k="v")
    source = open_store("source", namespace=namespace, label_selector="team=x")
    secrets = source.list_secrets()
    assert {p: s.value for p, s in secrets.items()} == {n: {"key": n} for n in "abcd"}
    assert all(s.owner is None for s in secrets.values())


def test_kubernetes_to_kubernetes_keeps_paths_and_values(core, namespace, open_store):
    first = open_store(namespace=namespace, prefix="src-")
    run(DESIRED, first)
    destination = open_store(namespace=namespace, prefix="dst-")
    report = run(open_store("source", namespace=namespace, prefix="src-"), destination)
    assert (report.status, report.summary.added) == ("success", 3)
    copied = {p: s.value for p, s in destination.list_secrets().items()}
    assert copied == {p: first.to_stored(v) for p, v in DESIRED.items()}


# -- credentials and errors ------------------------------------------------------------------


def _open(conn_id: str, namespace: str = "default") -> Any:
    context = OpenContext(role="destination", name="Prod", config=pipeline(), clients=Clients())
    return KIND.open(KubernetesDestination(connection_id=conn_id, namespace=namespace), context)


def test_wrong_credentials_name_the_connection(kubernetes_api, airflow_conn, namespace):
    conn = airflow_conn("k8s_wrong", host=kubernetes_api.url, password="not-the-" + CANARY)
    with pytest.raises(StoreError) as caught:
        _open(conn, namespace).list_secrets()
    message = str(caught.value)
    assert "connection 'k8s_wrong'" in message
    assert "HTTP 401" in message
    assert "credentials were rejected" in message
    assert "Unauthorized" not in message
    assert CANARY not in message


def test_a_missing_namespace_is_named(open_store):
    store = open_store(namespace="nowhere")
    assert store.list_secrets() == {}  # as the real API: an empty list
    with pytest.raises(StoreError, match="the namespace 'nowhere' does not exist"):
        store.write(SecretWrite("x", {"k": CANARY}), owner=OWNER)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"kube_config_path": "/nonexistent/kubeconfig"}, "the kubeconfig file /nonexistent"),
        ({"extra__kubernetes__in_cluster": True}, "not running in a pod?"),
        ({"in_cluster": "true", "host_env": "10.0.0.1"}, "no service account token"),
        ({"kube_config": "just: [text"}, "the kube_config of the connection"),
    ],
)
def test_unusable_connections_are_clear_errors(airflow_conn, monkeypatch, extra, expected):
    host = extra.pop("host_env", None)  # in a pod without a mounted token file
    if host:
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", host)
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    else:
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    conn = airflow_conn("k8s_broken", conn_type="kubernetes", extra=extra)
    with pytest.raises(StoreError, match="Kubernetes connection 'k8s_broken': cannot load") as e:
        _open(conn)
    assert expected in str(e.value)


def test_an_undefined_connection_is_named():
    with pytest.raises(StoreError, match="Kubernetes connection 'k8s_nowhere' is not defined"):
        _open("k8s_nowhere")


def test_kube_config_content_and_connection_namespace(kubernetes_api, airflow_conn, core):
    kubernetes_api.control("PUT", "namespaces/from-conn")
    kubeconfig = {
        "apiVersion": "v1",
        "clusters": [{"name": "c", "cluster": {"server": kubernetes_api.url}}],
        "users": [{"name": "u", "user": {"token": kubernetes_api.token}}],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "ctx",
    }
    conn = airflow_conn(
        "k8s_kubeconfig",
        conn_type="kubernetes",
        extra={"kube_config": kubeconfig, "namespace": "from-conn"},
    )
    context = OpenContext(role="destination", name="Prod", config=pipeline(), clients=Clients())
    store = KIND.open(KubernetesDestination(connection_id=conn), context)
    store.write(SecretWrite("x", {"k": "v"}), owner=OWNER)
    assert decoded(contents(core, "from-conn")["x"]) == {"k": "v"}


def test_canary_values_never_reach_errors_or_logs(
    kubernetes_api, core, namespace, open_store, caplog
):
    seed(core, namespace, "theirs", password=CANARY)  # before DEBUG: this client is not quiet
    caplog.set_level(logging.DEBUG)
    store = open_store(namespace=namespace)
    run(DESIRED, store)
    reports = [
        run({"theirs": {"password": CANARY + "2"}}, store),  # refused: unmanaged
        run({"a/b": {"k": CANARY}, "a.b": {"k": CANARY}}, store),  # collision
        run({"bad": {"no way": CANARY}}, store),  # invalid key
    ]
    assert all(r.status == "failed" for r in reports)
    for report in reports:
        assert CANARY not in report.error
    with quiet_client_loggers():
        assert CANARY not in repr(store.list_secrets())
    assert CANARY not in caplog.text
    assert b64(CANARY) not in caplog.text  # the client's DEBUG response bodies are held back
    assert not [r for r in caplog.records if r.name.startswith("kubernetes.")]


# -- scopes ----------------------------------------------------------------------------------


def test_scopes_of_blocks_in_one_namespace():
    app = KubernetesDestination(namespace="apps", prefix="app")
    legacy = KubernetesDestination(namespace="apps", prefix="app-legacy")
    other = KubernetesDestination(namespace="apps", prefix="web-")
    elsewhere = KubernetesDestination(namespace="web", prefix="app")
    any_namespace = KubernetesSource(prefix="app")
    assert overlaps(app.scope(), legacy.scope())
    assert not overlaps(app.scope(), other.scope())
    assert not overlaps(app.scope(), elsewhere.scope())
    assert overlaps(any_namespace.scope(), elsewhere.scope())
    assert str(app.scope()) == "kubernetes:apps/app"


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        ({"namespace": "Bad_NS"}, "DNS-1123 label"),
        ({"prefix": "UPPER"}, "Secret name prefix"),
        ({"prefix": "-x"}, "Secret name prefix"),
        ({"colour": 1}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_blocks_are_refused(block, problem):
    with pytest.raises(ValueError, match=problem):
        KubernetesDestination(**block)
