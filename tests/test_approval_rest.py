"""``approval: required`` on a real Airflow: approval requests answered through the REST API.

One ``airflow standalone`` serves tests/approval_dags/ (real OpenBao and moto). The first run
approves one target and rejects another (plus a target with nothing to approve and one without
approval); the second approves a target whose destination changed after its plan, and lets
another's request time out.
"""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path
from typing import Any

import hvac
import pytest

from devtools.seed import PLATFORM
from tests.helpers import read_vault
from tests.test_airflow_rest import Api

DAG_ID = "secretsync_approval"
DAGS = Path(__file__).with_name("approval_dags")
HAND_WRITTEN = "hand-written-between-plan-and-approval"
CANARIES = [
    v for value in PLATFORM.values() for v in value.values() if isinstance(v, str) and len(v) > 8
] + [HAND_WRITTEN]
SYNCED = {"app/db", "app/api"}  # Base excludes tmp/


@pytest.fixture(scope="module")
def airflow():
    from devtools.airflow_ui import local_airflow
    from devtools.servers import free_port

    with local_airflow(port=free_port(), dags=DAGS) as running:
        api = Api(running.url, running.username, running.password)
        api.wait_for(f"/api/v2/dags/{DAG_ID}", lambda dag: not dag.get("has_import_errors"))
        yield running, api


@pytest.fixture(scope="module")
def vault(airflow) -> hvac.Client:
    servers = airflow[0].servers
    return hvac.Client(url=servers.vault.url, token=servers.vault.token)


def run_path(run: dict[str, Any]) -> str:
    return f"/api/v2/dags/{DAG_ID}/dagRuns/{run['dag_run_id']}"


