"""GitHub REST API: Actions secrets of repositories, environments and organizations.

Each secret scope holds a libsodium key pair; PUT decrypts the sealed box and keeps the plaintext
in memory, visible only through ``/_test/`` so tests can prove the client encrypted correctly.
Run: ``python -m devtools.apiservers.github --port 8001 [--token T]``.
"""

from __future__ import annotations

import base64
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, SealedBox

from devtools.apiservers.base import (
    Api,
    ApiError,
    Request,
    Response,
    later_than,
    main,
    route,
    timestamp,
)

DOCS = "https://docs.github.com/rest/actions/secrets"
RATE_LIMIT = 5000
MAX_VALUE_BYTES = 48 * 1024
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NAME_RULE = (
    "Secret names can only contain alphanumeric characters ([a-z], [A-Z], [0-9]) or "
    "underscores (_). Spaces are not allowed. Must start with a letter ([a-z], [A-Z]) or "
    "underscores (_). Must not start with the GITHUB_ prefix."
)
VISIBILITIES = ("all", "private", "selected")

REPO_SECRETS = "/repos/{owner}/{repo}/actions/secrets"
ENV_SECRETS = "/repos/{owner}/{repo}/environments/{env}/secrets"
ORG_SECRETS = "/orgs/{org}/actions/secrets"


@dataclass
class Scope:
    """The secrets of one repository, environment or organization, and its key pair."""

    key_id: str
    key: PrivateKey = field(default_factory=PrivateKey.generate)
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Throttle:
    """Refuse the next ``requests`` API calls as GitHub does when a rate limit is hit."""

    kind: str  # "primary" or "secondary"
    status: int
    retry_after: int
    requests: int


