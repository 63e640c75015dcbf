"""What to hide of a secret value: the value, each of its lines and each string of a JSON value.

Airflow's masker matches whole registered strings; a multi-line value (a PEM key) is logged line
by line and a JSON value field by field, so those pieces are registered too. Pieces shorter than
:data:`MIN_PIECE_LENGTH` are skipped (Airflow's own masker ignores values shorter than its
``[logging] min_length_masked_secret``, 5 by default): masking ``-`` or ``true`` everywhere
would hide nothing and ruin every log line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

#: The shortest piece (line, JSON field) of a value that is masked or redacted on its own.
MIN_PIECE_LENGTH = 5
REDACTED = "***"


def secret_pieces(value: str) -> set[str]:
    """``value`` itself plus its lines and JSON strings (recursively), each at least
    :data:`MIN_PIECE_LENGTH` characters (surrounding whitespace stripped)."""
    pieces = {value}
    pieces.update(_lines(value))
    if value.lstrip()[:1] in ("{", "["):
        try:
            document = json.loads(value)
        except ValueError:
            document = None
        for text in _json_strings(document):
            pieces.add(text)
            pieces.update(_lines(text))
    return {piece for piece in pieces if len(piece) >= MIN_PIECE_LENGTH}


def _lines(text: str) -> Iterator[str]:
    return (line.strip() for line in text.splitlines())


def _json_strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, bool) or node is None:
        return
    elif isinstance(node, int | float):
        yield str(node)
    elif isinstance(node, dict):
        for item in node.values():
            yield from _json_strings(item)
    elif isinstance(node, list):
        for item in node:
            yield from _json_strings(item)


def mask_in_airflow_logs(value: str) -> str:
    """Register ``value`` and its pieces with Airflow's secrets masker (no name); ``value``."""
    from airflow.sdk.log import mask_secret

    for piece in secret_pieces(value):
        mask_secret(piece)
    _longest_first()
    return value


def _longest_first() -> None:
    """Make this process's masker try longer secrets first.

    Airflow joins its patterns in set order, so a shorter registered secret that starts a
    longer one (a line of a PEM, a JSON field, or any other secret) may win the regex
    alternation and leave the rest of the longer one visible. Ordering by length closes that;
    if Airflow's masker ever stops exposing ``patterns`` and ``replacer``, this does nothing.
    """
    import re

    from airflow.sdk._shared.secrets_masker import _secrets_masker

    masker = _secrets_masker()
    patterns = getattr(masker, "patterns", None)
    if patterns and getattr(masker, "replacer", None) is not None:
        masker.replacer = re.compile("|".join(sorted(patterns, key=len, reverse=True)))


def redact_pieces(data: Any, pieces: Iterable[str]) -> tuple[Any, bool]:
    """``data`` with every occurrence of ``pieces`` in its strings (dict keys, list and tuple
    items, recursively) replaced by ``***``, and whether anything was replaced."""
    ordered = sorted(set(pieces), key=len, reverse=True)
    found = False

    def walk(node: Any) -> Any:
        nonlocal found
        if isinstance(node, str):
            for piece in ordered:
                if piece in node:
                    found = True
                    node = node.replace(piece, REDACTED)
            return node
        if isinstance(node, dict):
            return {walk(key): walk(item) for key, item in node.items()}
        if isinstance(node, list | tuple):
            return type(node)(walk(item) for item in node)
        return node

    return walk(data), found
