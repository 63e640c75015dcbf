"""``secretsync apply PLAN.json``: apply exactly a plan made by ``plan --out`` (SPEC §10)."""

from __future__ import annotations

import argparse

from airflow_secretsync.cli import COMMANDS
from airflow_secretsync.cli.change_control import (
    print_report,
    read_document,
    with_stores,
)
from airflow_secretsync.cli.console import command_parser, output_help
from airflow_secretsync.config.loader import load_config_and_bytes
from airflow_secretsync.core.plans import apply_plan, check_plan
from airflow_secretsync.core.render import OUTPUT_FORMATS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = command_parser(
        subparsers,
        "apply",
        COMMANDS["apply"],
        "Apply a plan written by 'secretsync plan CONFIG --out PLAN.json': per "
        "target, secrets whose destination or desired value changed since the plan are refused "
        "before any write, the others are applied.\nExit code: 0 applied, 2 an error, a "
        "refused secret or a failed target.",
    )
    parser.add_argument("plan", metavar="PLAN", help="the plan file (JSON)")
    parser.add_argument(
        "--config", help="the pipeline config (default: the file the plan was made from)"
    )
    parser.add_argument(
        "--output", choices=OUTPUT_FORMATS, default="human", help=output_help(OUTPUT_FORMATS)
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    plan = read_document(args.plan, "plan")
    config, raw = load_config_and_bytes(args.config or str(plan.get("config", "")))
    check_plan(plan, raw)  # before opening any store
    report = with_stores(config, lambda stores: apply_plan(config, raw, plan, stores))
    return print_report(report, args.output)
