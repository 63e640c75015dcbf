"""A :class:`~devtools.proxy.FaultProxy` in a process of its own, for the benchmarks.

In the benchmark's own interpreter the proxy would share the lock and the CPU time of the
client being measured, so it runs as a separate process (as the network is not the client):
``python -m benchmarks.proxy_process UPSTREAM --delay-ms 20 [--aws-quotas]`` prints its URL,
then serves until stopped. ``GET /__proxy__/stats`` answers the requests it forwarded and,
with ``--aws-quotas``, those let through and throttled per operation (JSON).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from benchmarks.quota import QuotaEnforcer
from devtools.proxy import FaultProxy, Reply, Request
from devtools.servers import stop_process

STATS_PATH = "/__proxy__/stats"
REPO = Path(__file__).resolve().parent.parent


def stats_intercept(
    proxy: Callable[[], FaultProxy], quotas: QuotaEnforcer | None
) -> Callable[[Request], Reply | None]:
    """Answers :data:`STATS_PATH` itself, then applies the quotas (if any)."""

    def intercept(request: Request) -> Reply | None:
        if request.path == STATS_PATH:
            stats = {"forwarded": proxy().forwarded}
            if quotas is not None:
                stats |= {"allowed": quotas.allowed, "throttled": quotas.throttled}
            return Reply(200, {"Content-Type": "application/json"}, json.dumps(stats).encode())
        return quotas(request) if quotas is not None else None

    return intercept


class ProxyProcess:
    """A running proxy process: its URL, its statistics, and stopping it."""

    def __init__(self, upstream: str, delay_ms: float, aws_quotas: bool = False) -> None:
        command = [sys.executable, "-m", "benchmarks.proxy_process", upstream]
        command += ["--delay-ms", str(delay_ms), *(["--aws-quotas"] if aws_quotas else [])]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, text=True, cwd=REPO, start_new_session=True
        )
        line = self.process.stdout.readline().strip() if self.process.stdout else ""
        if not line.startswith("http://"):
            stop_process(self.process)
            raise RuntimeError(f"the proxy for {upstream} did not start")
        self.url = line
        self.port = int(line.rsplit(":", 1)[1])

    def stats(self) -> dict:
        with urllib.request.urlopen(self.url + STATS_PATH, timeout=30) as response:
            return json.load(response)

    def stop(self) -> None:
        stop_process(self.process)


@contextmanager
def proxy_process(
    upstream: str, delay_ms: float, aws_quotas: bool = False
) -> Iterator[ProxyProcess]:
    proxy = ProxyProcess(upstream, delay_ms, aws_quotas)
    try:
        yield proxy
    finally:
        proxy.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("upstream")
    parser.add_argument("--delay-ms", type=float, default=0.0)
    parser.add_argument("--aws-quotas", action="store_true")
    args = parser.parse_args(argv)
    quotas = QuotaEnforcer() if args.aws_quotas else None
    proxies: list[FaultProxy] = []
    intercept = stats_intercept(lambda: proxies[0], quotas)
    with FaultProxy(args.upstream, intercept=intercept, delay_s=args.delay_ms / 1000) as proxy:
        proxies.append(proxy)
        print(proxy.url, flush=True)
        while True:
            time.sleep(3600)


if __name__ == "__main__":
    main()
