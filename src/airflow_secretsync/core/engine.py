"""The merge and sync phases (SPEC §2-§3), over any :class:`StoreProvider`.

The CLI runs a whole pipeline with :meth:`Engine.run`; the Airflow operators call
:meth:`Engine.merge_target` / :meth:`Engine.sync_target` for one target each.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from airflow_secretsync.config import PipelineConfig
from airflow_secretsync.config.pipeline import PipelineGraph, task_id
from airflow_secretsync.core.diff import Change, TargetDiff, diff_secrets
from airflow_secretsync.core.merge import SecretSet, filter_paths, merge_sets
from airflow_secretsync.core.merge_store import replace_merged
from airflow_secretsync.core.report import Report, TargetReport, VersionRecord
from airflow_secretsync.errors import ConflictError, SecretSyncError
from airflow_secretsync.stores.base import (
    Deadline,
    DestinationStore,
    MergeStore,
    SourceStore,
    StoredSecret,
)
from airflow_secretsync.stores.ownership import owner_id

log = logging.getLogger("airflow_secretsync.engine")

Mode = Literal["full", "merge-only", "sync-only"]
MODES: tuple[Mode, ...] = ("full", "merge-only", "sync-only")
CAS_ATTEMPTS = 5
#: A per-task scope, by task id (``merge.<T>``, ``sync.<T>``): e.g. step secrets in the env.
TaskScope = Callable[[str], AbstractContextManager[object]]


class StoreProvider(Protocol):
    """Builds the stores of one pipeline (see ``stores.factory.StoreFactory``)."""

    def source(self, name: str) -> SourceStore: ...
    def destination(self, target: str) -> DestinationStore | None: ...
    def merge_store(self, target: str) -> MergeStore: ...


@dataclass(frozen=True)
class RunOptions:
    """What to run: ``targets`` None means all; ancestors of selected targets are merged."""

    dry_run: bool = False
    mode: Mode = "full"
    targets: tuple[str, ...] | None = None


#: Why a direct sync (``secretsync pipeline``) of a target with ``approval: required`` and
#: changes writes nothing: its changes go through an approved plan.
NEEDS_APPROVAL = (
    "approval: required: changes are applied only once approved (the DAG's approval request, "
    "or a reviewed plan: 'secretsync plan --out' then 'secretsync apply'); nothing was written"
)


def error_text(exc: BaseException) -> str:
    """A value-free description: our own errors carry safe messages, others only their type."""
    if isinstance(exc, SecretSyncError):
        return str(exc)
    return f"unexpected {type(exc).__name__}; see the task log"


def version_records(
    destination: DestinationStore,
    diff: TargetDiff,
    done: set[str],
    written: dict[str, str | None],
) -> list[VersionRecord]:
    """The version ids each applied write or delete of ``diff`` replaced and created."""
    records = [
        VersionRecord(
            w.path,
            "added" if w.current is None else "modified",
            None if w.current is None else destination.version_id(w.current),
            written.get(w.path),
        )
        for w in diff.writes
        if w.path in done
    ]
    records += [
        VersionRecord(s.path, "removed", destination.version_id(s), None)
        for s in diff.deletes
        if s.path in done
    ]
    return records


def with_earlier_attempts(changes: list[Change], attempted: dict[str, Change]) -> list[Change]:
    """The run's changes: a secret an earlier (conflicting) attempt changed that is now
    ``unchanged`` or gone still counts as that attempt's change."""
    if not attempted:
        return changes
    merged = [
        attempted[c.path] if c.change_type == "unchanged" and c.path in attempted else c
        for c in changes
    ]
    present = {c.path for c in changes}
    merged += [c for path, c in attempted.items() if path not in present]
    return sorted(merged, key=lambda c: c.path)


