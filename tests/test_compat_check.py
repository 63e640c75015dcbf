"""`make compat`'s install check (devtools/compat.py) fails on any Airflow package pip would
install, and passes when there is none."""

from __future__ import annotations

import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

from devtools.compat import airflow_changes, lowest_providers, main

AIRFLOW = version("apache-airflow")


def wheel(directory: Path, name: str, release: str) -> Path:
    """A minimal wheel of the distribution ``name`` (pip reads it without an index)."""
    stem = f"{name.replace('-', '_')}-{release}"
    path = directory / f"{stem}-py3-none-any.whl"
    files = {
        f"{stem}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {release}\n",
        f"{stem}.dist-info/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{file},,\n" for file in files) + f"{stem}.dist-info/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as archive:
        for file, text in {**files, f"{stem}.dist-info/RECORD": record}.items():
            archive.writestr(file, text)
    return path


def test_every_spelling_of_an_airflow_package_counts() -> None:
    report = {
        "install": [
            {"metadata": {"name": name, "version": "1.0"}}
            for name in ("Apache-Airflow", "apache_airflow_core", "pyyaml", "airflow-secretsync")
        ]
    }
    assert airflow_changes(report) == ["apache-airflow-core==1.0", "apache-airflow==1.0"]


def test_a_provider_pip_would_install_fails_the_check(tmp_path) -> None:
    provider = wheel(tmp_path, "apache-airflow-providers-canary", "1.0")
    with pytest.raises(SystemExit, match=r"would change Airflow: apache-airflow-providers-canary"):
        main([AIRFLOW, "--requirement", str(provider)])


def test_another_package_passes_the_check(tmp_path, capsys) -> None:
    other = wheel(tmp_path, "not-airflow-canary", "1.0")
    main([AIRFLOW, "--requirement", str(other)])
    assert "changes no Airflow package" in capsys.readouterr().out


def test_another_airflow_version_fails_the_check() -> None:
    with pytest.raises(SystemExit, match=f"apache-airflow {AIRFLOW} is installed, not 0.0.1"):
        main(["0.0.1"])


def test_lowest_providers_are_the_declared_bounds_of_the_imported_providers() -> None:
    names = {pin.split("==")[0] for pin in lowest_providers()}
    assert names == {
        "apache-airflow-providers-amazon",  # AWS and S3 stores
        "apache-airflow-providers-hashicorp",  # Vault stores
        "apache-airflow-providers-standard",  # approvals
    }
    assert all(pin.split("==")[1] for pin in lowest_providers())
