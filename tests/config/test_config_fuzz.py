"""Property: whatever the input, only ConfigError escapes, and every error names a line."""

from __future__ import annotations

import re
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from airflow_secretsync.config import build_plan, parse_config
from airflow_secretsync.errors import ConfigError
from tests.config.test_config_loading import SPEC_EXAMPLE

LOCATED = re.compile(r"^p\.yaml:(\d+):(\d+): \S")
FUZZ = settings(
    max_examples=250,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
NAMES = ["Base", "Staging", "Production", "team-a", "legacy", "sync.Production", "report"]
KEYS = [
    *NAMES,
    "version", "dag", "pipeline", "merge", "sync", "enabled", "merge_store", "sources",
    "targets", "inherits", "imports", "include", "exclude", "vault", "aws", "s3", "mount",
    "path", "prefix", "bucket", "account_id", "connection_id", "step_secrets", "schedule",
    "tags", "max_deletions", "adopt", "<<",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.sampled_from(NAMES),
    st.sampled_from(
        ["ref+vault://a/b#/k", "ref+x://", "ref+env://A?b&c=#/", "(", "0 * * * *", "1234567890"]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
YAMLISH = st.text(alphabet="{}[]:,-#&*!|>'\"\n\t %@?<aZ09._\\", max_size=12)


def assert_only_located_config_errors(text: str | bytes) -> None:
    """The invariant: a valid config (with a plan), or a ConfigError whose every line is
    ``p.yaml:LINE:COLUMN: ...`` with LINE inside the file."""
    try:
        config = parse_config(text, "p.yaml")
    except ConfigError as exc:
        errors = exc.errors
    else:
        plan = build_plan(config)
        assert set(plan.selected) == set(config.targets)
        return
    assert errors
    decoded = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    last_line = len(decoded.splitlines()) + 1  # YAML also breaks lines on \r, \x85, \u2028...
    for error in errors:
        match = LOCATED.match(error)
        assert match, error
        assert 1 <= int(match[1]) <= last_line, error


@FUZZ
@given(st.text(max_size=200) | st.binary(max_size=200))
def test_random_input(text: str | bytes) -> None:
    assert_only_located_config_errors(text)


@FUZZ
@given(st.data())
def test_mutated_text(data: st.DataObject) -> None:
    text = SPEC_EXAMPLE
    for _ in range(data.draw(st.integers(1, 4))):
        start = data.draw(st.integers(0, len(text)))
        end = data.draw(st.integers(start, min(len(text), start + 12)))
        text = text[:start] + data.draw(YAMLISH) + text[end:]
    assert_only_located_config_errors(text)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    children = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    found = [prefix]
    for key, child in children:
        found += _paths(child, (*prefix, key))
    return found


@FUZZ
@given(st.data())
def test_mutated_structure(data: st.DataObject) -> None:
    document = yaml.safe_load(SPEC_EXAMPLE)
    for _ in range(data.draw(st.integers(1, 4))):
        path = data.draw(st.sampled_from(_paths(document)))
        if not path:
            continue
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        action = data.draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            parent[path[-1]] = data.draw(VALUES)
        elif action == "delete":
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[data.draw(st.sampled_from(KEYS))] = data.draw(VALUES)
    assert_only_located_config_errors(yaml.safe_dump(document, sort_keys=False))