class _Memo:
    """A thread-safe compute-once map (one read per source and run)."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: str, compute: Callable[[], Any]) -> Any:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._values:
                self._values[key] = compute()
            return self._values[key]

    def put(self, key: str, value: Any) -> None:
        with self._guard:
            self._values[key] = value


class Engine:
    """Runs merge and sync for the targets of one config.

    ``task_scope(task_id)``, when given, wraps each merge and sync (``merge.<T>``/``sync.<T>``);
    tasks then run one at a time.
    """

    def __init__(
        self,
        config: PipelineConfig,
        stores: StoreProvider,
        options: RunOptions | None = None,
        task_scope: TaskScope | None = None,
    ) -> None:
        self.config = config
        self.task_scope = task_scope
        self.stores = stores
        self.options = options or RunOptions(dry_run=config.pipeline.dry_run)
        merge_cfg = config.pipeline.merge
        self.merge_enabled = merge_cfg.enabled and self.options.mode != "sync-only"
        self.sync_enabled = config.pipeline.sync.enabled and self.options.mode != "merge-only"
        # desired(T) of a target not computed here comes from the merge store, except in a
        # dry run (nothing was written this run) unless the user asked for sync-only.
        self.read_merged = merge_cfg.enabled and (
            self.options.mode == "sync-only" or not self.options.dry_run
        )
        self.graph = PipelineGraph.from_config(config, self.options.targets)
        self._plan = self.graph.plan
        self._sources = _Memo()
        self._desired = _Memo()

    # -- selection ----------------------------------------------------------------------------

    def merges(self, target: str) -> bool:
        """Whether this run merges ``target`` (selected, or an ancestor of a selected one)."""
        return self.merge_enabled and target in self._plan.selected

    def syncs(self, target: str) -> bool:
        """Whether this run syncs ``target`` (selected and has a destination)."""
        requested = self.options.targets is None or target in self.options.targets
        return self.sync_enabled and requested and target in self._plan.sync_targets

    # -- desired(T) -------------------------------------------------------------------------

    def source_secrets(self, name: str) -> SecretSet:
        """A source's contents, read once per run."""

        def read() -> SecretSet:
            store = self.stores.source(name)
            return {path: s.value for path, s in store.list_secrets().items()}

        return self._sources.get(name, read)

    def desired(self, target: str) -> SecretSet:
        """``desired(target)``: computed in this run, or read from the merge store."""

        def load() -> SecretSet:
            if self.read_merged:
                store = self.stores.merge_store(target)
                return {path: s.value for path, s in store.list_secrets().items()}
            return self.compute_desired(target)

        return self._desired.get(target, load)

    def compute_desired(self, target: str) -> SecretSet:
        """Deep-merge parents, then imports in order, then apply include/exclude."""
        spec = self.config.targets[target]
        parts = [
            self.desired(c.name) if c.kind == "target" else self.source_secrets(c.name)
            for c in self.graph.contributions(target)
        ]
        return filter_paths(merge_sets(parts), spec.include, spec.exclude)

    # -- one target ---------------------------------------------------------------------------

    def owner(self, target: str) -> str:
        """The owner recorded on what ``target`` writes: ``<dag_id>/<target>``."""
        return owner_id(self.config.dag_id, target)

    def merge_target(self, target: str) -> int:
        """Compute ``desired(target)`` and make the entries the target owns in its merge store
        location exactly it (unless dry run); a write conflict (another run) is re-read and
        retried. Returns the number of secrets."""
        with self._scope(task_id("merge", target)):
            secrets = self.compute_desired(target)
            if not self.options.dry_run and self.config.merge_store is not None:
                deadline = self._deadline()
                for attempt in self._conflict_retries():
                    with attempt:
                        replace_merged(
                            self.stores.merge_store(target),
                            secrets,
                            owner=self.owner(target),
                            adopt=self.config.targets[target].adopt,
                            max_deletions=self.config.pipeline.sync.max_deletions,
                            parallel=self.config.pipeline.sync.parallel,
                            deadline=deadline,
                        )
        self._desired.put(target, secrets)
        log.info("merged %s: %d secrets%s", target, len(secrets), self._dry_suffix)
        return len(secrets)

    def sync_target(self, target: str) -> TargetReport:
        """Diff one destination against ``desired(target)`` and apply unless dry run.

        Never raises for store or policy problems: they become a ``failed`` report.
        """
        attempted: dict[str, Change] = {}  # what attempts that lost a CAS race did write
        try:
            with self._scope(task_id("sync", target)):
                deadline = self._deadline()
                for attempt in self._conflict_retries():
                    with attempt:
                        report = self._sync_once(target, attempted, deadline)
        except Exception as exc:  # reported, never raised: siblings go on
            log.debug("sync of %s failed", target, exc_info=not isinstance(exc, SecretSyncError))
            report = TargetReport(target=target, status="failed", error=error_text(exc))
        log.info("synced %s: %s%s", target, report.status, self._dry_suffix)
        return report

    def _conflict_retries(self) -> Retrying:
        """Re-read and retry after a write conflict (a concurrent writer), a few times."""
        return Retrying(
            retry=retry_if_exception_type(ConflictError),
            stop=stop_after_attempt(CAS_ATTEMPTS),
            wait=wait_exponential(multiplier=0.2, max=2),
            reraise=True,
        )

    def _deadline(self) -> Deadline:
        return Deadline(self.config.pipeline.sync.timeout_seconds)

    def diff_target(self, target: str) -> tuple[DestinationStore, TargetDiff]:
        """Read ``desired(target)`` and the destination and diff them; nothing is written."""

        def read_destination() -> tuple[DestinationStore, dict[str, StoredSecret]]:
            store = self.stores.destination(target)
            if store is None:
                raise SecretSyncError(f"target '{target}' has no destination")
            return store, store.list_secrets()

        # The destination is opened and listed while desired() reads the sources (or the
        # merge store): client set-up and round trips of both sides overlap.
        with ThreadPoolExecutor(1) as pool:
            current = pool.submit(read_destination)
            desired = self.desired(target)
            destination, listed = current.result()
            diff = diff_secrets(
                desired,
                listed,
                owner=self.owner(target),
                to_stored=destination.to_stored,
                delete_orphans=self.config.pipeline.sync.delete_orphans,
                name_of=destination.secret_name,
                same=destination.same_value,
            )
        return destination, diff

    def apply_diff(
        self,
        target: str,
        destination: DestinationStore,
        diff: TargetDiff,
        deadline: Deadline,
        done: set[str],
    ) -> list[VersionRecord]:
        """Write ``diff`` with the stores' check-and-set; ``done`` receives what succeeded.
        Returns the version records of what was applied (also when an error is raised, in
        ``done``)."""
        deadline.check(destination.description)
        written: dict[str, str | None] = {}
        destination.apply(
            diff.writes,
            diff.deletes,
            owner=self.owner(target),
            parallel=self.config.pipeline.sync.parallel,
            done=done,
            deadline=deadline,
            versions=written,
        )
        return version_records(destination, diff, done, written)

    def _sync_once(
        self, target: str, attempted: dict[str, Change], deadline: Deadline
    ) -> TargetReport:
        destination, diff = self.diff_target(target)
        refusal = self.refusal(target, diff, earlier_writes=bool(attempted))
        if (
            refusal is None
            and not self.options.dry_run
            and self.config.needs_approval(target)
            and any(c.change_type != "unchanged" for c in diff.changes)
        ):
            refusal = NEEDS_APPROVAL
        records: list[VersionRecord] = []
        if refusal is None and not self.options.dry_run:
            done: set[str] = set()
            try:
                records = self.apply_diff(target, destination, diff, deadline, done)
            except ConflictError:
                attempted.update((c.path, c) for c in diff.changes if c.path in done)
                raise
        changes = with_earlier_attempts(diff.changes, attempted)
        return TargetReport.from_changes(
            target, changes, error=refusal, retryable=False, versions=records
        )

    def refusal(self, target: str, diff: TargetDiff, *, earlier_writes: bool = False) -> str | None:
        """Why this target must not write anything, decided before the first write."""
        problems = diff.problems(
            adopt=self.config.targets[target].adopt,
            max_deletions=self.config.pipeline.sync.max_deletions,
        )
        if not problems:
            return None
        if earlier_writes:
            return "; ".join(problems) + (
                "; stopped, but an earlier attempt that lost a write conflict may have written"
            )
        return "; ".join(problems) + "; nothing was written"

    def _scope(self, task_id: str) -> AbstractContextManager[object]:
        return self.task_scope(task_id) if self.task_scope else nullcontext()

    def _workers(self, parallel: int) -> int:
        """A task scope may change process-wide state (environment): one task at a time."""
        return 1 if self.task_scope else parallel

    @property
    def _dry_suffix(self) -> str:
        return " (dry run)" if self.options.dry_run else ""

    # -- whole pipeline ------------------------------------------------------------------------

    def run(self) -> Report:
        """Merge the selected targets level by level, then sync them; never raises for a
        failing target."""
        plan = self._plan
        failed_merges: dict[str, tuple[str, str]] = {}
        if self.merge_enabled:
            for level in plan.merge_levels:
                self._merge_level([name for name in level if self.merges(name)], failed_merges)
        reports = self._merge_failures(failed_merges)
        runnable = [
            name for name in self.config.targets if self.syncs(name) and name not in failed_merges
        ]
        with ThreadPoolExecutor(self._workers(self.config.pipeline.sync.parallel)) as pool:
            reports.update(zip(runnable, pool.map(self.sync_target, runnable), strict=True))
        for name, spec in self.config.targets.items():
            if spec.destination is not None and name not in reports:
                reports[name] = TargetReport(target=name, status="skipped")
        order = [name for level in plan.merge_levels for name in level]
        order += [name for name in self.config.targets if name not in order]
        return Report(
            dry_run=self.options.dry_run,
            targets=tuple(reports[name] for name in order if name in reports),
        )

    def _merge_failures(self, failed: dict[str, tuple[str, str]]) -> dict[str, TargetReport]:
        """A failed report per target whose merge failed, naming the merge that failed first.

        A target without a destination is left out when a reported target already names its
        failure, so a run counts the same targets whether it fails or not.
        """
        targets = self.config.targets
        named = {root for name, (root, _) in failed.items() if targets[name].destination}
        return {
            name: TargetReport(
                target=name,
                status="failed",
                error=f"merge failed: {reason}"
                if root == name
                else f"merge of '{root}' failed: {reason}",
            )
            for name, (root, reason) in failed.items()
            if targets[name].destination is not None or root not in named
        }

    def _merge_level(self, level: Sequence[str], failed: dict[str, tuple[str, str]]) -> None:
        """Merge ``level``; ``failed`` maps each failed target to (first failed merge, why)."""

        def merge(name: str) -> None:
            blocked = self._failed_ancestor(name, failed)
            if blocked:
                failed[name] = failed[blocked]
                return
            try:
                self.merge_target(name)
            except Exception as exc:
                log.debug("merge of %s failed", name, exc_info=True)
                failed[name] = (name, error_text(exc))

        with ThreadPoolExecutor(self._workers(self.config.pipeline.merge.parallel)) as pool:
            list(pool.map(merge, level))

    def _failed_ancestor(self, name: str, failed: dict[str, tuple[str, str]]) -> str | None:
        return next((dep for dep in self.graph.dependencies(name) if dep in failed), None)
