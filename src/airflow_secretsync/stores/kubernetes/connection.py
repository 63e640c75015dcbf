"""A Kubernetes API client from an Airflow ``kubernetes`` connection (no provider needed).

The fields are those of the cncf.kubernetes provider's connection, read from the extra with or
without the ``extra__kubernetes__`` prefix, in the provider's order: ``in_cluster`` (the pod's
service account), ``kube_config_path`` (a kubeconfig file), ``kube_config`` (kubeconfig content,
JSON or YAML), then the connection's host with a bearer token in the password, and else the
default kubeconfig (``KUBECONFIG`` / ``~/.kube/config``). ``cluster_context`` picks a context,
``namespace`` the default namespace, ``disable_verify_ssl`` turns TLS verification off. Every
failure is one :class:`~airflow_secretsync.errors.StoreError` naming the connection.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import yaml
from kubernetes import client, config
from urllib3.util import Retry

from airflow_secretsync.errors import StoreError

#: Connect / read timeouts of every request, in seconds, and bounded retries of connection
#: failures (a hung server fails a request after one read timeout).
REQUEST_TIMEOUT = (5.0, 10.0)
RETRIES = Retry(total=2, connect=2, read=0, status=0, backoff_factor=0.2, raise_on_status=False)
_PREFIX = "extra__kubernetes__"


@dataclass
class KubernetesConnection:
    """One authenticated client and the connection's default namespace."""

    conn_id: str
    host: str
    api: client.CoreV1Api
    namespace: str | None

    def close(self) -> None:
        self.api.api_client.close()


def _field(extra: dict[str, Any], name: str) -> Any:
    value = extra.get(f"{_PREFIX}{name}")
    return extra.get(name) if value in (None, "") else value


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes")


def kubernetes_connection(conn_id: str) -> KubernetesConnection:
    """Load the configuration the connection ``conn_id`` describes; nothing is requested yet."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    where = f"Kubernetes connection '{conn_id}'"
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise StoreError(f"{where} is not defined") from None
    extra = conn.extra_dejson or {}
    context = _field(extra, "cluster_context") or None
    configuration = client.Configuration()
    in_cluster = _flag(_field(extra, "in_cluster"))
    try:
        if in_cluster:
            source = "the pod's service account (in_cluster)"
            config.load_incluster_config(client_configuration=configuration)
        elif _field(extra, "kube_config_path"):
            path = str(_field(extra, "kube_config_path"))
            source = f"the kubeconfig file {path}"
            config.load_kube_config(path, context, client_configuration=configuration)
        elif _field(extra, "kube_config"):
            source = "the kube_config of the connection"
            content = _kube_config(_field(extra, "kube_config"))
            config.load_kube_config_from_dict(content, context, client_configuration=configuration)
        elif conn.host:
            source = "the host and token of the connection"
            configuration.host = conn.host.rstrip("/")
            if conn.password:  # kubernetes >= 36 reads the bearer token under "BearerToken"
                configuration.api_key = {"BearerToken": conn.password}
                configuration.api_key_prefix = {"BearerToken": "Bearer"}
        else:
            source = "the default kubeconfig (KUBECONFIG or ~/.kube/config)"
            config.load_kube_config(context=context, client_configuration=configuration)
    except (
        config.ConfigException,
        OSError,
        ValueError,
        TypeError,
        KeyError,
        yaml.YAMLError,
    ) as exc:
        raise StoreError(f"{where}: cannot load {source}: {_reason(exc, in_cluster)}") from None
    if _flag(_field(extra, "disable_verify_ssl")):
        configuration.verify_ssl = False
    configuration.retries = RETRIES
    api = client.CoreV1Api(client.ApiClient(configuration))
    namespace = _field(extra, "namespace") or None
    return KubernetesConnection(conn_id, configuration.host, api, namespace)


def _kube_config(value: Any) -> dict[str, Any]:
    """Kubeconfig content: a dict, or its JSON or YAML text."""
    if isinstance(value, dict):
        return value
    text = str(value)
    try:
        content = json.loads(text)
    except ValueError:
        content = yaml.safe_load(text)
    if not isinstance(content, dict):
        raise ValueError("not a kubeconfig mapping")
    return content


def _reason(exc: BaseException, in_cluster: bool) -> str:
    """Why loading failed, in our words (the loader's messages may quote file content)."""
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, config.ConfigException):
        if in_cluster:
            return "no service account token or KUBERNETES_SERVICE_HOST (not running in a pod?)"
        return "missing file, or an invalid or incomplete kubeconfig"
    return f"an invalid kubeconfig ({type(exc).__name__})"
