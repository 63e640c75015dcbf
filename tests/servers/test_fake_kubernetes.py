"""The local Kubernetes core/v1 Secrets API, through the official client and raw HTTP."""

from __future__ import annotations

import base64
import itertools

import pytest
from kubernetes import client

from devtools.apiservers.base import ApiServer
from tests.servers.raw import call

MANAGED = {"app.kubernetes.io/managed-by": "airflow-secretsync"}
_namespaces = itertools.count()


@pytest.fixture
def namespace(kubernetes_api: ApiServer) -> str:
    name = f"ns-{next(_namespaces)}"
    kubernetes_api.control("PUT", f"namespaces/{name}")
    return name


@pytest.fixture
def core(kubernetes_api: ApiServer) -> client.CoreV1Api:
    # kubernetes 36 reads the bearer prefix under the "BearerToken" key
    configuration = client.Configuration(
        host=kubernetes_api.url,
        api_key={"BearerToken": kubernetes_api.token},
        api_key_prefix={"BearerToken": "Bearer"},
    )
    return client.CoreV1Api(client.ApiClient(configuration))


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _secret(name: str, labels: dict[str, str] | None = None, **data: str) -> client.V1Secret:
    meta = client.V1ObjectMeta(name=name, labels=labels)
    return client.V1Secret(metadata=meta, data={k: _b64(v) for k, v in data.items()})


def test_create_read_replace_patch_delete_through_the_client(core, namespace):
    created = core.create_namespaced_secret(namespace, _secret("db", MANAGED, password="canary"))
    assert created.type == "Opaque"
    assert created.metadata.uid
    assert created.metadata.creation_timestamp is not None
    read = core.read_namespaced_secret("db", namespace)
    assert base64.b64decode(read.data["password"]) == b"canary"

    read.data["password"] = _b64("canary-2")
    replaced = core.replace_namespaced_secret("db", namespace, read)
    assert int(replaced.metadata.resource_version) > int(created.metadata.resource_version)

    patched = core.patch_namespaced_secret(
        "db", namespace, {"metadata": {"labels": {"owner": "t"}}}
    )
    assert patched.metadata.labels == {**MANAGED, "owner": "t"}
    merged = core.patch_namespaced_secret(
        "db",
        namespace,
        {"data": {"password": None, "user": _b64("u")}},
        _content_type="application/merge-patch+json",
    )
    assert set(merged.data) == {"user"}
    json_patched = core.patch_namespaced_secret(
        "db", namespace, [{"op": "replace", "path": "/data/user", "value": _b64("v")}]
    )
    assert base64.b64decode(json_patched.data["user"]) == b"v"

    status = core.delete_namespaced_secret("db", namespace)
    assert status.status == "Success"
    assert status.details.name == "db"
    with pytest.raises(client.ApiException) as raised:
        core.read_namespaced_secret("db", namespace)
    assert raised.value.status == 404


def test_string_data_is_folded_into_data(core, namespace):
    body = client.V1Secret(metadata=client.V1ObjectMeta(name="s"), string_data={"k": "canary"})
    created = core.create_namespaced_secret(namespace, body)
    assert created.data == {"k": _b64("canary")}
    assert created.string_data is None


def test_unchanged_replace_keeps_the_resource_version(core, namespace):
    created = core.create_namespaced_secret(namespace, _secret("same", a="1"))
    again = core.replace_namespaced_secret("same", namespace, created)
    assert again.metadata.resource_version == created.metadata.resource_version


def test_errors_are_status_objects(kubernetes_api, core, namespace):
    core.create_namespaced_secret(namespace, _secret("dup", a="1"))
    with pytest.raises(client.ApiException) as raised:
        core.create_namespaced_secret(namespace, _secret("dup", a="1"))
    assert raised.value.status == 409
    status, _, body = call(kubernetes_api, "GET", f"/api/v1/namespaces/{namespace}/secrets/nope")
    assert status == 404
    assert body == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'secrets "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "kind": "secrets"},
        "code": 404,
    }
    path = f"/api/v1/namespaces/{namespace}/secrets"
    _, _, body = call(kubernetes_api, "POST", path, {"metadata": {"name": "dup"}})
    assert (body["reason"], body["code"]) == ("AlreadyExists", 409)


