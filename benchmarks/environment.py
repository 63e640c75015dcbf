"""What the figures were measured on: the machine and the versions of everything involved."""

from __future__ import annotations

import os
import platform
import subprocess
from dataclasses import dataclass
from importlib.metadata import version

from devtools.servers import bao_binary

PACKAGES = (
    "apache-airflow",
    "apache-airflow-providers-amazon",
    "apache-airflow-providers-hashicorp",
    "moto",
    "boto3",
    "hvac",
)


def cpu_model() -> str:
    """The CPU model name from ``/proc/cpuinfo`` (the platform's processor string elsewhere)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ram_gib() -> float:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30


def load_average() -> float:
    """The 1-minute load average (other work on the machine shows up here)."""
    return os.getloadavg()[0]


def openbao_version() -> str:
    """``v2.x.y`` from ``bao version``."""
    out = subprocess.run([bao_binary(), "version"], capture_output=True, text=True, check=True)
    words = out.stdout.split()
    return words[1] if len(words) > 1 else out.stdout.strip()


@dataclass(frozen=True)
class Environment:
    cpu: str
    cores: int
    ram_gib: float
    system: str
    python: str
    versions: dict[str, str]
    load_before: float
    load_after: float | None = None

    @classmethod
    def capture(cls) -> Environment:
        versions = {name: version(name) for name in PACKAGES}
        versions["OpenBao"] = openbao_version()
        return cls(
            cpu=cpu_model(),
            cores=os.cpu_count() or 1,
            ram_gib=ram_gib(),
            system=platform.platform(terse=True),
            python=platform.python_version(),
            versions=versions,
            load_before=load_average(),
        )
