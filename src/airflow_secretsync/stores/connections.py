"""Authenticated clients built from Airflow connection ids, through the providers' hooks.

Credentials never come from the pipeline YAML: a Vault client comes from ``VaultHook`` (any auth
method the hashicorp provider supports, plus an optional ``namespace`` extra), boto3 clients
from the amazon provider's hooks (the connection's credentials, ``endpoint_url``,
``region_name``, ``config_kwargs`` and STS AssumeRole). Every failure becomes one
:class:`~airflow_secretsync.errors.StoreError` naming the connection, never a traceback.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_secretsync.errors import StoreError, require_extra
from airflow_secretsync.stores.server_errors import aws_reason, vault_reason

if TYPE_CHECKING:
    import hvac
    from botocore.client import BaseClient

#: Botocore defaults: adaptive retries (client-side rate limiting and exponential backoff on
#: throttling), bounded so that a dead or hung endpoint fails a call within about 30 s (3
#: attempts of at most 5 s connect / 8 s read); the connection pool is sized by the caller
#: (``max_pool_connections``). ``config_kwargs`` in the connection extra win.
AWS_CLIENT_DEFAULTS: dict[str, Any] = {
    "retries": {"mode": "adaptive", "max_attempts": 3},
    "connect_timeout": 5,
    "read_timeout": 8,
}
#: Vault (hvac/requests) defaults: connect / read timeouts in seconds, and bounded urllib3
#: retries (connection failures and 412/5xx answers; a read timeout is not retried, so a hung
#: server fails a request after one read timeout). ``client_kwargs`` ``timeout`` / ``session``
#: in the connection extra win.
VAULT_TIMEOUT = (5.0, 10.0)
VAULT_RETRIES: dict[str, Any] = {
    "total": 2,
    "connect": 2,
    "read": 0,
    "status": 2,
    "backoff_factor": 0.2,
    "status_forcelist": (412, 500, 502, 503),
    "raise_on_status": False,
}
#: Connections kept open per Vault connection unless a caller sizes the pool (requests' own
#: default).
VAULT_POOL_SIZE = 10
#: The connection that may be absent: boto3's default credential chain is used instead.
AWS_FALLBACK_CONN_ID = "aws_default"


@dataclass
class VaultConnection:
    """One authenticated hvac client and what was learnt about its mounts (looked up once)."""

    conn_id: str
    url: str
    client: hvac.Client
    _kv_mounts: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def require_kv2(self, mount: str) -> None:
        """Fail clearly unless ``mount`` is a KV version 2 engine; asks Vault once per mount."""
        with self._lock:
            if mount in self._kv_mounts:
                return
            from hvac.exceptions import Forbidden

            try:
                info = self.client.adapter.get(f"/v1/sys/internal/ui/mounts/{mount}")
            except Forbidden:  # the mount check needs no policy: the mount is not there
                raise StoreError(
                    f"vault://{mount} (connection '{self.conn_id}' at {self.url}): no secrets "
                    f"engine is mounted at '{mount}' (or no policy of the token reaches into it)"
                ) from None
            except Exception as exc:
                raise vault_failure(exc, f"vault://{mount}", self) from None
            data = info.get("data") or {}
            version = str((data.get("options") or {}).get("version", "1"))
            if data.get("type") not in ("kv", "generic") or version != "2":
                raise StoreError(
                    f"vault://{mount} (connection '{self.conn_id}'): the mount is not a "
                    f"KV version 2 secrets engine (type={data.get('type')!r}, version={version})"
                )
            self._kv_mounts.add(mount)

    def close(self) -> None:
        self.client.adapter.close()


#: What an invalid connection's error says instead of the provider's own text, which may quote
#: the connection's fields (a pasted secret among them).
CHECK_FIELDS = "check its type, host, auth fields and extra"


def vault_failure(
    exc: BaseException, location: str, conn: VaultConnection, path: str | None = None
) -> StoreError:
    """A value-free :class:`StoreError` for a failed Vault request."""
    what = f"{location} '{path}'" if path else location
    reason = vault_reason(exc)
    return StoreError(f"{what} (connection '{conn.conn_id}' at {conn.url}): {reason}")


def undefined_connection(kind: str, conn_id: str) -> StoreError:
    """The error for a connection id Airflow does not know, with how to define it."""
    return StoreError(
        f"{kind} connection '{conn_id}' is not defined: define it with the environment variable "
        f"AIRFLOW_CONN_{conn_id.upper()}, in the Airflow UI (Admin > Connections), or in your "
        "secrets backend"
    )


def vault_connection(conn_id: str, *, pool_size: int = VAULT_POOL_SIZE) -> VaultConnection:
    """Authenticate to Vault with the Airflow connection ``conn_id`` (token checked once).

    The connection extra ``namespace`` selects a Vault Enterprise / OpenBao namespace.
    ``pool_size`` connections are kept open for reuse (at least the requests in flight:
    beyond it, urllib3 opens a new connection per request and discards it).
    """
    require_extra("airflow.providers.hashicorp.hooks.vault", "Vault stores", "hashicorp")
    import requests
    from airflow.exceptions import AirflowNotFoundException
    from airflow.providers.hashicorp.hooks.vault import VaultHook
    from hvac.exceptions import Forbidden, Unauthorized, VaultError

    where = f"Vault connection '{conn_id}'"
    try:
        extra = VaultHook.get_connection(conn_id).extra_dejson
        namespace = extra.get("namespace")
        options = _bounded_vault_client(extra.get("client_kwargs") or {}, pool_size)
        if namespace:
            options["namespace"] = namespace

        def login() -> str:
            """A new token: the connection read anew, its auth method run again."""
            return VaultHook(vault_conn_id=conn_id, **options).vault_client.client.token

        hook = VaultHook(vault_conn_id=conn_id, adapter=relogin_adapter(login), **options)
        url = hook.vault_client.url
    except AirflowNotFoundException:
        raise undefined_connection("Vault", conn_id) from None
    except VaultError as exc:
        raise StoreError(f"{where} is invalid ({type(exc).__name__}): {CHECK_FIELDS}") from None
    try:
        # the authenticated client (``hook.get_conn()`` would ask Vault about the token, then
        # ask again below): one round trip checks the token, with the errors below
        client = hook.vault_client.client
        client.auth.token.lookup_self()
    except requests.RequestException as exc:
        raise StoreError(f"{where}: cannot reach Vault at {url} ({type(exc).__name__})") from None
    except OSError as exc:  # e.g. Kubernetes auth without its service account token file
        raise StoreError(
            f"{where}: cannot read {exc.filename or 'a credentials file'} ({exc.strerror})"
        ) from None
    except VaultError as exc:  # e.g. an AppRole / Kubernetes login refused
        # a bare VaultError is the hashicorp provider's own "not authenticated" check
        if isinstance(exc, Forbidden | Unauthorized) or type(exc) is VaultError:
            raise StoreError(
                f"{where}: Vault at {url} rejected the credentials (authentication failed)"
            ) from None
        raise StoreError(f"{where}: Vault at {url} answered {vault_reason(exc)}") from None
    return VaultConnection(conn_id=conn_id, url=url, client=client)


def relogin_adapter(login: Callable[[], str]) -> Callable[..., Any]:
    """An hvac adapter (what ``hvac.Client(adapter=...)`` builds) that, when Vault answers 403,
    takes a new token from ``login`` and retries once, as the hashicorp provider's own client
    does: tokens expire (TTL, max TTL) while a store or a secrets backend lives on. A 403 that
    is a missing permission fails again and is raised."""
    return functools.partial(_relogin_adapter_class(), login=login)


@functools.cache
def _relogin_adapter_class() -> type:
    from hvac.adapters import JSONAdapter
    from hvac.exceptions import Forbidden

    class ReloginAdapter(JSONAdapter):
        def __init__(self, *args: Any, login: Callable[[], str], **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._login = login
            self._login_lock = threading.Lock()

        def request(self, *args: Any, **kwargs: Any) -> Any:
            token = self.token
            try:
                return super().request(*args, **kwargs)
            except Forbidden:
                with self._login_lock:
                    if self.token == token:  # no other thread logged in meanwhile
                        self.token = self._login()
            return super().request(*args, **kwargs)

    return ReloginAdapter


@functools.cache
def _environment_once_session_class() -> type:
    from requests import Session
    from requests.utils import get_environ_proxies

    class EnvironmentOnceSession(Session):
        """A ``requests`` session that reads the environment's settings (the ``*_proxy``
        variables, ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``) once per server instead of
        on every request, where they cost more client CPU than the request itself (a scan of
        every environment variable, and a look for ``~/.netrc``). ``~/.netrc`` is not read:
        Vault authenticates with a token header, never with basic auth."""

        def __init__(self) -> None:
            super().__init__()
            self.trust_env = False  # the environment is merged below, once per server
            self._environments: dict[tuple[str, str | None], tuple[dict, str | None]] = {}

        def merge_environment_settings(
            self, url: str, proxies: Any, stream: Any, verify: Any, cert: Any
        ) -> dict[str, Any]:
            proxies = dict(proxies or {})
            key = (_origin(url), proxies.get("no_proxy"))
            if key not in self._environments:
                bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
                self._environments[key] = (get_environ_proxies(key[0], no_proxy=key[1]), bundle)
            environ_proxies, bundle = self._environments[key]
            for scheme, proxy in environ_proxies.items():
                proxies.setdefault(scheme, proxy)
            if verify is True or verify is None:
                verify = bundle or verify
            return super().merge_environment_settings(url, proxies, stream, verify, cert)

    return EnvironmentOnceSession


def _origin(url: str) -> str:
    """``https://vault:8200/`` of ``https://vault:8200/v1/secret/data/app``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/"


