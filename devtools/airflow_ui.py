"""`make airflow`: local OpenBao, moto and the local GitHub and Kubernetes API servers seeded
with the example, and ``airflow standalone`` on
127.0.0.1 serving this repo's ``dags/``. Prints the URL, the login and the exports that point the
CLI at the same servers; Ctrl-C stops everything."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from devtools.airflow_home import AIRFLOW, DAGS_BUNDLE, airflow_home, dags_bundle
from devtools.isolated_servers import isolated_servers
from devtools.seed import seed_example
from devtools.serve import how_to_use, stop_on_sigterm
from devtools.servers import HOST, LocalServers, free_port

DEFAULT_PORT = 8080
USERNAME = "admin"
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"


@dataclass(frozen=True)
class RunningAirflow:
    """Where the local Airflow UI answers and how to log in."""

    url: str
    username: str
    password: str
    home: Path
    log_file: Path
    servers: LocalServers
    process_group: int


def choose_port(preferred: int = DEFAULT_PORT) -> int:
    """``preferred`` when nothing listens on it, else a free port."""
    with socket.socket() as sock:
        try:
            sock.bind((HOST, preferred))
        except OSError:
            return free_port()
    return preferred


# standalone starts its components as plain `airflow`; this one comes first on their PATH and
# keeps the scheduler and triggerer from starting log servers, which listen on every interface
# (their host is not configurable). The API server reads the task logs from local files.
LOOPBACK_AIRFLOW = """#!/bin/sh
case "$1" in
  scheduler|triggerer) exec "{airflow}" "$@" --skip-serve-logs ;;
esac
exec "{airflow}" "$@"
"""


def loopback_airflow(home: Path) -> Path:
    """A directory holding the ``airflow`` wrapper of :data:`LOOPBACK_AIRFLOW`."""
    bin_dir = home / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "airflow"
    script.write_text(LOOPBACK_AIRFLOW.format(airflow=AIRFLOW))
    script.chmod(0o755)
    return bin_dir


def standalone_env(home: Path, port: int) -> dict[str, str]:
    """Settings that keep every standalone component on ``127.0.0.1:port`` and agreeing on JWTs."""
    url = f"http://{HOST}:{port}"
    return {
        "PATH": os.pathsep.join(
            [str(loopback_airflow(home)), str(Path(AIRFLOW).parent), os.environ.get("PATH", "")]
        ),
        "AIRFLOW__API__HOST": HOST,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": url,
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{url}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USERNAME}:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / PASSWORDS_FILE),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__PARALLELISM": "8",  # LocalExecutor forks this many workers
        # only this repo's dags/ (even when started from a test session that adds bundles)
        "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST": json.dumps([DAGS_BUNDLE]),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "False",
    }


def api_healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=2) as resp:
            health = json.load(resp)
    except (OSError, urllib.error.URLError, ValueError):
        return False
    return all(
        health.get(part, {}).get("status") == "healthy"
        for part in ("metadatabase", "scheduler", "dag_processor", "triggerer")
    )


def admin_password(home: Path) -> str | None:
    """The password the simple auth manager generated for the admin user, once written."""
    try:
        return json.loads((home / PASSWORDS_FILE).read_text()).get(USERNAME)
    except (OSError, ValueError):
        return None


def _wait_ready(process: subprocess.Popen, url: str, home: Path, log: Path, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"airflow standalone exited early; see {log}:\n{_tail(log)}")
        password = admin_password(home)
        if password and api_healthy(url):
            return password
        time.sleep(1)
    raise RuntimeError(f"Airflow was not ready within {timeout:.0f}s; see {log}:\n{_tail(log)}")


def _tail(log: Path, lines: int = 30) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def stop_process_group(process: subprocess.Popen, grace: float = 60) -> None:
    """Terminate standalone and every component it started (they share its process group),
    waiting until all of them are gone; SIGKILL after ``grace`` seconds."""
    pgid = process.pid
    if _group_alive(pgid):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        process.poll()  # reap standalone itself so the group can empty
        if not _group_alive(pgid):
            return
        time.sleep(0.5)
    os.killpg(pgid, signal.SIGKILL)
    process.wait()


@contextmanager
def local_airflow(
    port: int | None = None, timeout: float = 300, dags: Path | None = None
) -> Iterator[RunningAirflow]:
    """Seeded OpenBao, moto, GitHub and Kubernetes API servers of its own plus
    ``airflow standalone`` serving ``dags`` (default: the repo's ``dags/``); all stop on exit."""
    port = port or choose_port()
    with isolated_servers() as servers:
        seed_example(servers)
        with airflow_home(servers) as env:
            home = Path(env["AIRFLOW_HOME"])
            env.update(standalone_env(home, port))
            if dags is not None:
                env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
                env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(
                    [dags_bundle(dags)]
                )
            log = home / "standalone.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [AIRFLOW, "standalone"],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            try:
                url = f"http://{HOST}:{port}"
                password = _wait_ready(process, url, home, log, timeout)
                yield RunningAirflow(url, USERNAME, password, home, log, servers, process.pid)
            finally:
                stop_process_group(process)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, help="API server port (default 8080, if it is free)")
    args = parser.parse_args(argv)
    stop_on_sigterm()
    print(
        "Starting OpenBao, moto, the GitHub and Kubernetes API servers and airflow standalone "
        "(about a minute)...",
        flush=True,
    )
    try:
        with local_airflow(args.port) as airflow:
            print(
                f"\nAirflow UI:  {airflow.url}/dags/secretsync_example\n"
                f"Login:       {airflow.username} / {airflow.password}\n"
                f"Logs:        {airflow.log_file}\n"
                "Trigger the DAG with the ▶ button; set dry_run, targets, mode in the form.\n\n"
                f"{how_to_use(airflow.servers)}\n"
                "Press Ctrl-C to stop everything.",
                flush=True,
            )
            signal.pause()
    except KeyboardInterrupt:
        pass
    print("\nStopped Airflow and the local servers.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
