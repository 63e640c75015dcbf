"""Value equality as a destination sees it (SPEC §3)."""

from __future__ import annotations

from typing import Any


def values_equal(a: Any, b: Any) -> bool:
    """Compare secret values: numbers by value (``1 == 1.0``), dict key order ignored, list order
    significant, ``"1" != 1`` and ``True != 1``; strings and bytes exactly."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b
