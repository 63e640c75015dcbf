"""``ChainedSecretsBackend``: an Airflow secrets backend that asks secret providers in order.

Configure it like any secrets backend::

    [secrets]
    backend = airflow_secretsync.airflow.secrets_backend.ChainedSecretsBackend
    backend_kwargs = {"providers": ["vault", {"provider": "awssecrets", "region": "eu-west-1"}]}

Connection ``my_db`` is looked up as ``<connections_prefix>/my_db`` in each provider in turn;
the first one that has it wins. See docs/secrets-backend.md.
"""

from __future__ import annotations

import difflib
import json
import logging
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from airflow.sdk.exceptions import AirflowSecretsBackendAccessDenied
from airflow.secrets import BaseSecretsBackend
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from airflow_secretsync.errors import ConfigError, SecretAccessDeniedError, SecretReferenceError
from airflow_secretsync.refs.cache import (
    DEFAULT_MAX_ENTRIES,
    DEFAULT_MISS_TTL_SECONDS,
    DEFAULT_TTL_SECONDS,
    SecretsCache,
)
from airflow_secretsync.refs.masking import mask_in_airflow_logs
from airflow_secretsync.refs.reference import SHOWN_PARAMS, SecretReference, check_key
from airflow_secretsync.refs.resolver import SecretsResolver, describe_error, is_access_denied

log = logging.getLogger(__name__)

Kind = Literal["connections", "variables", "config"]
KINDS: tuple[Kind, ...] = ("connections", "variables", "config")
CLASS_PATH = f"{__name__}.ChainedSecretsBackend"
#: Where airflow.cfg may name this class: here, or the compatibility path of ``secrets.py``.
CLASS_PATHS = (CLASS_PATH, "airflow_secretsync.secrets.ChainedSecretsBackend")
_PREFIX_KEYS = frozenset(f"{kind}_prefix" for kind in KINDS)
_busy = threading.local()  # set while this thread is inside a chained look-up
_SINGULAR = {"connections": "connection", "variables": "variable", "config": "config key"}


def _provider_dicts(value: Any) -> Any:
    """``"vault,env"`` (a per-key env var) and ``"vault"`` entries become ``{"provider": ...}``."""
    if isinstance(value, str):
        value = [name.strip() for name in value.split(",") if name.strip()]
    if isinstance(value, Sequence):
        return [{"provider": e} if isinstance(e, str) else e for e in value]
    return value


class _Settings(BaseModel):
    """The backend's keyword arguments, validated (strings from per-key env vars coerced)."""

    model_config = ConfigDict(extra="forbid")

    providers: list[dict[str, Any]] = Field(min_length=1)
    connections_prefix: str | None
    variables_prefix: str | None
    config_prefix: str | None
    connections_lookup_pattern: re.Pattern[str] | None
    variables_lookup_pattern: re.Pattern[str] | None
    config_lookup_pattern: re.Pattern[str] | None
    sep: str
    cache_ttl_seconds: float = Field(ge=0)
    cache_miss_ttl_seconds: float = Field(ge=0)
    cache_max_entries: int = Field(ge=1)
    on_access_denied: Literal["fail", "continue"]

    @field_validator("providers", mode="before")
    @classmethod
    def _providers(cls, value: Any) -> Any:
        if value is None:
            raise ValueError('required, e.g. {"providers": ["vault", "awssecrets"]}')
        return _provider_dicts(value)

    @field_validator(*(f"{kind}_lookup_pattern" for kind in KINDS), mode="before")
    @classmethod
    def _pattern(cls, value: Any) -> Any:
        """Lookup patterns match the start of an id, ignoring case (like Airflow's backends)."""
        if isinstance(value, str):
            try:
                return re.compile(value, re.IGNORECASE)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value


@dataclass(frozen=True)
class _Entry:
    """One provider of the chain: its name, reference parameters and per-kind prefix overrides."""

    label: str
    provider: str
    params: Mapping[str, str]
    prefixes: Mapping[str, str | None]


