"""An on-disk cache of validated configs, keyed on the config file's content.

Every Airflow task re-imports its DAG file, so a 1,000-target pipeline would re-read and
re-check its YAML once per task. A config that loaded without errors is stored as JSON (the
validated model, which holds store locations and references, never a secret value) under
the SHA-256 of its bytes and of the code that validates it (config package, scopes, installed
store kinds); a changed file, a new version of that code or another set of kinds is a new key.
Only valid configs are stored: errors are always re-derived, with their file and line. Nothing
is unpickled: a cache entry is validated again by the model.

Location: ``$SECRETSYNC_CONFIG_CACHE`` (``off`` disables it), else
``$XDG_CACHE_HOME/airflow-secretsync`` or ``~/.cache/airflow-secretsync``, created ``0700``.
A cache that cannot be read or written is ignored.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from functools import cache
from pathlib import Path

from pydantic import ValidationError

from airflow_secretsync.config.model import PipelineConfig
from airflow_secretsync.stores.registry import store_kinds

CACHE_ENV = "SECRETSYNC_CONFIG_CACHE"
OFF = "off"


def cache_dir() -> Path | None:
    """Where validated configs are cached, or None when caching is off."""
    configured = os.environ.get(CACHE_ENV, "")
    if configured.lower() == OFF:
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "airflow-secretsync"


@cache
def _code_digest() -> bytes:
    """The code that decides what a valid config is: the config package, the scope rule and
    the installed store kinds (their block models and scopes). A change to any of it, or a
    kind installed or removed, is a new cache key."""
    package = Path(__file__).parent.parent
    modules = [*package.joinpath("config").glob("*.py"), package / "scopes.py"]
    digest = hashlib.sha256()
    for kind in store_kinds().values():
        digest.update(f"{kind.name}={kind.opener}".encode())
        modules += [
            Path(sys.modules[model.__module__].__file__ or "") for model in kind.blocks.values()
        ]
    for module in sorted(set(modules)):
        digest.update(module.read_bytes())
    return digest.digest()


def cache_key(raw: bytes) -> str:
    return hashlib.sha256(_code_digest() + raw).hexdigest()


def read_cached(raw: bytes, file: Path) -> PipelineConfig | None:
    """The config cached for these bytes (``source_file`` set to ``file``), if any."""
    directory = cache_dir()
    if directory is None:
        return None
    try:
        text = (directory / f"{cache_key(raw)}.json").read_bytes()
        config = PipelineConfig.model_validate_json(text)
    except (OSError, ValidationError, ValueError):
        return None
    return config.model_copy(update={"source_file": file})


def write_cached(raw: bytes, config: PipelineConfig) -> None:
    """Store a config that loaded without errors; atomic, and silent when it cannot."""
    directory = cache_dir()
    if directory is None:
        return
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("wb", dir=directory, suffix=".tmp", delete=False) as tmp:
            tmp.write(config.model_dump_json().encode())
        os.replace(tmp.name, directory / f"{cache_key(raw)}.json")
    except OSError:
        return
