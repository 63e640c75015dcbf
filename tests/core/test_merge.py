"""Deep-merge primitives and filters, exactly as SPEC §2 configures deepmerge."""

from __future__ import annotations

from airflow_secretsync.core.merge import filter_paths, merge_sets, merge_values


def test_dicts_merge_recursively() -> None:
    a = {"db": {"host": "a", "opts": {"ssl": True}}}
    b = {"db": {"port": 5432, "opts": {"timeout": 3}}}
    assert merge_values(a, b) == {
        "db": {"host": "a", "port": 5432, "opts": {"ssl": True, "timeout": 3}}
    }


def test_lists_append_without_dedup() -> None:
    assert merge_values({"l": [1, 2]}, {"l": [2, 3]}) == {"l": [1, 2, 2, 3]}


def test_scalars_later_wins() -> None:
    assert merge_values({"k": "old"}, {"k": "new"}) == {"k": "new"}


def test_type_conflict_later_wins() -> None:
    assert merge_values({"k": {"a": 1}}, {"k": "flat"}) == {"k": "flat"}
    assert merge_values({"k": [1]}, {"k": {"a": 1}}) == {"k": {"a": 1}}
    assert merge_values("plain", {"a": 1}) == {"a": 1}


def test_null_overrides() -> None:
    assert merge_values({"k": "v"}, {"k": None}) == {"k": None}


def test_inputs_are_not_mutated() -> None:
    a = {"app": {"l": [1], "d": {"x": 1}}}
    b = {"app": {"l": [2], "d": {"y": 2}}}
    merged = merge_sets([a, b])
    merged["app"]["l"].append(99)
    assert a == {"app": {"l": [1], "d": {"x": 1}}}
    assert b == {"app": {"l": [2], "d": {"y": 2}}}


def test_sets_union_by_path_in_order() -> None:
    first = {"app/db": {"user": "a", "pw": "1"}, "only/first": {"x": 1}}
    second = {"app/db": {"pw": "2"}, "only/second": {"y": 2}}
    third = {"app/db": {"user": "c"}}
    assert merge_sets([first, second, third]) == {
        "app/db": {"user": "c", "pw": "2"},
        "only/first": {"x": 1},
        "only/second": {"y": 2},
    }


def test_filters_include_then_exclude() -> None:
    secrets = {"app/a": 1, "app/tmp/b": 2, "ops/c": 3}
    assert filter_paths(secrets, ["^app/"], ["^app/tmp/"]) == {"app/a": 1}
    assert filter_paths(secrets, [], ["^ops/"]) == {"app/a": 1, "app/tmp/b": 2}
    assert filter_paths(secrets, [], []) == secrets
