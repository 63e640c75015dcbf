"""The ``vault`` store kind: HashiCorp Vault / OpenBao KV v2 (source, destination, merge store).

Light to import: the block model and :data:`KIND`; the client code is in :mod:`.store`.
"""

from __future__ import annotations

from airflow_secretsync.scopes import Scope, path_prefix
from airflow_secretsync.stores.registry import StoreBlock, StoreKind


class VaultLocation(StoreBlock):
    """A KV v2 path: every secret under ``path`` (recursively) on ``mount``."""

    mount: str = "secret"
    path: str = ""

    def scope(self) -> Scope:
        """The subtree below ``path`` on ``mount`` (KV folders: ``dst`` is not ``dst2``)."""
        mount, path = path_prefix(self.mount), path_prefix(self.path)
        return Scope("vault", (mount,), path, True, f"vault:{mount}/{path}", self.connection_id)

    def describe(self) -> str:
        return f"Vault {path_prefix(self.mount)}/{path_prefix(self.path)}".rstrip("/")


KIND = StoreKind(
    name="vault",
    blocks={"source": VaultLocation, "destination": VaultLocation, "merge_store": VaultLocation},
    connection="vault",
    default_connection_id="vault_default",
    opener="airflow_secretsync.stores.vault.store:open_store",
    extra="hashicorp",
)
