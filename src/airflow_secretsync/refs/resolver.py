"""Route references to providers and apply their ``#/key`` path: :class:`SecretsResolver`."""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points

from airflow_secretsync.client_logging import quiet_client_loggers
from airflow_secretsync.errors import (
    MissingExtraError,
    SecretAccessDeniedError,
    SecretReferenceError,
    SecretSyncError,
)
from airflow_secretsync.refs.providers import BUILTIN_PROVIDERS, SecretsProvider
from airflow_secretsync.refs.reference import (
    SecretReference,
    check_provider_name,
    parse_reference,
)
from airflow_secretsync.stores.server_errors import is_denied, server_reason

log = logging.getLogger(__name__)

#: Third-party providers register here: ``name = "package.module:ProviderClass"``.
ENTRY_POINT_GROUP = "airflow_secretsync.providers"


@dataclass(frozen=True)
class SecretResult:
    """The outcome of resolving one reference; ``value`` is ``None`` when nothing was found."""

    reference: SecretReference
    value: str | None = field(default=None, repr=False)

    @property
    def found(self) -> bool:
        return self.value is not None

    def __repr__(self) -> str:  # never the value
        return f"SecretResult(reference={self.reference.render()!r}, found={self.found})"


def describe_error(exc: BaseException) -> str:
    """Describe ``exc`` without risking a secret value (never a server's error body).

    Messages are kept only where their content is known: this package's own errors, import
    errors and Airflow's "connection not defined"; Vault and AWS failures are described by
    :func:`~airflow_secretsync.stores.server_errors.server_reason`; others by their type.
    """
    name = type(exc).__name__
    if isinstance(exc, SecretSyncError):
        return str(exc)
    if isinstance(exc, ImportError) or name == "AirflowNotFoundException":
        return f"{name}: {exc}"
    reason = server_reason(exc)
    return f"{name} ({reason})" if reason else name


def is_access_denied(exc: BaseException) -> bool:
    """Whether ``exc`` is Airflow's authoritative "access denied", which must never be skipped.

    Airflow added that exception in 3.3; before, no secrets backend can raise it.
    """
    from airflow.sdk import exceptions

    denied = getattr(exceptions, "AirflowSecretsBackendAccessDenied", None)
    return denied is not None and isinstance(exc, denied)


class SecretsResolver:
    """Providers by name; :meth:`resolve` turns a reference into a :class:`SecretResult`."""

    def __init__(self) -> None:
        self._providers: dict[str, SecretsProvider] = {}
        self._unavailable: dict[str, str] = {}

    @classmethod
    def default(cls) -> SecretsResolver:
        """A resolver with the built-in providers and every entry-point provider that loads.

        An entry point that fails to load is logged and remembered: resolving its name then
        raises an error saying why. Entry points cannot replace a built-in provider.
        """
        resolver = cls()
        for provider_cls in BUILTIN_PROVIDERS.values():
            resolver.register(provider_cls())
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            builtin = BUILTIN_PROVIDERS.get(ep.name)
            if builtin is not None:
                if ep.value != f"{builtin.__module__}:{builtin.__name__}":
                    log.warning("Ignoring secret provider entry point %s: built-in name", ep.value)
                continue
            try:
                resolver.register(ep.load()(), name=ep.name)
            except Exception as exc:
                reason = f"entry point {ep.value!r} failed to load: {describe_error(exc)}"
                log.warning("Secret provider %r unavailable: %s", ep.name, reason)
                resolver._unavailable[ep.name] = reason
        return resolver

    def register(self, provider: SecretsProvider, name: str | None = None) -> SecretsProvider:
        """Route references to ``provider`` under ``name`` (default ``provider.provider_name``)."""
        name = check_provider_name(name or getattr(provider, "provider_name", None))
        if not callable(getattr(provider, "get_secret", None)):
            raise SecretReferenceError(f"secret provider {name!r} has no get_secret(key) method")
        self._providers[name] = provider
        self._unavailable.pop(name, None)
        return provider

    @property
    def names(self) -> list[str]:
        """Registered provider names, sorted."""
        return sorted(self._providers)

    def provider(self, name: str) -> SecretsProvider:
        """The provider registered as ``name``; a clear error when there is none."""
        if name in self._providers:
            return self._providers[name]
        if name in self._unavailable:
            raise SecretReferenceError(f"secret provider {name!r}: {self._unavailable[name]}")
        close = difflib.get_close_matches(name, self.names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        known = ", ".join(self.names) or "none"
        raise SecretReferenceError(f"unknown secret provider {name!r}{hint}; known: {known}")

    def check(self, name: str, params: Iterable[str] = ()) -> SecretsProvider:
        """The provider ``name``, after checking it exists and supports parameters ``params``."""
        provider = self.provider(name)
        supported = getattr(provider, "supported_params", frozenset())
        unsupported = sorted(set(params) - supported)
        if unsupported:
            raise SecretReferenceError(
                f"provider {name!r} does not support parameter(s) {', '.join(unsupported)} "
                f"(supported: {', '.join(sorted(supported)) or 'none'})"
            )
        return provider

    def resolve(self, ref: SecretReference | str) -> SecretResult:
        """Look ``ref`` up; a missing secret or ``#/key`` gives a result with ``found == False``.

        Provider failures raise :class:`SecretReferenceError` naming the reference, never the
        value (Airflow's ``AirflowSecretsBackendAccessDenied`` and missing extras pass through).
        """
        if isinstance(ref, str):
            ref = parse_reference(ref)
        return SecretResult(ref, select(ref, self.fetch(ref)))

    def fetch(self, ref: SecretReference) -> str | None:
        """The provider's text for ``ref`` (its ``#/key`` path not applied), or ``None``."""
        try:
            provider = self.check(ref.provider, ref.params)
        except SecretReferenceError as exc:
            raise SecretReferenceError(f"{ref.render()!r}: {exc}") from None
        try:
            with quiet_client_loggers():
                return provider.get_secret(ref.key, **ref.params)
        except (SecretReferenceError, MissingExtraError):
            raise
        except Exception as exc:
            if is_access_denied(exc):
                raise
            error = SecretAccessDeniedError if is_denied(exc) else SecretReferenceError
            raise error(f"cannot resolve {ref.render()!r}: {describe_error(exc)}") from None


def select(ref: SecretReference, raw: str | None) -> str | None:
    """Apply ``ref.fragment`` to a provider's text: the selected JSON node as text, or ``None``.

    A missing secret, a missing key or a JSON ``null`` give ``None``; a string node is returned
    as is, any other node as compact JSON.
    """
    if raw is None or not ref.fragment:
        return raw
    try:
        node = json.loads(raw)
    except ValueError:
        raise SecretReferenceError(
            f"{ref.render()!r}: the secret is not JSON, so the '#' path cannot be applied"
        ) from None
    for part in ref.fragment:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    if node is None or isinstance(node, str):
        return node
    return json.dumps(node, separators=(",", ":"))
