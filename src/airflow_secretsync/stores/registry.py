"""Store kinds, found by entry point (group ``airflow_secretsync.stores``).

A kind is one package ``airflow_secretsync.stores.<kind>`` whose ``__init__`` is light (no client
library import): the config block model of each role it plays and a :class:`StoreKind` named
``KIND``; its implementation module is imported only when a store is opened. The config model,
the loader's checks (one block per role, scopes), the factory and the docs all find kinds here,
so a new kind is one package plus one entry point::

    [project.entry-points."airflow_secretsync.stores"]
    kubernetes = "airflow_secretsync.stores.kubernetes:KIND"
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from airflow_secretsync.errors import ConfigError, require_extra

if TYPE_CHECKING:
    from airflow_secretsync.scopes import Scope
    from airflow_secretsync.stores.base import MergeStore, SourceStore

Role = Literal["source", "destination", "merge_store"]
ROLES: tuple[Role, ...] = ("source", "destination", "merge_store")
ENTRY_POINT_GROUP = "airflow_secretsync.stores"
_Client = TypeVar("_Client")


class StoreBlock(BaseModel):
    """Base of every kind's config block (one model per role it plays). Unknown keys are errors;
    ``connection_id`` left empty is filled from the ``connections:`` block by the loader."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    connection_id: str | None = None

    def scope(self) -> Scope:
        """Where this block reads or writes (see :mod:`airflow_secretsync.scopes`)."""
        raise NotImplementedError(f"{type(self).__name__} must define scope()")

    def describe(self) -> str:
        """Where this block reads or writes, for people (default: its scope)."""
        return str(self.scope())


class Clients:
    """Clients shared by the stores of one run, one per key (e.g. a connection id), built on
    first use; thread-safe. Everything with a ``close()`` is closed by :meth:`close`."""

    def __init__(self) -> None:
        self._lock = threading.RLock()  # a build may get another client (STS for an account)
        self._clients: dict[tuple[Any, ...], Any] = {}

    def get(self, key: tuple[Any, ...], build: Callable[[], _Client]) -> _Client:
        with self._lock:
            if key not in self._clients:
                self._clients[key] = build()
            return self._clients[key]

    def close(self) -> None:
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            close = getattr(client, "close", None)
            if callable(close):
                close()


@dataclass(frozen=True)
class OpenContext:
    """What a kind's opener gets besides its block.

    ``config`` is the whole :class:`~airflow_secretsync.config.model.PipelineConfig` (typed
    loosely: stores sit below the config package); ``name`` is the source's or target's name;
    ``owner`` the ownership id a target writes with
    (``<dag_id>/<target>``, empty for sources); ``merge_store`` opens the target's merge store
    location (None without a merge store), e.g. for a write-only destination's state record.
    """

    role: Role
    name: str
    config: Any
    clients: Clients
    owner: str = ""
    merge_store: Callable[[], MergeStore] | None = None


@dataclass(frozen=True)
class StoreKind:
    """One store kind: its YAML key, its block model per role and how to open it.

    ``connection`` is the key of the ``connections:`` block whose id a block without
    ``connection_id`` uses (kinds of one provider share it: ``aws`` and ``s3``), defaulting to
    ``default_connection_id``. ``opener`` (``"module:function"``) is imported only when a
    store is opened: ``function(block, context) -> store``. ``extra`` names the pip extra that
    brings its client library, for the error when it is missing.
    """

    name: str
    blocks: Mapping[Role, type[StoreBlock]]
    connection: str
    default_connection_id: str
    opener: str
    extra: str | None = None
    requires: tuple[str, ...] = field(default=())

    @property
    def roles(self) -> tuple[Role, ...]:
        return tuple(role for role in ROLES if role in self.blocks)

    def open(self, block: StoreBlock, context: OpenContext) -> SourceStore:
        """The store for ``block`` in ``context.role``."""
        for module in self.requires:
            require_extra(module, f"the '{self.name}' store", self.extra or self.name)
        module, _, function = self.opener.partition(":")
        return getattr(import_module(module), function)(block, context)


@cache
def store_kinds() -> Mapping[str, StoreKind]:
    """Every installed kind by name, in a stable order (built-in kinds first)."""
    kinds: dict[str, StoreKind] = {}
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=_entry_order):
        kind = entry.load()
        if not isinstance(kind, StoreKind) or kind.name != entry.name:
            raise ConfigError(f"store kind entry point '{entry.name}' is not a matching StoreKind")
        kinds.setdefault(kind.name, kind)
    return kinds


_BUILT_IN = ("vault", "aws", "s3")


def _entry_order(entry: Any) -> tuple[int, str]:
    name = entry.name
    return (_BUILT_IN.index(name) if name in _BUILT_IN else len(_BUILT_IN), name)


def kinds_for(role: Role) -> dict[str, StoreKind]:
    """The kinds that can play ``role``, by name."""
    return {name: kind for name, kind in store_kinds().items() if role in kind.blocks}


def kind_of(block: StoreBlock) -> StoreKind:
    """The kind whose model ``block`` is."""
    for kind in store_kinds().values():
        if type(block) in kind.blocks.values():
            return kind
    raise ConfigError(f"{type(block).__name__} is not the block of any installed store kind")
