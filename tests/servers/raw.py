"""Raw HTTP calls to the local API servers, for checks at the wire level."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from devtools.apiservers.base import ApiServer


def call(
    server: ApiServer,
    method: str,
    path: str,
    body: Any = None,
    token: str | None = "default",
    content_type: str = "application/json",
) -> tuple[int, dict[str, str], Any]:
    """Raw HTTP: status, headers and parsed JSON body (None when empty)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{server.url}{path}", data=data, method=method)
    request.add_header("Content-Type", content_type)
    if token is not None:
        request.add_header(
            "Authorization", f"Bearer {server.token if token == 'default' else token}"
        )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            status, headers, raw = answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        status, headers, raw = error.code, dict(error.headers), error.read()
    return status, headers, json.loads(raw) if raw else None
