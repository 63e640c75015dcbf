"""A small threaded HTTP proxy in front of a real server, for injecting faults in tests and
latency or quotas in the benchmarks.

Every request is forwarded to the upstream server unless ``intercept`` answers it instead (a
canned error such as AWS throttling); ``observe`` sees each forwarded request with the upstream
status before the client gets the response (so it can, say, stop the upstream server right after
a write landed). When the upstream cannot be reached the client connection is closed without a
response, as a server that died would. ``delay_s`` is waited before every request is answered
(forwarded or intercepted), as a network round trip to a remote server would.
"""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"}


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: Message
    body: bytes


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes


Intercept = Callable[[Request], Reply | None]
Observe = Callable[[Request, int], None]


class _Server(ThreadingHTTPServer):
    """Accepts as many simultaneous connections as a real server: with ``socketserver``'s
    listen backlog of 5, a client opening dozens of connections at once loses some of its
    connection requests, and retries them a second later."""

    daemon_threads = True
    request_queue_size = 128


class FaultProxy:
    """Forwards ``http://127.0.0.1:<port>`` to ``upstream``; counts what it did."""

    def __init__(
        self,
        upstream: str,
        *,
        intercept: Intercept | None = None,
        observe: Observe | None = None,
        delay_s: float = 0.0,
    ) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.intercept = intercept
        self.observe = observe
        self.delay_s = delay_s
        self.forwarded = 0
        self.intercepted = 0
        self.unreachable = 0
        self._lock = threading.Lock()
        self._local = threading.local()
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _count(self, what: str) -> None:
        with self._lock:
            setattr(self, what, getattr(self, what) + 1)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        request = Request(handler.command, handler.path, handler.headers, _read_body(handler))
        if self.delay_s:
            time.sleep(self.delay_s)
        reply = self.intercept(request) if self.intercept else None
        if reply is not None:
            self._count("intercepted")
        else:
            try:
                reply = self._forward(request)
            except OSError:  # upstream down: vanish like it did
                self._count("unreachable")
                handler.close_connection = True
                return
            self._count("forwarded")
            if self.observe:
                self.observe(request, reply.status)
        handler.send_response(reply.status)
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(reply.body)))
        handler.end_headers()
        if request.method != "HEAD":
            handler.wfile.write(reply.body)

    def _forward(self, request: Request) -> Reply:
        """Forward over this thread's upstream connection (kept alive, as a client's pool
        would be); a connection the upstream closed meanwhile is replaced once."""
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP} | {
            "Content-Length": str(len(request.body))
        }
        for attempt in (1, 2):
            connection = self._connection()
            try:
                connection.request(request.method, request.path, request.body, headers)
                response = connection.getresponse()
                body = response.read()
                break
            except OSError:
                connection.close()
                self._local.connection = None
                if attempt == 2:
                    raise
        if response.will_close:
            connection.close()
            self._local.connection = None
        kept = {
            k: v
            for k, v in response.getheaders()
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"
        }
        return Reply(response.status, kept, body)

    def _connection(self) -> http.client.HTTPConnection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = http.client.HTTPConnection(*self.upstream, timeout=120)
            self._local.connection = connection
        return connection

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in two writes: with Nagle's algorithm on, the body
            # would wait for the client's delayed ACK (about 40 ms a response)
            disable_nagle_algorithm = True

            def handle_one_request(self) -> None:
                self.raw_requestline = self.rfile.readline(65537)
                if not self.raw_requestline or not self.parse_request():
                    self.close_connection = True
                    return
                proxy._handle(self)
                self.wfile.flush()

            def log_message(self, format: str, *args: object) -> None:  # quiet
                return

        return Handler


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while size := int(handler.rfile.readline().split(b";")[0], 16):
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
        handler.rfile.readline()
        return b"".join(chunks)
    return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
