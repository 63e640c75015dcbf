"""Install a tiny third-party distribution declaring secret providers, for entry-point tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_secretsync.refs import ENTRY_POINT_GROUP


def install_providers(
    site: Path,
    monkeypatch: pytest.MonkeyPatch,
    entry_points: dict[str, str],
    modules: dict[str, str],
) -> None:
    """Write ``modules`` (name -> source) and a ``.dist-info`` declaring ``entry_points`` (name
    -> ``module:Class``) into ``site``, then put ``site`` on ``sys.path`` for this test."""
    dist_info = site / "secretsync_test_providers-1.0.dist-info"
    dist_info.mkdir(parents=True)
    (dist_info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: secretsync-test-providers\nVersion: 1.0\n"
    )
    lines = [f"[{ENTRY_POINT_GROUP}]", *(f"{k} = {v}" for k, v in entry_points.items())]
    (dist_info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for name, source in modules.items():
        (site / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(site))
