"""The github store kind against the local GitHub API server (devtools/apiservers/github.py),
under the real engine: the server decrypts what it receives, so every value check below also
proves the sealed-box encryption. Merge store: the session's OpenBao (Vault) or moto (S3)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import github as pygithub
import pytest

from airflow_secretsync.core.engine import Engine, RunOptions
from airflow_secretsync.core.report import TargetReport
from airflow_secretsync.stores.factory import StoreFactory
from airflow_secretsync.stores.github import KIND, GithubDestination
from airflow_secretsync.stores.ownership import owner_id
from airflow_secretsync.stores.registry import Clients, OpenContext
from devtools.apiservers.base import ApiServer, start_api_server
from tests.stores.conftest import CANARY, pipeline, unique

CONN = "github_test"
TARGET = "Out"


@pytest.fixture(scope="module")
def gh_server() -> Iterator[ApiServer]:
    server = start_api_server("github")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def gh_conn(gh_server, airflow_conn) -> str:
    return airflow_conn(CONN, conn_type="github", password=gh_server.token, host=gh_server.url)


@pytest.fixture
def repo(gh_server) -> str:
    name = f"octo/{unique('repo')}"
    gh_server.control("PUT", f"repos/{name}", {"environments": ["production"]})
    return name


class Provider:
    """Sources and merge store from the config, the github destination from ``block``."""

    def __init__(self, config, block: GithubDestination) -> None:
        self.config, self.block = config, block
        self.factory = StoreFactory(config)
        self.clients = Clients()

    def source(self, name):
        return self.factory.source(name)

    def merge_store(self, target):
        return self.factory.merge_store(target)

    def destination(self, target):
        context = OpenContext(
            role="destination",
            name=target,
            config=self.config,
            clients=self.clients,
            owner=owner_id(self.config.dag_id, target),
            merge_store=(lambda: self.merge_store(target)) if self.config.merge_store else None,
        )
        return KIND.open(self.block, context)


class Setup:
    """One pipeline: a Vault source, an optional merge store, a github destination."""

    def __init__(self, gh_server, vault_client, aws_client, block, merge="vault", **sync):
        self.server, self.vault = gh_server, vault_client
        self.root = unique("gh")
        self.block = GithubDestination(connection_id=CONN, **block)
        merge_stores = {"vault": {"vault": {"path": f"{self.root}/merged"}}, None: None}
        if merge == "s3":
            bucket = unique("gh-bucket")
            aws_client("s3").create_bucket(Bucket=bucket)
            merge_stores["s3"] = {"s3": {"bucket": bucket, "prefix": "m/"}}
        self.merge = merge
        self.config = pipeline(
            dag={"dag_id": "gh_pipeline"},
            pipeline={"merge": {"enabled": merge is not None}, "sync": sync},
            merge_store=merge_stores[merge],
            sources={"src": {"vault": {"path": f"{self.root}/src"}}},
            targets={TARGET: {"imports": ["src"]}},
        )

    def put(self, path: str, value: dict[str, Any]) -> None:
        self.vault.secrets.kv.v2.create_or_update_secret(
            path=f"{self.root}/src/{path}", secret=value, mount_point="secret"
        )

    def remove(self, path: str) -> None:
        self.vault.secrets.kv.v2.delete_metadata_and_all_versions(
            path=f"{self.root}/src/{path}", mount_point="secret"
        )

    def run(self, *, dry_run: bool = False, adopt: bool | None = None) -> TargetReport:
        config = self.config
        if adopt is not None:
            targets = {TARGET: config.targets[TARGET].model_copy(update={"adopt": adopt})}
            config = config.model_copy(update={"targets": targets})
        provider = Provider(config, self.block)
        try:
            engine = Engine(config, provider, RunOptions(dry_run=dry_run))
            if self.merge is not None:
                engine.merge_target(TARGET)
            return engine.sync_target(TARGET)
        finally:
            provider.factory.close()
            provider.clients.close()

    def scope(self) -> str:
        return self.block.location

    def secrets(self) -> dict[str, dict[str, Any]]:
        """What the server holds (decrypted) in the destination's scope."""
        return self.server.control("GET", f"{self.scope()}/secrets")

    def values(self) -> dict[str, str]:
        return {name: s["value"] for name, s in self.secrets().items()}

    def writes(self) -> list[dict[str, Any]]:
        """PUT and DELETE requests to this scope's secrets since the last call."""
        log = self.server.control("GET", "requests")
        self.server.control("DELETE", "requests")
        prefix = f"/{self.block.secrets_path}/"
        return [
            r
            for r in log
            if r["method"] in ("PUT", "DELETE")
            and r["path"].lower().startswith(prefix.lower())
            and r["status"] < 300
        ]

    def state(self) -> dict[str, Any] | None:
        return StoreFactory(self.config).merge_store(TARGET).read_state()[0]


