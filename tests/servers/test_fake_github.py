"""The local GitHub Actions secrets API, through PyGithub and raw HTTP."""

from __future__ import annotations

import base64
import itertools

import github
import pytest
from nacl.public import PublicKey, SealedBox

from devtools.apiservers.base import ApiServer
from tests.servers.raw import call

_names = itertools.count()


@pytest.fixture
def repo_name(github_api: ApiServer) -> str:
    """A fresh repository ``octo/repo-N`` with a ``production`` environment."""
    name = f"octo/repo-{next(_names)}"
    github_api.control("PUT", f"repos/{name}", {"environments": ["production"]})
    return name


@pytest.fixture
def gh(github_api: ApiServer) -> github.Github:
    return github.Github(
        auth=github.Auth.Token(github_api.token),
        base_url=github_api.url,
        retry=None,
        seconds_between_requests=0,
        seconds_between_writes=0,
    )


def _encrypt(server: ApiServer, scope: str, value: str) -> dict[str, str]:
    _, _, key = call(server, "GET", f"/{scope}/secrets/public-key")
    box = SealedBox(PublicKey(base64.b64decode(key["key"])))
    return {
        "key_id": key["key_id"],
        "encrypted_value": base64.b64encode(box.encrypt(value.encode())).decode(),
    }


def test_repository_secret_lifecycle_through_pygithub(github_api, gh, repo_name):
    repo = gh.get_repo(repo_name)
    repo.create_secret("DB_PASSWORD", "canary-one")
    assert (
        github_api.control("GET", f"repos/{repo_name}/secrets")["DB_PASSWORD"]["value"]
        == "canary-one"
    )
    repo.create_secret("DB_PASSWORD", "canary-two")
    repo.create_secret("API_KEY", "canary-three")
    stored = github_api.control("GET", f"repos/{repo_name}/secrets")
    assert {n: s["value"] for n, s in stored.items()} == {
        "DB_PASSWORD": "canary-two",
        "API_KEY": "canary-three",
    }
    assert sorted(s.name for s in repo.get_secrets()) == ["API_KEY", "DB_PASSWORD"]
    assert repo.get_secret("DB_PASSWORD").updated_at is not None
    assert repo.delete_secret("API_KEY") is True
    assert list(github_api.control("GET", f"repos/{repo_name}/secrets")) == ["DB_PASSWORD"]
    with pytest.raises(github.UnknownObjectException):
        repo.get_secret("API_KEY").updated_at  # noqa: B018 - the lazy object loads here


def test_environment_and_organization_secrets_through_pygithub(github_api, gh, repo_name):
    repo = gh.get_repo(repo_name)
    environment = repo.get_environment("production")
    environment.create_secret("DEPLOY_KEY", "canary-env")
    assert [s.name for s in environment.get_secrets()] == ["DEPLOY_KEY"]
    scope = f"repos/{repo_name}/environments/production/secrets"
    assert github_api.control("GET", scope)["DEPLOY_KEY"]["value"] == "canary-env"
    assert environment.delete_secret("DEPLOY_KEY") is True

    github_api.control("PUT", "orgs/octo")
    org = gh.get_organization("octo")
    org.create_secret("SHARED", "canary-org", visibility="selected", selected_repositories=[repo])
    org.create_secret("EVERYONE", "canary-all", visibility="all")
    listed = {s.name: s.visibility for s in org.get_secrets()}
    assert listed["SHARED"] == "selected"
    assert listed["EVERYONE"] == "all"
    stored = github_api.control("GET", "orgs/octo/secrets")
    assert stored["SHARED"]["value"] == "canary-org"
    assert stored["SHARED"]["selected_repository_ids"] == [repo.id]
    _, _, repos = call(github_api, "GET", "/orgs/octo/actions/secrets/SHARED/repositories")
    assert [r["full_name"] for r in repos["repositories"]] == [repo_name]
    org.get_secret("SHARED").delete()
    assert "SHARED" not in github_api.control("GET", "orgs/octo/secrets")
    status, _, _ = call(github_api, "DELETE", "/orgs/octo/actions/secrets/EVERYONE")
    assert status == 204


