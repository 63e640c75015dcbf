"""Config problems before they get a file position: a key path, a message, a suggestion."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

Loc = tuple[str | int, ...]

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


@dataclass(frozen=True)
class Problem:
    """One mistake at key path ``loc``; ``at_key`` points at the key rather than its value."""

    loc: Loc
    message: str
    at_key: bool = False


def format_loc(loc: Loc) -> str:
    """``('targets', 'Staging', 'imports', 1)`` -> ``targets.Staging.imports[1]``.

    Keys that are not plain names (dots, spaces...) are quoted: ``step_secrets["sync.Prod"]``.
    """
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.match(part):
            text += f".{part}" if text else part
        else:
            text += f'["{part}"]'
    return text


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'legacy'?)`` for the closest candidate, or an empty string."""
    pool = [c for c in candidates if c != name]
    folded = [c for c in pool if c.casefold() == name.casefold()]
    match = folded or difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def render(file: str, line: int, column: int, loc: Loc, message: str) -> str:
    """The one-line form of an error: ``file:line:column: key.path: message``."""
    where = f"{format_loc(loc)}: " if loc else ""
    return f"{file}:{line}:{column}: {where}{message}"
