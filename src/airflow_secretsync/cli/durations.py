"""Durations on the command line: ``90s``, ``30m``, ``24h``, ``7d`` or plain seconds."""

from __future__ import annotations

import re
from datetime import timedelta

#: How long a plan may be applied unless ``--expires-in`` says otherwise.
DEFAULT_EXPIRY = timedelta(hours=24)
_DURATION = re.compile(r"^\s*(\d+)\s*([smhd]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def duration(text: str) -> timedelta:
    """A positive duration (an argparse type: its name shows in "invalid duration value")."""
    match = _DURATION.match(text)
    if not match or int(match[1]) <= 0:
        raise ValueError(text)
    return timedelta(seconds=int(match[1]) * _UNITS[match[2]])
