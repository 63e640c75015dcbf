"""Bad input (hypothesis): fuzzed configs, references and ``--step-secret`` values given to the
``secretsync`` CLI only ever end in the package's own errors: exit 2, one ``error:`` message,
no traceback, and never a pasted value echoed back."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from airflow_secretsync.errors import SecretSyncError
from airflow_secretsync.refs import resolve_reference
from tests.config.test_config_fuzz import KEYS, VALUES, YAMLISH
from tests.config.test_config_loading import SPEC_EXAMPLE
from tests.helpers import seed_vault, unique, write_config
from tests.reliability.cli import CliResult, secretsync

FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
#: Example counts (docs/reliability.md reports them).
CONFIG_EXAMPLES = 150
REFERENCE_EXAMPLES = 150
OPTION_EXAMPLES = 150

PIECES = st.sampled_from(
    ["ref+", "vault", "awssecrets", "env", "Vault", "1x", "://", ":/", "secret/", "a/b", "/",
     "?", "&", "=", "version=1", "region=us-east-1", "x=", "#", "#/", "#/k", "/k/", "%", "%2F",
     "%zz", "%00", " ", "\n", "\t", "é", "🎉", "..", "ref+vault://", "ref+env://",
     "ref+awssecrets://", "HOME", "PATH"]
)  # fmt: skip
REFERENCES = st.one_of(
    st.lists(PIECES | st.text(max_size=4), max_size=8).map("".join),
    st.lists(PIECES, min_size=1, max_size=6).map(lambda parts: "ref+" + "".join(parts)),
)
#: References that resolve (or name a missing key) on the session servers.
RESOLVABLE = st.sampled_from(
    ["ref+vault://secret/reliability-fuzz/ci#/token", "ref+vault://secret/reliability-fuzz/ci",
     "ref+vault://secret/reliability-fuzz/ci#/nope", "ref+env://HOME", "ref+awssecrets://nope"]
)  # fmt: skip
#: A value pasted where a reference belongs: it must never be shown.
PASTED = st.text(min_size=4, max_size=20).map(lambda text: f"pw-{text}")


def assert_clear_failure(result: CliResult) -> None:
    """Either it worked, or it said what was wrong in one ``error:`` message (exit 2)."""
    event(f"exit {result.code}")
    assert "Traceback" not in result.err + result.out
    if result.code == 2 and not result.out:
        usage = ("error:", "usage:")  # argparse's usage line; Rich help writes it "Usage:"
        lines = [line for line in result.err.splitlines() if line.lower().startswith(usage)]
        assert lines, result.err
    else:
        assert result.code in (0, 1, 2), result


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="secretsync-fuzz-") as name:
        yield Path(name)


def _set(document: dict, path: list, value: object) -> None:
    node = document
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(node, dict) else node
    if isinstance(node, dict):
        node[path[-1]] = value


@settings(FUZZ, max_examples=CONFIG_EXAMPLES)
@given(
    edits=st.lists(
        st.tuples(st.lists(st.sampled_from(KEYS), min_size=1, max_size=3), VALUES),
        max_size=3,
    ),
    noise=st.lists(st.tuples(st.integers(0, len(SPEC_EXAMPLE)), YAMLISH), max_size=2),
)
def test_fuzzed_configs_only_give_clear_errors(folder: Path, servers, edits, noise) -> None:
    document = yaml.safe_load(SPEC_EXAMPLE)
    for path, value in edits:
        _set(document, path, value)
    text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    for position, insert in noise:
        text = text[:position] + insert + text[position:]
    config = folder / "fuzzed.yaml"
    config.write_text(text, errors="surrogatepass")
    for command in (["validate"], ["plan"], ["pipeline", "--dry-run", "--config"]):
        assert_clear_failure(secretsync(*command, config))


@pytest.fixture(scope="module")
def small_pipeline(servers, folder: Path) -> Path:
    """A one-target pipeline on the session servers, run dry by the fuzz tests."""
    import hvac

    ns = unique("fuzz")
    seed_vault(
        hvac.Client(url=servers.vault.url, token=servers.vault.token),
        f"{ns}/src",
        {"app": {"k": "v"}},
    )
    seed_vault(
        hvac.Client(url=servers.vault.url, token=servers.vault.token),
        "reliability-fuzz",
        {"ci": {"token": "ci-token"}},
    )
    text = f"""
        version: 1
        merge_store: {{vault: {{path: {ns}/merged}}}}
        sources:
          app: {{vault: {{path: {ns}/src}}}}
        targets:
          Prod:
            imports: [app]
            vault: {{path: {ns}/dest}}
        """
    return write_config(folder, text, "small.yaml")


@settings(FUZZ, max_examples=REFERENCE_EXAMPLES)
@given(reference=REFERENCES | RESOLVABLE)
def test_fuzzed_references_resolve_or_fail_clearly(small_pipeline: Path, reference: str) -> None:
    """In a config's step secrets (validate) and when resolved against the real servers."""
    document = yaml.safe_load(small_pipeline.read_text())
    document["targets"]["Prod"]["step_secrets"] = {"TOKEN": reference}
    config = small_pipeline.with_name("refs.yaml")
    config.write_text(yaml.safe_dump(document, allow_unicode=True), errors="surrogatepass")
    assert_clear_failure(secretsync("validate", config))
    try:
        value = resolve_reference(reference)
    except SecretSyncError:
        event("resolving: SecretSyncError")
        return
    event("resolving: a value")
    assert reference.startswith(("ref+env://", "ref+vault://", "ref+awssecrets://"))
    assert isinstance(value, str)


TASKS = st.sampled_from(["merge.Prod", "sync.Prod", "report", "sync.Prd", "", "a:b", "sync."])
NAMES = st.sampled_from(["TOKEN", "DB_PASSWORD", "1BAD", "A-B", "", "É", "A B"])
OPTIONS = st.one_of(
    st.builds(
        "{}:{}={}".format,
        st.sampled_from(["merge.Prod", "sync.Prod", "report"]),
        st.sampled_from(["TOKEN", "DB_PASSWORD"]),
        RESOLVABLE | REFERENCES,
    ),
    st.builds(
        "{}:{}={}".format,
        TASKS | st.text(max_size=8),
        NAMES | st.text(max_size=8),
        REFERENCES | PASTED | RESOLVABLE,
    ),
    st.builds("{}{}".format, st.text(max_size=12), PASTED),
    st.text(max_size=30),
)


@settings(FUZZ, max_examples=OPTION_EXAMPLES)
@given(option=OPTIONS)
def test_fuzzed_step_secret_options_fail_clearly_and_never_echo_a_value(
    small_pipeline: Path, option: str
) -> None:
    result = secretsync(
        "pipeline", "--config", small_pipeline, "--dry-run", "--output", "json",
        "--step-secret", option,
    )  # fmt: skip
    assert_clear_failure(result)
    pasted = option[option.find("pw-") :] if "pw-" in option else None
    if pasted:  # a value pasted instead of a reference is never shown back
        assert pasted not in result.out + result.err
    assert "ci-token" not in result.out + result.err
    assert os.environ.get("TOKEN") is None