def _build_entries(
    providers: list[Mapping[str, Any]], resolver: SecretsResolver
) -> tuple[list[_Entry], list[str]]:
    """The chain described by the ``providers`` option, and every problem found in it."""
    entries, errors = [], []
    for index, raw in enumerate(providers):
        where = f"providers[{index}]"
        name = raw.get("provider")
        params = {k: v for k, v in raw.items() if k != "provider" and k not in _PREFIX_KEYS}
        problems = [
            f"{where}.{key}: must be a string or a number"
            for key, value in params.items()
            if isinstance(value, bool) or not isinstance(value, str | int | float)
        ] + [
            f"{where}.{key}: must be a string or null"
            for key in sorted(_PREFIX_KEYS & raw.keys())
            if raw[key] is not None and not isinstance(raw[key], str)
        ]
        if not isinstance(name, str) or not name:
            problems.append(f"{where}: 'provider' (a provider name) is required")
        else:
            try:
                resolver.check(name, params)
            except SecretReferenceError as exc:
                problems.append(f"{where}: {exc}")
        errors.extend(problems)
        if not problems:
            params = {k: str(v) for k, v in params.items()}
            shown = (f"{k}={v if k in SHOWN_PARAMS else '...'}" for k, v in params.items())
            prefixes = {k.removesuffix("_prefix"): raw[k] for k in _PREFIX_KEYS & raw.keys()}
            entries.append(_Entry(" ".join([f"{where} {name}", *shown]), name, params, prefixes))
    return entries, errors


def configured_kwargs_errors() -> list[str]:
    """Problems in the raw ``backend_kwargs`` JSON of whichever option configures this class.

    Airflow replaces unparsable kwargs with ``{}`` and only logs a warning; this backend
    refuses to start instead. The raw text is never quoted (it might hold a credential).
    """
    from airflow.sdk.configuration import conf

    errors = []
    for section, backend_key, kwargs_key in (
        ("secrets", "backend", "backend_kwargs"),
        ("workers", "secrets_backend", "secrets_backend_kwargs"),
    ):
        if conf.get(section, backend_key, fallback="").strip() not in CLASS_PATHS:
            continue
        raw = conf.get(section, kwargs_key, fallback="") or ""
        if not raw.strip():
            continue
        try:
            parsed = json.loads(raw)
        except ValueError as exc:
            errors.append(
                f"[{section}] {kwargs_key} is not valid JSON: {exc.msg} "
                f"(line {exc.lineno}, column {exc.colno})"
            )
            continue
        if not isinstance(parsed, dict):
            errors.append(f"[{section}] {kwargs_key} must be a JSON object")
    return errors


