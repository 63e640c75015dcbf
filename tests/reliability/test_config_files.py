"""Config files a user can point at: scalars PyYAML cannot convert, FIFOs, devices and huge
files. Each ends in one ``error:`` naming the file (and the line), exit 2, without echoing the
scalar and without hanging or exhausting memory (the CLI runs as a subprocess, under a timeout)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from airflow_secretsync.config.loader import MAX_CONFIG_BYTES

SECRETSYNC = Path(sys.executable).with_name("secretsync")
CANARY = "canary-scalar-4f1d9b"


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SECRETSYNC), *map(str, args)], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("schedule: 2001-13-01", "timestamp"),
        (f"schedule: {'7' * 5000}", "int"),
        (f"schedule: !!int {CANARY}", "int"),
        (f"schedule: !!float {CANARY}", "float"),
        (f"schedule: !!binary '%%{CANARY}'", "binary"),
        (f"schedule: !!timestamp {CANARY}", "timestamp"),
        (f"schedule: !!bool {CANARY}", "bool"),
    ],
)
def test_unconvertible_scalars_are_one_clear_error(tmp_path: Path, line: str, kind: str) -> None:
    config = tmp_path / "pipeline.yaml"
    config.write_text(f"stores: {{}}\ntargets: {{}}\n{line}\n")
    for command in ("validate", "plan"):
        result = run_cli(command, config)
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        assert f"{config}:3:11: schedule: this value cannot be read as a YAML {kind}" in (
            result.stderr
        )
        scalar = line.partition(" ")[2].rpartition(" ")[2].strip("'%")
        assert scalar not in result.stdout + result.stderr


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    fifo = tmp_path / "pipeline.yaml"
    os.mkfifo(fifo)
    result = run_cli("validate", fifo)
    assert result.returncode == 2
    assert f"{fifo}: cannot read the config file: not a regular file" in result.stderr


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_device_is_refused_without_reading_it(device: str) -> None:
    result = run_cli("plan", device)
    assert result.returncode == 2
    assert f"{device}: cannot read the config file: not a regular file" in result.stderr


def test_file_above_the_size_cap_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "huge.yaml"
    config.write_text("# padding\n" * (MAX_CONFIG_BYTES // 10 + 1))
    result = run_cli("validate", config)
    assert result.returncode == 2
    assert f"{config}: cannot read the config file: larger than 1024 KiB" in result.stderr
