"""Calls spread over a thread pool with a bounded number queued, whatever the item count.

``Executor.map`` and a list of ``submit`` calls create one future per item up front (about
2 KB each with its work item): 100 MB for 50,000 secrets, before the first answer arrives.
Python 3.14's ``Executor.map(..., buffersize=N)`` does the same; this stays while 3.11 is
supported.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")
#: Calls queued per worker beyond the one it runs: keeps every worker busy while the oldest
#: answer is awaited.
QUEUED_PER_WORKER = 4


def bounded_map(
    pool: Executor, fn: Callable[[T], R], items: Iterable[T], workers: int
) -> Iterator[R]:
    """``pool.map(fn, items)`` (results in order, the first error raised in order) with at most
    ``workers * QUEUED_PER_WORKER`` calls submitted and not yet consumed. Calls still queued
    when the iterator is closed or raises are cancelled."""
    limit = max(1, workers) * QUEUED_PER_WORKER
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            if len(pending) >= limit:
                yield pending.popleft().result()
            pending.append(pool.submit(fn, item))
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
