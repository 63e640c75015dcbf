"""The local JSON document server at the wire level (statuses, raw bodies, sizes, auth)."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request

import pytest

from devtools.apiservers.base import ApiServer
from tests.servers.raw import call


def test_documents_as_configured(json_document_api: ApiServer) -> None:
    json_document_api.control("PUT", "documents/plain", {"body": {"a": "b"}})
    assert call(json_document_api, "GET", "/documents/plain", token=None)[::2] == (200, {"a": "b"})
    json_document_api.control("PUT", "documents/gone", {"status": 503, "body": {"m": "x"}})
    assert call(json_document_api, "GET", "/documents/gone")[::2] == (503, {"m": "x"})
    assert call(json_document_api, "GET", "/documents/none")[0] == 404


def test_raw_size_redirect_and_auth(json_document_api: ApiServer) -> None:
    json_document_api.control("PUT", "documents/big", {"size": 1000})
    status, headers, body = call(json_document_api, "GET", "/documents/big")
    assert (status, headers["Content-Length"], len(json.dumps(body, separators=(",", ":")))) == (
        200,
        "1000",
        1000,
    )
    json_document_api.control("PUT", "documents/move", {"redirect": "/documents/big"})
    # urllib follows the 302 itself: the answer is the target's
    assert call(json_document_api, "GET", "/documents/move")[1]["Content-Length"] == "1000"
    guarded = {"body": {}, "require_header": {"name": "X-Key", "value": "k"}}
    json_document_api.control("PUT", "documents/guarded", guarded)
    assert call(json_document_api, "GET", "/documents/guarded", token=None)[0] == 401
    log = json_document_api.control("GET", "requests")
    assert {"method": "GET", "path": "/documents/move", "status": 302} in log


def test_https_with_the_generated_certificate(json_document_https: ApiServer) -> None:
    json_document_https.control("PUT", "documents/tls", {"raw": "not json"})
    url = f"{json_document_https.url}/documents/tls"
    trusted = ssl.create_default_context(cafile=json_document_https.tls_cert)
    with urllib.request.urlopen(url, timeout=10, context=trusted) as answer:
        assert (answer.read(), answer.headers["Content-Type"]) == (b"not json", "text/plain")
    with pytest.raises(urllib.error.URLError) as caught:
        urllib.request.urlopen(url, timeout=10, context=ssl.create_default_context())
    assert isinstance(caught.value.reason, ssl.SSLCertVerificationError)
