"""Approval in the UI, in headless Chromium (run by `make e2e`, like ui_check.py).

An Airflow serving tests/approval_dags/ starts a run of ``Approved``; the approval request is
opened from the task's *Required Actions* tab, shows the diff (names and change types, no
value), is approved with its button, and the target's secrets are then written. The
screenshot shown in docs/change-control.md is saved under docs/_static/ on the way.
"""

from __future__ import annotations

from collections.abc import Iterator

import hvac
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from devtools.airflow_ui import RunningAirflow, local_airflow
from devtools.seed import PLATFORM
from tests.e2e.ui_check import CHROMIUM_FLAGS, STATIC, chromium_path
from tests.helpers import read_vault
from tests.test_airflow_rest import Api
from tests.test_approval_rest import DAG_ID, DAGS, awaiting, finished, requests_of, trigger

SECRET_VALUES = [
    v for s in PLATFORM.values() for v in s.values() if isinstance(v, str) and len(v) > 8
]


@pytest.fixture(scope="module")
def airflow() -> Iterator[RunningAirflow]:
    with local_airflow(dags=DAGS) as running:
        yield running


@pytest.fixture
def page(airflow: RunningAirflow) -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser: Browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_FLAGS
        )
        page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{airflow.url}/")
        page.get_by_label("Username").fill(airflow.username)
        page.get_by_label("Password").fill(airflow.password)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{airflow.url}/")
        yield page
        browser.close()


def test_approve_from_the_required_actions_tab(page: Page, airflow: RunningAirflow) -> None:
    api = Api(airflow.url, airflow.username, airflow.password)
    api.wait_for(f"/api/v2/dags/{DAG_ID}", lambda dag: not dag.get("has_import_errors"))
    run = trigger(api, {"targets": ["Approved"]})
    awaiting(api, run, {"approve.Approved"})

    task_url = f"{airflow.url}/dags/{DAG_ID}/runs/{run['dag_run_id']}/tasks/approve.Approved"
    page.goto(f"{task_url}/required_actions")
    expect(page.get_by_text("approve 2 secret change(s) to target Approved").first).to_be_visible()
    expect(page.get_by_text("app/db").first).to_be_visible()
    page.screenshot(path=STATIC / "ui-approval-request.png")
    html = page.content()
    assert not [value for value in SECRET_VALUES if value in html]

    page.get_by_role("button", name="Approve").click()
    assert finished(api, run)["state"] == "success"
    vault = hvac.Client(url=airflow.servers.vault.url, token=airflow.servers.vault.token)
    assert set(read_vault(vault, "approval/approved")) == {"app/db", "app/api"}
    answered = requests_of(api, run)["approve.Approved"]
    assert (answered["chosen_options"], answered["responded_by_user"]["name"]) == (
        ["Approve"],
        "admin",
    )
