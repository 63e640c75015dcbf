"""The package's error types. Messages never contain secret values."""

from __future__ import annotations


class SecretSyncError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigError(SecretSyncError):
    """The pipeline config is invalid. ``errors`` holds every problem found (one line each)."""

    def __init__(self, errors: list[str] | str) -> None:
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super().__init__("\n".join(self.errors))


class StoreError(SecretSyncError):
    """A secret store could not be read or written (server down, denied, bad path...)."""


class ConflictError(StoreError):
    """A check-and-set write lost a race: the secret changed after it was read."""


class SecretReferenceError(SecretSyncError):
    """A secret reference is malformed or cannot be resolved."""


class SecretAccessDeniedError(SecretReferenceError):
    """The store refused to show a secret (Vault 403, AWS AccessDenied): look-ups stop here."""


class MissingExtraError(SecretSyncError):
    """An optional dependency is not installed."""

    def __init__(self, feature: str, extra: str) -> None:
        super().__init__(
            f"{feature} needs the '{extra}' extra: pip install 'airflow-secretsync[{extra}]'"
        )
        self.extra = extra


def require_extra(module: str, feature: str, extra: str) -> None:
    """Import ``module`` or raise :class:`MissingExtraError` naming the extra to install."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(feature, extra) from exc
