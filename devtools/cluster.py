"""`make cluster`: a throw-away CeleryExecutor Airflow on Postgres and Redis, with two Celery
workers, OpenBao and moto seeded with the example. Everything listens on 127.0.0.1 only;
Ctrl-C stops every process it started and removes every file.

Postgres and Redis come from Debian's ``postgresql`` and ``redis-server`` packages (``make
cluster`` installs them when missing). Postgres refuses to run as root: as root, the cluster
runs as the ``postgres`` user that package creates.
"""

from __future__ import annotations

import argparse
import glob
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from devtools.airflow_home import AIRFLOW, airflow_home
from devtools.airflow_ui import (
    USERNAME,
    admin_password,
    api_healthy,
    choose_port,
    standalone_env,
    stop_process_group,
)
from devtools.isolated_servers import isolated_servers
from devtools.paths import REPO
from devtools.seed import seed_example
from devtools.servers import HOST, LocalServers, free_port, wait_until

WORKERS = ("worker-1", "worker-2")
WORKER_NAME_VARIABLE = "SECRETSYNC_CLUSTER_WORKER"
COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
START_TIMEOUT_SECONDS = 300


def worker_hostname() -> str:
    """``[core] hostname_callable`` of the workers: the worker's name, recorded on every task
    instance it runs (both workers share this machine's real hostname)."""
    return os.environ[WORKER_NAME_VARIABLE]


def server_binary(name: str) -> str:
    """``name`` on PATH, else in Debian's versioned ``/usr/lib/postgresql/*/bin``."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if not found:
        raise RuntimeError(f"{name} not found: install postgresql and redis-server (make cluster)")
    return found


def _as_postgres_user() -> dict[str, str]:
    """Popen arguments that run Postgres as ``postgres`` when we are root."""
    return {"user": "postgres", "group": "postgres"} if os.geteuid() == 0 else {}


@dataclass
class Postgres:
    """A throw-away Postgres cluster: ``initdb`` in a temporary directory, one loopback port."""

    port: int
    password: str
    base: Path

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://airflow:{self.password}@{HOST}:{self.port}/airflow"

    @property
    def log(self) -> Path:
        return self.base / "postgres.log"

    def stop(self) -> None:
        subprocess.run(
            [server_binary("pg_ctl"), "-D", str(self.base / "data"), "-m", "fast", "stop"],
            capture_output=True,
            **_as_postgres_user(),
        )
        shutil.rmtree(self.base, ignore_errors=True)


def start_postgres() -> Postgres:
    base = Path(tempfile.mkdtemp(prefix="secretsync-postgres-"))
    server = Postgres(port=free_port(), password=secrets.token_urlsafe(16), base=base)
    (base / "pwfile").write_text(server.password)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        shutil.chown(base / "pwfile", "postgres", "postgres")
    as_user = _as_postgres_user()
    data = str(base / "data")
    try:
        subprocess.run(
            [server_binary("initdb"), "-D", data, "-U", "airflow", "--pwfile", str(base / "pwfile"),
             "--auth", "scram-sha-256", "-E", "UTF8", "--no-sync"],
            check=True, capture_output=True, **as_user,
        )  # fmt: skip
        options = (
            f"-c listen_addresses={HOST} -p {server.port} -c unix_socket_directories={base}"
            " -c fsync=off -c full_page_writes=off"
        )
        subprocess.run(
            [server_binary("pg_ctl"), "-D", data, "-l", str(server.log), "-o", options, "-w",
             "start"],
            check=True, capture_output=True, **as_user,
        )  # fmt: skip
        subprocess.run(
            [server_binary("createdb"), "-h", HOST, "-p", str(server.port), "-U", "airflow",
             "airflow"],
            check=True, capture_output=True, env={**os.environ, "PGPASSWORD": server.password},
        )  # fmt: skip
    except subprocess.CalledProcessError as exc:
        server.stop()
        raise RuntimeError(f"Postgres failed to start: {exc.stderr.decode()[-2000:]}") from None
    return server


@dataclass
class Redis:
    """A Redis on a loopback port, password-protected, without persistence."""

    port: int
    password: str
    base: Path
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@{HOST}:{self.port}/0"

    @property
    def log(self) -> Path:
        return self.base / "redis.log"

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(host=HOST, port=self.port, password=self.password).ping())
        except redis.RedisError:
            return False

    def stop(self) -> None:
        stop_process_group(self.process, grace=10)
        shutil.rmtree(self.base, ignore_errors=True)


def start_redis() -> Redis:
    base = Path(tempfile.mkdtemp(prefix="secretsync-redis-"))
    port, password = free_port(), secrets.token_urlsafe(16)
    config = base / "redis.conf"  # the password stays off the command line
    config.write_text(
        f'bind {HOST}\nport {port}\nrequirepass {password}\nsave ""\nappendonly no\n'
        f"dir {base}\nlogfile {base / 'redis.log'}\ndaemonize no\n"
    )
    process = subprocess.Popen(
        [server_binary("redis-server"), str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    server = Redis(port=port, password=password, base=base, process=process)
    try:
        wait_until(lambda: process.poll() is None and server.ping(), 30, "Redis")
    except RuntimeError:
        server.stop()
        raise
    return server


@dataclass
class Cluster:
    """A running CeleryExecutor Airflow: where it answers, its processes and their logs."""

    url: str
    username: str
    password: str
    home: Path
    servers: LocalServers
    postgres: Postgres
    redis: Redis
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def logs(self) -> list[Path]:
        """Every log file: the components', the task logs, Postgres' and Redis'."""
        files = [p for p in self.home.rglob("*") if p.is_file() and p.suffix == ".log"]
        return [*files, self.postgres.log, self.redis.log]

    def kill_worker(self, name: str) -> int:
        """SIGKILL a worker and every process it started: what losing its machine does.

        Its process tree, plus whatever carries its name in the environment (task processes
        run in process groups of their own). Returns how many processes were killed.
        """
        import psutil

        worker = psutil.Process(self.processes[name].pid)
        victims = {worker, *worker.children(recursive=True)}
        for process in psutil.process_iter():
            try:
                if process.environ().get(WORKER_NAME_VARIABLE) == name:
                    victims.add(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
        for process in victims:
            with suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGKILL)
        self.processes[name].wait()
        return len(victims)


