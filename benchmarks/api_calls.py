"""Count API calls by operation without changing what the product does.

AWS: a botocore ``before-call`` event handler on each client (one count per API call, whatever
the retries). Vault: a ``requests`` response hook on the hvac client's session (one count per
HTTP request), labelled by method and KV v2 endpoint (``GET data``, ``LIST metadata``...).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from airflow_secretsync.stores.base import SourceStore


def vault_label(method: str, url: str) -> str:
    """``Vault GET data`` for ``GET /v1/secret/data/app/db``; system paths are kept whole."""
    parts = urlsplit(url).path.split("/")[2:]  # without the leading "" and "v1"
    if len(parts) > 1 and parts[1] in ("data", "metadata"):
        return f"Vault {method} {parts[1]}"
    return f"Vault {method} {'/'.join(parts)}"


class ApiCalls:
    """Thread-safe counts of API calls by operation (``ListSecrets``, ``Vault GET data``...)."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._handler_id = f"benchmarks-api-calls-{id(self)}"

    def add(self, operation: str) -> None:
        with self._lock:
            self._counts[operation] += 1

    def take(self) -> dict[str, int]:
        """The counts so far, sorted by operation, and start again from zero."""
        with self._lock:
            counts = dict(sorted(self._counts.items()))
            self._counts.clear()
        return counts

    def watch_aws(self, client: Any) -> None:
        """Count every API call made with this boto3 client (idempotent)."""
        client.meta.events.register("before-call", self._on_aws_call, unique_id=self._handler_id)

    def _on_aws_call(self, model: Any, **_: Any) -> None:
        self.add(model.name)

    def watch_vault(self, client: Any) -> None:
        """Count every HTTP request made with this hvac client (idempotent)."""
        hooks = client.adapter.session.hooks["response"]
        if self._on_vault_response not in hooks:
            hooks.append(self._on_vault_response)

    def _on_vault_response(self, response: Any, *_: Any, **__: Any) -> None:
        self.add(vault_label(response.request.method, response.request.url))

    def watch_store(self, store: SourceStore | None) -> SourceStore | None:
        """Count the calls of a store's client (Vault, Secrets Manager or S3); returns it."""
        connection = getattr(store, "connection", None)
        if connection is not None:
            self.watch_vault(connection.client)
        elif store is not None:
            self.watch_aws(store.client)
        return store


class CountingStores:
    """A store provider (``StoreFactory``) whose stores' API calls are counted."""

    def __init__(self, factory: Any, calls: ApiCalls) -> None:
        self.factory = factory
        self.calls = calls

    def source(self, name: str) -> SourceStore:
        return self.calls.watch_store(self.factory.source(name))

    def destination(self, target: str) -> SourceStore | None:
        return self.calls.watch_store(self.factory.destination(target))

    def merge_store(self, target: str) -> SourceStore:
        return self.calls.watch_store(self.factory.merge_store(target))
