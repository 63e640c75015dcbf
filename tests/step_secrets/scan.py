"""Find canary values anywhere Airflow keeps data: every table of its database, every log file."""

from __future__ import annotations

import contextlib
import sqlite3
import zlib
from collections.abc import Iterable
from pathlib import Path


def _texts(value: object) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode("utf-8", "replace")
        with contextlib.suppress(zlib.error):  # compressed serialized DAGs
            yield zlib.decompress(value).decode("utf-8", "replace")


def database_hits(db_path: Path, needles: Iterable[str]) -> list[str]:
    """``table.column`` of every text or blob cell of ``db_path`` containing a needle."""
    needles = list(needles)
    hits = []
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        assert {"serialized_dag", "rendered_task_instance_fields", "xcom", "dag_run"} <= set(tables)
        for table in tables:
            for _, column, *_ in db.execute(f'PRAGMA table_info("{table}")'):
                for (value,) in db.execute(f'SELECT "{column}" FROM "{table}"'):
                    if any(n in text for text in _texts(value) for n in needles):
                        hits.append(f"{table}.{column}")
    return hits


def log_hits(logs: Path, needles: Iterable[str]) -> list[str]:
    """Every file under ``logs`` containing a needle."""
    needles = list(needles)
    return [
        str(path)
        for path in logs.rglob("*")
        if path.is_file() and any(n in path.read_text(errors="replace") for n in needles)
    ]
