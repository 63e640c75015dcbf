"""The typed, immutable pipeline config model (SPEC §1). Unknown keys are errors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model, model_validator

from airflow_secretsync.errors import ConfigError
from airflow_secretsync.stores.base import DEFAULT_READ_CONCURRENCY
from airflow_secretsync.stores.registry import Role, StoreBlock, kinds_for, store_kinds

TASK_ID_SAFE = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"
MERGE_STORE_MISSING = (
    "merge is enabled but no merge_store is configured: add one (vault or s3) "
    "or set pipeline.merge.enabled: false"
)


def _as_list(value: object) -> object:
    return [value] if isinstance(value, str) else value


NameList = Annotated[list[str], BeforeValidator(_as_list)]


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


Approval = Literal["none", "required"]
#: How long an approval request waits for a response by default (24 hours).
DEFAULT_APPROVAL_TIMEOUT_MINUTES = 24 * 60


class ApprovalSettings(_Model):
    """Whether a target's sync waits for a person's approval in the Airflow UI (SPEC §10):
    ``approval: required`` makes it plan -> approve -> sync. Set under ``pipeline.sync`` (the
    default of every target) and per target (overrides it, key by key)."""

    approval: Approval | None = None
    #: How long the request waits; no response by then means nothing is written.
    approval_timeout_minutes: float | None = Field(default=None, gt=0)
    #: Airflow user ids allowed to respond (HITL ``assigned_users``); empty: any user with
    #: permission to respond to the DAG's human-in-the-loop requests.
    approvers: NameList | None = None


class SyncSettings(ApprovalSettings):
    approval: Approval = "none"
    approval_timeout_minutes: float = Field(default=DEFAULT_APPROVAL_TIMEOUT_MINUTES, gt=0)
    approvers: NameList = Field(default_factory=list)
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
    #: Requests one store keeps in flight while reading a store without batch reads (Vault /
    #: OpenBao KV v2: one request per secret); HTTP connection pools are sized to match.
    read_concurrency: int = Field(default=DEFAULT_READ_CONCURRENCY, ge=1, le=256)

    @property
    def stores_in_flight(self) -> int:
        """How many stores of one run may read or write at once (targets in parallel)."""
        return max(self.merge.parallel, self.sync.parallel)


def _connection_fields() -> dict[str, Any]:
    """One ``connections:`` key per provider of the installed kinds (``aws`` serves ``s3``)."""
    fields: dict[str, Any] = {}
    for kind in store_kinds().values():
        fields.setdefault(kind.connection, (str, kind.default_connection_id))
    return fields


#: Default Airflow connection ids for blocks that name none.
Connections = create_model(
    "Connections", __base__=_Model, __doc__="Default connection ids.", **_connection_fields()
)


def _choices(names: Sequence[str]) -> str:
    quoted = [f"'{name}'" for name in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def store_choice_problem(role: Role, present: Sequence[str]) -> str | None:
    """Why a block holding the kinds ``present`` is wrong for ``role`` (None if it is not):
    sources and the merge store take exactly one kind, a target at most one destination."""
    names = list(kinds_for(role))
    present = [name for name in names if name in present]
    if role == "destination":
        if len(present) > 1:
            return f"a target has at most one destination: {_choices(present)}, not both"
        return None
    if not present:
        return f"needs exactly one of {_choices(names)}"
    if len(present) > 1:
        extra = "not both" if len(present) == 2 else f"not {len(present)}"
        return f"takes exactly one of {_choices(names)}, {extra}"
    return None


class _StoreChoice(_Model):
    """A block holding one store block keyed by its kind (``vault: {...}``)."""

    role: ClassVar[Role]

    @model_validator(mode="after")
    def _one_kind(self) -> _StoreChoice:
        problem = store_choice_problem(self.role, self.kinds)
        if problem:
            raise ValueError(problem)
        return self

    @property
    def kinds(self) -> list[str]:
        """The kinds present, in registry order."""
        return [name for name in kinds_for(self.role) if getattr(self, name) is not None]

    @property
    def store(self) -> StoreBlock:
        """The store block (sources and the merge store have exactly one)."""
        return getattr(self, self.kinds[0])


def _kind_fields(role: Role) -> dict[str, Any]:
    return {name: (kind.blocks[role] | None, None) for name, kind in kinds_for(role).items()}


class _SourceBase(_StoreChoice):
    role: ClassVar[Role] = "source"


class _MergeStoreBase(_StoreChoice):
    role: ClassVar[Role] = "merge_store"


SourceConfig = create_model("SourceConfig", __base__=_SourceBase, **_kind_fields("source"))
MergeStoreConfig = create_model(
    "MergeStoreConfig", __base__=_MergeStoreBase, **_kind_fields("merge_store")
)


class _TargetBase(_StoreChoice, ApprovalSettings):
    """A target: what it inherits and imports, filters, an optional destination (one key
    per destination kind) and its approval settings (None: the pipeline's)."""

    role: ClassVar[Role] = "destination"

    inherits: NameList = Field(default_factory=list)
    imports: NameList = Field(default_factory=list)
    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    adopt: bool = False
    step_secrets: dict[str, str] = Field(default_factory=dict)

    @property
    def destination(self) -> StoreBlock | None:
        return getattr(self, self.kinds[0]) if self.kinds else None


_clash = set(_TargetBase.model_fields) & set(kinds_for("destination"))
if _clash:  # a kind named like a target key would be ambiguous in YAML
    raise ConfigError(f"store kinds named like target keys: {', '.join(sorted(_clash))}")
TargetConfig = create_model("TargetConfig", __base__=_TargetBase, **_kind_fields("destination"))


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

    @model_validator(mode="before")
    @classmethod
    def _connection_defaults(cls, data: Any) -> Any:
        """Fill every store block's empty ``connection_id`` from ``connections:`` (or the
        kind's default): the one place connection defaults are applied."""
        if not isinstance(data, dict):
            return data
        defaults = data.get("connections")
        defaults = defaults if isinstance(defaults, dict) else {}

        def fill(body: Any, role: Role) -> Any:
            if not isinstance(body, dict):
                return body
            filled = dict(body)
            for name, kind in kinds_for(role).items():
                block = body.get(name)
                if isinstance(block, dict) and block.get("connection_id") is None:
                    default = defaults.get(kind.connection)
                    conn = default if isinstance(default, str) else kind.default_connection_id
                    filled[name] = {**block, "connection_id": conn}
            return filled

        def fill_all(section: Any, role: Role) -> Any:
            if not isinstance(section, dict):
                return section
            return {name: fill(body, role) for name, body in section.items()}

        filled = dict(data)
        for key, role in (("sources", "source"), ("targets", "destination")):
            if key in data:
                filled[key] = fill_all(data[key], role)
        if "merge_store" in data:
            filled["merge_store"] = fill(data["merge_store"], "merge_store")
        return filled

    @model_validator(mode="after")
    def _merge_needs_a_store(self) -> PipelineConfig:
        if self.pipeline.merge.enabled and self.merge_store is None:
            raise ValueError(MERGE_STORE_MISSING)
        return self

    def approval(self, target: str) -> SyncSettings:
        """``target``'s effective approval settings: its own keys, the pipeline's otherwise."""
        body = self.targets[target]
        own = {key: getattr(body, key) for key in ApprovalSettings.model_fields}
        return self.pipeline.sync.model_copy(
            update={key: value for key, value in own.items() if value is not None}
        )

    def needs_approval(self, target: str) -> bool:
        """Whether ``target``'s sync waits for an approval (it must have a destination)."""
        body = self.targets[target]
        return body.destination is not None and self.approval(target).approval == "required"

    @property
    def dag_id(self) -> str:
        if self.dag.dag_id:
            return self.dag.dag_id
        stem = self.source_file.stem if self.source_file else "pipeline"
        return f"secretsync_{stem}"
