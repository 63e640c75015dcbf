"""An OpenBao server whose data survive a stop and a start (integrated raft storage).

The session's dev server keeps everything in memory; a fault test needs a server it can stop in
the middle of a sync and start again with what was written before the stop still there.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devtools.servers import HOST, bao_binary, free_port

CONFIG = """
storage "raft" {{
  path    = "{data}"
  node_id = "reliability"
}}
listener "tcp" {{
  address         = "{host}:{port}"
  cluster_address = "{host}:{cluster_port}"
  tls_disable     = true
}}
api_addr     = "http://{host}:{port}"
cluster_addr = "http://{host}:{cluster_port}"
"""


class PersistentOpenBao:
    """Initialised and unsealed on the first :meth:`start`, with KV v2 mounted at ``secret``;
    later starts unseal it again on the same port."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.token = ""
        self._unseal_key = ""
        self._process: subprocess.Popen | None = None
        (directory / "data").mkdir(parents=True, exist_ok=True)
        (directory / "server.hcl").write_text(
            CONFIG.format(
                data=directory / "data", host=HOST, port=self.port, cluster_port=free_port()
            )
        )

    def start(self) -> None:
        with (self.directory / "server.log").open("ab") as log:
            self._process = subprocess.Popen(
                [bao_binary(), "server", f"-config={self.directory / 'server.hcl'}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "HOME": str(self.directory)},
                start_new_session=True,
            )
        status = self._poll(lambda: self._call("GET", "/v1/sys/seal-status"), "listening")
        if not status["initialized"]:
            keys = self._call("PUT", "/v1/sys/init", {"secret_shares": 1, "secret_threshold": 1})
            self._unseal_key, self.token = keys["keys"][0], keys["root_token"]
        self._call("PUT", "/v1/sys/unseal", {"key": self._unseal_key})
        self._poll(lambda: self._call("GET", "/v1/sys/health"), "active")
        if "secret/" not in self._call("GET", "/v1/sys/mounts"):
            self._call("POST", "/v1/sys/mounts/secret", {"type": "kv", "options": {"version": "2"}})

    def stop(self) -> None:
        """Stop the server process (its data stay on disk)."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=30)

    def connection_uri(self, port: int | None = None) -> str:
        """An Airflow ``vault`` connection (JSON) with the root token, at ``port`` (a proxy in
        front of the server) or the server itself."""
        return json.dumps(
            {
                "conn_type": "vault",
                "host": HOST,
                "port": port or self.port,
                "password": self.token,
                "extra": {"auth_type": "token", "kv_engine_version": 2},
            }
        )

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        request = urllib.request.Request(
            self.url + path,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"X-Vault-Token": self.token} if self.token else {},
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
        return json.loads(text) if text else None

    def _poll(self, call: Callable[[], Any], what: str, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            try:
                return call()
            except (OSError, urllib.error.URLError) as exc:  # not listening, sealed, standby
                if self._process.poll() is not None or time.monotonic() > deadline:
                    log = (self.directory / "server.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"OpenBao is not {what}: {exc}\n{log}") from None
            time.sleep(0.1)
