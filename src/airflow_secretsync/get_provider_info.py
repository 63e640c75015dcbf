"""Airflow provider metadata, discovered through the ``apache_airflow_provider`` entry point."""

from __future__ import annotations

from typing import Any

from airflow_secretsync import __version__

DOCS_URL = "https://airflow-secretsync.readthedocs.io/"


def get_provider_info() -> dict[str, Any]:
    """Return the provider description Airflow's ProvidersManager reads."""
    return {
        "package-name": "airflow-secretsync",
        "name": "Secret Sync",
        "description": "Merge secrets from Vault/OpenBao and AWS Secrets Manager and sync them "
        "to destinations, with dry-run, diff reports and step-scoped secret injection.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Secret Sync",
                "external-doc-url": DOCS_URL,
                "tags": ["software"],
            }
        ],
        "operators": [
            {
                "integration-name": "Secret Sync",
                "python-modules": ["airflow_secretsync.airflow.operators"],
            }
        ],
        "secrets-backends": ["airflow_secretsync.airflow.secrets_backend.ChainedSecretsBackend"],
    }
