"""The typed, immutable pipeline config model (SPEC §1). Unknown keys are errors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from airflow_secretsync.config.scopes import Scope, path_prefix

TASK_ID_SAFE = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


NameList = Annotated[list[str], BeforeValidator(_as_list)]
AccountId = Annotated[str, Field(pattern=r"^\d{12}$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DagSettings(_Model):
    """How the Airflow DAG is generated."""

    dag_id: str | None = None
    schedule: str | None = None
    tags: list[str] = Field(default_factory=lambda: ["secrets"])
    max_active_runs: int = Field(default=1, ge=1)
    retries: int = Field(default=0, ge=0)
    retry_delay_seconds: float = Field(default=30, ge=0)


class MergeSettings(_Model):
    enabled: bool = True
    parallel: int = Field(default=4, ge=1)


class SyncSettings(_Model):
    enabled: bool = True
    parallel: int = Field(default=8, ge=1)
    delete_orphans: bool = False
    max_deletions: int | None = Field(default=10, ge=0)
    #: Per target: no request starts later than this after its merge-store write or sync began.
    timeout_seconds: float | None = Field(default=600, gt=0)


class PipelineSettings(_Model):
    merge: MergeSettings = Field(default_factory=MergeSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    dry_run: bool = False


class Connections(_Model):
    """Default Airflow connection ids for blocks that name none."""

    vault: str = "vault_default"
    aws: str = "aws_default"


class VaultLocation(_Model):
    """A KV v2 path: every secret under ``path`` (recursively) on ``mount``."""

    mount: str = "secret"
    path: str = ""
    connection_id: str | None = None

    def scope(self) -> Scope:
        """The subtree below ``path`` on ``mount`` (KV folders: ``dst`` is not ``dst2``)."""
        mount, path = path_prefix(self.mount), path_prefix(self.path)
        return Scope("vault", (mount,), path, True, f"vault:{mount}/{path}", self.connection_id)


def _aws_scope(
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


class AwsSourceLocation(_Model):
    """Every Secrets Manager secret whose name starts with ``prefix``."""

    prefix: str = ""
    region: str | None = None
    account_id: AccountId | None = None
    role_arn: str | None = None
    connection_id: str | None = None

    def scope(self) -> Scope:
        return _aws_scope(
            self.prefix, self.region, self.account_id, self.role_arn, self.connection_id
        )


class S3Location(_Model):
    """The S3 merge store: one JSON object per target under ``prefix``."""

    bucket: str
    prefix: str = "secretsync/merged/"
    region: str | None = None
    connection_id: str | None = None
    kms_key_id: str | None = None

    def scope(self) -> Scope:
        """Every object under ``prefix`` (bucket names are global: the region does not count)."""
        label = f"s3://{self.bucket}/{self.prefix}"
        return Scope("s3", (self.bucket,), self.prefix, False, label, self.connection_id)


class AwsDestination(_Model):
    """An AWS Secrets Manager destination."""

    region: str | None = None
    account_id: AccountId | None = None
    role_arn: str | None = None
    prefix: str = ""
    connection_id: str | None = None
    kms_key_id: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    recovery_window_days: int | None = Field(default=None, ge=7, le=30)
    force_delete: bool = False

    def scope(self) -> Scope:
        return _aws_scope(
            self.prefix, self.region, self.account_id, self.role_arn, self.connection_id
        )


class _ExactlyOne(_Model):
    """A block holding exactly one of ``vault`` / ``aws`` (or ``s3``)."""

    _choices: tuple[str, ...] = ("vault", "aws")

    @model_validator(mode="after")
    def _exactly_one(self) -> _ExactlyOne:
        present = [name for name in self._choices if getattr(self, name) is not None]
        if len(present) != 1:
            raise ValueError(f"exactly one of {' / '.join(self._choices)} is required")
        return self


class SourceConfig(_ExactlyOne):
    vault: VaultLocation | None = None
    aws: AwsSourceLocation | None = None

    @property
    def store(self) -> VaultLocation | AwsSourceLocation:
        return self.vault or self.aws  # type: ignore[return-value]


class MergeStoreConfig(_ExactlyOne):
    _choices = ("vault", "s3")
    vault: VaultLocation | None = None
    s3: S3Location | None = None

    @property
    def store(self) -> VaultLocation | S3Location:
        return self.vault or self.s3  # type: ignore[return-value]


class TargetConfig(_Model):
    """A target: what it inherits and imports, filters, and an optional destination."""

    inherits: NameList = Field(default_factory=list)
    imports: NameList = Field(default_factory=list)
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    aws: AwsDestination | None = None
    vault: VaultLocation | None = None
    adopt: bool = False
    step_secrets: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_destination(self) -> TargetConfig:
        if self.aws is not None and self.vault is not None:
            raise ValueError("a target has at most one destination: vault or aws, not both")
        return self

    @property
    def destination(self) -> AwsDestination | VaultLocation | None:
        return self.aws or self.vault


def _target_shorthand(value: object) -> object:
    """``Base: [team-a]`` is shorthand for ``Base: {imports: [team-a]}``."""
    if isinstance(value, list | str):
        return {"imports": value}
    return value


class PipelineConfig(_Model):
    """A whole pipeline file."""

    version: Literal[1]
    dag: DagSettings = Field(default_factory=DagSettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)
    connections: Connections = Field(default_factory=Connections)
    merge_store: MergeStoreConfig | None = None
    sources: dict[str, SourceConfig] = Field(default_factory=dict)
    targets: dict[str, Annotated[TargetConfig, BeforeValidator(_target_shorthand)]] = Field(
        default_factory=dict
    )
    step_secrets: dict[str, dict[str, str]] = Field(default_factory=dict)
    source_file: Path | None = Field(default=None, exclude=True)

    @property
    def dag_id(self) -> str:
        if self.dag.dag_id:
            return self.dag.dag_id
        stem = self.source_file.stem if self.source_file else "pipeline"
        return f"secretsync_{stem}"
