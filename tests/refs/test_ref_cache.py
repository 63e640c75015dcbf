"""SecretsCache: real AWS calls counted, TTL expiry, negative caching, clear, thread safety."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from airflow_secretsync.errors import SecretReferenceError
from airflow_secretsync.refs import (
    AwsSecretsProvider,
    SecretsCache,
    SecretsProvider,
    SecretsResolver,
)
from tests.helpers import seed_aws, unique


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountedAws:
    """A real AwsSecretsProvider whose GetSecretValue API calls are counted (boto3 events)."""

    def __init__(self) -> None:
        self.provider = AwsSecretsProvider()
        self.calls: list[str] = []
        self.provider.client().meta.events.register(
            "before-parameter-build.secrets-manager.GetSecretValue",
            lambda params, **_: self.calls.append(params["SecretId"]),
        )
        self.resolver = SecretsResolver()
        self.resolver.register(self.provider)


@pytest.fixture
def aws(servers) -> CountedAws:
    return CountedAws()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_hits_cost_no_calls_until_the_ttl_expires(aws, aws_client, clock) -> None:
    name = unique("cache/")
    seed_aws(aws_client("secretsmanager"), {name: {"user": "svc", "password": "pw-canary-1"}})
    cache = SecretsCache(aws.resolver, ttl_seconds=300, miss_ttl_seconds=30, clock=clock)
    for _ in range(3):
        assert cache.resolve(f"ref+awssecrets://{name}#/password").value == "pw-canary-1"
    assert cache.resolve(f"ref+awssecrets://{name}#/user").value == "svc"  # same secret
    assert aws.calls == [name]
    clock.now += 299
    assert cache.resolve(f"ref+awssecrets://{name}#/user").value == "svc"
    assert aws.calls == [name]
    clock.now += 1
    for _ in range(3):
        assert cache.resolve(f"ref+awssecrets://{name}#/user").value == "svc"
    assert aws.calls == [name, name]


def test_misses_are_cached_for_the_shorter_ttl(aws, aws_client, clock) -> None:
    name = unique("cache/missing-")
    cache = SecretsCache(aws.resolver, ttl_seconds=300, miss_ttl_seconds=30, clock=clock)
    for _ in range(3):
        assert cache.resolve(f"ref+awssecrets://{name}").found is False
    assert aws.calls == [name]
    seed_aws(aws_client("secretsmanager"), {name: "now-there"})
    clock.now += 29
    assert cache.resolve(f"ref+awssecrets://{name}").found is False  # still the cached miss
    clock.now += 1
    assert cache.resolve(f"ref+awssecrets://{name}").value == "now-there"
    clock.now += 100  # a hit lives longer than a miss
    assert cache.resolve(f"ref+awssecrets://{name}").value == "now-there"
    assert aws.calls == [name, name]


def test_clear_forgets_everything(aws, aws_client, clock) -> None:
    name = unique("cache/")
    seed_aws(aws_client("secretsmanager"), {name: "v1"})
    cache = SecretsCache(aws.resolver, clock=clock)
    assert cache.resolve(f"ref+awssecrets://{name}").value == "v1"
    aws_client("secretsmanager").put_secret_value(SecretId=name, SecretString="v2")
    assert cache.resolve(f"ref+awssecrets://{name}").value == "v1"
    cache.clear()
    assert cache.resolve(f"ref+awssecrets://{name}").value == "v2"
    assert aws.calls == [name, name]


def test_zero_ttls_disable_caching(aws, aws_client) -> None:
    name = unique("cache/")
    seed_aws(aws_client("secretsmanager"), {name: "v"})
    cache = SecretsCache(aws.resolver, ttl_seconds=0, miss_ttl_seconds=0)
    for ref in [name, name, f"{name}-missing", f"{name}-missing"]:
        cache.resolve(f"ref+awssecrets://{ref}")
    assert aws.calls == [name, name, f"{name}-missing", f"{name}-missing"]


def test_negative_ttls_are_refused(aws) -> None:
    with pytest.raises(ValueError, match="cache TTLs must be >= 0 seconds"):
        SecretsCache(aws.resolver, miss_ttl_seconds=-1)


def test_concurrent_lookups_of_one_secret_cost_one_call(aws, aws_client) -> None:
    name = unique("cache/concurrent-")
    seed_aws(aws_client("secretsmanager"), {name: {"k": "shared-canary"}})
    cache = SecretsCache(aws.resolver)
    start = threading.Barrier(16)

    def look_up(_: int) -> str | None:
        start.wait()
        return cache.resolve(f"ref+awssecrets://{name}#/k").value

    with ThreadPoolExecutor(16) as pool:
        values = list(pool.map(look_up, range(16)))
    assert values == ["shared-canary"] * 16
    assert aws.calls == [name]


def test_concurrent_lookups_of_many_secrets_cost_one_call_each(aws, aws_client) -> None:
    names = [unique("cache/many-") for _ in range(6)]
    seed_aws(aws_client("secretsmanager"), {n: f"value-of-{n}" for n in names})
    cache = SecretsCache(aws.resolver)
    jobs = names * 5
    start = threading.Barrier(len(jobs))

    def look_up(name: str) -> tuple[str, str | None]:
        start.wait()
        return name, cache.resolve(f"ref+awssecrets://{name}").value

    with ThreadPoolExecutor(len(jobs)) as pool:
        results = list(pool.map(look_up, jobs))
    assert all(value == f"value-of-{name}" for name, value in results)
    assert sorted(aws.calls) == sorted(names)


class GatedProvider(SecretsProvider):
    """A provider whose answers the test releases one by one; it can also fail once."""

    provider_name = "gated"

    def __init__(self) -> None:
        self.calls = 0
        self.fail_next = False
        self.started = threading.Event()
        self.release = threading.Event()

    def get_secret(self, key: str, **params: str) -> str | None:
        self.calls += 1
        self.started.set()
        self.release.wait(timeout=30)
        if self.fail_next:
            self.fail_next = False
            raise ConnectionError("store down")
        return f"value-{self.calls}"


@pytest.fixture
def gated() -> tuple[GatedProvider, SecretsCache]:
    provider = GatedProvider()
    resolver = SecretsResolver()
    resolver.register(provider)
    return provider, SecretsCache(resolver)


def test_errors_are_not_cached(gated) -> None:
    provider, cache = gated
    provider.release.set()
    provider.fail_next = True
    with pytest.raises(
        SecretReferenceError, match="cannot resolve 'ref\\+gated://x': ConnectionError"
    ):
        cache.resolve("ref+gated://x")
    assert cache.resolve("ref+gated://x").value == "value-2"
    assert cache.resolve("ref+gated://x").value == "value-2"
    assert provider.calls == 2


def test_clear_during_a_lookup_does_not_store_its_stale_answer(gated) -> None:
    provider, cache = gated
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(cache.resolve, "ref+gated://x")
        assert provider.started.wait(timeout=30)
        cache.clear()
        provider.release.set()
        assert in_flight.result().value == "value-1"
    assert cache.resolve("ref+gated://x").value == "value-2"
    assert provider.calls == 2


def test_the_cache_is_bounded_and_drops_the_least_recently_used(aws, aws_client, clock) -> None:
    names = [unique("cache/bounded-") for _ in range(4)]
    seed_aws(aws_client("secretsmanager"), {name: f"v-{name}" for name in names})
    cache = SecretsCache(aws.resolver, ttl_seconds=300, max_entries=3, clock=clock)
    for name in names[:3]:
        cache.resolve(f"ref+awssecrets://{name}")
    cache.resolve(f"ref+awssecrets://{names[0]}")  # names[1] is now the least recently used
    cache.resolve(f"ref+awssecrets://{names[3]}")
    assert cache.size() == 3
    aws.calls.clear()
    for name in (names[0], names[2], names[3]):
        assert cache.resolve(f"ref+awssecrets://{name}").value == f"v-{name}"
    assert aws.calls == []
    assert cache.resolve(f"ref+awssecrets://{names[1]}").value == f"v-{names[1]}"
    assert aws.calls == [names[1]]


def test_expired_entries_are_evicted_before_fresh_ones(aws, aws_client, clock) -> None:
    old, missing, new = unique("cache/old-"), unique("cache/missing-"), unique("cache/new-")
    seed_aws(aws_client("secretsmanager"), {old: "old", new: "new"})
    cache = SecretsCache(
        aws.resolver, ttl_seconds=300, miss_ttl_seconds=30, max_entries=2, clock=clock
    )
    cache.resolve(f"ref+awssecrets://{old}")
    cache.resolve(f"ref+awssecrets://{missing}")
    clock.now += 31  # the miss expired, the hit is fresh
    assert cache.size() == 1
    cache.resolve(f"ref+awssecrets://{new}")
    aws.calls.clear()
    assert cache.resolve(f"ref+awssecrets://{old}").value == "old"  # not evicted
    assert cache.resolve(f"ref+awssecrets://{new}").value == "new"
    assert aws.calls == []
    clock.now += 300
    assert cache.size() == 0


def test_per_secret_locks_do_not_outlive_their_lookups(aws, aws_client) -> None:
    names = [unique("cache/locks-") for _ in range(20)]
    seed_aws(aws_client("secretsmanager"), {name: "v" for name in names})
    cache = SecretsCache(aws.resolver, ttl_seconds=300, max_entries=5)
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda name: cache.resolve(f"ref+awssecrets://{name}"), names))
    assert cache.size() == 5
    assert len(cache._key_locks) == 0


def test_max_entries_must_leave_room(aws) -> None:
    with pytest.raises(ValueError, match="at least 1 entry"):
        SecretsCache(aws.resolver, max_entries=0)
