"""The local GCP Secret Manager v1 REST API, through google-cloud-secret-manager and raw HTTP."""

from __future__ import annotations

import base64
import itertools
from urllib.parse import quote

import pytest
from google.api_core import exceptions
from google.cloud import secretmanager
from google.oauth2.credentials import Credentials
from google.protobuf import field_mask_pb2

from devtools.apiservers.base import ApiServer
from devtools.apiservers.gcp import crc32c
from tests.servers.raw import call

AUTOMATIC = {"replication": {"automatic": {}}}
_projects = itertools.count()


@pytest.fixture
def project(gcp_api: ApiServer) -> str:
    name = f"project-{next(_projects)}"
    gcp_api.control("PUT", f"projects/{name}")
    return name


@pytest.fixture
def sm(gcp_api: ApiServer) -> secretmanager.SecretManagerServiceClient:
    # an http:// scheme in api_endpoint is kept by the REST transport (no TLS locally)
    return secretmanager.SecretManagerServiceClient(
        credentials=Credentials(token=gcp_api.token),
        transport="rest",
        client_options={"api_endpoint": gcp_api.url},
    )


def _create(sm, parent: str, secret_id: str, labels: dict[str, str] | None = None):
    secret = {**AUTOMATIC, "labels": labels or {}}
    return sm.create_secret(request={"parent": parent, "secret_id": secret_id, "secret": secret})


def test_secret_and_version_lifecycle_through_the_client(sm, project):
    secret = _create(sm, f"projects/{project}", "db_password", {"managed-by": "secretsync"})
    assert secret.name == f"projects/{project}/secrets/db_password"
    assert secret.labels == {"managed-by": "secretsync"}
    assert secret.etag
    first = sm.add_secret_version(
        request={
            "parent": secret.name,
            "payload": {"data": b"canary-1", "data_crc32c": crc32c(b"canary-1")},
        }
    )
    second = sm.add_secret_version(
        request={"parent": secret.name, "payload": {"data": b"canary-2"}}
    )
    assert (first.name.rsplit("/", 1)[1], second.name.rsplit("/", 1)[1]) == ("1", "2")
    latest = sm.access_secret_version(name=f"{secret.name}/versions/latest")
    assert latest.name == second.name
    assert latest.payload.data == b"canary-2"
    assert latest.payload.data_crc32c == crc32c(b"canary-2")
    assert sm.access_secret_version(name=first.name).payload.data == b"canary-1"

    sm.disable_secret_version(name=first.name)
    with pytest.raises(exceptions.BadRequest, match="DISABLED"):
        sm.access_secret_version(name=first.name)
    sm.enable_secret_version(name=first.name)
    destroyed = sm.destroy_secret_version(name=first.name)
    assert destroyed.state == secretmanager.SecretVersion.State.DESTROYED
    with pytest.raises(exceptions.BadRequest, match="DESTROYED"):
        sm.access_secret_version(name=first.name)
    with pytest.raises(exceptions.BadRequest):
        sm.enable_secret_version(name=first.name)
    versions = list(sm.list_secret_versions(request={"parent": secret.name}))
    assert [v.name for v in versions] == [second.name, first.name]
    enabled = sm.list_secret_versions(request={"parent": secret.name, "filter": "state:ENABLED"})
    assert [v.name for v in enabled] == [second.name]

    mask = field_mask_pb2.FieldMask(paths=["labels"])
    updated = sm.update_secret(
        request={"secret": {"name": secret.name, "labels": {"a": "b"}}, "update_mask": mask}
    )
    assert updated.labels == {"a": "b"}
    assert updated.etag != secret.etag
    sm.delete_secret(name=secret.name)
    with pytest.raises(exceptions.NotFound):
        sm.get_secret(name=secret.name)


def test_list_with_page_size_page_token_and_label_filter(sm, project):
    parent = f"projects/{project}"
    for index in range(5):
        _create(sm, parent, f"s{index}", {"owner": "p1" if index % 2 else "p2"})
    assert [
        s.name.rsplit("/", 1)[1]
        for s in sm.list_secrets(request={"parent": parent, "page_size": 2})
    ] == [f"s{i}" for i in range(5)]
    pages = sm.list_secrets(request={"parent": parent, "page_size": 2}).pages
    assert [len(p.secrets) for p in pages] == [2, 2, 1]
    owned = sm.list_secrets(request={"parent": parent, "filter": "labels.owner=p1"})
    assert [s.name.rsplit("/", 1)[1] for s in owned] == ["s1", "s3"]
    has_owner = sm.list_secrets(request={"parent": parent, "filter": "labels.owner:*"})
    assert len(list(has_owner)) == 5


