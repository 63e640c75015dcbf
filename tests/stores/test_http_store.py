"""The ``http`` source against the local JSON document server, through the real ``requests``."""

from __future__ import annotations

import base64
import itertools
import json
import logging
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import ValidationError
from urllib3.exceptions import InsecureRequestWarning

from airflow_secretsync.core.engine import Engine, RunOptions
from airflow_secretsync.errors import StoreError
from airflow_secretsync.stores.factory import StoreFactory
from airflow_secretsync.stores.http import KIND, HttpSource
from airflow_secretsync.stores.http.store import HttpSourceStore
from airflow_secretsync.stores.registry import Clients, OpenContext
from devtools.apiservers.base import ApiServer
from tests.stores.conftest import CANARY, pipeline, unique

_names = itertools.count()
SECRETS = {
    "app/db": {"user": "app", "password": CANARY, "nested": {"port": 5432}},
    "app/token": f"tok-{CANARY}",
    "team a/key.v2": {"k": "v"},
}


@pytest.fixture
def clients() -> Iterator[Clients]:
    made = Clients()
    yield made
    made.close()


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test runs with DEBUG logging on; no log record may hold the canary."""
    caplog.set_level(logging.DEBUG)
    yield
    assert CANARY not in caplog.text


def serve(server: ApiServer, **spec: Any) -> str:
    """Publish a document on ``server``; its URL."""
    name = f"doc-{next(_names)}"
    server.control("PUT", f"documents/{name}", spec)
    return f"{server.url}/documents/{name}"


def open_http(clients: Clients, **block: Any) -> HttpSourceStore:
    context = OpenContext(role="source", name="src", config=pipeline(), clients=clients)
    return KIND.open(HttpSource(**block), context)  # type: ignore[return-value]


def read(clients: Clients, **block: Any) -> dict[str, Any]:
    return {path: s.value for path, s in open_http(clients, **block).list_secrets().items()}


def failure(clients: Clients, **block: Any) -> str:
    with pytest.raises(StoreError) as caught:
        open_http(clients, **block).list_secrets()
    message = str(caught.value)
    assert CANARY not in message
    return message


def requested(server: ApiServer, url: str) -> int:
    path = url.removeprefix(server.url)
    return sum(1 for entry in server.control("GET", "requests") if entry["path"] == path)


def test_reads_paths_and_values_exactly(json_document_api: ApiServer, clients: Clients) -> None:
    url = serve(json_document_api, body=SECRETS)
    store = open_http(clients, url=url)
    secrets = store.list_secrets()
    assert {path: s.value for path, s in secrets.items()} == SECRETS
    assert all(s.owner is None and not s.managed for s in secrets.values())
    assert CANARY not in repr(secrets)
    assert CANARY not in repr(store.location)


def test_pointer_selects_the_object_inside(json_document_api: ApiServer, clients: Clients) -> None:
    document = {"meta": {"n": 1}, "data": {"secrets": SECRETS, "a/b": {"x~y": {"p": "q"}}}}
    url = serve(json_document_api, body=document)
    assert read(clients, url=url, pointer="/data/secrets") == SECRETS
    assert read(clients, url=url, pointer="/data/a~1b/x~0y") == {"p": "q"}
    listed = serve(json_document_api, body={"items": [{"only": "one"}]})
    assert read(clients, url=listed, pointer="/items/0") == {"only": "one"}


def test_pointer_errors(json_document_api: ApiServer, clients: Clients) -> None:
    url = serve(json_document_api, body={"data": {"secrets": SECRETS, "n": 3}})
    message = failure(clients, url=url, pointer="/data/missing")
    assert "the JSON pointer '/data/missing' does not resolve" in message
    message = failure(clients, url=url, pointer="/data/n")
    assert "at '/data/n' is a JSON number, not an object of path -> value" in message


def test_auth_header_from_an_env_reference(
    json_document_api: ApiServer, clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = f"Bearer {CANARY}"
    monkeypatch.setenv("HTTP_SOURCE_TOKEN", token)
    url = serve(
        json_document_api, body=SECRETS, require_header={"name": "X-Api-Key", "value": token}
    )
    auth = {"name": "X-Api-Key", "value_ref": "ref+env://HTTP_SOURCE_TOKEN"}
    assert read(clients, url=url, auth_header=auth) == SECRETS

    # references are cached per process (refs.cache): other variables for the other cases
    monkeypatch.setenv("HTTP_SOURCE_WRONG", f"wrong-{CANARY}")
    wrong = {"name": "X-Api-Key", "value_ref": "ref+env://HTTP_SOURCE_WRONG"}
    assert "HTTP 401: the credentials were rejected" in failure(clients, url=url, auth_header=wrong)
    assert "HTTP 401" in failure(clients, url=url)  # no header at all

    unset = {"value_ref": "ref+env://HTTP_SOURCE_UNSET"}
    message = failure(clients, url=url, auth_header=unset)
    assert "auth_header: secret reference 'ref+env://HTTP_SOURCE_UNSET': no such secret" in message


def _connection_fields(server: ApiServer) -> dict[str, Any]:
    return {"conn_type": "http", "host": "127.0.0.1", "port": server.port, "schema": "http"}


def test_basic_auth_from_the_http_connection(
    json_document_api: ApiServer, clients: Clients, airflow_conn
) -> None:
    basic = "Basic " + base64.b64encode(f"reader:{CANARY}".encode()).decode()
    url = serve(
        json_document_api, body=SECRETS, require_header={"name": "Authorization", "value": basic}
    )
    endpoint = url.removeprefix(json_document_api.url)
    fields = _connection_fields(json_document_api)
    airflow_conn("http_basic", **fields, login="reader", password=CANARY)
    store = open_http(clients, connection_id="http_basic", endpoint=endpoint)
    assert {path: s.value for path, s in store.list_secrets().items()} == SECRETS
    assert store.description == f"{url} (connection 'http_basic')"
    assert CANARY not in repr(store.location)

    airflow_conn("http_wrong", **fields, login="reader", password=f"x{CANARY}")
    message = failure(clients, connection_id="http_wrong", endpoint=endpoint)
    assert "(connection 'http_wrong'): HTTP 401: the credentials were rejected" in message


def test_bearer_token_from_the_http_connection(
    json_document_api: ApiServer, clients: Clients, airflow_conn
) -> None:
    bearer = {"name": "Authorization", "value": f"Bearer {CANARY}"}
    url = serve(json_document_api, body=SECRETS, require_header=bearer)
    fields = _connection_fields(json_document_api)
    airflow_conn("http_bearer", **fields, password=CANARY, extra={"auth_type": "bearer"})
    endpoint = url.removeprefix(json_document_api.url).lstrip("/")
    assert read(clients, connection_id="http_bearer", endpoint=endpoint) == SECRETS

    full_host = {"conn_type": "http", "host": json_document_api.url, "password": CANARY}
    airflow_conn("http_full", **full_host, extra={"auth_type": "bearer"})
    assert read(clients, connection_id="http_full", endpoint=endpoint) == SECRETS

    airflow_conn("http_odd", **fields, password=CANARY, extra={"auth_type": "digest"})
    message = failure(clients, connection_id="http_odd", endpoint=endpoint)
    assert message == "HTTP connection 'http_odd': extra auth_type must be 'basic' or 'bearer'"


def test_undefined_connection(clients: Clients) -> None:
    message = failure(clients, connection_id="http_nowhere", endpoint="x")
    assert message == "HTTP connection 'http_nowhere' is not defined"


def test_non_2xx_gives_the_status_only(json_document_api: ApiServer, clients: Clients) -> None:
    url = serve(json_document_api, status=500, body={"error": f"oops {CANARY}"})
    assert failure(clients, url=url).endswith(": HTTP 500")
    missing = f"{json_document_api.url}/documents/none?token={CANARY}"
    message = failure(clients, url=missing)
    assert message == f"{json_document_api.url}/documents/none: HTTP 404"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"raw": f"<html>{CANARY}</html>"}, "the answer is not JSON"),
        ({"raw": '{"a": NaN}'}, "the answer is not JSON (NaN is not allowed)"),
        ({"raw": b"\xff\xfe".decode("latin-1")}, "the answer is not JSON"),
        ({"body": [CANARY]}, "the document is a JSON array, not an object of path -> value"),
        ({"body": CANARY}, "the document is a JSON string, not an object"),
        ({"raw": '{"a": {"x": 1}, "a": {"y": 2}}'}, "the JSON document has the key 'a' twice"),
        ({"body": {"ok": "x", "n": 42}}, "'n': the value is a JSON number; use an object or a"),
        ({"body": {"l": [CANARY]}}, "'l': the value is a JSON array"),
        ({"body": {"z": None}}, "'z': the value is a JSON null"),
        ({"body": {"t": True}}, "'t': the value is a JSON boolean"),
    ],
)
def test_documents_that_are_not_path_value_objects(
    json_document_api: ApiServer, clients: Clients, spec: dict[str, Any], expected: str
) -> None:
    assert expected in failure(clients, url=serve(json_document_api, **spec))


@pytest.mark.parametrize("path", ["../up", "a//b", "/abs", "a/./b", "tail/", "", "a%2fb"])
def test_unsafe_relative_paths_are_refused(
    json_document_api: ApiServer, clients: Clients, path: str
) -> None:
    url = serve(json_document_api, body={"fine": "v", path: CANARY})
    assert f"path {path!r}" in failure(clients, url=url)


def test_size_cap(json_document_api: ApiServer, clients: Clients) -> None:
    url = serve(json_document_api, size=300_000)
    assert read(clients, url=url, max_bytes=300_000)["big"]["value"].startswith("xxx")
    message = failure(clients, url=url, max_bytes=299_999)
    assert message.endswith("the answer is larger than max_bytes (299999 bytes)")
    big = serve(json_document_api, size=11 * 1024 * 1024)
    assert "larger than max_bytes (10485760 bytes)" in failure(clients, url=big)


def test_same_origin_redirects_are_followed(json_document_api: ApiServer, clients: Clients) -> None:
    final = serve(json_document_api, body=SECRETS)
    relative = serve(json_document_api, redirect=final.removeprefix(json_document_api.url))
    absolute = serve(json_document_api, redirect=final)
    assert read(clients, url=relative) == SECRETS
    assert read(clients, url=absolute) == SECRETS


def test_cross_origin_redirects_are_refused(
    json_document_api: ApiServer, clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_SOURCE_TOKEN", CANARY)
    token = {"name": "Authorization", "value": CANARY}
    final = serve(json_document_api, body=SECRETS, require_header=token)
    elsewhere = final.replace("127.0.0.1", "localhost")  # same server, another origin
    url = serve(json_document_api, redirect=elsewhere)
    auth = {"value_ref": "ref+env://HTTP_SOURCE_TOKEN"}
    message = failure(clients, url=url, auth_header=auth)
    origin = f"http://localhost:{json_document_api.port}"
    assert f"HTTP 302 redirects to another origin ({origin}), which is refused" in message
    assert requested(json_document_api, final) == 0

    loop = f"{json_document_api.url}/documents/loop"
    json_document_api.control("PUT", "documents/loop", {"redirect": loop})
    assert failure(clients, url=loop).endswith("more than 5 redirects")


def test_tls_verification(json_document_https: ApiServer, clients: Clients) -> None:
    url = serve(json_document_https, body=SECRETS)
    assert url.startswith("https://")
    message = failure(clients, url=url)
    assert message.endswith("TLS verification failed (SSLError): check verify (a CA bundle path)")
    assert read(clients, url=url, verify=json_document_https.tls_cert) == SECRETS
    with pytest.warns(InsecureRequestWarning):  # urllib3 warns about every unverified request
        assert read(clients, url=url, verify=False) == SECRETS
    with pytest.raises(StoreError, match=r"CA bundle '/nonexistent/ca\.pem' is not a file"):
        open_http(clients, url=url, verify="/nonexistent/ca.pem")


def test_a_server_that_never_answers_times_out(clients: Clients) -> None:
    with socket.socket() as silent:  # accepts connections (backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/secrets.json"
        message = failure(clients, url=url, read_timeout=0.5)
    assert message == f"{url}: no answer within read_timeout (0.5 s)"


def test_unreachable_server(clients: Clients) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, not listening: connections are refused
        message = failure(clients, url=f"http://127.0.0.1:{port}/x")
    assert message.endswith("cannot reach the server (ConnectionError)")


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ({"url": f"https://user:{CANARY}@example.com/x"}, "url must not hold credentials"),
        ({"url": "ftp://example.com/x"}, "absolute http:// or https:// URL"),
        ({"url": "https://example.com/x", "endpoint": "y"}, "set either url or endpoint"),
        ({"pointer": "data"}, "must be empty or start with '/'"),
        ({"pointer": "/a~2"}, "'~' must be followed by 0 or 1"),
        ({"auth_header": {"name": "Bad Name", "value_ref": "ref+env://X"}}, "not an HTTP header"),
        ({"auth_header": {"value_ref": CANARY}}, "expected a secret reference"),
        ({"max_bytes": 0}, "greater than 0"),
        ({"verify": ""}, "verify is true, false or the path of a CA bundle"),
        ({"headers": {}}, "Extra inputs are not permitted"),
    ],
)
def test_block_validation(block: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        HttpSource(**block)


def test_scope() -> None:
    scope = HttpSource(url="https://Vault.Example.com:8443/v1/docs/?x=1", pointer="/a").scope()
    assert (scope.kind, scope.place, scope.prefix) == (
        "http",
        ("vault.example.com:8443",),
        "v1/docs",
    )
    assert str(scope) == "http:vault.example.com:8443/v1/docs#/a"
    by_connection = HttpSource(connection_id="http_x", endpoint="/api/s").scope()
    assert (by_connection.place, str(by_connection)) == ((None,), "http:connection http_x/api/s")


def test_syncs_into_vault_through_the_engine(
    servers, vault_client, json_document_api: ApiServer
) -> None:
    root = unique("http")
    url = serve(json_document_api, body={"wrapper": SECRETS}, status=200)
    config = pipeline(
        merge_store={"vault": {"mount": "secret", "path": f"{root}/merged"}},
        sources={"web": {"http": {"url": url, "pointer": "/wrapper"}}},
        targets={"Out": {"imports": ["web"], "vault": {"path": f"{root}/out"}}},
    )

    def run() -> Any:
        with StoreFactory(config) as stores:
            return Engine(config, stores, RunOptions()).run()

    first, second = run(), run()
    assert [t.status for t in first.targets] == ["success"]
    assert (first.summary.added, second.summary.changed, second.summary.unchanged) == (3, 0, 3)
    assert CANARY not in json.dumps(first.to_dict())
    stored = vault_client.secrets.kv.v2.read_secret_version(
        path=f"{root}/out/app/db", mount_point="secret", raise_on_deleted_version=True
    )
    assert stored["data"]["data"] == SECRETS["app/db"]
