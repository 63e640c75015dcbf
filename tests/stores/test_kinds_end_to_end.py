"""The github, kubernetes, gcp and http store kinds end to end: real YAML blocks, Airflow
connections from ``AIRFLOW_CONN_*``, a Vault merge store and source, through ``secretsync
pipeline`` / ``secretsync validate`` and through a generated DAG's ``dag.test()``.

Store contents are read back from the local API servers (devtools/apiservers), writes counted
with their ``GET /_test/requests`` log."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from airflow_secretsync.cli import main
from devtools.apiservers.base import ApiServer
from tests.helpers import read_vault, seed_vault, unique, write_config
from tests.stores.gcp_helpers import connection as gcp_connection
from tests.stores.gcp_helpers import new_project, raw_client

CANARY = "canary-e2e-7c1d-do-not-leak"
SOURCE = {"app/db": {"user": "app", "password": CANARY}, "token": {"value": "t-1"}}
DAG_SOURCE = """
from airflow_secretsync.airflow import build_dag

dag = build_dag({path!r})
"""


@dataclass
class Destination:
    """One destination kind on its local API server: how a block reads, what the server holds."""

    kind: str
    server: ApiServer
    place: str  # the repository / namespace / project of this test
    conn_type: str

    def block(self, conn_id: str) -> str:
        return {
            "github": f"{{repository: {self.place}, connection_id: {conn_id}}}",
            "kubernetes": f"{{namespace: {self.place}, connection_id: {conn_id}}}",
            "gcp": f"{{project: {self.place}, prefix: out-, connection_id: {conn_id}}}",
        }[self.kind]

    def connection(self, *, token: str) -> dict[str, Any]:
        if self.kind == "gcp":
            fields = gcp_connection(self.server)
            fields["extra"]["access_token"] = token
            return fields
        return {"conn_type": self.conn_type, "host": self.server.url, "password": token}

    def contents(self) -> dict[str, Any]:
        """Secret name -> value as the server holds it (JSON values parsed)."""
        if self.kind == "github":
            held = self.server.control("GET", f"repos/{self.place}/secrets")
            return {name: json.loads(secret["value"]) for name, secret in held.items()}
        if self.kind == "kubernetes":
            held = self.server.control("GET", f"namespaces/{self.place}/secrets")
            return {name: secret["data"] for name, secret in held.items()}
        sm = raw_client(self.server)
        parent = f"projects/{self.place}"
        return {
            secret.name.rsplit("/", 1)[1]: json.loads(
                sm.access_secret_version(name=f"{secret.name}/versions/latest").payload.data
            )
            for secret in sm.list_secrets(request={"parent": parent})
        }

    def writes(self) -> list[dict[str, Any]]:
        return [r for r in self.server.control("GET", "requests") if r["method"] != "GET"]

    def forget(self) -> None:
        self.server.control("DELETE", "requests")


EXPECTED = {
    "github": {"APP_DB": SOURCE["app/db"], "TOKEN": SOURCE["token"]},
    "kubernetes": {"app.db": SOURCE["app/db"], "token": SOURCE["token"]},
    "gcp": {"out-app__db": SOURCE["app/db"], "out-token": SOURCE["token"]},
}
CONN_TYPES = {"github": "github", "kubernetes": "kubernetes", "gcp": "google_cloud_platform"}


@pytest.fixture(params=sorted(EXPECTED))
def destination(request, servers, airflow_conn) -> Destination:
    kind = request.param
    server = request.getfixturevalue(f"{kind}_api")
    if kind == "github":
        place = f"octo/{unique('repo')}"
        server.control("PUT", f"repos/{place}")
    elif kind == "kubernetes":
        place = unique("ns")
        server.control("PUT", f"namespaces/{place}")
    else:
        place = new_project(server)
    made = Destination(kind, server, place, CONN_TYPES[kind])
    airflow_conn(f"{kind}_e2e", **made.connection(token=server.token))
    return made


def pipeline_yaml(ns: str, targets: str) -> str:
    return f"""
        version: 1
        dag: {{dag_id: {ns}}}
        pipeline:
          sync: {{delete_orphans: true}}
        merge_store:
          vault: {{mount: secret, path: {ns}/merged}}
        sources:
          team: {{vault: {{mount: secret, path: {ns}/src}}}}
        targets:
        {targets}
        """


def one_target(ns: str, kind: str, block: str) -> str:
    return pipeline_yaml(ns, f"  Out: {{imports: [team], {kind}: {block}}}")


def run(capsys, config: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    code = main(["pipeline", "--config", str(config), "--output", "json", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def summary(report: dict[str, Any]) -> tuple[int, int, int, int]:
    s = report["summary"]
    return s["added"], s["modified"], s["removed"], s["unchanged"]


def test_cli_first_run_zero_sum_and_dry_run(
    destination: Destination, vault_client, tmp_path, capsys
) -> None:
    ns = unique("e2e")
    seed_vault(vault_client, f"{ns}/src", SOURCE)
    config = write_config(
        tmp_path, one_target(ns, destination.kind, destination.block(f"{destination.kind}_e2e"))
    )

    code, first, err = run(capsys, config)
    assert code == 0, first
    assert summary(first) == (2, 0, 0, 0)
    assert destination.contents() == EXPECTED[destination.kind]

    destination.forget()
    code, second, _ = run(capsys, config)
    assert (code, summary(second)) == (0, (0, 0, 0, 2))
    assert destination.writes() == []

    seed_vault(vault_client, f"{ns}/src", {"later": {"value": "v"}})
    code, dry, _ = run(capsys, config, "--dry-run")
    assert (code, dry["dry_run"], summary(dry)) == (0, True, (1, 0, 0, 2))
    assert destination.writes() == []
    assert destination.contents() == EXPECTED[destination.kind]
    for output in (first, second, dry):
        assert CANARY not in json.dumps(output)
    assert CANARY not in err


def test_rollback_is_refused_per_target_before_any_request(
    destination: Destination, vault_client, tmp_path, capsys
) -> None:
    """These kinds keep no version to go back to: the rollback refuses the target whole,
    listing each secret, and sends the destination nothing (dry run or not)."""
    ns = unique("e2e")
    seed_vault(vault_client, f"{ns}/src", SOURCE)
    config = write_config(
        tmp_path, one_target(ns, destination.kind, destination.block(f"{destination.kind}_e2e"))
    )
    code, first, _ = run(capsys, config)
    assert (code, summary(first)) == (0, (2, 0, 0, 0))
    report_path = tmp_path / "report.json"
    report_path.write_text(json.dumps(first))

    destination.forget()
    for dry_run in (["--dry-run"], []):
        code = main(
            ["rollback", str(report_path), "--config", str(config), "--output", "json", *dry_run]
        )
        out, err = capsys.readouterr()
        assert code == 2
        (target,) = json.loads(out)["targets"]
        assert target["status"] == "failed"
        assert target["error"].endswith(
            ": rollback is not supported by this store kind; nothing was written"
        )
        assert sorted((r["path"], r["change_type"]) for r in target["refused"]) == [
            ("app/db", "removed"), ("token", "removed"),
        ]  # fmt: skip
        assert target["summary"]["total"] == 0
        assert CANARY not in out + err
    assert destination.server.control("GET", "requests") == []  # not even a read
    assert destination.contents() == EXPECTED[destination.kind]


def test_two_destinations_of_one_kind_in_one_place_are_a_config_error(
    destination: Destination, tmp_path, capsys
) -> None:
    block = destination.block(f"{destination.kind}_e2e")
    targets = (
        f"  A: {{imports: [team], {destination.kind}: {block}}}\n"
        f"          B: {{imports: [team], {destination.kind}: {block}}}"
    )
    config = write_config(tmp_path, pipeline_yaml(unique("e2e"), targets))
    assert main(["validate", str(config)]) == 2
    err = capsys.readouterr().err
    assert "overlap" in err
    assert f"{config}" in err


def test_a_wrong_connection_fails_the_target_with_a_clear_message(
    destination: Destination, vault_client, airflow_conn, tmp_path, capsys
) -> None:
    ns = unique("e2e")
    seed_vault(vault_client, f"{ns}/src", SOURCE)
    airflow_conn(f"{destination.kind}_bad", **destination.connection(token=f"wrong-{CANARY}"))
    block = destination.block(f"{destination.kind}_bad")
    config = write_config(tmp_path, one_target(ns, destination.kind, block))
    destination.forget()
    code, report, err = run(capsys, config)
    assert code == 2
    (target,) = report["targets"]
    assert target["status"] == "failed"
    assert f"'{destination.kind}_bad'" in target["error"]
    assert CANARY not in target["error"]
    assert CANARY not in err
    assert destination.writes() == []
    assert destination.contents() == {}


# ---- the http source: a JSON document into a Vault destination ----------------------------


@pytest.fixture
def document(json_document_api: ApiServer, airflow_conn) -> dict[str, Any]:
    """A JSON document behind a bearer token, and the ``http_e2e`` connection that reads it."""
    name = unique("doc")
    spec = {
        "body": SOURCE,
        "require_header": {"name": "Authorization", "value": f"Bearer {CANARY}-token"},
    }
    json_document_api.control("PUT", f"documents/{name}", spec)
    fields = {"conn_type": "http", "host": json_document_api.url, "extra": {"auth_type": "bearer"}}
    airflow_conn("http_e2e", **fields, password=f"{CANARY}-token")
    airflow_conn("http_bad", **fields, password=f"wrong-{CANARY}")
    return {"name": name, "spec": spec, "server": json_document_api}


def http_config(tmp_path: Path, ns: str, document: dict[str, Any], conn_id: str) -> Path:
    targets = f"  Out: {{imports: [web], vault: {{mount: secret, path: {ns}/out}}}}"
    text = pipeline_yaml(ns, targets).replace(
        f"team: {{vault: {{mount: secret, path: {ns}/src}}}}",
        f"web: {{http: {{endpoint: documents/{document['name']}, connection_id: {conn_id}}}}}",
    )
    return write_config(tmp_path, text)


def vault_versions(vault_client, path: str) -> dict[str, int]:
    return {
        rel: vault_client.secrets.kv.v2.read_secret_metadata(
            path=f"{path}/{rel}", mount_point="secret"
        )["data"]["current_version"]
        for rel in read_vault(vault_client, path)
    }


def test_http_source_cli_first_run_zero_sum_and_dry_run(
    document, vault_client, tmp_path, capsys
) -> None:
    ns = unique("e2e")
    config = http_config(tmp_path, ns, document, "http_e2e")
    code, first, err = run(capsys, config)
    assert (code, summary(first)) == (0, (2, 0, 0, 0))
    assert read_vault(vault_client, f"{ns}/out") == SOURCE

    code, second, _ = run(capsys, config)
    assert (code, summary(second)) == (0, (0, 0, 0, 2))
    assert vault_versions(vault_client, f"{ns}/out") == {"app/db": 1, "token": 1}

    changed = {**document["spec"], "body": {**SOURCE, "later": {"value": "v"}}}
    document["server"].control("PUT", f"documents/{document['name']}", changed)
    code, dry, _ = run(capsys, config, "--dry-run")
    assert (code, summary(dry)) == (0, (1, 0, 0, 2))
    assert read_vault(vault_client, f"{ns}/out") == SOURCE
    for output in (first, second, dry):
        assert CANARY not in json.dumps(output)
    assert CANARY not in err


def test_http_source_with_a_wrong_connection_fails_the_target(
    document, vault_client, tmp_path, capsys
) -> None:
    ns = unique("e2e")
    code, report, err = run(capsys, http_config(tmp_path, ns, document, "http_bad"))
    assert code == 2
    (target,) = report["targets"]
    assert target["status"] == "failed"
    assert "connection 'http_bad'" in target["error"]
    assert "HTTP 401" in target["error"]
    assert CANARY not in target["error"]
    assert CANARY not in err
    assert read_vault(vault_client, f"{ns}/out") == {}


# ---- through a generated DAG -----------------------------------------------------------------


def report_xcom(run) -> dict[str, Any]:
    ti = next(ti for ti in run.get_task_instances() if ti.task_id == "report")
    return ti.xcom_pull(task_ids="report")


def test_generated_dag_syncs_each_destination_kind(
    destination: Destination, vault_client, dag_file, tmp_path
) -> None:
    ns = unique("dag")
    seed_vault(vault_client, f"{ns}/src", SOURCE)
    block = destination.block(f"{destination.kind}_e2e")
    path = write_config(tmp_path, one_target(ns, destination.kind, block))
    source = DAG_SOURCE.format(path=str(path))

    first = dag_file(ns, source).test()  # a fresh parse for each run, as a worker does
    assert first.state == "success"
    assert summary(report_xcom(first)) == (2, 0, 0, 0)
    assert destination.contents() == EXPECTED[destination.kind]

    destination.forget()
    second = dag_file(ns, source).test()
    assert second.state == "success"
    assert summary(report_xcom(second)) == (0, 0, 0, 2)
    assert destination.writes() == []


def test_generated_dag_reads_the_http_source(document, vault_client, dag_file, tmp_path) -> None:
    ns = unique("dag")
    path = http_config(tmp_path, ns, document, "http_e2e")
    run = dag_file(ns, DAG_SOURCE.format(path=str(path))).test()
    assert run.state == "success"
    assert summary(report_xcom(run)) == (2, 0, 0, 0)
    assert read_vault(vault_client, f"{ns}/out") == SOURCE