def test_regional_secrets_live_apart_from_global_ones(sm, gcp_api, project):
    parent = f"projects/{project}/locations/europe-west1"
    secret = sm.create_secret(request={"parent": parent, "secret_id": "r", "secret": {}})
    assert secret.name == f"{parent}/secrets/r"
    sm.add_secret_version(request={"parent": secret.name, "payload": {"data": b"canary"}})
    assert sm.access_secret_version(name=f"{secret.name}/versions/latest").payload.data == b"canary"
    assert list(sm.list_secrets(request={"parent": f"projects/{project}"})) == []
    status, _, body = call(gcp_api, "POST", f"/v1/{parent}/secrets?secretId=r2", AUTOMATIC)
    assert (status, body["error"]["status"]) == (400, "INVALID_ARGUMENT")


def test_errors_are_google_json_errors(gcp_api, project):
    parent = f"/v1/projects/{project}/secrets"
    assert call(gcp_api, "POST", f"{parent}?secretId=dup", AUTOMATIC)[0] == 200
    status, _, body = call(gcp_api, "POST", f"{parent}?secretId=dup", AUTOMATIC)
    assert status == 409
    assert body == {
        "error": {
            "code": 409,
            "message": f"Secret [projects/{project}/secrets/dup] already exists.",
            "status": "ALREADY_EXISTS",
        }
    }
    for secret_id in ["bad.id", "x" * 256, ""]:
        status, _, body = call(gcp_api, "POST", f"{parent}?secretId={secret_id}", AUTOMATIC)
        assert (status, body["error"]["status"]) == (400, "INVALID_ARGUMENT"), secret_id
    status, _, body = call(gcp_api, "POST", f"{parent}?secretId=norep", {})
    assert (status, body["error"]["status"]) == (400, "INVALID_ARGUMENT")
    status, _, body = call(gcp_api, "GET", f"{parent}/missing")
    assert (status, body["error"]["status"]) == (404, "NOT_FOUND")
    status, _, body = call(gcp_api, "GET", f"{parent}/dup/versions/latest:access")
    assert (status, body["error"]["status"]) == (404, "NOT_FOUND")
    status, _, body = call(gcp_api, "GET", "/v1/projects/not-mine/secrets")
    assert (status, body["error"]["status"]) == (403, "PERMISSION_DENIED")
    status, _, body = call(gcp_api, "GET", parent, token="expired")
    assert (status, body["error"]["status"]) == (401, "UNAUTHENTICATED")


def test_checksum_mismatch_and_bad_payload_are_rejected(gcp_api, project):
    parent = f"/v1/projects/{project}/secrets"
    call(gcp_api, "POST", f"{parent}?secretId=crc", AUTOMATIC)
    data = base64.b64encode(b"canary").decode()
    bad = {"payload": {"data": data, "dataCrc32c": str(crc32c(b"canary") + 1)}}
    assert call(gcp_api, "POST", f"{parent}/crc:addVersion", bad)[0] == 400
    assert call(gcp_api, "POST", f"{parent}/crc:addVersion", {"payload": {"data": "***"}})[0] == 400
    good = {"payload": {"data": data, "dataCrc32c": str(crc32c(b"canary"))}}
    status, _, version = call(gcp_api, "POST", f"{parent}/crc:addVersion", good)
    assert (status, version["state"], version["clientSpecifiedPayloadChecksum"]) == (
        200,
        "ENABLED",
        True,
    )


def test_update_mask_and_etags_are_checked(gcp_api, project):
    parent = f"/v1/projects/{project}/secrets"
    _, _, secret = call(
        gcp_api, "POST", f"{parent}?secretId=e", {**AUTOMATIC, "labels": {"a": "1"}}
    )
    assert call(gcp_api, "PATCH", f"{parent}/e", {"labels": {"a": "2"}})[0] == 400
    assert call(gcp_api, "PATCH", f"{parent}/e?updateMask=replication", {})[0] == 400
    bad_label = {"labels": {"Upper": "x"}}
    assert call(gcp_api, "PATCH", f"{parent}/e?updateMask=labels", bad_label)[0] == 400
    status, _, updated = call(
        gcp_api, "PATCH", f"{parent}/e?updateMask=labels", {"labels": {"a": "2"}}
    )
    assert status == 200
    assert updated["labels"] == {"a": "2"}
    status, _, body = call(gcp_api, "DELETE", f"{parent}/e?etag={quote(secret['etag'])}")
    assert (status, body["error"]["status"]) == (409, "ABORTED")
    status, _, body = call(gcp_api, "DELETE", f"{parent}/e?etag={quote(updated['etag'])}")
    assert (status, body) == (200, {})
    assert call(gcp_api, "GET", f"{parent}/e")[0] == 404
