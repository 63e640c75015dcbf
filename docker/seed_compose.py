"""The init service's seeding step (docker-compose.yaml): write the example source secrets
into the compose OpenBao and moto, found through the same ``AIRFLOW_CONN_VAULT_DEFAULT`` and
``AIRFLOW_CONN_AWS_DEFAULT`` connections the Airflow components use."""

from __future__ import annotations

from types import SimpleNamespace

from airflow_secretsync.stores.connections import aws_client, vault_connection
from devtools.seed import seed_example


def servers_from_connections(vault_conn_id: str, aws_conn_id: str) -> SimpleNamespace:
    """What :func:`devtools.seed.seed_example` needs (URLs, token) from two Airflow connections."""
    vault = vault_connection(vault_conn_id)
    aws = aws_client("secretsmanager", aws_conn_id)
    try:
        return SimpleNamespace(
            vault=SimpleNamespace(url=vault.url, token=vault.client.token),
            aws=SimpleNamespace(url=aws.meta.endpoint_url),
        )
    finally:
        vault.close()
        aws.close()


def main() -> int:
    seed_example(servers_from_connections("vault_default", "aws_default"))
    print("Seeded the example sources (Vault secret/sources/platform, AWS legacy/).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