class GitHubApi(Api):
    """GitHub Actions secrets REST API (repository, environment, organization)."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.repos: dict[str, dict[str, Any]] = {}  # "owner/repo" (lower case) -> repo
        self.orgs: dict[str, dict[str, Any]] = {}
        self.scopes: dict[str, Scope] = {}  # "repos/o/r", "repos/o/r/environments/e", "orgs/o"
        self.ids = 0
        self.used = 0
        self.window_reset = int(time.time()) + 3600
        self.throttle: Throttle | None = None

    def error(self, status: int, message: str, **details: Any) -> ApiError:
        body = {"message": message, **details, "documentation_url": DOCS, "status": str(status)}
        return ApiError(Response(status, body))

    def _next_id(self) -> int:
        self.ids += 1
        return self.ids

    # -- auth and rate limits ------------------------------------------------------------

    def authenticate(self, request: Request) -> None:
        if not request.headers.get("Authorization"):
            raise self.error(401, "Requires authentication")
        try:
            super().authenticate(request)
        except ApiError:
            raise self.error(401, "Bad credentials") from None
        self._check_rate_limit()

    def _check_rate_limit(self) -> None:
        self.used += 1
        throttle = self.throttle
        if throttle is None:
            return
        throttle.requests -= 1
        if throttle.requests <= 0:
            self.throttle = None
        if throttle.kind == "primary":
            error = self.error(403, "API rate limit exceeded for user ID 1.")
            error.response.headers["X-RateLimit-Remaining"] = "0"
        else:
            error = self.error(
                throttle.status,
                "You have exceeded a secondary rate limit. Please wait a few minutes before you "
                "try again.",
            )
            error.response.headers["Retry-After"] = str(throttle.retry_after)
        raise error

    def finish(self, request: Request, response: Response) -> None:
        exhausted = response.headers.get("X-RateLimit-Remaining") == "0"
        limits = {
            "X-RateLimit-Limit": str(RATE_LIMIT),
            "X-RateLimit-Remaining": "0" if exhausted else str(max(RATE_LIMIT - self.used, 0)),
            "X-RateLimit-Reset": str(self.window_reset),
            "X-RateLimit-Used": str(RATE_LIMIT if exhausted else self.used),
            "X-RateLimit-Resource": "core",
        }
        response.headers.update(limits)

    # -- repositories, organizations, environments ----------------------------------------

    def _repo(self, request: Request) -> dict[str, Any]:
        repo = self.repos.get(f"{request.params['owner']}/{request.params['repo']}".lower())
        if repo is None:
            raise self.error(404, "Not Found")
        return repo

    def _repo_json(self, repo: dict[str, Any], base_url: str) -> dict[str, Any]:
        full_name = f"{repo['owner']}/{repo['name']}"
        return {
            "id": repo["id"],
            "name": repo["name"],
            "full_name": full_name,
            "owner": {"login": repo["owner"], "type": "Organization"},
            "private": True,
            "url": f"{base_url}/repos/{full_name}",
        }

    @route("GET", "/repos/{owner}/{repo}")
    def get_repo(self, request: Request) -> Response:
        return Response(body=self._repo_json(self._repo(request), request.base_url))

    @route("GET", "/orgs/{org}")
    def get_org(self, request: Request) -> Response:
        org = self.orgs.get(request.params["org"].lower())
        if org is None:
            raise self.error(404, "Not Found")
        url = f"{request.base_url}/orgs/{org['login']}"
        return Response(body={"login": org["login"], "id": org["id"], "url": url})

    def _environment_json(self, request: Request, env: dict[str, Any]) -> dict[str, Any]:
        repo = self._repo(request)
        url = f"{request.base_url}/repos/{repo['owner']}/{repo['name']}/environments/{env['name']}"
        return {"id": env["id"], "name": env["name"], "url": url, **env["times"]}

    @route("GET", "/repos/{owner}/{repo}/environments/{env}")
    def get_environment(self, request: Request) -> Response:
        env = self._repo(request)["environments"].get(request.params["env"].lower())
        if env is None:
            raise self.error(404, "Not Found")
        return Response(body=self._environment_json(request, env))

    @route("PUT", "/repos/{owner}/{repo}/environments/{env}")
    def put_environment(self, request: Request) -> Response:
        """Create (or keep) an environment, as GitHub's "create or update an environment"."""
        env = self._ensure_environment(self._repo(request), request.params["env"])
        return Response(body=self._environment_json(request, env))

    def _ensure_environment(self, repo: dict[str, Any], name: str) -> dict[str, Any]:
        env = repo["environments"].get(name.lower())
        if env is None:
            now = timestamp()
            times = {"created_at": now, "updated_at": now}
            env = repo["environments"][name.lower()] = {
                "id": self._next_id(),
                "name": name,
                "times": times,
            }
            scope = f"repos/{repo['owner']}/{repo['name']}/environments/{name}".lower()
            self.scopes[scope] = Scope(key_id=str(self._next_id()))
        return env

    # -- secrets ------------------------------------------------------------------------

    def _scope_key(self, request: Request) -> str:
        params = {k: v.lower() for k, v in request.params.items()}
        if "org" in params:
            return f"orgs/{params['org']}"
        key = f"repos/{params['owner']}/{params['repo']}"
        return f"{key}/environments/{params['env']}" if "env" in params else key

    def _scope(self, request: Request) -> Scope:
        scope = self.scopes.get(self._scope_key(request))
        if scope is None:
            raise self.error(404, "Not Found")
        return scope

    def _secret(self, request: Request) -> tuple[Scope, dict[str, Any]]:
        scope = self._scope(request)
        secret = scope.secrets.get(request.params["name"].upper())
        if secret is None:
            raise self.error(404, "Not Found")
        return scope, secret

    def _secret_json(self, request: Request, name: str, secret: dict[str, Any]) -> dict[str, Any]:
        answer = {"name": name, "created_at": secret["created_at"]}
        answer["updated_at"] = secret["updated_at"]
        if "org" in request.params:
            answer["visibility"] = secret["visibility"]
            if secret["visibility"] == "selected":
                org_secrets = f"{request.base_url}/orgs/{request.params['org']}/actions/secrets"
                answer["selected_repositories_url"] = f"{org_secrets}/{name}/repositories"
        return answer

    @route("GET", f"{REPO_SECRETS}/public-key")
    @route("GET", f"{ENV_SECRETS}/public-key")
    @route("GET", f"{ORG_SECRETS}/public-key")
    def get_public_key(self, request: Request) -> Response:
        scope = self._scope(request)
        key = base64.b64encode(bytes(scope.key.public_key)).decode()
        return Response(body={"key_id": scope.key_id, "key": key})

    @route("GET", REPO_SECRETS)
    @route("GET", ENV_SECRETS)
    @route("GET", ORG_SECRETS)
    def list_secrets(self, request: Request) -> Response:
        scope = self._scope(request)
        per_page = min(max(request.int_arg("per_page", 30, self), 1), 100)
        page = max(request.int_arg("page", 1, self), 1)
        names = sorted(scope.secrets)
        chunk = names[(page - 1) * per_page : page * per_page]
        body = {
            "total_count": len(names),
            "secrets": [self._secret_json(request, n, scope.secrets[n]) for n in chunk],
        }
        links = _link_header(request, page, per_page, math.ceil(len(names) / per_page))
        return Response(body=body, headers={"Link": links} if links else {})

    @route("GET", f"{REPO_SECRETS}/{{name}}")
    @route("GET", f"{ENV_SECRETS}/{{name}}")
    @route("GET", f"{ORG_SECRETS}/{{name}}")
    def get_secret(self, request: Request) -> Response:
        _, secret = self._secret(request)
        name = request.params["name"].upper()
        return Response(body=self._secret_json(request, name, secret))

    @route("PUT", f"{REPO_SECRETS}/{{name}}")
    @route("PUT", f"{ENV_SECRETS}/{{name}}")
    @route("PUT", f"{ORG_SECRETS}/{{name}}")
    def put_secret(self, request: Request) -> Response:
        scope = self._scope(request)
        name = request.params["name"]
        if not NAME.fullmatch(name) or name.upper().startswith("GITHUB_"):
            raise self.error(422, f"Failed to add secret. {NAME_RULE}")
        body = request.json(self)
        if not isinstance(body, dict):
            raise self.error(400, "Problems parsing JSON")
        required = ("encrypted_value", "key_id", "visibility") if "org" in request.params else ()
        for field_name in required or ("encrypted_value", "key_id"):
            if not body.get(field_name):
                raise self.error(422, f'Invalid request.\n\n"{field_name}" wasn\'t supplied.')
        if str(body["key_id"]) != scope.key_id:
            raise self.error(422, "Bad request - key_id does not match the current public key")
        value = self._decrypt(scope, body["encrypted_value"])
        extra = self._org_fields(body) if "org" in request.params else {}
        now = timestamp()
        existing = scope.secrets.get(name.upper())
        created_at = existing["created_at"] if existing else now
        scope.secrets[name.upper()] = {
            "value": value,
            "created_at": created_at,
            "updated_at": now,
            **extra,
        }
        return Response(204) if existing else Response(201, {})

    def _decrypt(self, scope: Scope, encrypted: Any) -> str:
        try:
            value = SealedBox(scope.key).decrypt(base64.b64decode(encrypted, validate=True))
            text = value.decode()
        except (CryptoError, ValueError, TypeError):
            raise self.error(422, "Bad request - could not decrypt encrypted_value") from None
        if len(value) > MAX_VALUE_BYTES:
            raise self.error(422, "Secret value must be at most 48 KB")
        return text

    def _org_fields(self, body: dict[str, Any]) -> dict[str, Any]:
        visibility = body["visibility"]
        if visibility not in VISIBILITIES:
            raise self.error(422, f"Invalid request.\n\n{visibility!r} is not a valid visibility.")
        ids = body.get("selected_repository_ids") or []
        if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
            raise self.error(422, "Invalid request.\n\nselected_repository_ids must be integers.")
        return {
            "visibility": visibility,
            "selected_repository_ids": ids if visibility == "selected" else [],
        }

    @route("DELETE", f"{REPO_SECRETS}/{{name}}")
    @route("DELETE", f"{ENV_SECRETS}/{{name}}")
    @route("DELETE", f"{ORG_SECRETS}/{{name}}")
    def delete_secret(self, request: Request) -> Response:
        scope, _ = self._secret(request)
        del scope.secrets[request.params["name"].upper()]
        return Response(204)

    @route("GET", f"{ORG_SECRETS}/{{name}}/repositories")
    def list_selected_repositories(self, request: Request) -> Response:
        _, secret = self._secret(request)
        if secret["visibility"] != "selected":
            raise self.error(409, "The visibility of this secret is not 'selected'.")
        repos = [r for r in self.repos.values() if r["id"] in secret["selected_repository_ids"]]
        body = [self._repo_json(r, request.base_url) for r in repos]
        return Response(body={"total_count": len(body), "repositories": body})

    # -- test-only control ----------------------------------------------------------------

    @route("PUT", "/_test/repos/{owner}/{repo}")
    def add_repo(self, request: Request) -> Response:
        """Create a repository (and the environments listed in the body's ``environments``)."""
        key = f"{request.params['owner']}/{request.params['repo']}".lower()
        if key not in self.repos:
            self.repos[key] = {
                "id": self._next_id(),
                "owner": request.params["owner"],
                "name": request.params["repo"],
                "environments": {},
            }
            self.scopes[f"repos/{key}"] = Scope(key_id=str(self._next_id()))
        for env in (request.json(self) or {}).get("environments", []):
            self._ensure_environment(self.repos[key], env)
        return Response(body=self._repo_json(self.repos[key], request.base_url))

    @route("PUT", "/_test/orgs/{org}")
    def add_org(self, request: Request) -> Response:
        org = request.params["org"]
        if org.lower() not in self.orgs:
            self.orgs[org.lower()] = {"login": org, "id": self._next_id()}
            self.scopes[f"orgs/{org.lower()}"] = Scope(key_id=str(self._next_id()))
        return Response(body=self.orgs[org.lower()])

    @route("GET", "/_test/repos/{owner}/{repo}/secrets")
    @route("GET", "/_test/repos/{owner}/{repo}/environments/{env}/secrets")
    @route("GET", "/_test/orgs/{org}/secrets")
    def dump_secrets(self, request: Request) -> Response:
        """Every secret of a scope with its decrypted value and metadata."""
        return Response(body=self._scope(request).secrets)

    @route("POST", "/_test/repos/{owner}/{repo}/secrets/{name}/touch")
    @route("POST", "/_test/repos/{owner}/{repo}/environments/{env}/secrets/{name}/touch")
    @route("POST", "/_test/orgs/{org}/secrets/{name}/touch")
    def touch_secret(self, request: Request) -> Response:
        """Simulate an edit by hand in the GitHub UI: the value stays, updated_at moves on."""
        _, secret = self._secret(request)
        secret["updated_at"] = later_than(secret["updated_at"])
        return Response(body=secret)

    @route("POST", "/_test/rate-limit")
    def set_rate_limit(self, request: Request) -> Response:
        """Refuse the next ``requests`` calls: ``kind`` primary (403, remaining 0) or
        secondary (``status`` 403 or 429 with ``Retry-After: retry_after``)."""
        body = request.json(self) or {}
        self.throttle = Throttle(
            kind=body.get("kind", "primary"),
            status=int(body.get("status", 403)),
            retry_after=int(body.get("retry_after", 1)),
            requests=int(body.get("requests", 1)),
        )
        return Response(204)


def _link_header(request: Request, page: int, per_page: int, last: int) -> str:
    """GitHub's ``Link`` header: prev/next/first/last pages of the same query."""
    url = f"{request.base_url}{request.path}"

    def link(number: int, rel: str) -> str:
        query = {**{k: v[0] for k, v in request.query.items()}, "per_page": per_page}
        return f'<{url}?{urlencode({**query, "page": number})}>; rel="{rel}"'

    links = []
    if page > 1:
        links += [link(page - 1, "prev"), link(1, "first")]
    if page < last:
        links += [link(page + 1, "next"), link(last, "last")]
    return ", ".join(links)


if __name__ == "__main__":
    main(GitHubApi)
