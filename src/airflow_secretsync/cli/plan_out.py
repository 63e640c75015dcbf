"""``secretsync plan CONFIG --out PLAN.json``: read the stores and write a reviewed plan."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from airflow_secretsync.cli import EXIT_ERROR, EXIT_OK
from airflow_secretsync.cli.change_control import with_stores
from airflow_secretsync.cli.console import config_file
from airflow_secretsync.config.loader import load_config_and_bytes
from airflow_secretsync.core.plans import make_plan, plan_report
from airflow_secretsync.core.render import plain_text, render
from airflow_secretsync.errors import SecretSyncError


def write_plan(args: argparse.Namespace) -> int:
    config, raw = load_config_and_bytes(config_file(args))
    plan = with_stores(
        config,
        lambda stores: make_plan(
            config,
            raw,
            stores,
            mode="sync-only" if args.sync_only else "full",
            targets=tuple(args.targets or ()),
            expires_in=args.expires_in,
        ),
    )
    try:
        Path(args.out).write_text(json.dumps(plan, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise SecretSyncError(f"{args.out}: cannot write the plan ({exc.strerror})") from None
    report = plan_report(plan)
    if args.output == "json":
        sys.stdout.write(json.dumps(plan, indent=2) + "\n")
    else:
        if args.output == "human":
            print(
                f"Plan written to {plain_text(args.out)} for {plain_text(plan['config'])} "
                f"(DAG {plain_text(plan['dag_id'])}), expires {plan['expires_at']}"
            )
        sys.stdout.write(render(report, args.output) + "\n")
    return EXIT_ERROR if report.failed else EXIT_OK
