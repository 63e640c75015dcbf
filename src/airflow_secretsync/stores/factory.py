"""Opens the stores of one pipeline through the store-kind registry, sharing one client per
connection (and region, role...) for the whole run.

Nothing here knows a kind: each block's kind (see :mod:`.registry`) opens it. A kind's client
library is imported only when one of its stores is opened, so a missing extra is reported then,
naming the extra to install.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, cast

from airflow_secretsync.errors import ConfigError
from airflow_secretsync.stores.ownership import owner_id
from airflow_secretsync.stores.registry import Clients, OpenContext, Role, StoreBlock, kind_of

if TYPE_CHECKING:
    from airflow_secretsync.config.model import PipelineConfig
    from airflow_secretsync.stores.base import DestinationStore, MergeStore, SourceStore


class StoreFactory:
    """Sources, destinations and merge stores of ``config``; thread-safe. Call :meth:`close`
    (or use it as a context manager) when done."""

    def __init__(self, config: PipelineConfig) -> None:
        self.config = config
        self.clients = Clients()
        # Stores are opened one at a time (their reads and writes run at once): opening one
        # may import its kind's client library and Airflow provider, and two threads doing
        # that at once can deadlock in the import system.
        self._opening = threading.RLock()

    def source(self, name: str) -> SourceStore:
        """The store of source ``name``."""
        spec = self.config.sources.get(name)
        if spec is None:
            raise ConfigError(f"unknown source '{name}'")
        return self._open("source", name, spec.store)

    def destination(self, target: str) -> DestinationStore | None:
        """The destination of ``target``, or None for a merge-only target."""
        block = self._target(target).destination
        if block is None:
            return None
        return cast("DestinationStore", self._open("destination", target, block))

    def merge_store(self, target: str) -> MergeStore:
        """Where ``desired(target)`` is kept (each kind says where: Vault ``<path>/<target>``,
        S3 ``<prefix>targets/<target>.json``)."""
        self._target(target)
        if self.config.merge_store is None:
            raise ConfigError("merge_store is not configured (required when merge is enabled)")
        return cast("MergeStore", self._open("merge_store", target, self.config.merge_store.store))

    def _target(self, name: str) -> Any:
        spec = self.config.targets.get(name)
        if spec is None:
            raise ConfigError(f"unknown target '{name}'")
        return spec

    def _open(self, role: Role, name: str, block: StoreBlock) -> SourceStore:
        is_target = role != "source"
        context = OpenContext(
            role=role,
            name=name,
            config=self.config,
            clients=self.clients,
            owner=owner_id(self.config.dag_id, name) if is_target else "",
            merge_store=(
                (lambda: self.merge_store(name))
                if role == "destination" and self.config.merge_store is not None
                else None
            ),
        )
        with self._opening:
            return kind_of(block).open(block, context)

    def close(self) -> None:
        """Close every client opened so far."""
        self.clients.close()

    def __enter__(self) -> StoreFactory:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
