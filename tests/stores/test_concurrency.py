"""bounded_map: pool.map's results and errors, with a bounded number of calls queued."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from airflow_secretsync.stores.concurrency import QUEUED_PER_WORKER, bounded_map


def test_results_come_in_order_of_the_items() -> None:
    with ThreadPoolExecutor(4) as pool:
        assert list(bounded_map(pool, lambda n: n * n, range(100), 4)) == [
            n * n for n in range(100)
        ]


def test_items_are_taken_lazily_and_few_are_queued() -> None:
    """However many items, no more than workers x QUEUED_PER_WORKER are taken ahead of the
    results consumed."""
    taken = 0

    def items() -> Iterator[int]:
        nonlocal taken
        for n in range(1000):
            taken += 1
            yield n

    with ThreadPoolExecutor(2) as pool:
        results = bounded_map(pool, lambda n: n, items(), 2)
        ahead = []
        for consumed, _ in enumerate(results, start=1):
            ahead.append(taken - consumed)
    assert taken == 1000
    assert max(ahead) == 2 * QUEUED_PER_WORKER


def test_the_first_error_in_order_is_raised_and_the_queue_is_cancelled() -> None:
    started: list[int] = []
    lock = threading.Lock()
    release = threading.Event()

    def call(n: int) -> int:
        with lock:
            started.append(n)
        if n == 0:
            release.wait(5)  # the head is slow: what is queued behind it waits
            raise ValueError("boom")
        return n

    with ThreadPoolExecutor(1) as pool:
        results = bounded_map(pool, call, range(100), 1)
        release.set()
        with pytest.raises(ValueError, match="boom"):
            list(results)
    assert started[0] == 0
    assert len(started) <= 1 + QUEUED_PER_WORKER  # the rest was never submitted or cancelled
