"""Third-party providers plug in through the ``airflow_secretsync.providers`` entry points."""

from __future__ import annotations

import logging
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from airflow_secretsync.errors import SecretReferenceError
from airflow_secretsync.refs import (
    ENTRY_POINT_GROUP,
    AwsSecretsProvider,
    EnvSecretsProvider,
    SecretsCache,
    SecretsResolver,
    VaultSecretsProvider,
    resolve_reference,
)
from tests.refs.third_party import install_providers

PROVIDER_MODULE = '''
"""A third-party provider: one file per secret under a root directory."""
import os
from pathlib import Path

from airflow_secretsync.refs import SecretsProvider


class FileSecretsProvider(SecretsProvider):
    provider_name = "files"
    supported_params = frozenset({"root"})

    def get_secret(self, key, **params):
        path = Path(params.get("root") or os.environ["SECRETSYNC_TEST_FILES_ROOT"]) / key
        return path.read_text() if path.is_file() else None
'''


@pytest.fixture
def third_party(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Install (on sys.path) a tiny distribution declaring providers; returns the secrets root."""
    install_providers(
        tmp_path / "site",
        monkeypatch,
        {
            "files": "secretsync_test_files:FileSecretsProvider",
            "broken": "secretsync_test_files_missing:Nope",
            "vault": "secretsync_test_files:FileSecretsProvider",
        },
        {"secretsync_test_files": PROVIDER_MODULE},
    )
    root = tmp_path / "secrets"
    (root / "db").mkdir(parents=True)
    (root / "db" / "password").write_text("file-canary-1234")
    (root / "app.json").write_text('{"token": "json-canary-5678"}')
    monkeypatch.setenv("SECRETSYNC_TEST_FILES_ROOT", str(root))
    return root


def test_builtins_are_declared_as_entry_points() -> None:
    declared = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert declared == {
        "env": "airflow_secretsync.refs.providers:EnvSecretsProvider",
        "awssecrets": "airflow_secretsync.refs.providers:AwsSecretsProvider",
        "vault": "airflow_secretsync.refs.providers:VaultSecretsProvider",
    }


def test_third_party_provider_is_discovered(third_party: Path, tmp_path: Path) -> None:
    resolver = SecretsResolver.default()
    assert resolver.names == ["awssecrets", "env", "files", "vault"]
    assert resolver.resolve("ref+files://db/password").value == "file-canary-1234"
    assert resolver.resolve("ref+files://app.json#/token").value == "json-canary-5678"
    assert resolver.resolve("ref+files://db/missing").found is False
    other = tmp_path / "other"
    other.mkdir()
    (other / "k").write_text("from-param")
    assert resolver.resolve(f"ref+files://k?root={other}").value == "from-param"
    cache = SecretsCache(resolver)
    assert resolve_reference("ref+files://db/password", cache=cache) == "file-canary-1234"


def test_broken_entry_point_is_logged_and_explained(third_party, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="airflow_secretsync.refs.resolver"):
        resolver = SecretsResolver.default()
    assert "Secret provider 'broken' unavailable" in caplog.text
    with pytest.raises(SecretReferenceError) as exc:
        resolver.resolve("ref+broken://x")
    assert str(exc.value) == (
        "'ref+broken://x': secret provider 'broken': entry point "
        "'secretsync_test_files_missing:Nope' failed to load: "
        "ModuleNotFoundError: No module named 'secretsync_test_files_missing'"
    )


def test_entry_points_cannot_replace_builtins(third_party, caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="airflow_secretsync.refs.resolver"):
        resolver = SecretsResolver.default()
    assert isinstance(resolver.provider("vault"), VaultSecretsProvider)
    assert isinstance(resolver.provider("env"), EnvSecretsProvider)
    assert isinstance(resolver.provider("awssecrets"), AwsSecretsProvider)
    assert (
        "Ignoring secret provider entry point secretsync_test_files:FileSecretsProvider: "
        "built-in name" in caplog.text
    )


def test_unknown_param_of_third_party_provider(third_party) -> None:
    with pytest.raises(SecretReferenceError) as exc:
        SecretsResolver.default().resolve("ref+files://db/password?mode=x")
    assert "provider 'files' does not support parameter(s) mode (supported: root)" in str(exc.value)
