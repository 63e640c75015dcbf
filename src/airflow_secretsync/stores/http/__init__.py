"""The ``http`` store kind (source only): secrets from a JSON document fetched with GET.

Light module (no client import): the config block and the :class:`StoreKind`; the
implementation is :mod:`.store`.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from airflow_secretsync.errors import SecretReferenceError
from airflow_secretsync.refs.reference import parse_reference
from airflow_secretsync.scopes import Scope, path_prefix
from airflow_secretsync.stores.registry import StoreBlock, StoreKind

#: Defaults: seconds to connect, seconds to wait for each piece of the answer, bytes at most.
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
MAX_BYTES = 10 * 1024 * 1024
#: An HTTP header name (RFC 9110 token).
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class AuthHeader(BaseModel):
    """A request header whose value is a secret reference, resolved at read time."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = "Authorization"
    value_ref: str

    @field_validator("name")
    @classmethod
    def _token(cls, name: str) -> str:
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not an HTTP header name")
        return name

    @field_validator("value_ref")
    @classmethod
    def _reference(cls, text: str) -> str:
        try:
            parse_reference(text)
        except SecretReferenceError as exc:
            raise ValueError(str(exc)) from None
        return text


def check_pointer(pointer: str) -> str:
    """``pointer`` if it is an RFC 6901 JSON pointer (``""`` or ``/a/b``), else ValueError."""
    if pointer and not pointer.startswith("/"):
        raise ValueError(f"JSON pointer {pointer!r} must be empty or start with '/'")
    if re.search(r"~(?![01])", pointer):
        raise ValueError(f"JSON pointer {pointer!r}: '~' must be followed by 0 or 1 (RFC 6901)")
    return pointer


class HttpSource(StoreBlock):
    """A JSON document (relative path -> value) read with GET from ``url``, or from the
    ``endpoint`` path of the Airflow ``http`` connection when ``url`` is not set."""

    url: str | None = None
    endpoint: str = ""
    pointer: str = ""
    auth_header: AuthHeader | None = None
    verify: bool | str = True
    connect_timeout: float = Field(default=CONNECT_TIMEOUT, gt=0)
    read_timeout: float = Field(default=READ_TIMEOUT, gt=0)
    max_bytes: int = Field(default=MAX_BYTES, gt=0)

    @field_validator("url")
    @classmethod
    def _url(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("url must be an absolute http:// or https:// URL")
        if parts.username or parts.password:
            raise ValueError(
                "url must not hold credentials: use auth_header or the http connection"
            )
        return url

    @field_validator("pointer")
    @classmethod
    def _pointer(cls, pointer: str) -> str:
        return check_pointer(pointer)

    @field_validator("verify")
    @classmethod
    def _verify(cls, verify: bool | str) -> bool | str:
        if isinstance(verify, str) and not verify.strip():
            raise ValueError("verify is true, false or the path of a CA bundle")
        return verify

    @model_validator(mode="after")
    def _one_location(self) -> HttpSource:
        if self.url is not None and self.endpoint:
            raise ValueError("set either url or endpoint (a path on the http connection)")
        return self

    def scope(self) -> Scope:
        """``http:<host:port>/<path>`` (a source only: never overlaps a destination)."""
        if self.url is not None:
            parts = urlsplit(self.url)
            host, path = parts.netloc.lower(), path_prefix(parts.path)
        else:
            host, path = None, path_prefix(self.endpoint)
        pointer = f"#{self.pointer}" if self.pointer else ""
        label = f"http:{host or f'connection {self.connection_id}'}/{path}{pointer}"
        return Scope("http", (host,), path, True, label, self.connection_id)


KIND = StoreKind(
    name="http",
    blocks={"source": HttpSource},
    connection="http",
    default_connection_id="http_default",
    opener="airflow_secretsync.stores.http.store:open_store",
)
