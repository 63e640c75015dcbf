"""Google Cloud Secret Manager store kind ``gcp`` (source and destination); light module.

The implementation (``store.py``) imports ``google-cloud-secret-manager`` only when a store is
opened. A block names a project (default: the connection's ``project`` extra), an optional
``location`` (a regional Secret Manager endpoint; none: global secrets) and a secret-id
``prefix``; see ``docs/stores.md`` for the name mapping and the old-version policy.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from airflow_secretsync.scopes import Scope
from airflow_secretsync.stores.registry import StoreBlock, StoreKind

#: A project id (6-30 lowercase letters, digits and hyphens) or a legacy domain-scoped one.
PROJECT_ID = r"^([a-z][a-z0-9.:-]*:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$"
LOCATION = r"^[a-z]+-[a-z]+[0-9]+$"
#: Secret-id characters (a prefix is the start of every secret id).
ID_PREFIX = r"^[A-Za-z0-9_-]{0,200}$"
LABEL_KEY = r"^[a-z][a-z0-9_-]{0,62}$"
LABEL_VALUE = r"^[a-z0-9_-]{0,63}$"
RESERVED_LABELS = ("managed-by", "secretsync-owner")


class GcpSource(StoreBlock):
    """Every secret whose id starts with ``prefix`` in ``project`` (regional: ``location``)."""

    project: str | None = Field(default=None, pattern=PROJECT_ID)
    location: str | None = Field(default=None, pattern=LOCATION)
    prefix: str = Field(default="", pattern=ID_PREFIX)

    def scope(self) -> Scope:
        """Secret ids starting with ``prefix`` in the project's global or regional secrets
        (an unset project is the connection's default, so it could be any)."""
        parts = (self.project or "default-project", self.location)
        where = ":".join(part for part in parts if part)
        label = f"gcp:{where}:{self.prefix or '*'}"  # '*' is no secret id character
        place = (self.project, self.location or "global")
        return Scope("gcp", place, self.prefix, False, label, self.connection_id)


class GcpDestination(GcpSource):
    """A Secret Manager destination: one secret per relative path, a version per write."""

    #: What a write does to the versions before the one it adds.
    old_versions: Literal["disable", "destroy", "keep"] = "disable"
    #: Extra labels on every secret written (the ownership labels are added and win).
    labels: dict[str, str] = Field(default_factory=dict)
    #: Replica locations of new global secrets (empty: automatic replication).
    replica_locations: list[str] = Field(default_factory=list)

    @field_validator("labels")
    @classmethod
    def _label_syntax(cls, labels: dict[str, str]) -> dict[str, str]:
        for key, value in labels.items():
            if key in RESERVED_LABELS:
                raise ValueError(f"label '{key}' is set by secretsync (ownership)")
            if not re.match(LABEL_KEY, key) or not re.match(LABEL_VALUE, value):
                raise ValueError(
                    f"label '{key}': keys are a lowercase letter then up to 62 of [a-z0-9_-], "
                    "values up to 63 of [a-z0-9_-]"
                )
        return labels

    @field_validator("replica_locations")
    @classmethod
    def _replicas_global_only(cls, locations: list[str]) -> list[str]:
        for location in locations:
            if not re.match(LOCATION, location):
                raise ValueError(f"'{location}' is not a location such as europe-west1")
        return locations

    @model_validator(mode="after")
    def _replicas_need_global(self) -> GcpDestination:
        if self.location and self.replica_locations:
            raise ValueError("replica_locations is for global secrets: drop it or 'location'")
        return self


KIND = StoreKind(
    name="gcp",
    blocks={"source": GcpSource, "destination": GcpDestination},
    connection="gcp",
    default_connection_id="google_cloud_default",
    opener="airflow_secretsync.stores.gcp.store:open_store",
    extra="google",
    requires=("google.cloud.secretmanager",),
)