def test_stale_resource_version_is_a_conflict(core, namespace):
    created = core.create_namespaced_secret(namespace, _secret("cas", a="1"))
    core.patch_namespaced_secret("cas", namespace, {"data": {"a": _b64("2")}})
    created.data = {"a": _b64("3")}
    with pytest.raises(client.ApiException) as raised:
        core.replace_namespaced_secret("cas", namespace, created)
    assert raised.value.status == 409
    assert '"reason": "Conflict"' in raised.value.body
    assert base64.b64decode(core.read_namespaced_secret("cas", namespace).data["a"]) == b"2"
    stale = {"preconditions": {"resourceVersion": created.metadata.resource_version}}
    with pytest.raises(client.ApiException) as raised:
        core.delete_namespaced_secret("cas", namespace, body=stale)
    assert raised.value.status == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"metadata": {"name": "Upper_Case"}}, "metadata.name"),
        ({"metadata": {"name": "-dash"}}, "metadata.name"),
        ({"metadata": {"name": "ok"}, "data": {"bad key/": _b64("v")}}, "data[bad key/]"),
        ({"metadata": {"name": "ok", "labels": {"k": "not valid!"}}}, "metadata.labels.k"),
        ({"metadata": {}}, "metadata.name"),
    ],
)
def test_invalid_names_keys_and_labels_are_422(kubernetes_api, namespace, body, field):
    status, _, answer = call(
        kubernetes_api, "POST", f"/api/v1/namespaces/{namespace}/secrets", body
    )
    assert (status, answer["reason"]) == (422, "Invalid")
    assert [c["field"] for c in answer["details"]["causes"]] == [field]


def test_non_base64_data_is_a_bad_request(kubernetes_api, namespace):
    body = {"metadata": {"name": "b64"}, "data": {"k": "***"}}
    status, _, answer = call(
        kubernetes_api, "POST", f"/api/v1/namespaces/{namespace}/secrets", body
    )
    assert (status, answer["reason"]) == (400, "BadRequest")
    assert "illegal base64" in answer["message"]


def test_unknown_namespace_and_missing_token(kubernetes_api, core):
    with pytest.raises(client.ApiException) as raised:
        core.create_namespaced_secret("no-such-ns", _secret("x", a="1"))
    assert raised.value.status == 404
    status, _, body = call(kubernetes_api, "GET", "/api/v1/namespaces/default/secrets", token=None)
    assert (status, body["reason"]) == (401, "Unauthorized")
    assert call(kubernetes_api, "GET", "/api/v1/namespaces/default/secrets", token="x")[0] == 401


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app.kubernetes.io/managed-by=airflow-secretsync", ["a", "b"]),
        ("app.kubernetes.io/managed-by==airflow-secretsync,owner=p1", ["a"]),
        ("owner!=p1", ["b", "c"]),
        ("owner in (p1,p2)", ["a", "b"]),
        ("owner notin (p1)", ["b", "c"]),
        ("owner", ["a", "b"]),
        ("!owner", ["c"]),
    ],
)
def test_list_by_label_selector(core, namespace, selector, expected):
    core.create_namespaced_secret(namespace, _secret("a", {**MANAGED, "owner": "p1"}, k="1"))
    core.create_namespaced_secret(namespace, _secret("b", {**MANAGED, "owner": "p2"}, k="1"))
    core.create_namespaced_secret(namespace, _secret("c", {"other": "x"}, k="1"))
    listed = core.list_namespaced_secret(namespace, label_selector=selector)
    assert [s.metadata.name for s in listed.items] == expected


def test_bad_label_selector_is_400(kubernetes_api):
    path = "/api/v1/namespaces/default/secrets?labelSelector=a%20in%20b"
    status, _, body = call(kubernetes_api, "GET", path)
    assert (status, body["reason"]) == (400, "BadRequest")


def test_limit_and_continue_paginate(core, namespace):
    for index in range(5):
        core.create_namespaced_secret(namespace, _secret(f"s{index}", k="1"))
    names, token, pages = [], None, 0
    while True:
        page = core.list_namespaced_secret(namespace, limit=2, _continue=token)
        assert page.kind == "SecretList"
        assert page.metadata.resource_version
        names += [s.metadata.name for s in page.items]
        pages += 1
        token = page.metadata._continue
        if not token:
            break
        assert page.metadata.remaining_item_count == 5 - len(names)
    assert (names, pages) == ([f"s{i}" for i in range(5)], 3)
