"""OpenBao and moto sharing no state with any other servers of the same process.

Every moto server started inside one process shares that process's in-memory backends, so the
moto here runs as its own ``moto_server`` process: for ``make airflow`` and for tests that use
fixed locations (the example's ``staging/`` and ``secret/prod``) which other tests also fill.
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


@dataclass
class MotoProcess:
    """A ``moto_server`` process, stopped the way :class:`MotoServer` stops its server."""

    process: subprocess.Popen

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_moto_process() -> MotoServer:
    port = free_port()
    process = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", HOST, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    moto = MotoServer(url=f"http://{HOST}:{port}", port=port, server=MotoProcess(process))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{moto.url}/moto-api/", timeout=1).close()
            return moto
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    moto.stop()
    raise RuntimeError("moto_server did not start")


@contextmanager
def isolated_servers() -> Iterator[LocalServers]:
    """A fresh OpenBao dev server and a moto server process; both stopped on exit."""
    with ExitStack() as stack:
        vault = start_openbao()
        stack.callback(vault.stop)
        aws = start_moto_process()
        stack.callback(aws.stop)
        yield LocalServers(vault=vault, aws=aws)
