"""Deep merge of secret sets and include/exclude filters (SPEC §2)."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any

from deepmerge import Merger

#: Exactly the merger the spec names: dicts recursively, lists appended, sets united,
#: scalars and type conflicts overridden by the later value (``None`` included).
VALUE_MERGER = Merger(
    [(list, ["append"]), (dict, ["merge"]), (set, ["union"])], ["override"], ["override"]
)

SecretSet = dict[str, Any]


def merge_values(earlier: Any, later: Any) -> Any:
    """Deep-merge two values of one path; the inputs are never mutated."""
    return VALUE_MERGER.merge(copy.deepcopy(earlier), copy.deepcopy(later))


def merge_sets(sets: Iterable[Mapping[str, Any]]) -> SecretSet:
    """Union of secret sets by relative path; on a shared path the values are deep-merged
    in order (later wins on conflicts)."""
    merged: SecretSet = {}
    for secrets in sets:
        for path, value in secrets.items():
            merged[path] = (
                merge_values(merged[path], value) if path in merged else copy.deepcopy(value)
            )
    return merged


def filter_paths(
    secrets: Mapping[str, Any], include: Iterable[str], exclude: Iterable[str]
) -> SecretSet:
    """Keep paths matching any ``include`` regex (all if none), then drop ``exclude`` matches."""
    includes = [re.compile(p) for p in include]
    excludes = [re.compile(p) for p in exclude]
    return {
        path: value
        for path, value in secrets.items()
        if (not includes or any(p.search(path) for p in includes))
        and not any(p.search(path) for p in excludes)
    }
