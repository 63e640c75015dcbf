"""`make servers` (devtools/serve.py): seeded servers, working exports, a clean stop."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_exports_point_the_cli_at_the_servers_and_sigterm_stops_them(tmp_path) -> None:
    serve = subprocess.Popen(
        [sys.executable, "-m", "devtools.serve"],
        cwd=REPO, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )  # fmt: skip
    try:
        lines = []
        for line in serve.stdout:
            lines.append(line)
            if line.startswith("Seeded the example"):
                break
        exports = dict(
            line.removeprefix("export ").split("=", 1)
            for line in lines
            if line.startswith("export ")
        )
        env = {**os.environ, **{k: shlex.split(v)[0] for k, v in exports.items()}}
        script = Path(sys.executable).with_name("secretsync")
        config = REPO / "dags" / "configs" / "example.yaml"
        result = subprocess.run(
            [str(script), "pipeline", str(config), "--dry-run", "--output", "compact"],
            capture_output=True, text=True, env=env, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert result.stdout == (
            "secretsync (dry run): 4 targets, +12 ~0 -0 =0 (12 total), 0 failed\n"
        )
        assert any(line.startswith("GitHub API:") for line in lines)
        assert any(line.startswith("Kubernetes API:") for line in lines)
        assert any("source .venv/bin/activate" in line for line in lines)
    finally:
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=60) == 0
    assert "Stopped the local servers." in serve.stdout.read()