def test_put_answers_201_then_204_and_names_are_case_insensitive(github_api, repo_name):
    scope = f"repos/{repo_name}/actions"
    path = f"/{scope}/secrets/my_token"
    assert call(github_api, "PUT", path, _encrypt(github_api, scope, "v1"))[0] == 201
    assert (
        call(github_api, "PUT", f"/{scope}/secrets/MY_TOKEN", _encrypt(github_api, scope, "v2"))[0]
        == 204
    )
    status, _, secret = call(github_api, "GET", path)
    assert status == 200
    assert secret["name"] == "MY_TOKEN"
    assert set(secret) == {"name", "created_at", "updated_at"}
    assert secret["created_at"].endswith("Z")
    assert secret["updated_at"] >= secret["created_at"]


@pytest.mark.parametrize(
    "name", ["1STARTS_WITH_DIGIT", "GITHUB_TOKEN", "github_lower", "HAS-DASH", "SP%20ACE"]
)
def test_bad_secret_names_are_422(github_api, repo_name, name):
    scope = f"repos/{repo_name}/actions"
    status, _, body = call(
        github_api, "PUT", f"/{scope}/secrets/{name}", _encrypt(github_api, scope, "v")
    )
    assert status == 422
    assert "Secret names can only contain" in body["message"]
    assert github_api.control("GET", f"repos/{repo_name}/secrets") == {}


def test_undecryptable_value_wrong_key_id_and_missing_fields_are_422(github_api, repo_name):
    scope = f"repos/{repo_name}/actions"
    good = _encrypt(github_api, scope, "v")
    other_scope = f"repos/{repo_name}/environments/production"
    foreign = _encrypt(github_api, other_scope, "v")  # sealed for another key pair
    cases = [
        {**good, "key_id": "999999"},
        {**good, "encrypted_value": "not base64!"},
        {**good, "encrypted_value": foreign["encrypted_value"]},
        {"encrypted_value": good["encrypted_value"]},
    ]
    for body in cases:
        status, _, answer = call(github_api, "PUT", f"/{scope}/secrets/S", body)
        assert status == 422, body
        assert "documentation_url" in answer
    assert github_api.control("GET", f"repos/{repo_name}/secrets") == {}


def test_org_secret_needs_a_valid_visibility(github_api):
    github_api.control("PUT", "orgs/vis-org")
    scope = "orgs/vis-org/actions"
    for body in [
        _encrypt(github_api, scope, "v"),
        {**_encrypt(github_api, scope, "v"), "visibility": "public"},
    ]:
        assert call(github_api, "PUT", f"/{scope}/secrets/S", body)[0] == 422
    body = {**_encrypt(github_api, scope, "v"), "visibility": "private"}
    assert call(github_api, "PUT", f"/{scope}/secrets/S", body)[0] == 201
    _, _, secret = call(github_api, "GET", f"/{scope}/secrets/S")
    assert secret["visibility"] == "private"
    assert "selected_repositories_url" not in secret
    assert call(github_api, "GET", f"/{scope}/secrets/S/repositories")[0] == 409


def test_unknown_repository_environment_org_or_secret_is_404(github_api, repo_name):
    for path in [
        "/repos/octo/nope/actions/secrets",
        f"/repos/{repo_name}/environments/staging/secrets/public-key",
        "/orgs/nope/actions/secrets",
        f"/repos/{repo_name}/actions/secrets/MISSING",
    ]:
        status, _, body = call(github_api, "GET", path)
        assert (status, body["message"]) == (404, "Not Found"), path
    assert call(github_api, "DELETE", f"/repos/{repo_name}/actions/secrets/MISSING")[0] == 404


