"""The ``kubernetes`` store kind: Opaque Secrets in one namespace, one Secret per path.

Light on purpose (no client import): the block models and the :data:`KIND` the registry finds
by entry point; the implementation is :mod:`.store`.
"""

from __future__ import annotations

from pydantic import field_validator

from airflow_secretsync.scopes import Scope
from airflow_secretsync.stores.kubernetes.names import DNS1123_LABEL, PREFIX
from airflow_secretsync.stores.registry import StoreBlock, StoreKind


class _KubernetesLocation(StoreBlock):
    """Secrets whose names start with ``prefix`` in ``namespace`` (None: the connection's
    ``namespace``, else ``default``)."""

    namespace: str | None = None
    prefix: str = ""

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        if value is not None and (len(value) > 63 or not DNS1123_LABEL.fullmatch(value)):
            raise ValueError("a namespace is a DNS-1123 label: a-z, 0-9 and '-', 63 at most")
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if len(value) > 200 or not PREFIX.fullmatch(value):
            raise ValueError(
                "a Secret name prefix holds a-z, 0-9, '-' and '.', starts with a letter or "
                "digit (200 characters at most)"
            )
        return value

    def scope(self) -> Scope:
        """Secret names starting with ``prefix`` in the namespace (a name prefix, like AWS:
        ``app`` and ``app-legacy`` overlap; an unset namespace could be any)."""
        where = self.namespace or "default-namespace"
        label = f"kubernetes:{where}/{self.prefix or '*'}"  # '*' is no Secret name character
        return Scope("kubernetes", (self.namespace,), self.prefix, False, label, self.connection_id)


class KubernetesSource(_KubernetesLocation):
    """Every Opaque Secret of the namespace under ``prefix``, optionally only those matching
    ``label_selector`` (e.g. ``team=payments,tier!=dev``)."""

    label_selector: str | None = None


class KubernetesDestination(_KubernetesLocation):
    """One Opaque Secret per relative path, named ``prefix + mapped path``."""


KIND = StoreKind(
    name="kubernetes",
    blocks={"destination": KubernetesDestination, "source": KubernetesSource},
    connection="kubernetes",
    default_connection_id="kubernetes_default",
    opener="airflow_secretsync.stores.kubernetes.store:open_store",
    extra="kubernetes",
    requires=("kubernetes",),
)