@pytest.fixture
def make(gh_server, vault_client, aws_client, gh_conn):
    def build(block, merge="vault", **sync):
        setup = Setup(gh_server, vault_client, aws_client, block, merge, **sync)
        setup.writes()  # forget earlier requests
        return setup

    return build


def _counts(report: TargetReport) -> dict[str, int]:
    summary = report.summary.to_dict()
    return {k: v for k, v in summary.items() if k != "total" and v}


@pytest.mark.parametrize("merge", ["vault", "s3"])
def test_first_sync_then_steady_state_writes_nothing(make, repo, merge) -> None:
    setup = make({"repository": repo}, merge=merge)
    setup.put("app/db", {"host": "db", "password": CANARY})
    setup.put("api-token.v2", {"token": f"{CANARY}-2"})

    first = setup.run()
    assert first.status == "success", first.error
    assert _counts(first) == {"added": 2}
    assert setup.values() == {
        "APP_DB": json.dumps({"host": "db", "password": CANARY}),
        "API_TOKEN_V2": json.dumps({"token": f"{CANARY}-2"}),
    }
    assert len(setup.writes()) == 2

    state = setup.state()
    assert CANARY not in json.dumps(state)
    (entries,) = state["github"].values()
    assert {n: e["path"] for n, e in entries.items()} == {
        "APP_DB": "app/db",
        "API_TOKEN_V2": "api-token.v2",
    }
    assert all(e["version"] is not None and e["updated_at"] for e in entries.values())

    second = setup.run()
    assert second.status == "success", second.error
    assert _counts(second) == {"unchanged": 2}
    assert setup.writes() == []  # zero writes to GitHub
    assert setup.state() == state  # and the record was not rewritten


def test_modified_secret_is_pushed_alone_vault_merge_store(make, repo) -> None:
    setup = make({"repository": repo})
    setup.put("app/db", {"password": "one-value"})
    setup.put("app/cache", {"password": "other"})
    setup.run()
    setup.writes()

    setup.put("app/db", {"password": "two-value"})
    report = setup.run()
    assert _counts(report) == {"modified": 1, "unchanged": 1}
    assert [r["path"].rsplit("/", 1)[1] for r in setup.writes()] == ["APP_DB"]
    assert setup.values()["APP_DB"] == json.dumps({"password": "two-value"})


def test_s3_merge_store_repushes_everything_when_the_object_changed(make, repo) -> None:
    setup = make({"repository": repo}, merge="s3")
    setup.put("a", {"v": 1})
    setup.put("b", {"v": 2})
    setup.run()
    setup.writes()
    setup.put("a", {"v": 3})
    assert _counts(setup.run()) == {"modified": 2}  # one ETag for the whole target
    assert len(setup.writes()) == 2


def test_edit_by_hand_is_pushed_again(make, gh_server, repo) -> None:
    setup = make({"repository": repo})
    setup.put("app/db", {"password": CANARY})
    setup.put("other", {"x": 1})
    setup.run()
    setup.writes()
    gh_server.control("POST", f"repos/{repo}/secrets/APP_DB/touch")

    report = setup.run()
    assert _counts(report) == {"modified": 1, "unchanged": 1}
    assert [r["path"].rsplit("/", 1)[1] for r in setup.writes()] == ["APP_DB"]
    assert _counts(setup.run()) == {"unchanged": 2}  # the new updated_at was recorded


def test_orphans_deleted_only_when_owned(make, gh_server, repo) -> None:
    setup = make({"repository": repo}, delete_orphans=True)
    pygithub.Github(
        auth=pygithub.Auth.Token(gh_server.token), base_url=gh_server.url, retry=None
    ).get_repo(repo).create_secret("HAND_MADE", "by-hand")
    setup.put("keep", {"v": 1})
    setup.put("gone", {"v": 2})
    setup.run()
    setup.remove("gone")

    report = setup.run()
    assert report.status == "success", report.error
    assert _counts(report) == {"removed": 1, "unchanged": 1}
    assert set(setup.values()) == {"KEEP", "HAND_MADE"}  # the unmanaged one is untouched
    (entries,) = setup.state()["github"].values()
    assert set(entries) == {"KEEP"}


