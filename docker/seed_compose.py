"""The init service's seeding step (docker-compose.yaml): write the example source secrets
into the compose OpenBao and moto and create the example's repository and namespace on the
GitHub and Kubernetes API servers, found through the same ``AIRFLOW_CONN_*_DEFAULT``
connections the Airflow components use."""

from __future__ import annotations

from types import SimpleNamespace

from airflow_secretsync.stores.connections import aws_client, vault_connection
from devtools.seed import seed_example


def api_server(conn_id: str) -> SimpleNamespace | None:
    """The URL (the connection's host) of a local API server; None when not defined."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return SimpleNamespace(url=BaseHook.get_connection(conn_id).host)
    except AirflowNotFoundException:
        return None


def servers_from_connections(vault_conn_id: str, aws_conn_id: str) -> SimpleNamespace:
    """What :func:`devtools.seed.seed_example` needs (URLs, token) from the Airflow
    connections."""
    vault = vault_connection(vault_conn_id)
    aws = aws_client("secretsmanager", aws_conn_id)
    try:
        return SimpleNamespace(
            vault=SimpleNamespace(url=vault.url, token=vault.client.token),
            aws=SimpleNamespace(url=aws.meta.endpoint_url),
            github=api_server("github_default"),
            kubernetes=api_server("kubernetes_default"),
        )
    finally:
        vault.close()
        aws.close()


def main() -> int:
    seed_example(servers_from_connections("vault_default", "aws_default"))
    print(
        "Seeded the example sources (Vault secret/sources/platform, AWS legacy/) and created the "
        "example's GitHub repository and Kubernetes namespace."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
