"""`make servers`: local OpenBao, moto and GitHub and Kubernetes API servers seeded with the
example, the ``export`` lines that point the ``secretsync`` CLI (or any Airflow) at them, then
wait; Ctrl-C stops them all."""

from __future__ import annotations

import contextlib
import shlex
import signal

from devtools.seed import GITHUB_REPOSITORY, KUBERNETES_NAMESPACE, seed_example
from devtools.servers import LocalServers, local_servers


def export_lines(servers: LocalServers) -> str:
    """Ready-to-paste shell ``export`` lines for these servers' connections."""
    return "\n".join(
        f"export {name}={shlex.quote(value)}" for name, value in servers.airflow_env().items()
    )


def api_server_lines(servers: LocalServers) -> str:
    """Where the local GitHub and Kubernetes API servers listen and what the example keeps there."""
    lines = []
    if servers.github is not None:
        lines.append(
            f"GitHub API:          {servers.github.url}  (repository {GITHUB_REPOSITORY})\n"
        )
    if servers.kubernetes is not None:
        lines.append(
            f"Kubernetes API:      {servers.kubernetes.url}  (namespace {KUBERNETES_NAMESPACE})\n"
        )
    return "".join(lines)


def how_to_use(servers: LocalServers) -> str:
    """The exports and the CLI commands to run against ``servers``, for pasting in a shell."""
    return (
        f"OpenBao (Vault API): {servers.vault.url}  (root token {servers.vault.token})\n"
        f"moto (AWS API):      {servers.aws.url}\n"
        f"{api_server_lines(servers)}\n"
        "Paste into another shell at the repository root to point the CLI at them:\n\n"
        f"{export_lines(servers)}\n"
        "source .venv/bin/activate   # or call .venv/bin/secretsync\n"
        "secretsync plan dags/configs/example.yaml\n"
        "secretsync pipeline dags/configs/example.yaml --dry-run\n"
    )


def stop_on_sigterm() -> None:
    """Make SIGTERM (``kill``, ``timeout``) stop like Ctrl-C, so the servers are stopped too."""

    def interrupt(*_args: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def main() -> int:
    stop_on_sigterm()
    with local_servers() as servers:
        seed_example(servers)
        print(how_to_use(servers), flush=True)
        print("Seeded the example. Press Ctrl-C to stop the servers.", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    print("\nStopped the local servers.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
