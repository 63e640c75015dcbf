"""The compatibility path ``airflow_secretsync.secrets.ChainedSecretsBackend``.

The class lives in :mod:`airflow_secretsync.airflow.secrets_backend` (the path new configs
use); this module keeps existing ``airflow.cfg`` files working and stays supported.
"""

from airflow_secretsync.airflow.secrets_backend import ChainedSecretsBackend

__all__ = ["ChainedSecretsBackend"]
