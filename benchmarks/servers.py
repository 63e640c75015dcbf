"""The benchmark's servers: OpenBao as for the tests, moto in its own process.

The tests run moto in-process (``ThreadedMotoServer``); here it would share the benchmark's
interpreter lock and make the client look slower than it is, so it runs as a separate
process (as AWS is a separate machine), with the fixes of ``benchmarks.moto_server``.
"""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from devtools.servers import HOST, LocalServers, MotoServer, free_port, start_openbao

START_TIMEOUT_SECONDS = 60
REPO = Path(__file__).resolve().parent.parent


@dataclass
class _MotoProcess:
    """What ``MotoServer.stop`` stops: a ``moto.server`` child process."""

    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1).close()
        return True
    except OSError:
        return False


def start_moto_process() -> MotoServer:
    """``python -m benchmarks.moto_server`` on a free port of 127.0.0.1, once it answers."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.moto_server", "-H", HOST, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        cwd=REPO,
    )
    moto = MotoServer(url=f"http://{HOST}:{port}", port=port, server=_MotoProcess(process))
    for _ in range(START_TIMEOUT_SECONDS * 10):
        if process.poll() is not None:
            raise RuntimeError(f"moto server exited with code {process.returncode}")
        if _answers(f"{moto.url}/moto-api/"):
            return moto
        time.sleep(0.1)
    moto.stop()
    raise RuntimeError(f"moto server did not answer within {START_TIMEOUT_SECONDS}s")


@contextmanager
def bench_servers() -> Iterator[LocalServers]:
    """OpenBao and a moto process; both stopped on exit."""
    with ExitStack() as stack:
        vault = start_openbao()
        stack.callback(vault.stop)
        aws = start_moto_process()
        stack.callback(aws.stop)
        yield LocalServers(vault=vault, aws=aws)
