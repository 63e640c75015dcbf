"""Google Cloud Secret Manager REST API v1: secrets, versions, access, global and regional.

Projects exist once created through ``PUT /_test/projects/{project}``; any other project answers
403 PERMISSION_DENIED as Google does for a project you may not see.
Run: ``python -m devtools.apiservers.gcp --port 8003 [--token T]``.
"""

from __future__ import annotations

import base64
import binascii
import itertools
import re
from dataclasses import dataclass, field
from typing import Any

from devtools.apiservers.base import Api, ApiError, Request, Response, main, route, timestamp

GLOBAL = "/v1/projects/{project}/secrets"
REGIONAL = "/v1/projects/{project}/locations/{location}/secrets"
SECRET_ID = re.compile(r"[A-Za-z0-9_-]{1,255}")
LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")
MAX_PAYLOAD_BYTES = 64 * 1024
UPDATABLE = {"labels", "annotations"}
STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "NOT_FOUND",
    409: "ALREADY_EXISTS",
}
_FILTER_TERM = re.compile(r'(labels\.[a-z0-9_-]+|name)\s*([=:])\s*"?([^"\s]*)"?')


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli), the checksum Secret Manager uses for payloads."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


@dataclass
class Secret:
    resource: dict[str, Any]
    versions: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    payloads: dict[str, bytes] = field(default_factory=dict)  # version name -> data


