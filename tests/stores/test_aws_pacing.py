"""Write pacing below Secrets Manager's quotas: token buckets on a fake clock, the groups, the
``write_rates`` setting, and the pacer on a real client (moto)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from pydantic import ValidationError

from airflow_secretsync.stores.aws import pacing
from airflow_secretsync.stores.aws.pacing import QuotaPacer, TokenBucket
from tests.stores.conftest import pipeline, unique


class FakeClock:
    """A clock that moves only when someone sleeps (or the test advances it)."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_bucket_lets_its_burst_through_then_paces_at_its_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(50, burst_seconds=0.2, clock=clock, sleep=clock.sleep)

    waits = [bucket.acquire() for _ in range(10 + 50)]

    assert waits[:10] == [0.0] * 10  # a fifth of a second's worth at once
    assert clock.slept == pytest.approx([0.02] * 50)  # then one per 1/50 s
    assert clock.now == pytest.approx(101.0)


def test_a_bucket_refills_while_idle_but_never_beyond_its_burst() -> None:
    clock = FakeClock()
    bucket = TokenBucket(10, burst_seconds=0.5, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        bucket.acquire()
    clock.now += 60  # a minute idle: 5 tokens again, not 600

    assert [bucket.acquire() for _ in range(5)] == [0.0] * 5
    assert bucket.acquire() == pytest.approx(0.1)


def test_waiting_callers_queue_behind_each_other() -> None:
    clock = FakeClock()
    bucket = TokenBucket(4, burst_seconds=0.25, clock=clock, sleep=lambda s: None)  # 1 token
    # Nobody's sleep moves the clock: each caller reserves the next slot.
    assert [bucket.acquire() for _ in range(4)] == pytest.approx([0.0, 0.25, 0.5, 0.75])


def test_a_slow_rate_still_lets_one_call_through_at_once() -> None:
    clock = FakeClock()
    bucket = TokenBucket(0.5, clock=clock, sleep=clock.sleep)
    assert bucket.acquire() == 0.0
    assert bucket.acquire() == pytest.approx(2.0)


def test_the_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(0)


def test_operations_of_one_quota_group_share_its_bucket_and_single_reads_pass() -> None:
    clock = FakeClock()
    pacer = QuotaPacer({"PutSecretValue": 5, "CreateSecret": 5}, clock, clock.sleep)
    for operation in ("PutSecretValue", "UpdateSecret", "UpdateSecretVersionStage"):
        pacer.before_call(operation)  # the group's one token, then 1/5 s each
    pacer.before_call("CreateSecret")  # its own bucket: no wait
    for operation in ("GetSecretValue", "DescribeSecret"):
        pacer.before_call(operation)

    assert clock.slept == pytest.approx([0.2, 0.2])


def test_batch_reads_are_paced_too() -> None:
    clock = FakeClock()
    pacer = QuotaPacer(clock=clock, sleep=clock.sleep)
    for _ in range(21):  # a fifth of a second's burst (20), then 1/100 s each
        pacer.before_call("BatchGetSecretValue")
    for _ in range(20):
        pacer.before_call("ListSecrets")  # its own bucket

    assert clock.slept == pytest.approx([0.01])


def test_the_defaults_are_the_published_quotas() -> None:
    rates = {group: bucket.rate for group, bucket in QuotaPacer().buckets.items()}
    assert rates == {
        "PutSecretValue": 50, "CreateSecret": 50, "DeleteSecret": 50, "RestoreSecret": 50,
        "TagResource": 50, "UntagResource": 50, "BatchGetSecretValue": 100, "ListSecrets": 100,
    }  # fmt: skip


def _target(region: str, **aws: object) -> dict:
    return {"imports": [], "aws": {"region": region, "prefix": "p/", **aws}}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """The pacers' clock and sleep, faked."""
    fake = FakeClock()
    monkeypatch.setattr(pacing, "time", SimpleNamespace(monotonic=fake, sleep=fake.sleep))
    return fake


def test_a_paced_client_waits_for_its_write_calls_only(factory, clock: FakeClock) -> None:
    prefix = unique("pace") + "/"
    made = factory(targets={"A": _target("eu-west-1", write_rates={"CreateSecret": 1})})
    client = made.destination("A").client
    for n in range(3):
        client.create_secret(Name=f"{prefix}s{n}", SecretString="x")
    client.batch_get_secret_value(SecretIdList=[f"{prefix}s0"])
    listed = client.list_secrets(Filters=[{"Key": "name", "Values": [prefix]}])["SecretList"]

    assert clock.slept == pytest.approx([1.0, 1.0])  # the 2nd and 3rd CreateSecret only
    assert {s["Name"] for s in listed} == {f"{prefix}s{n}" for n in range(3)}


def test_destinations_sharing_a_client_share_the_lowest_write_rate(factory, clock) -> None:
    made = factory(
        targets={
            "A": _target("eu-west-1", write_rates={"CreateSecret": 20}),
            "B": _target("eu-west-1", write_rates={"CreateSecret": 30}),
            "C": _target("us-east-1"),  # another client: AWS's 50 per second
        }
    )
    a, b, c = (made.destination(name) for name in "ABC")
    assert a.client is b.client
    assert a.client is not c.client
    prefix = unique("share") + "/"
    for n in range(10):
        c.client.create_secret(Name=f"{prefix}c{n}", SecretString="x")
    assert clock.slept == []  # a burst of 50 x 0.2 s
    for n in range(5):
        (a, b)[n % 2].client.create_secret(Name=f"{prefix}ab{n}", SecretString="x")
    assert clock.slept == pytest.approx([1 / 20])  # a burst of 20 x 0.2 s, then 1/20 s


def test_unknown_quota_groups_and_non_positive_rates_are_rejected() -> None:
    with pytest.raises(ValidationError, match="unknown quota group GetSecretValue"):
        pipeline(targets={"A": _target("eu-west-1", write_rates={"GetSecretValue": 5})})
    with pytest.raises(ValidationError, match="greater than 0"):
        pipeline(targets={"A": _target("eu-west-1", write_rates={"CreateSecret": 0})})
