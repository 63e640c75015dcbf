"""The ``aws`` store kind: AWS Secrets Manager (source and destination).

Light to import: the block models and :data:`KIND`; the client code is in :mod:`.store`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

from pydantic import Field, PositiveFloat, field_validator

from airflow_secretsync.scopes import Scope
from airflow_secretsync.stores.registry import StoreBlock, StoreKind

AccountId = Annotated[str, Field(pattern=r"^\d{12}$")]
#: Write calls per second per account and region, by quota group (Secrets Manager's published
#: quotas; a group is named after its first operation): the defaults of ``write_rates``.
WRITE_QUOTAS: Mapping[str, float] = {
    "PutSecretValue": 50,  # + UpdateSecret, UpdateSecretVersionStage and replication, combined
    "CreateSecret": 50,
    "DeleteSecret": 50,
    "RestoreSecret": 50,
    "TagResource": 50,
    "UntagResource": 50,
}
#: Batch read calls per second per account and region (Secrets Manager's published quotas);
#: ``GetSecretValue`` + ``DescribeSecret`` (10,000 combined) are not paced.
READ_QUOTAS: Mapping[str, float] = {"BatchGetSecretValue": 100, "ListSecrets": 100}


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
    #: Calls per second by quota group, overriding :data:`WRITE_QUOTAS` (e.g. a raised quota,
    #: or a share of it left to other clients of the account).
    write_rates: dict[str, PositiveFloat] = Field(default_factory=dict)

    @field_validator("write_rates")
    @classmethod
    def _known_groups(cls, rates: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(rates) - set(WRITE_QUOTAS))
        if unknown:
            raise ValueError(
                f"unknown quota group {', '.join(unknown)}: use {', '.join(WRITE_QUOTAS)}"
            )
        return rates


KIND = StoreKind(
    name="aws",
    blocks={"source": AwsSourceLocation, "destination": AwsDestination},
    connection="aws",
    default_connection_id="aws_default",
    opener="airflow_secretsync.stores.aws.store:open_store",
    extra="amazon",
)