class SecretManagerApi(Api):
    """Google Cloud Secret Manager REST API v1."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.projects: set[str] = set()
        self.secrets: dict[str, Secret] = {}  # full resource name -> secret
        self.etags = itertools.count(1)

    def error(self, status: int, message: str, **details: Any) -> ApiError:
        code = details.get("code") or STATUSES.get(status, "UNKNOWN")
        return ApiError(
            Response(status, {"error": {"code": status, "message": message, "status": code}})
        )

    def authenticate(self, request: Request) -> None:
        try:
            super().authenticate(request)
        except ApiError:
            raise self.error(
                401,
                "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                "login cookie or other valid authentication credential.",
            ) from None

    def _etag(self) -> str:
        return f'"{next(self.etags):014x}"'

    # -- names ----------------------------------------------------------------------------

    def _parent(self, request: Request, permission: str) -> str:
        project = request.params["project"]
        if project not in self.projects:
            raise self.error(
                403,
                f"Permission 'secretmanager.{permission}' denied for resource "
                f"'projects/{project}' (or it may not exist).",
            )
        location = request.params.get("location")
        return f"projects/{project}" + (f"/locations/{location}" if location else "")

    def _secret(self, request: Request, permission: str) -> Secret:
        name = f"{self._parent(request, permission)}/secrets/{request.params['secret']}"
        secret = self.secrets.get(name)
        if secret is None:
            raise self.error(404, f"Secret [{name}] not found.")
        return secret

    def _version(self, request: Request, permission: str) -> tuple[Secret, dict[str, Any]]:
        secret = self._secret(request, permission)
        wanted = request.params["version"]
        if wanted == "latest":
            if not secret.versions:
                raise self.error(
                    404, f"Secret [{secret.resource['name']}] not found or has no versions."
                )
            return secret, secret.versions[-1]
        name = f"{secret.resource['name']}/versions/{wanted}"
        if not wanted.isdigit() or int(wanted) < 1:
            raise self.error(400, f"Invalid resource field value in the request: {name}")
        if int(wanted) > len(secret.versions):
            raise self.error(404, f"Secret Version [{name}] not found.")
        return secret, secret.versions[int(wanted) - 1]

    def _check_etag(self, current: str, given: str | None) -> None:
        if given and given != current:
            raise self.error(409, "etag does not match the current etag", code="ABORTED")

    # -- secrets --------------------------------------------------------------------------

    def _labels(self, labels: Any) -> dict[str, str]:
        if not isinstance(labels, dict) or len(labels) > 64:
            raise self.error(400, "Secret.labels must be a map of at most 64 entries")
        for key, value in labels.items():
            if not LABEL_KEY.fullmatch(key) or not LABEL_VALUE.fullmatch(str(value)):
                raise self.error(400, f"Invalid label: {key!r}")
        return dict(labels)

    @route("POST", GLOBAL)
    @route("POST", REGIONAL)
    def create_secret(self, request: Request) -> Response:
        parent = self._parent(request, "secrets.create")
        secret_id = request.arg("secretId") or ""
        if not SECRET_ID.fullmatch(secret_id):
            raise self.error(
                400,
                "Secret id must consist only of letters, numbers, underscores and hyphens and be "
                "at most 255 characters long.",
            )
        body = request.json(self) or {}
        if not isinstance(body, dict):
            raise self.error(400, "Invalid JSON payload received.")
        replication = body.get("replication")
        regional = "location" in request.params
        if regional and replication:
            raise self.error(400, "Replication policy must not be set for a regional secret.")
        if not regional and not (
            isinstance(replication, dict) and ({"automatic", "userManaged"} & replication.keys())
        ):
            raise self.error(400, "Secret.replication is required.")
        name = f"{parent}/secrets/{secret_id}"
        if name in self.secrets:
            raise self.error(409, f"Secret [{name}] already exists.")
        resource = {"name": name, "createTime": timestamp(), "etag": self._etag()}
        if replication:
            resource["replication"] = replication
        for key in ("labels", "annotations"):
            if body.get(key):
                resource[key] = self._labels(body[key]) if key == "labels" else dict(body[key])
        self.secrets[name] = Secret(resource)
        return Response(body=resource)

    @route("GET", GLOBAL)
    @route("GET", REGIONAL)
    def list_secrets(self, request: Request) -> Response:
        parent = self._parent(request, "secrets.list")
        wanted = self._filter(request.arg("filter") or "")
        names = sorted(
            name
            for name, secret in self.secrets.items()
            if name.startswith(f"{parent}/secrets/") and wanted(secret.resource)
        )
        page, token = self._page(request, names)
        body = {"secrets": [self.secrets[n].resource for n in page], "totalSize": len(names)}
        if token:
            body["nextPageToken"] = token
        return Response(body={k: v for k, v in body.items() if v})

    def _page(self, request: Request, names: list[str]) -> tuple[list[str], str]:
        size = request.int_arg("pageSize", 25000, self)
        if size < 0:
            raise self.error(400, "page_size must not be negative")
        start = 0
        token = request.arg("pageToken")
        if token:
            try:
                start = int(base64.urlsafe_b64decode(token))
            except (ValueError, binascii.Error):
                raise self.error(400, "Invalid page token.") from None
        size = size or 25000
        page = names[start : start + size]
        more = start + size < len(names)
        return page, base64.urlsafe_b64encode(str(start + size).encode()).decode() if more else ""

    def _filter(self, text: str):
        """A predicate on secret resources: ``labels.k=v``, ``labels.k:v``, ``labels.k:*``,
        ``name:part``, ANDed (space or ``AND``)."""
        tests = []
        terms = [t for t in re.split(r"\s+AND\s+|\s+", text.strip()) if t]
        for term in terms:
            match = _FILTER_TERM.fullmatch(term)
            if match is None:
                raise self.error(400, f"Invalid filter: {text}")
            field_name, op, value = match.groups()
            if field_name == "name":
                tests.append(lambda r, v=value: v in r["name"].rsplit("/", 1)[-1])
                continue
            key = field_name.removeprefix("labels.")
            if op == ":" and value == "*":
                tests.append(lambda r, k=key: k in r.get("labels", {}))
            elif op == ":":
                tests.append(lambda r, k=key, v=value: v in r.get("labels", {}).get(k, "\0"))
            else:
                tests.append(lambda r, k=key, v=value: r.get("labels", {}).get(k) == v)
        return lambda resource: all(test(resource) for test in tests)

    @route("GET", f"{GLOBAL}/{{secret}}")
    @route("GET", f"{REGIONAL}/{{secret}}")
    def get_secret(self, request: Request) -> Response:
        return Response(body=self._secret(request, "secrets.get").resource)

    @route("PATCH", f"{GLOBAL}/{{secret}}")
    @route("PATCH", f"{REGIONAL}/{{secret}}")
    def update_secret(self, request: Request) -> Response:
        secret = self._secret(request, "secrets.update")
        paths = {p.strip() for p in (request.arg("updateMask") or "").split(",") if p.strip()}
        if not paths:
            raise self.error(400, "update_mask is required.")
        if paths - UPDATABLE:
            raise self.error(400, f"Unsupported update mask path: {sorted(paths - UPDATABLE)}")
        body = request.json(self) or {}
        self._check_etag(secret.resource["etag"], body.get("etag"))
        for path in paths:
            value = body.get(path) or {}
            if path == "labels":
                value = self._labels(value)
            if value:
                secret.resource[path] = dict(value)
            else:
                secret.resource.pop(path, None)
        secret.resource["etag"] = self._etag()
        return Response(body=secret.resource)

    @route("DELETE", f"{GLOBAL}/{{secret}}")
    @route("DELETE", f"{REGIONAL}/{{secret}}")
    def delete_secret(self, request: Request) -> Response:
        secret = self._secret(request, "secrets.delete")
        self._check_etag(secret.resource["etag"], request.arg("etag"))
        del self.secrets[secret.resource["name"]]
        return Response(body={})

    # -- versions -------------------------------------------------------------------------

    @route("POST", f"{GLOBAL}/{{secret}}:addVersion")
    @route("POST", f"{REGIONAL}/{{secret}}:addVersion")
    def add_version(self, request: Request) -> Response:
        secret = self._secret(request, "versions.add")
        payload = (request.json(self) or {}).get("payload") or {}
        try:
            data = base64.b64decode(payload.get("data") or "", validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise self.error(400, "Invalid value at 'payload.data' (TYPE_BYTES)") from None
        if len(data) > MAX_PAYLOAD_BYTES:
            raise self.error(400, "Secret payload data must be at most 65536 bytes.")
        checksum = payload.get("dataCrc32c")
        if checksum is not None and int(checksum) != crc32c(data):
            raise self.error(400, "Checksum mismatch: the data_crc32c does not match the data.")
        name = f"{secret.resource['name']}/versions/{len(secret.versions) + 1}"
        version = {
            "name": name,
            "createTime": timestamp(),
            "state": "ENABLED",
            "etag": self._etag(),
            "clientSpecifiedPayloadChecksum": checksum is not None,
        }
        if "replication" in secret.resource:
            version["replicationStatus"] = {"automatic": {}}
        secret.versions.append(version)
        secret.payloads[name] = data
        return Response(body=version)

    @route("GET", f"{GLOBAL}/{{secret}}/versions")
    @route("GET", f"{REGIONAL}/{{secret}}/versions")
    def list_versions(self, request: Request) -> Response:
        secret = self._secret(request, "versions.list")
        text = (request.arg("filter") or "").strip()
        state = re.fullmatch(r"state\s*[:=]\s*([A-Z]+)", text)
        if text and state is None:
            raise self.error(400, f"Invalid filter: {text}")
        versions = [
            v for v in reversed(secret.versions) if state is None or v["state"] == state.group(1)
        ]
        names = [v["name"] for v in versions]
        page, token = self._page(request, names)
        by_name = {v["name"]: v for v in versions}
        body = {"versions": [by_name[n] for n in page], "totalSize": len(names)}
        if token:
            body["nextPageToken"] = token
        return Response(body={k: v for k, v in body.items() if v})

    @route("GET", f"{GLOBAL}/{{secret}}/versions/{{version}}")
    @route("GET", f"{REGIONAL}/{{secret}}/versions/{{version}}")
    def get_version(self, request: Request) -> Response:
        return Response(body=self._version(request, "versions.get")[1])

    @route("GET", f"{GLOBAL}/{{secret}}/versions/{{version}}:access")
    @route("GET", f"{REGIONAL}/{{secret}}/versions/{{version}}:access")
    def access_version(self, request: Request) -> Response:
        secret, version = self._version(request, "versions.access")
        if version["state"] != "ENABLED":
            raise self.error(
                400,
                f"Secret Version [{version['name']}] is in {version['state']} state.",
                code="FAILED_PRECONDITION",
            )
        data = secret.payloads[version["name"]]
        payload = {"data": base64.b64encode(data).decode(), "dataCrc32c": str(crc32c(data))}
        return Response(body={"name": version["name"], "payload": payload})

    def _set_state(self, request: Request, state: str) -> Response:
        secret, version = self._version(request, f"versions.{state.lower()}")
        self._check_etag(version["etag"], (request.json(self) or {}).get("etag"))
        if version["state"] == "DESTROYED":
            raise self.error(
                400,
                f"Secret Version [{version['name']}] is in DESTROYED state.",
                code="FAILED_PRECONDITION",
            )
        version.update(state=state, etag=self._etag())
        if state == "DESTROYED":
            version["destroyTime"] = timestamp()
            del secret.payloads[version["name"]]
        return Response(body=version)

    @route("POST", f"{GLOBAL}/{{secret}}/versions/{{version}}:disable")
    @route("POST", f"{REGIONAL}/{{secret}}/versions/{{version}}:disable")
    def disable_version(self, request: Request) -> Response:
        return self._set_state(request, "DISABLED")

    @route("POST", f"{GLOBAL}/{{secret}}/versions/{{version}}:enable")
    @route("POST", f"{REGIONAL}/{{secret}}/versions/{{version}}:enable")
    def enable_version(self, request: Request) -> Response:
        return self._set_state(request, "ENABLED")

    @route("POST", f"{GLOBAL}/{{secret}}/versions/{{version}}:destroy")
    @route("POST", f"{REGIONAL}/{{secret}}/versions/{{version}}:destroy")
    def destroy_version(self, request: Request) -> Response:
        return self._set_state(request, "DESTROYED")

    @route("PUT", "/_test/projects/{project}")
    def add_project(self, request: Request) -> Response:
        self.projects.add(request.params["project"])
        return Response(204)


if __name__ == "__main__":
    main(SecretManagerApi)