def _bounded_vault_client(client_kwargs: dict[str, Any], pool_size: int) -> dict[str, Any]:
    """``timeout`` and a ``session`` with bounded retries, a pool of ``pool_size``
    connections and the environment read once, unless the connection sets them."""
    from requests.adapters import HTTPAdapter
    from urllib3.util import Retry

    options: dict[str, Any] = {}
    if "timeout" not in client_kwargs:
        options["timeout"] = VAULT_TIMEOUT
    if "session" not in client_kwargs:
        session = _environment_once_session_class()()
        adapter = HTTPAdapter(max_retries=Retry(**VAULT_RETRIES), pool_maxsize=pool_size)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        options["session"] = session
    return options


def aws_client(
    service: str,
    conn_id: str,
    *,
    region: str | None = None,
    role_arn: str | None = None,
    pool_size: int | None = None,
) -> BaseClient:
    """A boto3 client for ``service`` (``secretsmanager``, ``s3`` or ``sts``) from ``conn_id``.

    ``region`` overrides the connection's ``region_name``; ``role_arn`` overrides the
    connection's and is assumed through STS (the hook's refreshable credentials).
    ``pool_size`` is botocore's ``max_pool_connections`` (at least the calls in flight;
    default 10), unless the connection's ``config_kwargs`` set it.
    """
    require_extra("airflow.providers.amazon.aws.hooks.base_aws", "AWS stores", "amazon")
    from airflow.exceptions import AirflowNotFoundException
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.amazon.aws.hooks.secrets_manager import SecretsManagerHook
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    where = f"AWS connection '{conn_id}'"
    try:
        SecretsManagerHook.get_connection(conn_id)
    except AirflowNotFoundException:
        if conn_id != AWS_FALLBACK_CONN_ID:
            raise undefined_connection("AWS", conn_id) from None
    if service == "secretsmanager":
        hook: AwsBaseHook = SecretsManagerHook(aws_conn_id=conn_id, region_name=region)
    elif service == "s3":
        hook = S3Hook(aws_conn_id=conn_id, region_name=region)
    else:
        hook = AwsBaseHook(aws_conn_id=conn_id, region_name=region, client_type=service)
    hook.get_session = _with_shared_data_loader(hook.get_session)  # type: ignore[method-assign]
    try:
        settings = hook.conn_config
        pool = {"max_pool_connections": pool_size} if pool_size else {}
        defaults = Config(**AWS_CLIENT_DEFAULTS, **pool)
        user_config = settings.botocore_config
        settings.botocore_config = defaults.merge(user_config) if user_config else defaults
        if role_arn:
            settings.role_arn = role_arn
            settings.assume_role_method = settings.assume_role_method or "assume_role"
        return hook.get_conn()
    except (BotoCoreError, ClientError) as exc:
        assuming = f" assuming {role_arn}" if role_arn else ""
        raise StoreError(
            f"{where}: cannot create a {service} client{assuming}: {aws_reason(exc)}"
        ) from None
    except (ValueError, TypeError, NotImplementedError) as exc:
        raise StoreError(f"{where} is invalid ({type(exc).__name__}): {CHECK_FIELDS}") from None


def _with_shared_data_loader(get_session: Callable[..., Any]) -> Callable[..., Any]:
    """``get_session`` whose sessions share the process's botocore data loader."""

    @functools.wraps(get_session)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        session = get_session(*args, **kwargs)
        core = getattr(session, "_session", None)  # a boto3 session's botocore session
        if core is not None:
            data_path = core.get_config_variable("data_path")
            core.register_component("data_loader", _shared_data_loader(data_path))
        return session

    return wrapper


@functools.cache
def _shared_data_loader(data_path: str | None) -> Any:
    """botocore's loader of its own data (service models, endpoint rules), one per data path
    for the whole process: it keeps what it loaded, which every new session (one per hook)
    would otherwise read and parse again, most of the CPU time of creating a client."""
    from botocore.loaders import create_loader

    return create_loader(data_path)
