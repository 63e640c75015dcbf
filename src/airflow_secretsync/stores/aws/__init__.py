"""The ``aws`` store kind: AWS Secrets Manager (source and destination).

Light to import: the block models and :data:`KIND`; the client code is in :mod:`.store`.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from airflow_secretsync.scopes import Scope
from airflow_secretsync.stores.registry import StoreBlock, StoreKind

AccountId = Annotated[str, Field(pattern=r"^\d{12}$")]


def aws_scope(
    prefix: str, region: str | None, account_id: str | None, role_arn: str | None, conn: str | None
) -> Scope:
    """Secrets Manager names starting with ``prefix``; an unset region or account is the
    connection's default and so could be any."""
    account = account_id or _arn_account(role_arn)
    where = ":".join(part for part in (account, region or "default-region") if part)
    label = f"aws:{where}:{prefix or '*'}"  # '*' is no secret name character
    return Scope("aws", (account, region), prefix, False, label, conn)


def _arn_account(role_arn: str | None) -> str | None:
    """The account in ``arn:aws:iam::123456789012:role/name``, if there is one."""
    parts = (role_arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() else None


class AwsSourceLocation(StoreBlock):
    """Every Secrets Manager secret whose name starts with ``prefix``."""

    prefix: str = ""
    region: str | None = None
    account_id: AccountId | None = None
    role_arn: str | None = None

    def scope(self) -> Scope:
        return aws_scope(
            self.prefix, self.region, self.account_id, self.role_arn, self.connection_id
        )

    def describe(self) -> str:
        region = f"in {self.region}" if self.region else "in the connection's region"
        text = f"AWS Secrets Manager {self.prefix or '(no prefix) '}* {region}"
        return text + (f", account {self.account_id}" if self.account_id else "")


class AwsDestination(AwsSourceLocation):
    """An AWS Secrets Manager destination."""

    kms_key_id: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    recovery_window_days: int | None = Field(default=None, ge=7, le=30)
    force_delete: bool = False


KIND = StoreKind(
    name="aws",
    blocks={"source": AwsSourceLocation, "destination": AwsDestination},
    connection="aws",
    default_connection_id="aws_default",
    opener="airflow_secretsync.stores.aws.store:open_store",
    extra="amazon",
)
