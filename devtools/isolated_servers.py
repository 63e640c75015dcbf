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

from devtools.paths import REPO
from devtools.servers import (
    HOST,
    LocalServers,
    MotoServer,
    free_port,
    start_api_servers,
    start_openbao,
    stop_process,
)

START_TIMEOUT_SECONDS = 60


@dataclass
class MotoProcess:
    """A ``moto_server`` process, stopped the way :class:`MotoServer` stops its server."""

    process: subprocess.Popen

    def stop(self) -> None:
        stop_process(self.process)


def start_moto_process(command: list[str] | None = None) -> MotoServer:
    """A moto server process on a free port of 127.0.0.1, once it answers.

    ``command`` (default: the ``moto_server`` script) gets ``-H HOST -p PORT`` appended.
    """
    port = free_port()
    base = command or [str(Path(sys.executable).with_name("moto_server"))]
    process = subprocess.Popen(
        [*base, "-H", HOST, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        cwd=REPO,
    )
    moto = MotoServer(url=f"http://{HOST}:{port}", port=port, server=MotoProcess(process))
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{moto.url}/moto-api/", timeout=1).close()
            return moto
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(0.1)
    moto.stop()
    raise RuntimeError("moto server process did not start")


@contextmanager
def isolated_servers(moto_command: list[str] | None = None) -> Iterator[LocalServers]:
    """A fresh OpenBao dev server, a moto server process and fresh GitHub and Kubernetes API
    servers; all stopped on exit."""
    with ExitStack() as stack:
        vault = start_openbao()
        stack.callback(vault.stop)
        aws = start_moto_process(moto_command)
        stack.callback(aws.stop)
        yield LocalServers(vault=vault, aws=aws, **start_api_servers(stack))
