"""One local API server process per kind for the whole session (see devtools.apiservers)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from devtools.apiservers.base import ApiServer, start_api_server


def _server(kind: str) -> Iterator[ApiServer]:
    server = start_api_server(kind)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def github_api() -> Iterator[ApiServer]:
    yield from _server("github")


@pytest.fixture(scope="session")
def kubernetes_api() -> Iterator[ApiServer]:
    yield from _server("kubernetes")


@pytest.fixture(scope="session")
def gcp_api() -> Iterator[ApiServer]:
    yield from _server("gcp")
