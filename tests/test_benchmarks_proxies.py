"""The benchmark's proxies in front of the session's moto: AWS quotas (token buckets answering
``ThrottlingException``) and injected latency. Exact call counts; no timing is asserted."""

from __future__ import annotations

from contextlib import nullcontext

import boto3
import pytest
from botocore.config import Config

from benchmarks.quota import QuotaEnforcer
from devtools.proxy import FaultProxy
from tests.helpers import unique


class FrozenClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def client(url: str):
    return boto3.client(
        "secretsmanager",
        endpoint_url=url,
        region_name="us-east-1",
        config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
    )


def test_quotas_throttle_each_group_like_aws(servers) -> None:
    clock = FrozenClock()
    quotas = QuotaEnforcer(clock=clock)
    prefix = unique("quota")
    with FaultProxy(servers.aws.url, intercept=quotas) as proxy:
        sm = client(proxy.url)
        codes = []
        for i in range(60):
            try:
                sm.create_secret(Name=f"{prefix}/s{i}", SecretString="v")
                codes.append((200, "ok"))
            except sm.exceptions.ClientError as exc:
                error = exc.response
                codes.append((error["ResponseMetadata"]["HTTPStatusCode"], error["Error"]["Code"]))
        assert codes == [(200, "ok")] * 50 + [(400, "ThrottlingException")] * 10
        for i in range(3):  # another group's bucket is still full
            sm.put_secret_value(SecretId=f"{prefix}/s{i}", SecretString="w")
        clock.now += 0.1  # refills 5 creations
        for i in range(60, 66):
            with pytest.raises(sm.exceptions.ClientError) if i == 65 else nullcontext():
                sm.create_secret(Name=f"{prefix}/s{i}", SecretString="v")
    assert quotas.allowed == {"CreateSecret": 55, "PutSecretValue": 3}
    assert quotas.throttled == {"CreateSecret": 11}
    assert (proxy.forwarded, proxy.intercepted) == (58, 11)
    listed = client(servers.aws.url).list_secrets(
        Filters=[{"Key": "name", "Values": [f"{prefix}/"]}], MaxResults=100
    )
    assert len(listed["SecretList"]) == 55  # throttled requests never reached moto


def test_a_delayed_proxy_forwards_every_request(servers) -> None:
    prefix = unique("delay")
    with FaultProxy(servers.aws.url, delay_s=0.005) as proxy:
        sm = client(proxy.url)
        for i in range(3):
            sm.create_secret(Name=f"{prefix}/s{i}", SecretString=f"v{i}")
        assert sm.get_secret_value(SecretId=f"{prefix}/s2")["SecretString"] == "v2"
    assert (proxy.forwarded, proxy.intercepted, proxy.unreachable) == (4, 0, 0)
