"""Where the repository is: one definition for tests, devtools and benchmarks."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