def test_unmanaged_secret_is_overwritten_only_with_adopt(make, gh_server, repo) -> None:
    setup = make({"repository": repo})
    pygithub.Github(
        auth=pygithub.Auth.Token(gh_server.token), base_url=gh_server.url, retry=None
    ).get_repo(repo).create_secret("APP_DB", "by-hand")
    setup.writes()  # forget that write
    setup.put("app/db", {"password": CANARY})
    setup.put("new", {"v": 1})

    refused = setup.run()
    assert refused.status == "failed"
    assert "not created by airflow-secretsync (APP_DB)" in refused.error  # its GitHub name
    assert setup.writes() == []  # nothing written, not even the new one
    assert setup.values() == {"APP_DB": "by-hand"}

    adopted = setup.run(adopt=True)
    assert adopted.status == "success", adopted.error
    assert setup.values()["APP_DB"] == json.dumps({"password": CANARY})
    assert _counts(setup.run()) == {"unchanged": 2}  # owned from now on


def test_dry_run_writes_nothing(make, repo) -> None:
    setup = make({"repository": repo})
    setup.put("app/db", {"v": 1})
    report = setup.run(dry_run=True)
    assert _counts(report) == {"added": 1}
    assert setup.writes() == []
    assert setup.values() == {}
    assert setup.state() is None


def test_without_merge_store_every_secret_is_written_each_run(make, repo) -> None:
    setup = make({"repository": repo}, merge=None)
    setup.put("app/db", {"v": 1})
    assert _counts(setup.run()) == {"added": 1}

    dry = setup.run(dry_run=True)
    assert _counts(dry) == {"modified": 1}
    assert dry.changes[0].keys_modified == ("<unknown: write-only>",)
    # nothing owns it without a state record: overwriting needs adopt
    assert setup.run().status == "failed"
    setup.writes()
    assert setup.run(adopt=True).status == "success"
    assert len(setup.writes()) == 1


def test_name_collision_fails_before_any_write(make, repo) -> None:
    setup = make({"repository": repo})
    setup.put("a-first", {"v": 1})
    setup.put("app/db", {"v": 1})
    setup.put("app-db", {"v": 2})
    report = setup.run()
    assert report.status == "failed"
    assert "'app-db' and 'app/db' both map to the destination name 'APP_DB'" in report.error
    assert setup.writes() == []


@pytest.mark.parametrize("path", ["github/token", "9lives", "caf\u00e9"])
def test_path_without_a_secret_name_fails_before_any_write(make, repo, path) -> None:
    setup = make({"repository": repo})
    setup.put("a-first", {"v": 1})
    setup.put(path, {"v": 1})
    report = setup.run()
    assert report.status == "failed"
    assert f"'{path}' has no GitHub secret name" in report.error
    assert setup.writes() == []


def test_environment_secrets(make, repo) -> None:
    setup = make({"repository": repo, "environment": "production", "prefix": "APP_"})
    setup.put("db", {"password": CANARY})
    assert setup.run().status == "success"
    stored = setup.server.control("GET", f"repos/{repo}/environments/production/secrets")
    assert {n: s["value"] for n, s in stored.items()} == {
        "APP_DB": json.dumps({"password": CANARY})
    }
    assert setup.server.control("GET", f"repos/{repo}/secrets") == {}
    assert _counts(setup.run()) == {"unchanged": 1}


def test_missing_environment_is_a_clear_error(make, repo) -> None:
    setup = make({"repository": repo, "environment": "nowhere"})
    setup.put("db", {"v": 1})
    report = setup.run()
    assert report.status == "failed"
    assert "github:repos/" in report.error
    assert "HTTP 404" in report.error


def test_organization_secrets_with_selected_repositories(make, gh_server, repo) -> None:
    org = unique("org")
    gh_server.control("PUT", f"orgs/{org}")
    gh_server.control("PUT", f"repos/{org}/web")
    block = {"organization": org, "visibility": "selected", "selected_repositories": ["web"]}
    setup = make(block)
    setup.put("deploy/key", {"k": CANARY})
    assert setup.run().status == "success"
    web_id = gh_server.control("PUT", f"repos/{org}/web")["id"]
    (secret,) = gh_server.control("GET", f"orgs/{org}/secrets").values()
    assert secret["value"] == json.dumps({"k": CANARY})
    assert (secret["visibility"], secret["selected_repository_ids"]) == ("selected", [web_id])
    setup.writes()
    assert _counts(setup.run()) == {"unchanged": 1}
    assert setup.writes() == []

    setup.block = GithubDestination(connection_id=CONN, organization=org, visibility="all")
    assert _counts(setup.run()) == {"modified": 1}  # the visibility changed: pushed again
    (secret,) = gh_server.control("GET", f"orgs/{org}/secrets").values()
    assert secret["visibility"] == "all"


