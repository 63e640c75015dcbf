"""One-call secret look-ups: :func:`resolve_reference` and :func:`get_secret`.

Both use a process-wide :class:`SecretsCache` around :meth:`SecretsResolver.default` unless
given a cache, and register what they return with Airflow's secrets masker.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from typing import Literal

from airflow_secretsync.errors import (
    MissingExtraError,
    SecretAccessDeniedError,
    SecretReferenceError,
)
from airflow_secretsync.refs.cache import SecretsCache
from airflow_secretsync.refs.masking import mask_in_airflow_logs
from airflow_secretsync.refs.reference import SecretReference, parse_reference
from airflow_secretsync.refs.resolver import SecretsResolver, describe_error, is_access_denied

log = logging.getLogger(__name__)

_default_cache: SecretsCache | None = None
_default_lock = threading.Lock()


def default_cache() -> SecretsCache:
    """The process-wide cache (default TTLs) around ``SecretsResolver.default()``."""
    global _default_cache
    with _default_lock:
        if _default_cache is None:
            _default_cache = SecretsCache(SecretsResolver.default())
        return _default_cache


def _mask(value: str) -> str:
    return mask_in_airflow_logs(value)


def resolve_reference(text: str, *, cache: SecretsCache | None = None) -> str:
    """The value ``text`` (``ref+BACKEND://PATH...``) points at, masked in Airflow logs.

    Raises :class:`SecretReferenceError` naming the reference (never a value) when it is
    malformed, its provider fails, or nothing is stored there; :class:`MissingExtraError`
    when its provider needs an extra that is not installed.
    """
    ref = parse_reference(text)
    result = (cache or default_cache()).resolve(ref)
    if result.value is None:
        raise SecretReferenceError(f"secret reference {ref.render()!r}: no such secret or key")
    return _mask(result.value)


def default_secret_name(name: str) -> str:
    """The store name for an environment-style name: ``GITHUB_TOKEN`` -> ``github/token``.

    Lower-cased; the first ``_`` becomes ``/`` and the others ``-``
    (``ANTHROPIC_API_KEY`` -> ``anthropic/api-key``).
    """
    head, _, tail = name.lower().partition("_")
    return f"{head}/{tail.replace('_', '-')}" if tail else head


def get_secret(
    name: str,
    *,
    value: str | None = None,
    required: bool = False,
    secret_name: str | Callable[[str], str] = default_secret_name,
    aws_connection_id: str | None = None,
    vault_connection_id: str | None = None,
    vault_mount: str = "secret",
    vault_field: str | None = "value",
    cache: SecretsCache | None = None,
    on_access_denied: Literal["fail", "continue"] = "fail",
) -> str | None:
    """Find a secret by name, first hit wins; empty strings count as unset.

    1. ``value``, when given (an explicit argument beats everything);
    2. the environment variable ``name``;
    3. AWS Secrets Manager secret ``secret_name`` (a string, or a function of ``name``;
       default ``GITHUB_TOKEN`` -> ``github/token``);
    4. Vault KV v2 ``vault_mount/secret_name``, key ``vault_field`` (``None``: the whole JSON).

    A store whose extra is not installed is skipped silently; a store that fails is logged
    (without values) and skipped. A store that denies access stops the search
    (:class:`SecretAccessDeniedError`) unless ``on_access_denied="continue"``. Nothing found:
    ``None``, or :class:`SecretReferenceError` naming what was tried when ``required``.
    """
    if value:
        return _mask(value)
    if env_value := os.environ.get(name):
        return _mask(env_value)
    store_name = secret_name if isinstance(secret_name, str) else secret_name(name)
    refs = [
        SecretReference("awssecrets", store_name, _params(aws_connection_id)),
        SecretReference(
            "vault",
            f"{vault_mount}/{store_name}",
            _params(vault_connection_id),
            (vault_field,) if vault_field else (),
        ),
    ]
    cache = cache or default_cache()
    failures: list[str] = []
    for ref in refs:
        try:
            result = cache.resolve(ref)
        except MissingExtraError as exc:
            log.debug("Skipping %s for secret %s: %s", ref.provider, name, exc)
            continue
        except Exception as exc:
            denied = isinstance(exc, SecretAccessDeniedError) and on_access_denied == "fail"
            if denied or is_access_denied(exc):
                raise
            failures.append(f"{ref.provider} ({describe_error(exc)})")
            log.warning("Secret %s: %s failed, trying the next store", name, failures[-1])
            continue
        if result.value is not None:
            return _mask(result.value)
    if not required:
        return None
    tried = ", ".join(["environment", *(repr(ref.render()) for ref in refs)])
    failed = f"; failed: {'; '.join(failures)}" if failures else ""
    raise SecretReferenceError(f"required secret {name} not found (tried {tried}){failed}")


def _params(connection_id: str | None) -> dict[str, str]:
    return {"connection_id": connection_id} if connection_id else {}
