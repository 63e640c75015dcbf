"""UI check in headless Chromium, run by `make e2e` (not by `make test`: it needs Debian's
``chromium``, which `make e2e` installs when missing, and Playwright for Python).

With the `make airflow` stack (seeded OpenBao + moto, ``airflow standalone``) it logs in, opens
the example DAG, triggers it from the form with ``dry_run`` switched on, waits for the run to
succeed, reads the report in the ``report`` task's log and the ``run_settings``/``summary``
rendered fields of ``report`` and ``sync.Staging``, opens the DAG's docs panel, checks that no
seeded secret value is shown anywhere and that nothing was written.
The screenshots shown in docs/ui.md are saved under docs/_static/ on the way.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect, sync_playwright

from airflow_secretsync.config import PipelineConfig, load_config
from devtools.airflow_ui import RunningAirflow, local_airflow

DAG_ID = "secretsync_example"
REPO = Path(__file__).resolve().parents[2]
STATIC = REPO / "docs" / "_static"
EXAMPLE = REPO / "dags" / "configs" / "example.yaml"
# Flags for a root, offline, screen-less machine (no sandbox, no GPU, no background calls home).
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: What a first dry run of the example adds: three secrets in each of its four destinations.
ADDED = 12
RUN_TIMEOUT_MS = 300_000  # a whole DAG run on a busy 2-core machine


def chromium_path() -> str:
    """``$CHROMIUM`` or Debian's ``chromium`` on PATH."""
    path = os.environ.get("CHROMIUM") or shutil.which("chromium")
    if not path:
        raise RuntimeError("Chromium not found: `make e2e` installs Debian's chromium package")
    return path


