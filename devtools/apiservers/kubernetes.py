"""Kubernetes API server, core/v1 Secrets only (namespaced create, read, replace, patch, delete,
list with label selectors and ``limit``/``continue`` pagination).

Namespaces exist once created through ``PUT /_test/namespaces/{ns}`` (``default`` always does).
Run: ``python -m devtools.apiservers.kubernetes --port 8002 [--token T]``.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import secrets
import uuid
from collections.abc import Callable
from typing import Any

from devtools.apiservers.base import Api, ApiError, Request, Response, main, route, timestamp

SECRETS = "/api/v1/namespaces/{ns}/secrets"
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DATA_KEY = re.compile(r"[-._a-zA-Z0-9]+")
LABEL_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
MAX_SECRET_BYTES = 1024 * 1024
REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    415: "UnsupportedMediaType",
    422: "Invalid",
}
SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character"
)
KEY_RULE = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
MERGE_PATCH = ("application/merge-patch+json", "application/strategic-merge-patch+json")
JSON_PATCH = "application/json-patch+json"


class KubernetesApi(Api):
    """Kubernetes core/v1 Secrets REST API."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.namespaces = {"default"}
        self.secrets: dict[tuple[str, str], dict[str, Any]] = {}
        self.revision = 1

    def error(self, status: int, message: str, **details: Any) -> ApiError:
        body = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": details.pop("reason", REASONS.get(status, "InternalError")),
            **({"details": details} if details else {}),
            "code": status,
        }
        return ApiError(Response(status, body))

    def _not_found(self, name: str) -> ApiError:
        return self.error(404, f'secrets "{name}" not found', name=name, kind="secrets")

    def _conflict(self, name: str, why: str) -> ApiError:
        message = f'Operation cannot be fulfilled on secrets "{name}": {why}'
        return self.error(409, message, name=name, kind="secrets")

    def _invalid(self, name: str, causes: list[dict[str, str]]) -> ApiError:
        summary = ", ".join(f"{c['field']}: {c['message']}" for c in causes)
        return self.error(
            422, f'Secret "{name}" is invalid: {summary}', name=name, kind="Secret", causes=causes
        )

    # -- validation -----------------------------------------------------------------------

    def _secret_from(self, request: Request, body: Any) -> dict[str, Any]:
        """The Secret in ``body``, validated and with stringData folded into data."""
        if not isinstance(body, dict) or body.get("kind", "Secret") != "Secret":
            raise self.error(400, "the body of the request was not a Secret object")
        namespace = request.params["ns"]
        metadata = body.get("metadata") or {}
        if metadata.get("namespace", namespace) != namespace:
            raise self.error(
                400,
                "the namespace of the provided object does not match the namespace sent on the "
                "request",
            )
        name = metadata.get("name") or ""
        data = dict(body.get("data") or {})
        for key, value in data.items():
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, TypeError, ValueError):
                raise self.error(
                    400,
                    'Secret in version "v1" cannot be handled as a Secret: illegal base64 data '
                    f"in data key {key!r}",
                ) from None
        for key, value in (body.get("stringData") or {}).items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        secret = {
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": dict(metadata.get("labels") or {}),
                "annotations": dict(metadata.get("annotations") or {}),
                "resourceVersion": metadata.get("resourceVersion") or "",
            },
            "data": data,
            "type": body.get("type") or "Opaque",
        }
        causes = self._causes(secret)
        if causes:
            raise self._invalid(name, causes)
        return secret

    def _causes(self, secret: dict[str, Any]) -> list[dict[str, str]]:
        causes = []

        def invalid(field: str, value: str, rule: str) -> None:
            message = f'Invalid value: "{value}": {rule}'
            causes.append({"reason": "FieldValueInvalid", "message": message, "field": field})

        name = secret["metadata"]["name"]
        if not name:
            causes.append(
                {
                    "reason": "FieldValueRequired",
                    "message": "Required value: name or generateName is required",
                    "field": "metadata.name",
                }
            )
        elif len(name) > 253 or not DNS1123_SUBDOMAIN.fullmatch(name):
            invalid("metadata.name", name, SUBDOMAIN_RULE)
        for key, value in secret["metadata"]["labels"].items():
            prefix, _, label = key.rpartition("/")
            if (
                len(label) > 63
                or not LABEL_NAME.fullmatch(label)
                or (prefix and not DNS1123_SUBDOMAIN.fullmatch(prefix))
            ):
                invalid("metadata.labels", key, "name part must be a valid label key")
            if not isinstance(value, str) or len(value) > 63:
                invalid(f"metadata.labels.{key}", str(value), "must be a valid label value")
            elif value and not LABEL_NAME.fullmatch(value):
                invalid(f"metadata.labels.{key}", value, "must be a valid label value")
        for key in secret["data"]:
            if len(key) > 253 or not DATA_KEY.fullmatch(key):
                invalid(f"data[{key}]", key, KEY_RULE)
        size = sum(len(base64.b64decode(v)) for v in secret["data"].values())
        if size > MAX_SECRET_BYTES:
            causes.append(
                {
                    "reason": "FieldValueTooLong",
                    "message": f"Too long: must have at most {MAX_SECRET_BYTES} bytes",
                    "field": "data",
                }
            )
        return causes

    # -- objects --------------------------------------------------------------------------

    def _stored(self, request: Request) -> dict[str, Any]:
        secret = self.secrets.get((request.params["ns"], request.params["name"]))
        if secret is None:
            raise self._not_found(request.params["name"])
        return secret

    def _bump(self) -> str:
        self.revision += 1
        return str(self.revision)

    def _answer(self, secret: dict[str, Any], status: int = 200) -> Response:
        body = {"kind": "Secret", "apiVersion": "v1", **copy.deepcopy(secret)}
        metadata = body["metadata"]
        for empty in [k for k in ("labels", "annotations") if not metadata[k]]:
            del metadata[empty]
        if not body["data"]:
            del body["data"]
        return Response(status, body)

    @route("POST", SECRETS)
    def create_secret(self, request: Request) -> Response:
        body = request.json(self)
        if isinstance(body, dict) and not (body.get("metadata") or {}).get("name"):
            generate = (body.get("metadata") or {}).get("generateName")
            if generate:
                body["metadata"]["name"] = generate + secrets.token_hex(3)[:5]
        secret = self._secret_from(request, body)
        name = secret["metadata"]["name"]
        if request.params["ns"] not in self.namespaces:
            raise self.error(
                404, f'namespaces "{request.params["ns"]}" not found', name=name, kind="namespaces"
            )
        if (request.params["ns"], name) in self.secrets:
            message = f'secrets "{name}" already exists'
            raise self.error(409, message, reason="AlreadyExists", name=name, kind="secrets")
        secret["metadata"].update(
            uid=str(uuid.uuid4()), resourceVersion=self._bump(), creationTimestamp=timestamp()
        )
        self.secrets[(request.params["ns"], name)] = secret
        return self._answer(secret, 201)

    @route("GET", f"{SECRETS}/{{name}}")
    def read_secret(self, request: Request) -> Response:
        return self._answer(self._stored(request))

    @route("PUT", f"{SECRETS}/{{name}}")
    def replace_secret(self, request: Request) -> Response:
        return self._update(request, request.json(self))

    @route("PATCH", f"{SECRETS}/{{name}}")
    def patch_secret(self, request: Request) -> Response:
        current = self._answer(self._stored(request)).body
        current["metadata"]["resourceVersion"] = ""  # only a patch that names one is checked
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip()
        patch = request.json(self)
        if content_type in MERGE_PATCH:
            patched = merge_patch(current, patch)
        elif content_type == JSON_PATCH:
            patched = self._json_patch(current, patch, request.params["name"])
        else:
            message = f"the body of the request was in an unknown format - accepted media types include: {', '.join((JSON_PATCH, *MERGE_PATCH))}"  # noqa: E501
            raise self.error(415, message)
        return self._update(request, patched)

    def _update(self, request: Request, body: Any) -> Response:
        stored = self._stored(request)
        name = request.params["name"]
        if isinstance(body, dict) and (body.get("metadata") or {}).get("name", name) != name:
            url_name = (body.get("metadata") or {}).get("name")
            message = (
                f"the name of the object ({url_name}) does not match the name on the URL ({name})"
            )
            raise self.error(400, message)
        if isinstance(body, dict):
            body.setdefault("metadata", {}).setdefault("name", name)
        secret = self._secret_from(request, body)
        expected = secret["metadata"]["resourceVersion"]
        if expected and expected != stored["metadata"]["resourceVersion"]:
            raise self._conflict(
                name,
                "the object has been modified; please apply your changes to the latest version "
                "and try again",
            )
        if secret["type"] != stored["type"]:
            raise self._invalid(
                name,
                [{"reason": "FieldValueInvalid", "message": "field is immutable", "field": "type"}],
            )
        changed = (
            any(secret["metadata"][k] != stored["metadata"][k] for k in ("labels", "annotations"))
            or secret["data"] != stored["data"]
        )
        if changed:
            for key in ("labels", "annotations"):
                stored["metadata"][key] = secret["metadata"][key]
            stored["data"] = secret["data"]
            stored["metadata"]["resourceVersion"] = self._bump()
        return self._answer(stored)

    def _json_patch(self, document: Any, operations: Any, name: str) -> Any:
        try:
            return json_patch(document, operations)
        except (KeyError, IndexError, TypeError, ValueError) as error:
            raise self._invalid(
                name,
                [{"reason": "FieldValueInvalid", "message": f"json patch: {error}", "field": ""}],
            ) from None

    @route("DELETE", f"{SECRETS}/{{name}}")
    def delete_secret(self, request: Request) -> Response:
        stored = self._stored(request)
        options = request.json(self) or {}
        preconditions = options.get("preconditions") or {} if isinstance(options, dict) else {}
        for field in ("resourceVersion", "uid"):
            wanted, actual = preconditions.get(field), stored["metadata"][field]
            if wanted and wanted != actual:
                raise self._conflict(
                    request.params["name"],
                    f"Precondition failed: {field} in precondition: {wanted}, "
                    f"{field} in object meta: {actual}",
                )
        del self.secrets[(request.params["ns"], request.params["name"])]
        details = {"name": request.params["name"], "kind": "secrets"}
        details["uid"] = stored["metadata"]["uid"]
        body = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}
        return Response(200, {**body, "details": details})

    @route("GET", SECRETS)
    def list_secrets(self, request: Request) -> Response:
        try:
            selector = parse_label_selector(request.arg("labelSelector") or "")
        except ValueError as error:
            raise self.error(400, f"unable to parse requirement: {error}") from None
        namespace = request.params["ns"]
        names = sorted(
            name
            for (ns, name), secret in self.secrets.items()
            if ns == namespace and selector(secret["metadata"]["labels"])
        )
        revision, start = str(self.revision), ""
        token = request.arg("continue")
        if token:
            try:
                state = json.loads(base64.urlsafe_b64decode(token))
                revision, start = state["rv"], state["start"]
            except (ValueError, KeyError, TypeError):
                raise self.error(400, "continue key is not valid") from None
        names = [n for n in names if n > start]
        limit = request.int_arg("limit", 0, self)
        page = names[:limit] if limit > 0 else names
        metadata: dict[str, Any] = {"resourceVersion": revision}
        if len(page) < len(names):
            state = {"rv": revision, "start": page[-1]}
            metadata["continue"] = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
            metadata["remainingItemCount"] = len(names) - len(page)
        items = []
        for name in page:
            item = self._answer(self.secrets[(namespace, name)]).body
            del item["kind"], item["apiVersion"]
            items.append(item)
        body = {"kind": "SecretList", "apiVersion": "v1", "metadata": metadata, "items": items}
        return Response(body=body)

    @route("PUT", "/_test/namespaces/{ns}")
    def add_namespace(self, request: Request) -> Response:
        self.namespaces.add(request.params["ns"])
        return Response(204)

    @route("GET", "/_test/namespaces/{ns}/secrets")
    def dump_secrets(self, request: Request) -> Response:
        """Every Secret of a namespace by name: its labels and its decoded data."""
        namespace = request.params["ns"]
        return Response(
            body={
                name: {
                    "labels": secret["metadata"]["labels"],
                    "data": {k: base64.b64decode(v).decode() for k, v in secret["data"].items()},
                }
                for (ns, name), secret in sorted(self.secrets.items())
                if ns == namespace
            }
        )


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch (also what a strategic merge patch does to a Secret's maps)."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def json_patch(document: Any, operations: list[dict[str, Any]]) -> Any:
    """RFC 6902 JSON patch on objects (no arrays): add, remove, replace and test."""
    document = copy.deepcopy(document)
    for operation in operations:
        path = operation["path"]
        *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]
        container = document
        for part in parents:
            container = container[part]
        op = operation["op"]
        if op in ("remove", "replace", "test") and last not in container:
            raise KeyError(f"{path} does not exist")
        if op == "remove":
            del container[last]
        elif op in ("add", "replace"):
            container[last] = operation["value"]
        elif op != "test" or container[last] != operation["value"]:
            raise ValueError(f"{op} failed at {path}")
    return document


