"""Secret references (``ref+vault://secret/app#/password``), providers, resolver and cache."""

from airflow_secretsync.refs.cache import SecretsCache
from airflow_secretsync.refs.lookup import (
    default_cache,
    default_secret_name,
    get_secret,
    resolve_reference,
)
from airflow_secretsync.refs.providers import (
    AwsSecretsProvider,
    EnvSecretsProvider,
    SecretsProvider,
    VaultSecretsProvider,
)
from airflow_secretsync.refs.reference import (
    SecretReference,
    is_reference,
    parse_reference,
)
from airflow_secretsync.refs.resolver import ENTRY_POINT_GROUP, SecretResult, SecretsResolver

__all__ = [
    "ENTRY_POINT_GROUP",
    "AwsSecretsProvider",
    "EnvSecretsProvider",
    "SecretReference",
    "SecretResult",
    "SecretsCache",
    "SecretsProvider",
    "SecretsResolver",
    "VaultSecretsProvider",
    "default_cache",
    "default_secret_name",
    "get_secret",
    "is_reference",
    "parse_reference",
    "resolve_reference",
]
