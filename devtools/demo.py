"""`make demo`: local OpenBao, moto and GitHub and Kubernetes API servers, seed the example
sources, run the example DAG as a dry run and for real with `airflow dags test`, print the report
and the destination names (AWS, Vault, GitHub Actions, Kubernetes)."""

from __future__ import annotations

import os

from devtools.airflow_home import airflow_home, dags_test, latest_xcom
from devtools.paths import REPO
from devtools.seed import GITHUB_REPOSITORY, KUBERNETES_NAMESPACE, seed_example
from devtools.serve import api_server_lines
from devtools.servers import local_servers

DAG_ID = "secretsync_example"
CONFIG = REPO / "dags" / "configs" / "example.yaml"


def destination_names(env: dict[str, str]) -> dict[str, list[str]]:
    """The secret names (never values) now in each destination."""
    os.environ.update({k: v for k, v in env.items() if k.startswith(("AIRFLOW", "AWS_"))})
    from airflow_secretsync.cli.console import logs_to_stderr
    from airflow_secretsync.config import load_config
    from airflow_secretsync.stores.factory import StoreFactory

    config = load_config(CONFIG)
    factory = StoreFactory(config)
    try:
        with logs_to_stderr():
            stores = {name: factory.destination(name) for name in config.targets}
            return {
                f"{name} ({store.description})": sorted(store.list_secrets())
                for name, store in stores.items()
                if store is not None
            }
    finally:
        factory.close()


def main() -> int:
    from airflow_secretsync.cli.console import quiet_third_party_logs

    quiet_third_party_logs()  # before Airflow is imported, as the CLI does
    from airflow_secretsync.core.render import render_human
    from airflow_secretsync.core.report import Report

    with local_servers() as servers:
        print(f"OpenBao dev server on {servers.vault.url}, moto on {servers.aws.url}")
        print(api_server_lines(servers), end="")
        seed_example(servers)
        print(
            "Seeded the example sources (Vault secret/sources/platform, AWS legacy/), created "
            f"GitHub repository {GITHUB_REPOSITORY} and Kubernetes namespace "
            f"{KUBERNETES_NAMESPACE}."
        )
        with airflow_home(servers) as env:
            for title, conf in (("Dry run", '{"dry_run": true}'), ("Real run", None)):
                print(f"\n=== {title}: airflow dags test {DAG_ID} ===")
                ok, _ = dags_test(env, DAG_ID, conf)
                print(render_human(Report.from_dict(latest_xcom(env, DAG_ID, "report"))))
                if not ok:
                    print("The DAG run failed.")
                    return 1
            print("\n=== Destinations now hold ===")
            for where, names in destination_names(env).items():
                print(f"{where}: {', '.join(names)}")
    print(
        "\nLocal servers stopped. Next:\n"
        "  make servers   the same local servers seeded as here, kept running, with the\n"
        "                 exports that point the CLI at them (.venv/bin/secretsync)\n"
        "  make airflow   the same servers and the Airflow UI on 127.0.0.1"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