def requests_of(api: Api, run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The run's approval requests by task id."""
    details = api.call("GET", f"{run_path(run)}/hitlDetails")["hitl_details"]
    return {d["task_instance"]["task_id"]: d for d in details}


#: A task waiting for a response: ``awaiting_input`` from Airflow 3.3, ``deferred`` (to the
#: triggerer) before.
WAITING = ("awaiting_input", "deferred")


def awaiting(api: Api, run: dict[str, Any], task_ids: set[str]) -> dict[str, dict[str, Any]]:
    """Wait until every task of ``task_ids`` waits for a response; their requests."""

    def ready(_: Any) -> bool:
        found = requests_of(api, run)
        return all(
            found.get(t, {}).get("task_instance", {}).get("state") in WAITING for t in task_ids
        )

    api.wait_for(run_path(run), ready)
    return requests_of(api, run)


def respond(api: Api, run: dict[str, Any], task_id: str, option: str) -> dict[str, Any]:
    path = f"{run_path(run)}/taskInstances/{task_id}/-1/hitlDetails"
    return api.call("PATCH", path, {"chosen_options": [option]})


def finished(api: Api, run: dict[str, Any]) -> dict[str, Any]:
    return api.wait_for(run_path(run), lambda r: r["state"] in ("success", "failed"))


def trigger(api: Api, conf: dict[str, Any]) -> dict[str, Any]:
    body = {"logical_date": None, "conf": conf}
    return api.call("POST", f"/api/v2/dags/{DAG_ID}/dagRuns", body)


def states(api: Api, run: dict[str, Any]) -> dict[str, str]:
    tis = api.call("GET", f"{run_path(run)}/taskInstances")["task_instances"]
    return {ti["task_id"]: ti["state"] for ti in tis}


def xcom(api: Api, run: dict[str, Any], task_id: str) -> Any:
    value = api.call("GET", f"{run_path(run)}/taskInstances/{task_id}/xcomEntries/return_value")
    value = value["value"]
    return json.loads(value) if isinstance(value, str) else value


def log(api: Api, run: dict[str, Any], task_id: str, try_number: int = 1) -> str:
    path = f"{run_path(run)}/taskInstances/{task_id}/logs/{try_number}?full_content=true"
    return api.call("GET", path, raw=True)


@pytest.fixture(scope="module")
def first_run(airflow):
    """Approve ``Approved``, reject ``Rejected``; ``Unchanged`` has nothing to approve."""
    _, api = airflow
    run = trigger(api, {"targets": ["Approved", "Rejected", "Unchanged", "Direct"]})
    requests = awaiting(api, run, {"approve.Approved", "approve.Rejected"})
    respond(api, run, "approve.Approved", "Approve")
    respond(api, run, "approve.Rejected", "Reject")
    return api, finished(api, run), requests


@pytest.fixture(scope="module")
def second_run(airflow, vault, first_run):
    """``Drifted``'s destination changes between plan and approval; nobody answers
    ``Expiring`` (admin may not: only alice is assigned)."""
    _, api = airflow
    run = trigger(api, {"targets": ["Drifted", "Expiring"]})
    requests = awaiting(api, run, {"approve.Drifted", "approve.Expiring"})
    with pytest.raises(urllib.error.HTTPError) as refused:
        respond(api, run, "approve.Expiring", "Approve")
    vault.secrets.kv.v2.create_or_update_secret(
        mount_point="secret", path="approval/drifted/app/db", secret={"note": HAND_WRITTEN}
    )
    respond(api, run, "approve.Drifted", "Approve")
    return api, finished(api, run), requests, refused.value.code


def test_approved_target_is_written_and_rejected_one_is_not(first_run, vault) -> None:
    api, run, _ = first_run
    assert run["state"] == "success"  # a rejection is a decision, not a failure
    assert set(read_vault(vault, "approval/approved")) == SYNCED
    assert read_vault(vault, "approval/approved")["app/db"]["port"] == 5432
    assert read_vault(vault, "approval/rejected") == {}
    assert read_vault(vault, "approval/unchanged") == {}
    assert set(read_vault(vault, "approval/direct")) == SYNCED
    assert {t: s for t, s in states(api, run).items() if "Drifted" not in t and "Exp" not in t} == {
        "merge.Base": "success", "merge.Approved": "success", "merge.Rejected": "success",
        "merge.Unchanged": "success", "merge.Direct": "success",
        "plan.Approved": "success", "plan.Rejected": "success", "plan.Unchanged": "success",
        "approve.Approved": "success", "approve.Rejected": "success",
        "approve.Unchanged": "skipped",
        "sync.Approved": "success", "sync.Rejected": "skipped", "sync.Unchanged": "success",
        "sync.Direct": "success", "report": "success",
    }  # fmt: skip


def test_the_report_says_who_approved_and_who_rejected(first_run) -> None:
    api, run, _ = first_run
    report = xcom(api, run, "report")
    targets = {t["target"]: t for t in report["targets"]}
    assert {name: t["status"] for name, t in targets.items()} == {
        "Approved": "success", "Rejected": "rejected", "Unchanged": "success",
        "Direct": "success", "Drifted": "skipped", "Expiring": "skipped",
    }  # fmt: skip
    assert report["summary"]["added"] == 4  # Approved and Direct, nothing of Rejected
    assert targets["Approved"]["approval"]["decision"] == "approved"
    assert targets["Approved"]["approval"]["by"] == "admin"
    assert {v["path"] for v in targets["Approved"]["versions"]} == SYNCED
    rejected = targets["Rejected"]
    assert rejected["approval"]["by"] == "admin"
    assert rejected["error"].startswith("rejected by admin at ")
    assert {(r["path"], r["reason"]) for r in rejected["refused"]} == {
        ("app/db", "rejected by admin"),
        ("app/api", "rejected by admin"),
    }
    assert "approval" not in targets["Direct"]
    assert "Rejected: rejected by admin at " in log(api, run, "report")


def test_the_request_shows_the_diff_and_zero_change_targets_ask_nothing(first_run) -> None:
    api, run, asked = first_run
    assert set(requests_of(api, run)) == {"approve.Approved", "approve.Rejected"}
    request = asked["approve.Approved"]
    assert request["options"] == ["Approve", "Reject"]
    assert request["assigned_users"] == [{"id": "admin", "name": "admin"}]
    assert request["subject"] == "secretsync: approve 2 secret change(s) to target Approved?"
    body = request["body"]
    assert "**2 added, 0 modified, 0 removed** (0 unchanged)" in body
    assert "| `app/db` | added | - |" in body
    assert "-> `Vault secret/approval/approved (connection vault_default)`" in body
    assert asked["approve.Rejected"]["assigned_users"] == []  # anyone allowed may respond
    answered = requests_of(api, run)["approve.Rejected"]
    assert answered["chosen_options"] == ["Reject"]
    assert answered["responded_by_user"]["name"] == "admin"


def test_drifted_secret_is_refused_and_the_rest_applied(second_run, vault) -> None:
    api, run, _, _ = second_run
    drifted = read_vault(vault, "approval/drifted")
    assert drifted["app/db"] == {"note": HAND_WRITTEN}  # not overwritten
    assert drifted["app/api"]["scopes"] == ["read"]  # applied
    report = xcom(api, run, "sync.Drifted")
    assert report["status"] == "failed"
    assert report["refused"] == [
        {
            "path": "app/db",
            "change_type": "modified",
            "reason": "planned as added; the secret changed since the plan",
        }
    ]
    assert [v["path"] for v in report["versions"]] == ["app/api"]


def test_unanswered_request_times_out_and_writes_nothing(second_run, vault) -> None:
    api, run, asked, refused_code = second_run
    assert refused_code == 403  # admin is not among Expiring's approvers
    assert asked["approve.Expiring"]["assigned_users"] == [{"id": "alice", "name": "alice"}]
    assert read_vault(vault, "approval/expiring") == {}
    report = xcom(api, run, "sync.Expiring")
    assert report["status"] == "timed_out"
    assert report["approval"] == {"decision": "timed_out", "by": None, "at": None}
    assert {r["reason"] for r in report["refused"]} == {"approval timed out"}
    task_states = states(api, run)
    assert (task_states["approve.Expiring"], task_states["sync.Expiring"]) == (
        "success",
        "skipped",
    )
    assert run["state"] == "failed"  # the report fails: a timeout must not pass unnoticed
    report_log = log(api, run, "report")
    assert "failed targets: Drifted; no approval in time for targets: Expiring" in report_log
    assert "Expiring: approval timed out: nothing written" in report_log


def test_a_dry_run_plans_and_asks_nothing(airflow, second_run, vault) -> None:
    _, api = airflow
    run = finished(api, trigger(api, {"dry_run": True, "targets": ["Rejected"]}))
    assert run["state"] == "success"
    assert requests_of(api, run) == {}
    assert states(api, run)["approve.Rejected"] == "skipped"
    report = xcom(api, run, "report")
    (rejected,) = [t for t in report["targets"] if t["target"] == "Rejected"]
    assert rejected["summary"]["added"] == 2
    assert report["dry_run"] is True
    assert read_vault(vault, "approval/rejected") == {}


def _everything_shown(api: Api, run: dict[str, Any]) -> str:
    seen = [json.dumps(requests_of(api, run))]
    for ti in api.call("GET", f"{run_path(run)}/taskInstances")["task_instances"]:
        task = f"{run_path(run)}/taskInstances/{ti['task_id']}"
        seen.append(json.dumps(ti.get("rendered_fields")))
        seen.append(json.dumps(api.call("GET", f"{task}/xcomEntries")))
        if ti["try_number"]:
            seen.append(log(api, run, ti["task_id"], ti["try_number"]))
    return "\n".join(seen)


@pytest.mark.parametrize("which", ["first_run", "second_run"])
def test_no_value_in_requests_xcom_rendered_fields_or_logs(which: str, request) -> None:
    api, run, *_ = request.getfixturevalue(which)
    text = _everything_shown(api, run)
    assert "app/db" in text  # requests, XComs and logs were really read
    assert "Approve" in text
    for canary in CANARIES:
        assert canary not in text