def cluster_env(home: Path, port: int, postgres: Postgres, redis: Redis) -> dict[str, str]:
    """Settings shared by every component: CeleryExecutor on Postgres with a Redis broker."""
    return {
        **standalone_env(home, port),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres.url,
        "AIRFLOW__CELERY__BROKER_URL": redis.url,
        "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + postgres.url,
        "AIRFLOW__API__WORKERS": "1",
        # a task whose worker vanished fails (and retries) after 30 s, not the default 5 min
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "30",
    }


def _start(name: str, args: list[str], env: dict[str, str], home: Path) -> subprocess.Popen:
    with (home / f"{name}.log").open("wb") as out:
        return subprocess.Popen(
            [AIRFLOW, *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _ready(cluster: Cluster) -> bool:
    for name, process in cluster.processes.items():
        if process.poll() is not None:
            log = cluster.home / f"{name}.log"
            raise RuntimeError(f"{name} exited early; see {log}:\n{log.read_text()[-3000:]}")
    workers_ready = all(
        " ready." in (cluster.home / f"{name}.log").read_text(errors="replace") for name in WORKERS
    )
    password = admin_password(cluster.home)
    if password:
        cluster.password = password
    return workers_ready and bool(password) and api_healthy(cluster.url)


@contextmanager
def celery_cluster(
    port: int | None = None,
    *,
    concurrency: int = 2,
    extra_dags: Path | None = None,
    extra_env: dict[str, str] | None = None,
    timeout: float = START_TIMEOUT_SECONDS,
) -> Iterator[Cluster]:
    """Postgres, Redis, seeded OpenBao and moto, and the Airflow components with two Celery
    workers; all stopped (and their files removed) on exit. ``extra_dags`` adds a DAG bundle."""
    port = port or choose_port()
    with ExitStack() as stack:
        postgres = start_postgres()
        stack.callback(postgres.stop)
        redis = start_redis()
        stack.callback(redis.stop)
        servers = stack.enter_context(isolated_servers())
        seed_example(servers)
        env = stack.enter_context(airflow_home(servers, database_url=postgres.url))
        home = Path(env["AIRFLOW_HOME"])
        env.update(cluster_env(home, port, postgres, redis), **(extra_env or {}))
        if extra_dags:
            env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = bundles_with(env, extra_dags)
        cluster = Cluster(f"http://{HOST}:{port}", USERNAME, "", home, servers, postgres, redis)
        for name in COMPONENTS:
            cluster.processes[name] = _start(name, [name], env, home)
            stack.callback(stop_process_group, cluster.processes[name])
        for name in WORKERS:
            worker_env = {
                **env,
                WORKER_NAME_VARIABLE: name,
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": f"{__name__}.worker_hostname",
            }
            args = ["celery", "worker", "--celery-hostname", f"{name}@%h",
                    "--concurrency", str(concurrency), "--skip-serve-logs",
                    "--without-mingle", "--without-gossip"]  # fmt: skip
            cluster.processes[name] = _start(name, args, worker_env, home)
            stack.callback(stop_process_group, cluster.processes[name])
        wait_until(lambda: _ready(cluster), timeout, "the Airflow cluster", interval=1)
        yield cluster


def bundles_with(env: dict[str, str], folder: Path) -> str:
    """The DAG bundle list of ``env`` plus ``folder``."""
    import json

    bundles = json.loads(env["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"])
    bundles.append(
        {
            "name": folder.name,
            "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
            "kwargs": {"path": str(folder)},
        }
    )
    return json.dumps(bundles)


def exports(cluster: Cluster) -> str:
    """Ready-to-paste shell lines pointing a shell (and the ``secretsync`` CLI) at the cluster's
    OpenBao and moto."""
    return "\n".join(
        f"export {name}={shlex.quote(value)}"
        for name, value in cluster.servers.airflow_env().items()
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, help="API server port (default 8080, if it is free)")
    parser.add_argument("--concurrency", type=int, default=2, help="tasks per worker (2)")
    args = parser.parse_args(argv)
    print("Starting Postgres, Redis, OpenBao, moto and Airflow (1-2 minutes)...", flush=True)
    started = time.monotonic()
    try:
        with celery_cluster(args.port, concurrency=args.concurrency) as cluster:
            print(
                f"\nReady in {time.monotonic() - started:.0f} s.\n"
                f"Airflow UI:  {cluster.url}/dags/secretsync_example\n"
                f"Login:       {cluster.username} / {cluster.password}\n"
                f"Workers:     {', '.join(WORKERS)} (CeleryExecutor, Redis on port "
                f"{cluster.redis.port}, Postgres on port {cluster.postgres.port})\n"
                f"Logs:        {cluster.home}/*.log and {cluster.home}/logs/\n\n"
                f"Connections for a shell (e.g. the secretsync CLI):\n{exports(cluster)}\n\n"
                "Press Ctrl-C to stop everything.",
                flush=True,
            )
            signal.pause()
    except KeyboardInterrupt:
        pass
    print("\nStopped Airflow, its workers, Postgres, Redis, OpenBao and moto.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
