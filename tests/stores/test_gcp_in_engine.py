"""The gcp store under the real engine: source and destination on the local Secret Manager."""

from __future__ import annotations

import json
import logging

import pytest

from airflow_secretsync.core.engine import Engine, RunOptions
from airflow_secretsync.stores.factory import StoreFactory
from tests.stores.conftest import CANARY, pipeline
from tests.stores.gcp_helpers import (
    connection,
    forget,
    ids,
    new_project,
    payload,
    raw_client,
    seed,
    writes,
)


@pytest.fixture
def env(gcp_api, airflow_conn):
    """A project with a source prefix ``src-`` and a destination prefix ``out-``."""
    project = new_project(gcp_api)
    airflow_conn("gcp_test", **connection(gcp_api))
    return project, raw_client(gcp_api), f"projects/{project}"


def run(project, *, dry_run=False, adopt=False, delete_orphans=True, location=None):
    """One engine run of target ``Out`` (gcp sources ``team`` and ``alt``, a gcp destination),
    its stores opened from the config's ``gcp`` blocks."""
    source = {"project": project, "connection_id": "gcp_test"}
    destination = {**source, "prefix": "out-", **({"location": location} if location else {})}
    config = pipeline(
        pipeline={"merge": {"enabled": False}, "sync": {"delete_orphans": delete_orphans}},
        sources={
            "team": {"gcp": {**source, "prefix": "src-"}},
            "alt": {"gcp": {**source, "prefix": "alt-"}},
        },
        targets={"Out": {"imports": ["team", "alt"], "gcp": destination, "adopt": adopt}},
    )
    with StoreFactory(config) as stores:
        engine = Engine(config, stores, RunOptions(dry_run=dry_run))
        return engine.run(), engine.owner("Out")


def test_first_sync_steady_state_modify_and_delete_orphans(gcp_api, env, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    project, sm, parent = env
    seed(sm, parent, "src-app__db", json.dumps({"user": "app", "password": CANARY}).encode())
    token = seed(sm, parent, "src-token", CANARY.encode())
    gone = seed(sm, parent, "src-gone", b"bye")

    first, owner = run(project)
    assert first.summary.added == 3
    assert ids(sm, parent)[:3] == ["out-app__db", "out-gone", "out-token"]
    out = f"{parent}/secrets/out-app__db"
    assert json.loads(payload(sm, out)) == {"user": "app", "password": CANARY}
    assert dict(sm.get_secret(name=out).annotations)["secretsync-owner"] == owner

    forget(gcp_api)
    second, _ = run(project)
    assert (second.summary.unchanged, second.summary.changed) == (3, 0)
    assert writes(gcp_api) == []

    sm.add_secret_version(request={"parent": token, "payload": {"data": b"rotated"}})
    sm.delete_secret(name=gone)
    third, _ = run(project)
    assert (third.summary.modified, third.summary.removed) == (1, 1)
    assert payload(sm, f"{parent}/secrets/out-token") == b"rotated"
    states = [v.state.name for v in sm.list_secret_versions(parent=f"{parent}/secrets/out-token")]
    assert states == ["ENABLED", "DISABLED"]
    assert "out-gone" not in ids(sm, parent)
    assert CANARY not in caplog.text
    assert CANARY not in json.dumps(third.to_dict())


def test_foreign_and_unmanaged_secrets_are_never_touched(gcp_api, env) -> None:
    project, sm, parent = env
    seed(sm, parent, "src-token", b"new")
    seed(sm, parent, "out-token", b"by hand")  # unmanaged, same name
    foreign = {"managed-by": "airflow-secretsync", "secretsync-owner": "other/Target"}
    seed(
        sm,
        parent,
        "out-theirs",
        b"x",
        labels={"managed-by": "airflow-secretsync"},
        annotations=foreign,
    )

    forget(gcp_api)
    refused, _ = run(project)
    (target,) = refused.targets
    assert target.status == "failed"
    assert "token" in target.error
    assert writes(gcp_api) == []
    assert payload(sm, f"{parent}/secrets/out-token") == b"by hand"

    adopted, owner = run(project, adopt=True)
    assert adopted.targets[0].status == "success"
    token = sm.get_secret(name=f"{parent}/secrets/out-token")
    assert payload(sm, token.name) == b"new"
    assert dict(token.annotations)["secretsync-owner"] == owner
    assert "out-theirs" in ids(sm, parent)  # another owner's orphan is never deleted


def test_dry_run_writes_nothing_and_shows_collisions(gcp_api, env) -> None:
    project, sm, parent = env
    seed(sm, parent, "src-a", b"1")
    forget(gcp_api)
    dry, _ = run(project, dry_run=True)
    assert dry.summary.added == 1
    assert writes(gcp_api) == []
    assert ids(sm, parent) == ["src-a"]

    seed(sm, parent, "src-a__b", b"1")  # read as 'a/b'
    seed(sm, parent, "alt-a__b", b"2", annotations={"secretsync-path": "a__b"})
    forget(gcp_api)
    for dry_run in (True, False):
        report, _ = run(project, dry_run=dry_run)
        (target,) = report.targets
        assert target.status == "failed"
        assert "'a__b' and 'a/b' map to the same secret id 'out-a__b'" in target.error
    assert writes(gcp_api) == []
