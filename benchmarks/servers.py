"""The benchmark's servers: OpenBao as for the tests, moto in its own process.

The tests run moto in-process (``ThreadedMotoServer``); here it would share the benchmark's
interpreter lock and make the client look slower than it is, so it runs as a separate
process (as AWS is a separate machine), with the fixes of ``benchmarks.moto_server``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from devtools.isolated_servers import isolated_servers
from devtools.isolated_servers import start_moto_process as _start_moto_process
from devtools.servers import LocalServers, MotoServer

#: The benchmark's moto, with ``benchmarks.moto_server``'s fixes.
MOTO_COMMAND = [sys.executable, "-m", "benchmarks.moto_server"]


def start_moto_process() -> MotoServer:
    """``python -m benchmarks.moto_server`` on a free port of 127.0.0.1, once it answers."""
    return _start_moto_process(MOTO_COMMAND)


@contextmanager
def bench_servers() -> Iterator[LocalServers]:
    """OpenBao and a moto process; both stopped on exit."""
    with isolated_servers(MOTO_COMMAND) as servers:
        yield servers