class ChainedSecretsBackend(BaseSecretsBackend):
    """Connections, variables and config from secret providers, first hit wins.

    :param providers: provider names (``"vault"``) or objects ``{"provider": "awssecrets",
        "region": "eu-west-1", "connection_id": "aws_prod"}`` whose other keys are reference
        parameters of that provider, and which may override ``connections_prefix``,
        ``variables_prefix`` and ``config_prefix`` for that provider only.
    :param connections_prefix: where connections live (``None`` disables connections).
    :param variables_prefix: where variables live (``None`` disables variables).
    :param config_prefix: where config values live (``None`` disables config).
    :param connections_lookup_pattern: only connection ids matching this regex are looked up.
    :param variables_lookup_pattern: only variable keys matching this regex are looked up.
    :param config_lookup_pattern: only config keys matching this regex are looked up.
    :param sep: joins a prefix and an id (``airflow/connections`` + ``/`` + ``my_db``).
    :param cache_ttl_seconds: how long found values are cached (0 disables).
    :param cache_miss_ttl_seconds: how long "not found" is cached (0 disables).
    :param cache_max_entries: at most this many secrets are cached (expired ones are evicted
        first, then the least recently used).
    :param on_access_denied: ``fail`` (default): a provider's "access denied" fails the look-up;
        ``continue``: it is logged and the next provider is asked.
    :raises ConfigError: listing every problem with the arguments (or their JSON).
    """

    def __init__(
        self,
        providers: Sequence[str | Mapping[str, Any]] | str | None = None,
        connections_prefix: str | None = "airflow/connections",
        variables_prefix: str | None = "airflow/variables",
        config_prefix: str | None = "airflow/config",
        connections_lookup_pattern: str | None = None,
        variables_lookup_pattern: str | None = None,
        config_lookup_pattern: str | None = None,
        sep: str = "/",
        cache_ttl_seconds: float = DEFAULT_TTL_SECONDS,
        cache_miss_ttl_seconds: float = DEFAULT_MISS_TTL_SECONDS,
        cache_max_entries: int = DEFAULT_MAX_ENTRIES,
        on_access_denied: str = "fail",
        **unknown: Any,
    ) -> None:
        super().__init__()
        options = {k: v for k, v in locals().items() if k not in {"self", "unknown", "__class__"}}
        errors = configured_kwargs_errors()
        try:
            settings = _Settings(**options, **unknown)
        except ValidationError as exc:
            errors.extend(_describe(exc))
        resolver = SecretsResolver.default()
        raw_entries = _provider_dicts(providers)
        if isinstance(raw_entries, list) and all(isinstance(e, Mapping) for e in raw_entries):
            entries, entry_errors = _build_entries(raw_entries, resolver)
            errors.extend(entry_errors)
        if errors:
            raise ConfigError([f"ChainedSecretsBackend: {e}" for e in errors])
        self.settings = settings
        self.entries = entries
        self.cache = SecretsCache(
            resolver,
            settings.cache_ttl_seconds,
            settings.cache_miss_ttl_seconds,
            max_entries=settings.cache_max_entries,
        )

    def get_conn_value(self, conn_id: str, team_name: str | None = None) -> str | None:
        """A connection URI or Airflow connection JSON (``{"conn_uri": ...}`` unwrapped)."""
        return None if team_name else self._lookup("connections", conn_id)

    def get_variable(self, key: str, team_name: str | None = None) -> str | None:
        """A variable's value (a ``{"value": ...}`` object unwrapped)."""
        return None if team_name else self._lookup("variables", key)

    def get_config(self, key: str) -> str | None:
        """A config value, for ``*_secret`` options (a ``{"value": ...}`` object unwrapped)."""
        return self._lookup("config", key)

    def _lookup(self, kind: Kind, name: str) -> str | None:
        # A provider's own hook fetches its Airflow connection through the secrets backends,
        # chained ones included: such nested look-ups are left to the other backends.
        if getattr(_busy, "active", False):
            return None
        try:
            check_key(name, f"{_SINGULAR[kind]} id")
        except SecretReferenceError as exc:
            log.warning("Not looked up: %s", exc)
            return None
        pattern = getattr(self.settings, f"{kind}_lookup_pattern")
        if pattern is not None and not pattern.match(name):
            return None
        _busy.active = True
        try:
            for entry in self.entries:
                value = self._ask(entry, kind, name)
                if value is not None:
                    return mask_in_airflow_logs(value)
            return None
        finally:
            _busy.active = False

    def _ask(self, entry: _Entry, kind: Kind, name: str) -> str | None:
        prefix = entry.prefixes.get(kind, getattr(self.settings, f"{kind}_prefix"))
        if prefix is None:
            return None
        key = f"{prefix}{self.settings.sep}{name}" if prefix else name
        try:
            result = self.cache.resolve(SecretReference(entry.provider, key, entry.params))
        except Exception as exc:
            if is_access_denied(exc):
                raise
            if (
                isinstance(exc, SecretAccessDeniedError)
                and self.settings.on_access_denied == "fail"
            ):
                raise AirflowSecretsBackendAccessDenied(
                    f"{_SINGULAR[kind]} {name!r}: {entry.label} denied access, so no other "
                    "provider is asked (set on_access_denied: continue to fall through)"
                ) from None
            log.warning(
                "Secret provider %s failed to look up %s %r, skipping it: %s",
                entry.label,
                _SINGULAR[kind],
                name,
                describe_error(exc),
            )
            return None
        return None if result.value is None else _unwrap(kind, result.value)


def _unwrap(kind: Kind, value: str) -> str:
    """Apply the Vault backend's layout: ``{"conn_uri": ...}``, ``{"value": ...}``."""
    if not value.lstrip().startswith("{"):
        return value
    try:
        data = json.loads(value)
    except ValueError:
        return value
    if kind == "connections":
        uri = data.get("conn_uri") if isinstance(data, dict) else None
        return uri if isinstance(uri, str) and uri else value
    if isinstance(data, dict) and data.keys() == {"value"}:
        inner = data["value"]
        return inner if isinstance(inner, str) else json.dumps(inner)
    return value


def _describe(exc: ValidationError) -> list[str]:
    """One line per pydantic error, with did-you-mean for unknown options; never the input."""
    lines = []
    for error in exc.errors():
        where = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in error["loc"])
        where = where.replace(".[", "[")
        if error["type"] == "extra_forbidden":
            close = difflib.get_close_matches(where, _Settings.model_fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            lines.append(f"unknown option {where!r}{hint}")
        else:
            lines.append(f"{where}: {error['msg'].removeprefix('Value error, ')}")
    return lines
