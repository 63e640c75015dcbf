"""``Variable.get``-style look-ups: ChainedSecretsBackend (TTL cache) against the amazon
provider's ``SecretsManagerBackend`` (no cache), both on the same moto server.

Warm: ``lookups`` calls of ``backend.get_variable(key)`` cycling over ``keys`` variables, after
each backend has looked every key up once. Cold: a new backend and its first look-up
(building the client included) in a process that has used both once (modules imported),
alternating which backend goes first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from benchmarks.api_calls import ApiCalls
from benchmarks.seeding import seed_aws_strings
from benchmarks.timing import Runs
from devtools.servers import LocalServers

VARIABLES_PREFIX = "airflow/variables"
GOAL_CACHED_RATIO = 100.0
GOAL_COLD_RATIO = 1.2


def variable_value(index: int) -> str:
    return f"value-{index:05d}-" + "v" * 88  # 100 characters


def chained_backend(region: str) -> Any:
    """Through the ``aws_default`` connection (moto's endpoint), in ``region``."""
    from airflow_secretsync.airflow.secrets_backend import ChainedSecretsBackend

    return ChainedSecretsBackend(
        providers=[{"provider": "awssecrets", "region": region}],
        variables_prefix=VARIABLES_PREFIX,
    )


def amazon_backend(servers: LocalServers, region: str) -> Any:
    """Configured the documented way (``backend_kwargs``: endpoint and region)."""
    from airflow.providers.amazon.aws.secrets.secrets_manager import SecretsManagerBackend

    return SecretsManagerBackend(
        variables_prefix=VARIABLES_PREFIX, endpoint_url=servers.aws.url, region_name=region
    )


def chained_client(backend: Any) -> Any:
    """The boto3 client the chained backend's ``awssecrets`` provider uses."""
    return backend.cache.resolver.provider("awssecrets").client()


@dataclass
class LookupResult:
    lookups: int
    keys: int
    chained: Runs
    amazon: Runs
    cold_chained: Runs
    cold_amazon: Runs

    @property
    def ratio(self) -> float:
        """How many times faster the cached look-ups are."""
        return self.amazon.wall / self.chained.wall

    @property
    def cold_ratio(self) -> float:
        """First look-up time of the chained backend relative to the amazon one."""
        return self.cold_chained.wall / self.cold_amazon.wall


def look_up_all(backend: Any, names: list[str], lookups: int) -> None:
    """``lookups`` look-ups cycling over ``names``; fails on a wrong or missing value."""
    for i in range(lookups):
        index = i % len(names)
        if backend.get_variable(names[index]) != variable_value(index):
            raise RuntimeError(f"wrong value for variable {names[index]}")


def measure(
    servers: LocalServers,
    region: str,
    lookups: int,
    keys: int,
    runs: int,
    amazon_runs: int,
    cold_runs: int,
) -> LookupResult:
    """Seed ``keys`` variables in ``region`` (unused so far) and time both backends: the
    cached one ``runs`` times, the uncached one ``amazon_runs`` times, alternately."""
    names = [f"bench-var-{i:05d}" for i in range(keys)]
    values = {f"{VARIABLES_PREFIX}/{name}": variable_value(i) for i, name in enumerate(names)}
    seed_aws_strings(servers, region, values)
    result = LookupResult(lookups, keys, Runs(), Runs(), Runs(), Runs())
    makers: list[tuple[Runs, Callable[[], Any]]] = [
        (result.cold_chained, lambda: chained_backend(region)),
        (result.cold_amazon, lambda: amazon_backend(servers, region)),
    ]
    for _, make in makers:  # untimed: imports and first-time set-up of the process
        look_up_all(make(), names[:1], 1)
    for run in range(cold_runs):
        for runs_of, make in makers[run % 2 :] + makers[: run % 2]:
            runs_of.time(lambda make=make: look_up_all(make(), names[:1], 1))
    calls = ApiCalls()
    chained, amazon = chained_backend(region), amazon_backend(servers, region)
    for backend in (chained, amazon):
        look_up_all(backend, names, keys)  # every key once: the cache is warm, clients built
    calls.watch_aws(chained_client(chained))
    calls.watch_aws(amazon.client)
    for run in range(runs):
        timed = [(result.chained, chained)] + [(result.amazon, amazon)] * (run < amazon_runs)
        for runs_of, backend in timed:
            runs_of.time(lambda backend=backend: look_up_all(backend, names, lookups))
            runs_of.calls = calls.take()
    return result
