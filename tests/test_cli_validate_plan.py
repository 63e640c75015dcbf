"""`secretsync validate` and `secretsync plan`: exit codes, every error, no network."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_secretsync.cli import COMMANDS, main
from tests.helpers import write_config

CANARY = "CANARY-cli-7c1d"

VALID = """\
version: 1
merge_store: {vault: {path: merged}}
sources:
  team-a: {vault: {path: team-a}}
  legacy: {aws: {prefix: legacy/}}
targets:
  Base: [team-a]
  Staging:
    inherits: Base
    imports: [legacy]
    aws: {region: us-east-1, account_id: "123456789012", prefix: staging/}
  Production:
    inherits: Staging
    vault: {mount: secret, path: prod, connection_id: vault_prod}
"""

BROKEN = f"""\
version: 1
merge_store: {{vault: {{path: merged}}}}
sources:
  team-a: {{vault: {{path: team-a}}}}
targets:
  Staging: {{imports: [team-b], improts: []}}
  Production:
    inherits: Production
    step_secrets: {{TOKEN: {CANARY}}}
"""


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to resolve or connect fails loudly."""

    def refuse(*_args, **_kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_validate_valid_config_prints_one_line(tmp_path, capsys, no_network) -> None:
    path = write_config(tmp_path, VALID)
    code, out, err = run(capsys, "validate", str(path))
    assert code == 0
    assert out == (f"{path}: valid: 2 sources, 3 targets (2 with a destination), 3 merge levels\n")
    assert err == ""


def test_validate_reports_every_error_and_exits_2(tmp_path, capsys) -> None:
    path = write_config(tmp_path, BROKEN)
    code, out, err = run(capsys, "validate", str(path))
    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        f"error: {path}:6:23: targets.Staging.imports[0]: unknown source or target 'team-b' "
        "(did you mean 'team-a'?)",
        f"error: {path}:6:32: targets.Staging.improts: unknown key 'improts' "
        "(did you mean 'imports'?)",
        f"error: {path}:8:15: targets.Production.inherits[0]: inheritance cycle: "
        "Production -> Production (self-reference)",
        f"error: {path}:9:27: targets.Production.step_secrets.TOKEN: expected a secret "
        "reference ref+BACKEND://PATH[?PARAMS][#/KEY], got a value that is not one "
        "(not shown: it may be a secret)",
        "4 errors found",
    ]
    assert CANARY not in err


