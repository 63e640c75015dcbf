"""Keep HTTP client libraries from logging request and response bodies (secret values).

At DEBUG, botocore logs every request's parameters and every response body, urllib3 and
requests log each request line, hvac its calls. :func:`quiet_client_loggers` holds those
loggers at INFO or above while this package talks to stores, whatever the process's log level
(``AIRFLOW__LOGGING__LOGGING_LEVEL=DEBUG`` included), and restores their levels afterwards.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: Logger name prefixes of the clients this package uses (children included).
CLIENT_LOGGERS = (
    "botocore",
    "boto3",
    "s3transfer",
    "urllib3",
    "requests",
    "hvac",
    "kubernetes",
)
_lock = threading.Lock()
_depth = 0
_saved: dict[str, int] = {}


def _client_loggers() -> list[logging.Logger]:
    names = set(CLIENT_LOGGERS) | {
        name
        for name in list(logging.root.manager.loggerDict)
        if name.partition(".")[0] in CLIENT_LOGGERS
    }
    return [logging.getLogger(name) for name in sorted(names)]


@contextmanager
def quiet_client_loggers() -> Iterator[None]:
    """For the duration (re-entrant, thread-safe), client loggers drop records below INFO.

    The roots are set to INFO; a child with its own level below INFO is raised to INFO.
    """
    global _depth
    with _lock:
        if _depth == 0:
            for logger in _client_loggers():
                _saved[logger.name] = logger.level
                if logger.name in CLIENT_LOGGERS or logging.NOTSET < logger.level < logging.INFO:
                    logger.setLevel(max(logger.level, logging.INFO))
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                for name, level in _saved.items():
                    logging.getLogger(name).setLevel(level)
                _saved.clear()
