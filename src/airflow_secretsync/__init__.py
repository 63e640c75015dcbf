"""airflow-secretsync: keep secrets in sync across Vault/OpenBao, AWS Secrets Manager and S3."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("airflow-secretsync")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

__all__ = ["__version__"]
