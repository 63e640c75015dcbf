"""GitHub Actions secrets (destination only): repository, environment or organization secrets.

This module is light (no client import): the config block and the :data:`KIND`. The store is in
:mod:`.store`, the REST client in :mod:`.api`, the name rule in :mod:`.names` and the state
record (ownership and versions last pushed) in :mod:`.state`.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, field_validator, model_validator

from airflow_secretsync.scopes import Scope
from airflow_secretsync.stores.github.names import check_prefix
from airflow_secretsync.stores.registry import StoreBlock, StoreKind

_REPOSITORY = re.compile(r"[A-Za-z0-9-]+/[A-Za-z0-9._-]+")
_OWNER = re.compile(r"[A-Za-z0-9-]+")
Visibility = Literal["all", "private", "selected"]


class GithubDestination(StoreBlock):
    """Repository secrets (``repository``), environment secrets (``repository`` and
    ``environment``) or organization secrets (``organization``, ``visibility``,
    ``selected_repositories``). ``prefix`` is put before every secret name."""

    repository: str | None = None
    environment: str | None = None
    organization: str | None = None
    visibility: Visibility | None = None
    selected_repositories: tuple[str, ...] = Field(default=())
    prefix: str = ""

    @field_validator("repository")
    @classmethod
    def _repository(cls, value: str | None) -> str | None:
        if value is not None and not _REPOSITORY.fullmatch(value):
            raise ValueError(f"must be 'owner/name', got {value!r}")
        return value

    @field_validator("organization")
    @classmethod
    def _organization(cls, value: str | None) -> str | None:
        if value is not None and not _OWNER.fullmatch(value):
            raise ValueError(f"is not an organization login: {value!r}")
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        check_prefix(value)
        return value

    @model_validator(mode="after")
    def _one_scope(self) -> GithubDestination:
        if (self.repository is None) == (self.organization is None):
            raise ValueError("exactly one of repository / organization is required")
        if self.organization is None:
            if self.visibility is not None or self.selected_repositories:
                raise ValueError(
                    "visibility and selected_repositories apply to organization secrets only"
                )
        else:
            if self.environment is not None:
                raise ValueError("environment needs repository (environments belong to one)")
            if self.selected_repositories and self.visibility != "selected":
                raise ValueError("selected_repositories needs visibility: selected")
        return self

    @property
    def org_visibility(self) -> Visibility:
        """The visibility organization secrets are written with (default ``private``)."""
        return self.visibility or "private"

    @property
    def location(self) -> str:
        """Where the secrets live, as in the REST API: ``repos/o/r[/environments/e]``,
        ``orgs/o``."""
        if self.organization is not None:
            return f"orgs/{self.organization}"
        env = f"/environments/{self.environment}" if self.environment is not None else ""
        return f"repos/{self.repository}{env}"

    @property
    def secrets_path(self) -> str:
        """The REST collection of the secrets (environments have no ``actions/``)."""
        return f"{self.location}/{'secrets' if self.environment else 'actions/secrets'}"

    def scope(self) -> Scope:
        """Secret names starting with ``prefix`` in one repository, environment or organization
        (GitHub names are case-insensitive)."""
        place = self.location.lower()
        label = f"github:{place}:{self.prefix or '*'}"
        return Scope("github", (place,), self.prefix.upper(), False, label, self.connection_id)


KIND = StoreKind(
    name="github",
    blocks={"destination": GithubDestination},
    connection="github",
    default_connection_id="github_default",
    opener="airflow_secretsync.stores.github.store:open_store",
    extra="github",
    requires=("nacl", "requests"),
)
