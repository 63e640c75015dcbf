"""A plain HTTP(S) endpoint serving JSON documents, for the ``http`` source store.

Tests configure each document with ``PUT /_test/documents/{name}`` and the store reads it with
``GET /documents/{name}``. A document spec (all keys optional) is::

    {"body": <JSON>,                 # the answer (default: {})
     "status": 200,                  # the HTTP status
     "raw": "text",                  # sent as is instead of body (not JSON, say)
     "content_type": "text/plain",   # with raw
     "size": 1048576,                # instead of body: a JSON object of exactly this size
     "redirect": "/documents/other", # answer 302 with this Location
     "require_header": {"name": "Authorization", "value": "Bearer T"}}  # else 401

Run: ``python -m devtools.apiservers.json_document --port 8004 [--tls-cert C --tls-key K]``.
"""

from __future__ import annotations

import json
from typing import Any

from devtools.apiservers.base import Api, ApiError, Request, Response, main, route

SPEC_KEYS = frozenset(
    {"body", "status", "raw", "content_type", "size", "redirect", "require_header"}
)


class JsonDocumentApi(Api):
    """JSON documents over HTTP(S), each with its own status, size, redirect and auth header."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.documents: dict[str, dict[str, Any]] = {}

    def error(self, status: int, message: str, **details: Any) -> ApiError:
        return ApiError(Response(status, {"message": message, **details}))

    def authenticate(self, request: Request) -> None:
        """Each document says which header it requires (see :meth:`get_document`)."""

    @route("PUT", "/_test/documents/{name}")
    def put_document(self, request: Request) -> Response:
        spec = request.json(self)
        if not isinstance(spec, dict) or not set(spec) <= SPEC_KEYS:
            raise self.error(400, f"a document spec is an object with keys {sorted(SPEC_KEYS)}")
        self.documents[request.params["name"]] = spec
        return Response(204)

    @route("GET", "/documents/{name}")
    def get_document(self, request: Request) -> Response:
        spec = self.documents.get(request.params["name"])
        if spec is None:
            raise self.error(404, "no such document")
        required = spec.get("require_header")
        if required and request.headers.get(required["name"]) != required["value"]:
            raise self.error(401, "missing or wrong credentials")
        if "redirect" in spec:
            return Response(302, headers={"Location": spec["redirect"]})
        status = spec.get("status", 200)
        if "raw" in spec:
            content_type = spec.get("content_type", "text/plain")
            return Response(
                status, raw=spec["raw"].encode(), headers={"Content-Type": content_type}
            )
        if "size" in spec:
            filler = "x" * max(0, spec["size"] - len('{"big":{"value":""}}'))
            document = json.dumps({"big": {"value": filler}}, separators=(",", ":"))
            return Response(status, raw=document.encode())
        return Response(status, body=spec.get("body", {}))


if __name__ == "__main__":
    main(JsonDocumentApi)
