"""The on-disk cache of validated configs: same result as a fresh parse, keyed on content."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_secretsync.config import loader, parse_config
from airflow_secretsync.config.cache import CACHE_ENV, cache_key
from airflow_secretsync.errors import ConfigError
from benchmarks.config_parse import generate
from tests.helpers import write_config


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(directory))
    return directory


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files ``load_config`` really parsed (not served from the cache)."""
    seen: list[str] = []
    real = loader.parse_config

    def counting(text, file=None):
        seen.append(str(file))
        return real(text, file)

    monkeypatch.setattr(loader, "parse_config", counting)
    return seen


def test_a_cached_config_equals_a_fresh_parse(tmp_path, cache, parses) -> None:
    text = generate(30)
    path = write_config(tmp_path, text)
    first = loader.load_config(path)
    again = loader.load_config(path)
    assert parses == [str(path)]
    assert again == first == parse_config(text, path)
    assert again.source_file == path
    assert again.dag_id == "secretsync_pipeline"
    assert [p.name for p in cache.iterdir()] == [f"{cache_key(path.read_bytes())}.json"]
    assert oct(cache.stat().st_mode & 0o777) == "0o700"


def test_a_changed_file_is_parsed_again(tmp_path, cache, parses) -> None:
    path = write_config(tmp_path, generate(3))
    loader.load_config(path)
    path.write_text(generate(4))
    assert set(loader.load_config(path).targets) == {"T0", "T1", "T2", "T3"}
    path.write_text(generate(4) + "  T9: [nope]\n")
    with pytest.raises(ConfigError, match=r"pipeline.yaml:\d+:\d+: targets.T9"):
        loader.load_config(path)
    assert len(parses) == 3
    assert len(list(cache.iterdir())) == 2  # the invalid version is never cached


def test_the_same_content_elsewhere_keeps_its_own_file_name(tmp_path, cache, parses) -> None:
    text = generate(3)
    one = loader.load_config(write_config(tmp_path, text, "one.yaml"))
    two = loader.load_config(write_config(tmp_path, text, "two.yaml"))
    assert len(parses) == 1
    assert (one.dag_id, two.dag_id) == ("secretsync_one", "secretsync_two")


def test_off_and_unwritable_caches_are_ignored(tmp_path, monkeypatch, parses) -> None:
    path = write_config(tmp_path, generate(3))
    monkeypatch.setenv(CACHE_ENV, "off")
    loader.load_config(path)
    loader.load_config(path)
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("")
    monkeypatch.setenv(CACHE_ENV, str(blocked))
    assert set(loader.load_config(path).targets) == {"T0", "T1", "T2"}
    assert len(parses) == 3