def test_wrong_token_names_the_connection(make, airflow_conn, gh_server, repo) -> None:
    airflow_conn(CONN, conn_type="github", password="wrong-token", host=gh_server.url)
    setup = make({"repository": repo})
    setup.put("a", {"v": 1})
    report = setup.run()
    assert report.status == "failed"
    assert f"connection '{CONN}'" in report.error
    assert "rejected the token (HTTP 401" in report.error
    assert "docs.github.com" not in report.error  # no server text


def test_undefined_connection(make, repo) -> None:
    setup = make({"repository": repo})
    setup.block = GithubDestination(connection_id="github_nowhere", repository=repo)
    setup.put("a", {"v": 1})
    report = setup.run()
    assert report.error == "GitHub connection 'github_nowhere' is not defined"


def test_secondary_rate_limit_is_waited_out(make, gh_server, repo) -> None:
    setup = make({"repository": repo})
    setup.put("a", {"v": 1})
    gh_server.control(
        "POST", "rate-limit", {"kind": "secondary", "status": 429, "retry_after": 1, "requests": 2}
    )
    report = setup.run()
    assert report.status == "success", report.error
    assert setup.values() == {"A": json.dumps({"v": 1})}


def test_primary_rate_limit_beyond_the_deadline_fails_clearly(make, gh_server, repo) -> None:
    setup = make({"repository": repo}, timeout_seconds=20)
    setup.put("a", {"v": 1})
    gh_server.control("POST", "rate-limit", {"kind": "primary", "requests": 1})
    report = setup.run()
    assert report.status == "failed"
    assert "primary rate limit is exhausted" in report.error
    assert setup.writes() == []


def test_canary_never_logged_or_raised(make, repo, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    setup = make({"repository": repo})
    setup.put("app/db", {"password": CANARY})
    setup.put("big", {"blob": CANARY * 4000})  # over GitHub's 48 KB limit
    report = setup.run()
    assert report.status == "failed"
    assert "'big': the value is larger than GitHub's 48 KB limit" in report.error
    assert CANARY not in caplog.text
    assert CANARY not in json.dumps(report.to_dict())


def test_block_rules() -> None:
    with pytest.raises(ValueError, match="exactly one of repository / organization"):
        GithubDestination(repository="o/r", organization="o")
    with pytest.raises(ValueError, match="organization secrets only"):
        GithubDestination(repository="o/r", visibility="all")
    with pytest.raises(ValueError, match="needs visibility: selected"):
        GithubDestination(organization="o", selected_repositories=["r"])
    with pytest.raises(ValueError, match="cannot start a GitHub secret name"):
        GithubDestination(repository="o/r", prefix="GITHUB_")
    with pytest.raises(ValueError, match="must be 'owner/name'"):
        GithubDestination(repository="just-a-name")
    repo, env = (
        GithubDestination(repository="O/R"),
        GithubDestination(repository="o/r", environment="e"),
    )
    assert repo.scope() != env.scope()
    assert str(GithubDestination(organization="o").scope()) == "github:orgs/o:*"


def test_state_record_update_is_retried_after_a_conflict(servers) -> None:
    """Two runs updating the record at once: the loser re-reads and keeps both changes."""
    from airflow_secretsync.stores.github.state import StateRecord

    config = pipeline(
        merge_store={"vault": {"path": unique("gh-state")}},
        sources={"s": {"vault": {"path": unique("s")}}},
        targets={TARGET: ["s"]},
    )
    with StoreFactory(config) as stores:
        record = StateRecord(stores.merge_store(TARGET), "https://api/repos/o/r")
        other = StateRecord(stores.merge_store(TARGET), "https://api/repos/o/r")
        calls = []

        def mine(entries):
            calls.append(1)
            if len(calls) == 1:  # another run writes between our read and our write
                other.update(lambda e: e.update(THEIRS={"path": "theirs", "version": 1}))
            entries["MINE"] = {"path": "mine", "version": 2}

        record.update(mine)
        assert set(record.read()) == {"MINE", "THEIRS"}
        assert len(calls) == 2


def test_conflict_answer_is_a_conflict_error() -> None:
    import requests

    from airflow_secretsync.errors import ConflictError
    from airflow_secretsync.stores.github.api import GithubApi

    api = GithubApi(conn_id=CONN, base_url="https://ghe.example/api/v3", token="t")
    answer = requests.Response()
    answer.status_code = 409
    answer._content = f'{{"message": "{CANARY}"}}'.encode()
    error = api._failure(answer, "github:repos/o/r 'a'")
    assert isinstance(error, ConflictError)
    assert CANARY not in str(error)
