"""A small GitHub REST client for Actions secrets (requests + PyNaCl), one per connection.

Why not PyGithub: it fetches the public key again for every secret it writes, sleeps through
rate limits on its own clock (not bounded by the target's deadline) and puts response bodies in
its exceptions. Here the key of each scope is fetched once per run, a rate limit is waited out
only within the deadline, and a failure is described by its status alone (no server text).

Rate limits: an answer with ``X-RateLimit-Remaining: 0`` waits until ``X-RateLimit-Reset``;
a secondary limit (403/429 with ``Retry-After``, or 429 alone) waits ``Retry-After`` (60 s
without it). Either is retried up to :data:`RATE_LIMIT_ATTEMPTS` times, and only while the wait
ends before the deadline (without a deadline: within :data:`MAX_WAIT_SECONDS`); otherwise the
request fails with a clear :class:`StoreError`.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from nacl.public import PublicKey, SealedBox
from requests.adapters import HTTPAdapter
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt
from urllib3.util import Retry

from airflow_secretsync.errors import ConflictError, StoreError
from airflow_secretsync.stores.base import Deadline

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
#: Connect / read timeouts of one request, in seconds.
TIMEOUT = (5.0, 15.0)
#: Connection failures are retried twice (GitHub answers are retried by the rate-limit rule).
CONNECT_RETRIES = Retry(
    total=2, connect=2, read=0, status=0, backoff_factor=0.2, respect_retry_after_header=False
)
RATE_LIMIT_ATTEMPTS = 5
#: The longest rate-limit wait without a target deadline.
MAX_WAIT_SECONDS = 300.0
#: Wait of a secondary rate limit that gives no ``Retry-After`` (GitHub: "at least a minute").
SECONDARY_WAIT_SECONDS = 60.0
PAGE_SIZE = 100
SCOPES_HINT = (
    "repository and environment secrets need a fine-grained token with 'Secrets' and "
    "'Environments' write (classic: 'repo'); organization secrets need 'admin:org'"
)


class RateLimited(Exception):
    """An answer that asks to wait ``wait`` seconds and try again."""

    def __init__(self, wait: float, kind: str) -> None:
        super().__init__(kind)
        self.wait = wait
        self.kind = kind


@dataclass
class GithubApi:
    """An authenticated session to one GitHub (or GitHub Enterprise) API, with caches per run:
    the public key of each secrets scope and the id of each repository."""

    conn_id: str
    base_url: str
    token: str = field(repr=False)
    session: requests.Session = field(default_factory=requests.Session, repr=False)
    _keys: dict[str, tuple[str, PublicKey]] = field(default_factory=dict, repr=False)
    _repo_ids: dict[str, int] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self.session.headers.update(
            {
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
            }
        )
        adapter = HTTPAdapter(max_retries=CONNECT_RETRIES)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    @property
    def where(self) -> str:
        return f"connection '{self.conn_id}' at {self.base_url}"

    # -- requests ------------------------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        body: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        deadline: Deadline | None = None,
        missing_ok: bool = False,
    ) -> requests.Response | None:
        """One request, waiting out rate limits; ``None`` for a 404 when ``missing_ok``.
        Any other failure is a value-free :class:`StoreError` naming ``what``."""
        retrying = Retrying(
            retry=retry_if_exception_type(RateLimited),
            stop=stop_after_attempt(RATE_LIMIT_ATTEMPTS),
            wait=lambda state: state.outcome.exception().wait,  # type: ignore[union-attr]
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    if deadline is not None:
                        deadline.check(what)
                    response = self._send(method, path, what, body, params, deadline)
        except RateLimited as exc:
            raise StoreError(
                f"{what} ({self.where}): still rate limited ({exc.kind}) after "
                f"{RATE_LIMIT_ATTEMPTS} attempts"
            ) from None
        if missing_ok and response.status_code == 404:
            return None
        if response.status_code >= 300:
            raise self._failure(response, what)
        return response

    def _send(
        self,
        method: str,
        path: str,
        what: str,
        body: dict[str, Any] | None,
        params: dict[str, Any] | None,
        deadline: Deadline | None,
    ) -> requests.Response:
        url = path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path}"
        try:
            response = self.session.request(method, url, json=body, params=params, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise StoreError(
                f"{what} ({self.where}): cannot reach GitHub ({type(exc).__name__})"
            ) from None
        wait = _rate_limit_wait(response)
        if wait is not None:
            exhausted = response.headers.get("X-RateLimit-Remaining") == "0"
            kind = "primary" if exhausted else "secondary"
            limit = deadline.remaining() if deadline is not None else None
            limit = MAX_WAIT_SECONDS if limit is None else limit
            if wait > limit:
                raise StoreError(
                    f"{what} ({self.where}): GitHub's {kind} rate limit is exhausted for "
                    f"{wait:.0f} s more, beyond the target's {limit:.0f} s left; try later"
                )
            log.warning("%s: GitHub %s rate limit, waiting %.0f s", what, kind, wait)
            raise RateLimited(wait, kind)
        return response

    def _failure(self, response: requests.Response, what: str) -> StoreError:
        status = response.status_code
        where = f"{what} ({self.where})"
        if status == 401:
            return StoreError(f"{where}: GitHub rejected the token (HTTP 401: bad credentials)")
        if status == 403:
            return StoreError(f"{where}: permission denied (HTTP 403); {SCOPES_HINT}")
        if status == 404:
            return StoreError(
                f"{where}: not found (HTTP 404): the repository, environment or organization "
                "does not exist or the token cannot see it"
            )
        if status == 409:
            return ConflictError(f"{where}: conflict (HTTP 409)")
        if status == 422:
            return StoreError(f"{where}: GitHub refused the request (HTTP 422, no detail shown)")
        return StoreError(f"{where}: GitHub answered HTTP {status} (no detail shown)")

    def pages(self, path: str, what: str, key: str) -> Iterator[dict[str, Any]]:
        """Every item under ``key`` of a paginated listing (``Link: rel="next"``)."""
        url: str | None = path
        params: dict[str, Any] | None = {"per_page": PAGE_SIZE}
        while url is not None:
            response = self.call("GET", url, what, params=params)
            assert response is not None
            yield from response.json().get(key) or []
            url = response.links.get("next", {}).get("url")
            params = None  # the next link carries the query

    # -- keys and ids (cached per run) ---------------------------------------------------------

    def public_key(self, secrets: str, what: str) -> tuple[str, PublicKey]:
        """``(key_id, key)`` of a secrets collection (``repos/o/r/actions/secrets``...),
        fetched once per run."""
        with self._lock:
            cached = self._keys.get(secrets)
        if cached is None:
            response = self.call("GET", f"{secrets}/public-key", what)
            assert response is not None
            data = response.json()
            cached = (str(data["key_id"]), PublicKey(base64.b64decode(data["key"])))
            with self._lock:
                self._keys[secrets] = cached
        return cached

    def repository_id(self, full_name: str, what: str) -> int:
        """The numeric id of repository ``owner/name`` (for selected organization secrets)."""
        with self._lock:
            cached = self._repo_ids.get(full_name.lower())
        if cached is None:
            response = self.call("GET", f"repos/{full_name}", f"{what}: repository {full_name}")
            assert response is not None
            cached = int(response.json()["id"])
            with self._lock:
                self._repo_ids[full_name.lower()] = cached
        return cached

    def close(self) -> None:
        self.session.close()


def encrypt(key: PublicKey, value: str) -> str:
    """``value`` in a libsodium sealed box for ``key``, base64-encoded (what GitHub expects)."""
    return base64.b64encode(SealedBox(key).encrypt(value.encode())).decode()


def _rate_limit_wait(response: requests.Response) -> float | None:
    """Seconds to wait before retrying, if ``response`` is a rate-limit refusal."""
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    retry_after = headers.get("Retry-After")
    if retry_after is not None and retry_after.strip().isdigit():
        return float(retry_after)
    if headers.get("X-RateLimit-Remaining") == "0":
        reset = headers.get("X-RateLimit-Reset", "")
        return max(float(reset) - time.time(), 0.0) + 1.0 if reset.isdigit() else MAX_WAIT_SECONDS
    if response.status_code == 429:
        return SECONDARY_WAIT_SECONDS
    return None
