"""Plumbing shared by the local API servers: routing, JSON answers, auth, process start.

A server is an :class:`Api` subclass whose handler methods carry :func:`route` templates
(``/repos/{owner}/{repo}``). Paths under ``/_test/`` are the test-only control endpoints: no
auth, no rate limit. :func:`main` runs one in this process; :func:`start_api_server` starts one
in its own process on a free port and waits until it answers.
"""

from __future__ import annotations

import argparse
import json
import re
import ssl
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from devtools.processes import HOST, free_port, stop_process, wait_until

REPO = Path(__file__).resolve().parents[2]
API_TOKEN = "secretsync-test-token"  # bearer token of the throw-away local servers
START_TIMEOUT_SECONDS = 30


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: Message
    body: bytes
    base_url: str
    params: dict[str, str] = field(default_factory=dict)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of query parameter ``name``."""
        return self.query.get(name, [default])[0]

    def int_arg(self, name: str, default: int, api: Api) -> int:
        raw = self.arg(name)
        if raw is None or raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise api.error(400, f"invalid value for {name}: {raw!r}") from None

    def json(self, api: Api) -> Any:
        """The body parsed as JSON; a 400 in the API's own error format otherwise."""
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            raise api.error(400, "Problems parsing JSON") from None


@dataclass
class Response:
    status: int = 200
    body: Any = None  # JSON-serialisable; None sends no body
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent as is instead of ``body`` (set Content-Type in headers)


class ApiError(Exception):
    """An error answer, already in the wire format of the API that raised it."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


Handler = Callable[["Api", Request], Response]


def route(method: str, template: str) -> Callable[[Handler], Handler]:
    """Declare that the decorated method answers ``method template`` (stackable)."""

    def mark(handler: Handler) -> Handler:
        handler.routes = [*getattr(handler, "routes", []), (method, template)]  # type: ignore[attr-defined]
        return handler

    return mark


def _compile(template: str) -> re.Pattern[str]:
    pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/:]+)", template)
    return re.compile(pattern)


class Api:
    """One fake API; subclasses declare routes and say how their errors look."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.lock = threading.RLock()
        self.log: list[dict[str, Any]] = []
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        for klass in reversed(type(self).__mro__):
            for handler in vars(klass).values():
                for method, template in getattr(handler, "routes", []):
                    self.routes.append((method, _compile(template), handler))

    def error(self, status: int, message: str, **details: Any) -> ApiError:
        raise NotImplementedError

    def authenticate(self, request: Request) -> None:
        """Require ``Authorization: Bearer <token>`` (or ``token <token>``)."""
        scheme, _, credential = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() not in ("bearer", "token") or credential != self.token:
            raise self.error(401, "Unauthorized")

    def finish(self, request: Request, response: Response) -> None:
        """Hook to add headers to every answer of the real API."""

    def handle(self, request: Request) -> Response:
        with self.lock:
            control = request.path.startswith("/_test/")
            try:
                if not control:
                    self.authenticate(request)
                response = self._dispatch(request)
            except ApiError as error:
                response = error.response
            except Exception:  # a bug here: answer 500 (as a real server would), keep serving
                response = self.error(500, "Internal Server Error").response
            if not control:
                self.finish(request, response)
                self.log.append(
                    {"method": request.method, "path": request.path, "status": response.status}
                )
            return response

    def _dispatch(self, request: Request) -> Response:
        path_matched = False
        for method, pattern, handler in self.routes:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            path_matched = True
            if method == request.method:
                request.params = {k: unquote(v) for k, v in match.groupdict().items() if v}
                return handler(self, request)
        if path_matched:
            raise self.error(405, f"method {request.method} not allowed")
        raise self.error(404, "Not Found")

    @route("GET", "/_test/health")
    def health(self, request: Request) -> Response:
        return Response(body={"ok": True})

    @route("GET", "/_test/requests")
    def requests(self, request: Request) -> Response:
        """Method, path and status of every API request so far (e.g. to count writes)."""
        return Response(body=self.log)

    @route("DELETE", "/_test/requests")
    def forget_requests(self, request: Request) -> Response:
        self.log.clear()
        return Response(204)


def timestamp(moment: datetime | None = None) -> str:
    """RFC 3339 UTC timestamp with second precision (now by default)."""
    moment = moment or datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def later_than(previous: str) -> str:
    """Now, or one second after ``previous`` if that is not yet in the past."""
    before = datetime.strptime(previous, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return timestamp(max(datetime.now(UTC), before + timedelta(seconds=1)))


class _HttpHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        url = urlsplit(self.path)
        host = self.headers.get("Host") or self.server.server_address[0]
        request = Request(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers=self.headers,
            body=self.rfile.read(length) if length else b"",
            base_url=f"{self.server.scheme}://{host}",
        )
        response = self.server.api.handle(request)
        payload = b"" if response.body is None else json.dumps(response.body).encode()
        if response.raw is not None:
            payload = response.raw
        self.send_response(response.status)
        if payload and response.raw is None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """No request log: URLs may carry secret names the tests treat as canaries."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: Api
    scheme = "http"


def main(api_class: type[Api], argv: list[str] | None = None) -> None:
    """Serve ``api_class`` on ``--host``/``--port`` until the process is terminated."""
    parser = argparse.ArgumentParser(description=api_class.__doc__)
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", default=API_TOKEN, help="the bearer token clients must send")
    parser.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate (and --tls-key)")
    parser.add_argument("--tls-key", help="the PEM private key of --tls-cert")
    args = parser.parse_args(argv)
    server = _Server((args.host, args.port), _HttpHandler)
    server.api = api_class(args.token)
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        server.scheme = "https"
    server.serve_forever()


@dataclass
class ApiServer:
    """A local API server process."""

    kind: str
    url: str
    port: int
    token: str
    process: subprocess.Popen
    #: The PEM certificate of an HTTPS server (None: plain HTTP).
    tls_cert: str | None = None

    def stop(self) -> None:
        stop_process(self.process)

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call a test-only ``/_test/...`` endpoint; its JSON answer (None when empty)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/_test/{path}", data=data, method=method)
        request.add_header("Content-Type", "application/json")
        context = ssl.create_default_context(cafile=self.tls_cert) if self.tls_cert else None
        with urllib.request.urlopen(request, timeout=10, context=context) as answer:
            raw = answer.read()
        return json.loads(raw) if raw else None

    def ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"the {self.kind} API server exited with {self.process.returncode}")
        try:
            return self.control("GET", "health") == {"ok": True}
        except (OSError, urllib.error.URLError, ValueError):
            return False


def start_api_server(
    kind: str, token: str = API_TOKEN, *, tls: tuple[str, str] | None = None
) -> ApiServer:
    """Start ``devtools.apiservers.<kind>`` on a free port of 127.0.0.1, once it answers.

    ``tls`` (PEM certificate and key paths) serves HTTPS instead of HTTP.
    """
    port = free_port()
    tls_args = ["--tls-cert", tls[0], "--tls-key", tls[1]] if tls else []
    log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            f"devtools.apiservers.{kind}",
            "--port",
            str(port),
            "--token",
            token,
            *tls_args,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=REPO,
    )
    scheme = "https" if tls else "http"
    server = ApiServer(kind, f"{scheme}://{HOST}:{port}", port, token, process, tls and tls[0])
    try:
        wait_until(server.ready, START_TIMEOUT_SECONDS, f"the {kind} API server")
    except RuntimeError:
        server.stop()
        log.seek(0)
        raise RuntimeError(f"{kind} API server failed: {log.read().decode()[-2000:]}") from None
    return server
