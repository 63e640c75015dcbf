"""The ``http`` source: GET one JSON document and read its relative path -> value object.

Values must be JSON objects or strings (anything else is an error naming the path). The
answer is streamed and refused above ``max_bytes``; redirects are followed only within the
same origin (scheme, host, port), so credentials never travel to another server; errors name
the status or the exception type, never an answer's body or a header value.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import requests
from urllib3.exceptions import ReadTimeoutError

from airflow_secretsync.client_logging import quiet_client_loggers
from airflow_secretsync.errors import SecretReferenceError, StoreError
from airflow_secretsync.refs.lookup import resolve_reference
from airflow_secretsync.refs.reference import check_key
from airflow_secretsync.stores.base import SourceStore, StoredSecret
from airflow_secretsync.stores.http import HttpSource

if TYPE_CHECKING:
    from airflow_secretsync.stores.registry import OpenContext

#: Same-origin redirects followed at most.
MAX_REDIRECTS = 5
CHUNK_BYTES = 64 * 1024
_REDIRECTS = (301, 302, 303, 307, 308)
_JSON_TYPES = {
    str: "string",
    list: "array",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


@dataclass(frozen=True)
class HttpLocation:
    """Where to GET the document and how to authenticate (from the block and connection)."""

    url: str
    conn_id: str | None = None
    basic: tuple[str, str] | None = None
    bearer: str | None = None

    def __repr__(self) -> str:  # never the credentials
        return f"HttpLocation(url={shown_url(self.url)!r}, conn_id={self.conn_id!r})"


def shown_url(url: str) -> str:
    """``url`` without query, fragment or user info (they may hold a token)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def connection_location(conn_id: str, endpoint: str) -> HttpLocation:
    """The URL and credentials of the Airflow ``http`` connection ``conn_id``.

    Host may be a full URL; otherwise scheme is ``schema`` (default ``https``) and ``port`` is
    added. ``login``/``password`` give basic auth; extra ``auth_type: bearer`` sends the
    password as a bearer token instead.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    where = f"HTTP connection '{conn_id}'"
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise StoreError(f"{where} is not defined") from None
    host = (conn.host or "").rstrip("/")
    if not host:
        raise StoreError(f"{where} has no host")
    base = host if "://" in host else f"{conn.schema or 'https'}://{host}"
    if conn.port and "://" not in host:
        base += f":{conn.port}"
    if urlsplit(base).scheme not in ("http", "https"):
        raise StoreError(f"{where}: the scheme must be http or https")
    url = f"{base}/{endpoint.lstrip('/')}" if endpoint else base
    auth_type = str(conn.extra_dejson.get("auth_type") or "basic").lower()
    if auth_type not in ("basic", "bearer"):
        raise StoreError(f"{where}: extra auth_type must be 'basic' or 'bearer'")
    if auth_type == "bearer":
        if not conn.password:
            raise StoreError(f"{where}: auth_type bearer needs the token in the password")
        return HttpLocation(url, conn_id, bearer=conn.password)
    basic = (conn.login, conn.password or "") if conn.login else None
    return HttpLocation(url, conn_id, basic=basic)


def open_store(block: HttpSource, context: OpenContext) -> HttpSourceStore:
    """The ``http`` source for ``block`` (the connection is read only without ``url``)."""
    if block.url is not None:
        location = HttpLocation(block.url)
    else:
        conn_id = block.connection_id or "http_default"
        location = context.clients.get(
            ("http-connection", conn_id, block.endpoint),
            lambda: connection_location(conn_id, block.endpoint),
        )
    session = context.clients.get(("http-session",), requests.Session)
    return HttpSourceStore(block, location, session)


class HttpSourceStore(SourceStore):
    """Every secret of one JSON document (or of the object at ``block.pointer`` in it)."""

    def __init__(
        self, block: HttpSource, location: HttpLocation, session: requests.Session
    ) -> None:
        self.block = block
        self.location = location
        self.session = session
        via = f" (connection '{location.conn_id}')" if location.conn_id else ""
        pointer = f"#{block.pointer}" if block.pointer else ""
        self.description = f"{shown_url(location.url)}{pointer}{via}"
        if isinstance(block.verify, str) and not os.path.isfile(block.verify):
            raise StoreError(f"{self.description}: CA bundle '{block.verify}' is not a file")

    def fail(self, reason: str) -> StoreError:
        return StoreError(f"{self.description}: {reason}")

    def list_secrets(self) -> dict[str, StoredSecret]:
        document = self._parse(self._fetch())
        node = self._select(document)
        secrets = {}
        for path, value in node.items():
            self._check_path(path)
            if not isinstance(value, dict | str):
                kind = _JSON_TYPES.get(type(value), type(value).__name__)
                raise self.fail(f"'{path}': the value is a JSON {kind}; use an object or a string")
            secrets[path] = StoredSecret(path, value)
        return secrets

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.block.auth_header is not None:
            ref = self.block.auth_header.value_ref
            try:
                headers[self.block.auth_header.name] = resolve_reference(ref)
            except SecretReferenceError as exc:
                raise self.fail(f"auth_header: {exc}") from None
        elif self.location.bearer is not None:
            headers["Authorization"] = f"Bearer {self.location.bearer}"
        return headers

    def _fetch(self) -> bytes:
        headers = self._headers()
        auth = None if self.block.auth_header else self.location.basic
        url = self.location.url
        for _ in range(MAX_REDIRECTS + 1):
            with quiet_client_loggers():
                try:
                    response = self.session.get(
                        url,
                        headers=headers,
                        auth=auth,
                        verify=self.block.verify,
                        timeout=(self.block.connect_timeout, self.block.read_timeout),
                        allow_redirects=False,
                        stream=True,
                    )
                except requests.RequestException as exc:
                    raise self.fail(self._reason(exc)) from None
                with response:
                    if response.status_code not in _REDIRECTS:
                        return self._body(response)
                    target = urljoin(url, response.headers.get("Location", ""))
            if _origin(target) != _origin(url):
                scheme, host, port = _origin(target)
                raise self.fail(
                    f"HTTP {response.status_code} redirects to another origin "
                    f"({scheme}://{host}:{port}), which is refused: set url to the final location"
                )
            url = target
        raise self.fail(f"more than {MAX_REDIRECTS} redirects")

    def _body(self, response: requests.Response) -> bytes:
        status = response.status_code
        if status in (401, 403):
            raise self.fail(f"HTTP {status}: the credentials were rejected")
        if not 200 <= status < 300:
            raise self.fail(f"HTTP {status}")
        limit = self.block.max_bytes
        body = bytearray()
        try:
            for chunk in response.iter_content(CHUNK_BYTES):
                body += chunk
                if len(body) > limit:
                    raise self.fail(f"the answer is larger than max_bytes ({limit} bytes)")
        except requests.RequestException as exc:
            raise self.fail(self._reason(exc)) from None
        return bytes(body)

    def _reason(self, exc: requests.RequestException) -> str:
        name = type(exc).__name__
        if exc.args and isinstance(exc.args[0], ReadTimeoutError):  # raised while streaming
            exc = requests.exceptions.ReadTimeout()
        if isinstance(exc, requests.exceptions.SSLError):
            return f"TLS verification failed ({name}): check verify (a CA bundle path)"
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return f"no connection within connect_timeout ({self.block.connect_timeout:g} s)"
        if isinstance(exc, requests.exceptions.ReadTimeout | requests.exceptions.Timeout):
            return f"no answer within read_timeout ({self.block.read_timeout:g} s)"
        if isinstance(exc, requests.exceptions.ConnectionError):
            return f"cannot reach the server ({name})"
        return f"request failed ({name})"

    def _parse(self, body: bytes) -> Any:
        def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            result: dict[str, Any] = {}
            for key, value in pairs:
                if key in result:
                    raise self.fail(f"the JSON document has the key '{key}' twice")
                result[key] = value
            return result

        def no_constant(name: str) -> None:
            raise self.fail(f"the answer is not JSON ({name} is not allowed)")

        try:
            return json.loads(body, object_pairs_hook=unique, parse_constant=no_constant)
        except ValueError:  # JSONDecodeError and UnicodeDecodeError; never quotes the body
            raise self.fail("the answer is not JSON") from None

    def _select(self, document: Any) -> dict[str, Any]:
        node, pointer = document, self.block.pointer
        for token in pointer.split("/")[1:]:
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                raise self.fail(f"the JSON pointer '{pointer}' does not resolve in the document")
        if not isinstance(node, dict):
            kind = _JSON_TYPES.get(type(node), type(node).__name__)
            where = f"at '{pointer}'" if pointer else "the document"
            raise self.fail(f"{where} is a JSON {kind}, not an object of path -> value")
        return node

    def _check_path(self, path: str) -> None:
        try:
            check_key(path, "path")
        except SecretReferenceError as exc:
            raise self.fail(str(exc)) from None
        if path.startswith("/") or path.endswith("/"):
            raise self.fail(f"path {path!r}: a relative path neither starts nor ends with '/'")
