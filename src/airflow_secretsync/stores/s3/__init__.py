"""The ``s3`` store kind: the S3 merge store (one JSON object per target).

Light to import: the block model and :data:`KIND`; the client code is in :mod:`.store`.
"""

from __future__ import annotations

from airflow_secretsync.scopes import Scope
from airflow_secretsync.stores.registry import StoreBlock, StoreKind


class S3Location(StoreBlock):
    """The S3 merge store: one JSON object per target under ``prefix``."""

    bucket: str
    prefix: str = "secretsync/merged/"
    region: str | None = None
    kms_key_id: str | None = None

    def scope(self) -> Scope:
        """Every object under ``prefix`` (bucket names are global: the region does not count)."""
        label = f"s3://{self.bucket}/{self.prefix}"
        return Scope("s3", (self.bucket,), self.prefix, False, label, self.connection_id)

    def describe(self) -> str:
        region = f"in {self.region}" if self.region else "in the connection's region"
        return f"S3 s3://{self.bucket}/{self.prefix} {region}"


KIND = StoreKind(
    name="s3",
    blocks={"merge_store": S3Location},
    connection="aws",
    default_connection_id="aws_default",
    opener="airflow_secretsync.stores.s3.store:open_store",
    extra="amazon",
)