_REQUIREMENT = re.compile(
    r"\s*(?:(?P<not>!)\s*(?P<absent>[\w./-]+)"
    r"|(?P<key>[\w./-]+)\s*(?:(?P<op>==|=|!=)\s*(?P<value>[\w.-]*)"
    r"|\s+(?P<set>in|notin)\s*\((?P<values>[^()]*)\))?)\s*"
)


def parse_label_selector(text: str) -> Callable[[dict[str, str]], bool]:
    """A predicate for ``text`` (``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin
    (a,b)``, ``k``, ``!k``, comma-separated); ``ValueError`` naming the bad requirement."""
    tests: list[Callable[[dict[str, str]], bool]] = []
    for requirement in re.split(r",(?![^()]*\))", text) if text.strip() else []:
        match = _REQUIREMENT.fullmatch(requirement)
        if match is None:
            raise ValueError(requirement.strip())
        found = match.groupdict()
        key, value = found["key"], found["value"]
        if found["absent"]:
            tests.append(lambda labels, k=found["absent"]: k not in labels)
        elif found["op"] in ("=", "=="):
            tests.append(lambda labels, k=key, v=value: labels.get(k) == v)
        elif found["op"] == "!=":
            tests.append(lambda labels, k=key, v=value: labels.get(k) != v)
        elif found["set"]:
            values = {v.strip() for v in found["values"].split(",")}
            inside = found["set"] == "in"
            tests.append(
                lambda labels, k=key, vs=values, i=inside: (k in labels and labels[k] in vs) == i
            )
        else:
            tests.append(lambda labels, k=key: k in labels)
    return lambda labels: all(test(labels) for test in tests)


if __name__ == "__main__":
    main(KubernetesApi)