def test_pagination_with_per_page_page_and_link_headers(github_api, gh, repo_name):
    scope = f"repos/{repo_name}/actions"
    for index in range(5):
        call(github_api, "PUT", f"/{scope}/secrets/S{index}", _encrypt(github_api, scope, "v"))
    status, headers, body = call(github_api, "GET", f"/{scope}/secrets?per_page=2&page=2")
    assert status == 200
    assert body["total_count"] == 5
    assert [s["name"] for s in body["secrets"]] == ["S2", "S3"]
    links = headers["Link"]
    assert 'page=3>; rel="next"' in links
    assert 'page=1>; rel="prev"' in links
    assert 'page=3>; rel="last"' in links
    assert "per_page=2" in links
    _, headers, body = call(github_api, "GET", f"/{scope}/secrets?per_page=2&page=3")
    assert [s["name"] for s in body["secrets"]] == ["S4"]
    assert 'rel="next"' not in headers["Link"]
    gh.per_page = 2
    assert [s.name for s in gh.get_repo(repo_name).get_secrets()] == [f"S{i}" for i in range(5)]


def test_missing_or_bad_token_is_401_and_rate_limit_headers_are_on_every_answer(
    github_api, repo_name
):
    path = f"/repos/{repo_name}/actions/secrets"
    status, _, body = call(github_api, "GET", path, token=None)
    assert (status, body["message"]) == (401, "Requires authentication")
    status, _headers, body = call(github_api, "GET", path, token="wrong")
    assert (status, body["message"]) == (401, "Bad credentials")
    _, first, _ = call(github_api, "GET", path)
    _, second, _ = call(github_api, "GET", path)
    assert first["X-RateLimit-Limit"] == "5000"
    assert first["X-RateLimit-Resource"] == "core"
    assert int(second["X-RateLimit-Remaining"]) == int(first["X-RateLimit-Remaining"]) - 1
    assert int(second["X-RateLimit-Used"]) == int(first["X-RateLimit-Used"]) + 1
    assert int(first["X-RateLimit-Reset"]) > 0


def test_primary_and_secondary_rate_limits_can_be_switched_on(github_api, gh, repo_name):
    path = f"/repos/{repo_name}/actions/secrets"
    github_api.control("POST", "rate-limit", {"kind": "primary", "requests": 1})
    status, headers, body = call(github_api, "GET", path)
    assert status == 403
    assert headers["X-RateLimit-Remaining"] == "0"
    assert "rate limit exceeded" in body["message"]
    assert call(github_api, "GET", path)[0] == 200  # only the next request was refused

    github_api.control("POST", "rate-limit", {"kind": "secondary", "status": 429, "retry_after": 7})
    status, headers, body = call(github_api, "GET", path)
    assert status == 429
    assert headers["Retry-After"] == "7"
    assert "secondary rate limit" in body["message"]

    github_api.control("POST", "rate-limit", {"kind": "secondary", "status": 403, "requests": 1})
    with pytest.raises(github.GithubException) as raised:
        gh.get_repo(repo_name)
    assert raised.value.status == 403


def test_hand_edit_moves_updated_at_and_keeps_the_value(github_api, gh, repo_name):
    repo = gh.get_repo(repo_name)
    repo.create_secret("EDITED", "canary")
    before = call(github_api, "GET", f"/repos/{repo_name}/actions/secrets/EDITED")[2]["updated_at"]
    github_api.control("POST", f"repos/{repo_name}/secrets/EDITED/touch")
    after = call(github_api, "GET", f"/repos/{repo_name}/actions/secrets/EDITED")[2]
    assert after["updated_at"] > before
    assert after["created_at"] <= before
    assert github_api.control("GET", f"repos/{repo_name}/secrets")["EDITED"]["value"] == "canary"


def test_public_key_is_a_curve25519_key_per_scope(github_api, repo_name):
    keys = [
        call(github_api, "GET", f"/{scope}/secrets/public-key")[2]
        for scope in (f"repos/{repo_name}/actions", f"repos/{repo_name}/environments/production")
    ]
    assert all(len(base64.b64decode(k["key"])) == 32 for k in keys)
    assert keys[0]["key_id"] != keys[1]["key_id"]
    assert keys[0]["key"] != keys[1]["key"]