def test_validate_missing_file(tmp_path, capsys) -> None:
    code, _, err = run(capsys, "validate", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "nope.yaml: cannot read the config file: No such file or directory" in err
    assert "Traceback" not in err


def test_plan_human(tmp_path, capsys, no_network) -> None:
    path = write_config(tmp_path, VALID)
    code, out, err = run(capsys, "plan", str(path))
    assert code == 0, err
    assert out.splitlines() == [
        f"Plan for {path} (DAG secretsync_pipeline)",
        "Merge store: Vault secret/merged (connection vault_default)",
        "Sources (2):",
        "  team-a  Vault secret/team-a (connection vault_default)",
        "  legacy  AWS Secrets Manager legacy/* in the connection's region "
        "(connection aws_default)",
        "Merge levels (3):",
        "  1. Base",
        "  2. Staging",
        "  3. Production",
        "Sync targets (2):",
        "  Staging     -> AWS Secrets Manager staging/* in us-east-1, account 123456789012 "
        "(connection aws_default)",
        "  Production  -> Vault secret/prod (connection vault_prod)",
    ]


def test_plan_selected_targets_with_ancestors(tmp_path, capsys, no_network) -> None:
    path = write_config(tmp_path, VALID)
    code, out, _ = run(capsys, "plan", str(path), "--targets", "Staging")
    assert code == 0
    assert "Selected: Staging\nMerged as ancestors: Base\nMerge store:" in out
    assert "Merge levels (2):" in out
    assert "Production" not in out


def test_plan_json(tmp_path, capsys, no_network) -> None:
    path = write_config(tmp_path, VALID)
    code, out, _ = run(capsys, "plan", str(path), "--targets", "Production", "--output", "json")
    assert code == 0
    assert json.loads(out) == {
        "config": str(path),
        "dag_id": "secretsync_pipeline",
        "dry_run": False,
        "merge_enabled": True,
        "sync_enabled": True,
        "merge_store": {
            "type": "vault",
            "mount": "secret",
            "path": "merged",
            "connection_id": "vault_default",
        },
        "sources": {
            "team-a": {
                "type": "vault",
                "mount": "secret",
                "path": "team-a",
                "connection_id": "vault_default",
            },
            "legacy": {
                "type": "aws",
                "region": None,
                "prefix": "legacy/",
                "account_id": None,
                "role_arn": None,
                "connection_id": "aws_default",
            },
        },
        "requested": ["Production"],
        "selected": ["Base", "Staging", "Production"],
        "merge_levels": [["Base"], ["Staging"], ["Production"]],
        "sync_targets": [
            {
                "target": "Production",
                "destination": {
                    "type": "vault",
                    "mount": "secret",
                    "path": "prod",
                    "connection_id": "vault_prod",
                },
            }
        ],
    }


def test_plan_unknown_target_suggests(tmp_path, capsys) -> None:
    path = write_config(tmp_path, VALID)
    code, out, err = run(capsys, "plan", str(path), "--targets", "Stagin,Base")
    assert code == 2
    assert out == ""
    assert err.splitlines() == [
        "error: unknown target 'Stagin' (did you mean 'Staging'?)",
        "1 error found",
    ]


def test_unknown_target_without_a_close_match_lists_the_targets(tmp_path, capsys) -> None:
    path = write_config(tmp_path, VALID)
    for command in ("plan", "pipeline"):
        code, out, err = run(capsys, command, str(path), "--targets", "Nope")
        assert code == 2
        assert out == ""
        assert "error: unknown target 'Nope' (targets: Base, Staging, Production)" in err


def test_plan_of_a_broken_config_lists_its_errors(tmp_path, capsys) -> None:
    path = write_config(tmp_path, BROKEN)
    code, _, err = run(capsys, "plan", str(path))
    assert code == 2
    assert err.splitlines()[-1] == "4 errors found"


def test_plan_shows_disabled_phases(tmp_path, capsys) -> None:
    text = VALID.replace("version: 1\n", "version: 1\npipeline: {sync: {enabled: false}}\n")
    path = write_config(tmp_path, text)
    _, out, _ = run(capsys, "plan", str(path))
    assert "Sync targets (2) - disabled in config:" in out


def test_console_script(tmp_path) -> None:
    path = write_config(tmp_path, VALID)
    script = Path(sys.executable).with_name("secretsync")
    done = subprocess.run(
        [str(script), "validate", str(path)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "valid: 2 sources" in done.stdout


@pytest.mark.parametrize("command", ["validate", "plan", "pipeline"])
def test_config_positional_or_option(tmp_path, capsys, command) -> None:
    path = str(write_config(tmp_path, BROKEN))
    positional = run(capsys, command, path)
    option = run(capsys, command, "--config", path)
    assert positional[0] == option[0] == 2
    assert "4 errors found" in positional[2] or "pipeline.yaml" in positional[2]
    assert positional[2] == option[2]
    for argv in ([command], [command, path, "--config", path]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        assert "CONFIG or --config CONFIG" in capsys.readouterr().err


def test_help_is_plain_text_and_explains_output(capsys) -> None:
    for command in ("validate", "plan", "pipeline"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert "``" not in text
        assert "--config CONFIG" in text
    with pytest.raises(SystemExit):
        main(["pipeline", "--help"])
    assert "compact: one line" in " ".join(capsys.readouterr().out.split())


def test_validate_plurals(tmp_path, capsys) -> None:
    one = "version: 1\npipeline: {merge: {enabled: false}}\nsources: {a: {vault: {path: a}}}\n"
    one += "targets: {T: [a]}\n"
    path = write_config(tmp_path, one)
    code, out, err = run(capsys, "validate", str(path))
    assert code == 0, err
    assert out == f"{path}: valid: 1 source, 1 target (0 with a destination), 1 merge level\n"


@pytest.mark.parametrize("argv", [[], *([name] for name in COMMANDS)])
def test_every_help_has_the_same_look(capsys, argv) -> None:
    """The top level and every command use the Rich help (as Airflow's), not argparse's own."""
    with pytest.raises(SystemExit) as exc:
        main([*argv, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"Usage: {' '.join(['secretsync', *argv])} [-h]")
    assert "\nOptions:\n" in text
    assert "usage:" not in text
    assert "options:" not in text


def test_the_cli_page_synopsis_names_only_real_options(capsys) -> None:
    """Every command and option in docs/cli.md's synopsis is in that command's --help."""
    page = (Path(__file__).resolve().parents[1] / "docs" / "cli.md").read_text()
    synopsis = page.split("```text\n", 1)[1].split("```", 1)[0]
    usage: dict[str, str] = {}
    command = ""
    for line in synopsis.splitlines():
        if line.startswith("secretsync "):
            command = line.split()[1]
        usage[command] = usage.get(command, "") + line
    assert set(usage) == set(COMMANDS)
    for command, text in usage.items():
        with pytest.raises(SystemExit):
            main([command, "--help"])
        help_text = capsys.readouterr().out
        for option in re.findall(r"--[a-z-]+", text):
            assert option in help_text, (command, option)
