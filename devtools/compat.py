"""`make compat`'s install check, run with the compat venv's Python: Airflow is the version asked
for, and installing the package (``pip install --dry-run``, no constraints, as a user would)
would install, upgrade or downgrade no ``apache-airflow*`` package. ``--lowest-providers``
prints the providers at the lower bounds pyproject.toml declares, for `make compat` to install
and test them too."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import version

from packaging.requirements import Requirement

from devtools.paths import REPO

AIRFLOW_PREFIX = "apache-airflow"
PROVIDER_PREFIX = "apache-airflow-providers-"


def airflow_changes(report: dict) -> list[str]:
    """``name==version`` of each Airflow package a ``pip install --report`` would install."""
    changes = []
    for item in report["install"]:
        name = item["metadata"]["name"].lower().replace("_", "-")
        if name.startswith(AIRFLOW_PREFIX):
            changes.append(f"{name}=={item['metadata']['version']}")
    return sorted(changes)


def dry_run_report(requirement: str) -> dict:
    """What ``pip install`` of ``requirement`` would do in this environment."""
    command = [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", "--report", "-"]
    result = subprocess.run(
        [*command, requirement], capture_output=True, text=True, check=False, cwd=REPO
    )
    if result.returncode != 0:
        sys.exit(f"pip install --dry-run {requirement} failed:\n{result.stderr}")
    return json.loads(result.stdout)


def extra_requirements(project: dict, extra: str) -> Iterator[Requirement]:
    """The requirements an extra of this package brings, its own extras' included."""
    for text in project["optional-dependencies"][extra]:
        requirement = Requirement(text)
        if requirement.name == project["name"]:
            for inner in sorted(requirement.extras):
                yield from extra_requirements(project, inner)
        else:
            yield requirement


def lowest_providers(extra: str = "all") -> list[str]:
    """``name==version`` of each provider the package and ``extra`` need, at its ``>=`` bound."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = [*map(Requirement, project["dependencies"]), *extra_requirements(project, extra)]
    return sorted(
        f"{requirement.name}=={spec.version}"
        for requirement in requirements
        if requirement.name.startswith(PROVIDER_PREFIX)
        for spec in requirement.specifier
        if spec.operator == ">="
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("airflow", nargs="?", help="the Airflow version the venv must hold")
    parser.add_argument("--requirement", default=f"{REPO}[all]")
    parser.add_argument("--lowest-providers", action="store_true")
    args = parser.parse_args(argv)
    if args.lowest_providers:
        print(" ".join(lowest_providers()))
        return
    installed = version("apache-airflow")
    if installed != args.airflow:
        sys.exit(f"apache-airflow {installed} is installed, not {args.airflow}")
    changes = airflow_changes(dry_run_report(args.requirement))
    if changes:
        sys.exit(f"installing {args.requirement} would change Airflow: {', '.join(changes)}")
    print(f"installing {args.requirement} changes no Airflow package (apache-airflow {installed})")


if __name__ == "__main__":
    main()