@pytest.fixture(scope="module")
def airflow() -> Iterator[RunningAirflow]:
    with local_airflow() as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser, airflow: RunningAirflow) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{airflow.url}/")
    page.get_by_label("Username").fill(airflow.username)
    page.get_by_label("Password").fill(airflow.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{airflow.url}/")
    yield page
    context.close()


def open_trigger_form_with_dry_run(page: Page, airflow: RunningAirflow) -> None:
    page.goto(f"{airflow.url}/dags/{DAG_ID}")
    expect(page.get_by_role("heading", name=DAG_ID, exact=True)).to_be_visible()
    page.get_by_role("button", name="Trigger Dag").click()
    dialog = page.get_by_role("dialog")
    dry_run = dialog.get_by_role("checkbox", name="dry_run")
    expect(dialog.get_by_role("combobox", name="mode")).to_be_visible()
    expect(dialog.get_by_role("checkbox", name="fail_on_changes")).not_to_be_checked()
    expect(dry_run).not_to_be_checked()
    dry_run.locator("xpath=..").click()  # the switch's visible label wraps the hidden input
    expect(dry_run).to_be_checked()


def show_target_choices(page: Page) -> None:
    """Open the ``targets`` multi-select: it offers exactly the config's targets."""
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("combobox", name="Select one or multiple values").click()
    options = page.get_by_role("option")
    expect(options).to_have_text(list(load_config(EXAMPLE).targets))
    page.screenshot(path=STATIC / "ui-targets-select.png")
    dialog.get_by_role("heading", name=f"Trigger Dag - {DAG_ID}").click()  # Escape would close
    expect(options).to_have_count(0)
    expect(dialog.get_by_role("checkbox", name="dry_run")).to_be_checked()


def synced_targets(config: PipelineConfig) -> list[str]:
    """The targets with a destination: one ``sync.<target>`` task each."""
    return [name for name, target in config.targets.items() if target.destination is not None]


def test_trigger_dry_run_from_the_form(page: Page, airflow: RunningAirflow) -> None:
    config = load_config(EXAMPLE)
    synced = synced_targets(config)
    open_trigger_form_with_dry_run(page, airflow)
    page.screenshot(path=STATIC / "ui-trigger-form.png")
    show_target_choices(page)

    page.get_by_role("dialog").get_by_role("button", name="Trigger").click()
    page.wait_for_url(f"**/dags/{DAG_ID}/runs/manual__*")
    run_id = page.url.rsplit("/runs/", 1)[1]
    header = page.get_by_role("heading", name=run_id, exact=True).locator("xpath=..")
    expect(header.get_by_test_id("state-badge")).to_have_text("Success", timeout=RUN_TIMEOUT_MS)
    page.reload()  # the grid's run bar too, for the screenshot
    expect(header.get_by_test_id("state-badge")).to_have_text("Success")
    all_tasks = len(config.targets) + len(synced) + 1  # merge.*, sync.*, report
    expect(page.get_by_role("cell", name="Success", exact=True)).to_have_count(all_tasks)
    page.screenshot(path=STATIC / "ui-run-success.png")

    run_url = f"{airflow.url}/dags/{DAG_ID}/runs/{run_id}"
    page.goto(f"{run_url}/tasks/report")
    log = page.get_by_role("code").first
    expect(log).to_contain_text(
        f"secretsync (dry run): {len(synced)} targets, +{ADDED} ~0 -0 =0 ({ADDED} total), 0 failed"
    )
    expect(log).to_contain_text("DRY RUN: nothing was written")
    for target in synced:
        expect(log).to_contain_text(f"{target}: 3 added")
    page.screenshot(path=STATIC / "ui-report-log.png")
    shown = [page.content()]

    shown.append(show_report_rendered(page, run_url))
    shown.append(show_sync_rendered(page, run_url))
    shown.append(show_dag_docs(page, airflow, config))
    shown += task_xcoms(page, run_url)
    assert_no_secret_value_shown(shown)

    assert_nothing_written(airflow)


def rendered_field(page: Page, name: str) -> Locator:
    """The value cell of one field in a task's Rendered Templates tab."""
    row = page.get_by_role("row").filter(has=page.get_by_role("cell", name=name, exact=True))
    return row.get_by_role("cell").nth(1)


def show_report_rendered(page: Page, run_url: str) -> str:
    """The ``report`` task's rendered fields: the run's settings and the whole report."""
    page.goto(f"{run_url}/tasks/report/rendered_templates")
    expect(rendered_field(page, "run_settings")).to_contain_text(
        "DRY RUN: reads and diffs, writes nothing; mode full; targets all"
    )
    summary = rendered_field(page, "summary")
    expect(summary).to_contain_text("DRY RUN: nothing was written")
    for target in ("Staging", "Production", "Ci", "Cluster"):
        expect(summary).to_contain_text(f"{target}: 3 added, 0 modified, 0 removed")
    expect(summary).to_contain_text(f"Changes: {ADDED} pending")
    page.screenshot(path=STATIC / "ui-report-rendered.png")
    return page.content()


def show_sync_rendered(page: Page, run_url: str) -> str:
    """``sync.Staging``'s rendered fields: the same settings, its own part of the report."""
    page.goto(f"{run_url}/tasks/sync.Staging/rendered_templates")
    expect(rendered_field(page, "run_settings")).to_contain_text("DRY RUN: reads and diffs")
    summary = rendered_field(page, "summary")
    expect(summary).to_contain_text("DRY RUN: nothing was written")
    expect(summary).to_contain_text("Staging: 3 added")
    expect(summary).to_contain_text("Changes: 3 pending")
    expect(summary).not_to_contain_text("Production")
    page.screenshot(path=STATIC / "ui-sync-rendered.png")
    return page.content()


def show_dag_docs(page: Page, airflow: RunningAirflow, config: PipelineConfig) -> str:
    """The DAG's docs panel: one row per target with where it syncs to, then the YAML."""
    page.goto(f"{airflow.url}/dags/{DAG_ID}")
    page.get_by_role("button", name="Dag Docs").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Dag Documentation")).to_be_visible()
    expect(dialog).to_contain_text(f"Secret sync from {EXAMPLE.name}")
    rows = dialog.get_by_role("row")
    expect(rows).to_have_count(len(config.targets) + 1)  # the header row
    for row, name in enumerate(config.targets, start=1):
        cells = rows.nth(row).get_by_role("cell")
        expect(cells.first).to_have_text(name)
        if config.targets[name].destination is None:
            expect(cells.last).to_have_text("(no destination)")
        else:
            expect(cells.last).to_contain_text("(connection ")  # a store and its connection
    expect(dialog).to_contain_text("dag_id: secretsync_example")  # the YAML itself
    box = dialog.bounding_box()
    if box:  # widen and lengthen the panel (it has a resize handle) for the screenshot
        corner = (box["x"] + box["width"] - 4, box["y"] + box["height"] - 4)
        page.mouse.move(*corner)
        page.mouse.down()
        page.mouse.move(corner[0] + 250, corner[1] + 500, steps=10)
        page.mouse.up()
    dialog.screenshot(path=STATIC / "ui-dag-docs.png")
    return page.content()


def seeded_values() -> list[str]:
    """Every leaf value of the example's source secrets that is secret-looking text."""
    from devtools.seed import LEGACY, PLATFORM

    values = [v for secret in PLATFORM.values() for v in secret.values() if isinstance(v, str)]
    values += [LEGACY["legacy/smtp"], "example-legacy-pw"]
    return [v for v in values if v.startswith(("example-", "plain-text-"))]


def task_xcoms(page: Page, run_url: str) -> list[str]:
    """The XCom pages of the sync tasks and ``report``."""
    pages = []
    for task in ("sync.Staging", "sync.Production", "report"):
        page.goto(f"{run_url}/tasks/{task}/xcom")
        expect(page.get_by_text("return_value").first).to_be_visible()
        pages.append(page.content())
    return pages


def assert_no_secret_value_shown(pages: list[str]) -> None:
    """Logs, rendered fields, docs and XComs show names, never a seeded value."""
    values = seeded_values()
    assert len(values) == 4
    for html in pages:
        assert not [v for v in values if v in html]


def assert_nothing_written(airflow: RunningAirflow) -> None:
    """The dry run wrote neither the destinations nor the merge store."""
    import boto3
    import hvac

    aws = boto3.client(
        "secretsmanager",
        endpoint_url=airflow.servers.aws.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    from devtools.seed import LEGACY, STEP_SECRETS_AWS

    names = [s["Name"] for s in aws.list_secrets()["SecretList"]]
    assert sorted(names) == sorted([*LEGACY, *STEP_SECRETS_AWS])  # only what the seed wrote
    vault = hvac.Client(url=airflow.servers.vault.url, token=airflow.servers.vault.token)
    listed = vault.secrets.kv.v2.list_secrets(mount_point="secret", path="")["data"]["keys"]
    assert listed == ["examples/", "sources/"]  # the seed's; no prod/ nor secretsync/
