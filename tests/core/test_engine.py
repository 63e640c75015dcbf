"""The engine on in-memory stores: merge order, merge store contents, dry runs, refusals,
check-and-set retries, failed ancestors and reading desired(T) back from the merge store.

Fast unit tests of the engine's rules; the same behaviours are also tested against the real
OpenBao and moto servers (tests/test_pipeline_cli.py, tests/reliability/).
"""

from __future__ import annotations

import textwrap

import pytest

from airflow_secretsync.config import parse_config
from airflow_secretsync.core.engine import Engine, RunOptions
from airflow_secretsync.stores.base import SecretWrite
from tests.memory_store import MemoryStores, same

CONFIG = textwrap.dedent(
    """\
    version: 1
    dag: {dag_id: unit}
    pipeline: {sync: {delete_orphans: true, max_deletions: 2}}
    merge_store: {vault: {path: merged}}
    sources:
      base: {vault: {path: base}}
      extra: {vault: {path: extra}}
    targets:
      Base: [base]
      Staging: {inherits: Base, imports: [extra], vault: {path: staging}}
      Prod: {inherits: Staging, vault: {path: prod}, exclude: ["^tmp/"]}
    """
)
OWN = "unit/Staging"


@pytest.fixture
def stores() -> MemoryStores:
    made = MemoryStores(parse_config(CONFIG))
    made.source("base").put("db", {"host": "h", "port": 1})
    made.source("base").put("tmp/x", "scratch")
    made.source("extra").put("db", {"port": 2})
    made.source("extra").put("api", "key")
    return made


def run(stores: MemoryStores, config: str = CONFIG, **options):
    return Engine(parse_config(config), stores, RunOptions(**options)).run()


def by_target(report) -> dict[str, object]:
    return {t.target: t for t in report.targets}


def test_merge_then_sync_writes_desired_everywhere(stores) -> None:
    report = run(stores)

    staging = {"db": {"host": "h", "port": 2}, "tmp/x": "scratch", "api": "key"}
    assert same(stores.merged["Staging"].values(), staging)
    assert same(stores.merged["Prod"].values(), {k: v for k, v in staging.items() if k != "tmp/x"})
    assert same(stores.destinations["Staging"].values(), staging)
    assert set(stores.destinations["Staging"].owners().values()) == {OWN}
    assert set(stores.merged["Base"].owners().values()) == {"unit/Base"}
    assert (report.summary.added, report.summary.total) == (5, 5)
    assert {t.target: t.status for t in report.targets} == {"Staging": "success", "Prod": "success"}


def test_second_run_is_zero_sum_without_a_write(stores) -> None:
    run(stores)
    before = {name: store.writes for name, store in stores.destinations.items()}
    merged_before = {name: store.writes for name, store in stores.merged.items()}

    report = run(stores)

    assert report.summary.changed == 0
    assert report.summary.unchanged == 5
    assert {n: s.writes for n, s in stores.destinations.items()} == before
    assert {n: s.writes for n, s in stores.merged.items()} == merged_before


def test_dry_run_writes_nothing_and_reports_what_it_would_do(stores) -> None:
    report = run(stores, dry_run=True)

    assert report.dry_run is True
    assert report.summary.added == 5
    assert all(store.writes == 0 for store in [*stores.merged.values()])
    assert all(store.writes == 0 for store in stores.destinations.values())


def test_a_foreign_secret_is_not_overwritten_without_adopt(stores) -> None:
    stores.destination("Staging").put("api", "theirs", owner="other/Team")

    report = by_target(run(stores))

    assert report["Staging"].status == "failed"
    assert "api owned by other/Team" in report["Staging"].error
    assert "nothing was written" in report["Staging"].error
    assert stores.destinations["Staging"].values() == {"api": "theirs"}
    assert report["Prod"].status == "success"  # a sibling goes on

    adopting = CONFIG.replace("vault: {path: staging}}", "vault: {path: staging}, adopt: true}")
    assert by_target(run(stores, adopting))["Staging"].status == "success"
    assert stores.destinations["Staging"].owners()["api"] == OWN


def test_only_own_orphans_are_deleted_and_never_over_the_limit(stores) -> None:
    run(stores)
    dest = stores.destinations["Staging"]
    dest.put("unmanaged", "keep")
    dest.put("foreign", "keep", owner="other/Team")
    for path in ("old/1", "old/2", "old/3"):
        dest.put(path, "x", owner=OWN)

    over = by_target(run(stores))["Staging"]
    assert over.status == "failed"
    assert "would delete 3 secrets, more than max_deletions=2" in over.error
    assert {"old/1", "old/2", "old/3"} <= dest.values().keys()

    dest.secrets.pop("old/3")
    within = by_target(run(stores))["Staging"]
    assert within.status == "success"
    assert within.summary.removed == 2
    assert {"unmanaged", "foreign"} <= dest.values().keys()
    assert not {"old/1", "old/2"} & dest.values().keys()


def test_a_write_conflict_is_re_read_and_retried(stores) -> None:
    dest = stores.destination("Staging")
    dest.put("api", "stale", owner=OWN)
    raced: list[str] = []

    def someone_else_writes_first(change: SecretWrite) -> None:
        if change.path == "api" and not raced:
            raced.append(change.path)
            dest.put("api", "changed meanwhile", owner=OWN)

    dest.before_write = someone_else_writes_first

    report = by_target(run(stores))["Staging"]

    assert raced == ["api"]
    assert report.status == "success"
    assert dest.values()["api"] == "key"
    assert dest.secrets["api"].version == 3  # seeded, raced, then ours after the re-read


def test_a_failed_merge_blocks_what_inherits_from_it(stores) -> None:
    stores.source("extra").fail_reads = True

    report = by_target(run(stores))

    assert report["Staging"].status == "failed"
    assert "memory://sources/extra: unreachable" in report["Staging"].error
    assert report["Prod"].status == "failed"
    assert report["Prod"].error.startswith("merge of 'Staging' failed: ")
    assert "Prod" not in stores.destinations  # never opened, nothing written
    assert stores.merged["Base"].values()  # the unaffected parent was merged


def test_sync_only_reads_desired_from_the_merge_store(stores) -> None:
    stores.merge_store("Staging").put("only/merged", "m", owner="unit/Staging")

    report = by_target(run(stores, mode="sync-only", targets=("Staging",)))["Staging"]

    assert report.status == "success"
    assert stores.destinations["Staging"].values() == {"only/merged": "m"}
    assert all(source.requests["list"] == 0 for source in stores.sources.values())


def test_merge_store_deletions_count_against_the_limit(stores) -> None:
    merged = stores.merge_store("Base")
    for path in ("gone/1", "gone/2", "gone/3"):
        merged.put(path, "x", owner="unit/Base")

    report = by_target(run(stores))

    assert report["Staging"].status == "failed"
    assert "more than max_deletions=2" in report["Staging"].error
    assert {"gone/1", "gone/2", "gone/3"} <= merged.values().keys()
