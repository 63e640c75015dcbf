"""Seed what the example DAGs in ``dags/`` read, in local OpenBao and moto: the sources of
``dags/configs/example.yaml`` and the step secrets of ``dags/step_secrets_example.py``; and
create the repository and namespace its GitHub and Kubernetes destinations write to."""

from __future__ import annotations

import json
import urllib.request

import boto3
import hvac

from devtools.servers import AWS_REGION, LocalServers

PLATFORM = {
    "app/db": {"host": "db.internal", "port": 5432, "user": "app", "password": "example-pw-1"},
    "app/api": {"token": "example-token-1", "scopes": ["read"]},
    "tmp/scratch": {"note": "excluded by Staging's filter"},
}
LEGACY = {
    "legacy/app/db": json.dumps({"password": "example-legacy-pw", "pool": 10}),
    "legacy/app/api": json.dumps({"scopes": ["write"]}),
    "legacy/smtp": "plain-text-smtp-password",
}

# What dags/step_secrets_example.py references. The AWS keys are moto's: the Staging sync
# works with them as it does with the connection's.
STEP_SECRETS_VAULT = {
    "examples/reporting": {"token": "example-reporting-token"},
    "examples/aws-staging": {"access_key_id": "testing", "secret_access_key": "testing"},
}
STEP_SECRETS_AWS = {"examples/deploy": json.dumps({"key": "example-deploy-key"})}

# The places of the example's GitHub and Kubernetes destinations (targets Ci and Cluster).
GITHUB_REPOSITORY = "example-org/app"
KUBERNETES_NAMESPACE = "apps"


def _control(base_url: str, path: str) -> None:
    """``PUT`` a test-only ``/_test/...`` endpoint of a local API server (devtools.apiservers)."""
    request = urllib.request.Request(f"{base_url.rstrip('/')}/_test/{path}", method="PUT")
    urllib.request.urlopen(request, timeout=10).close()


def create_example_places(github_url: str | None, kubernetes_url: str | None) -> None:
    """Create the example's repository and namespace on the local GitHub and Kubernetes API
    servers (idempotent; a server not given is skipped)."""
    if github_url:
        _control(github_url, f"repos/{GITHUB_REPOSITORY}")
    if kubernetes_url:
        _control(kubernetes_url, f"namespaces/{KUBERNETES_NAMESPACE}")


def seed_example(servers: LocalServers, platform=PLATFORM, legacy=LEGACY) -> None:
    """Write the example source secrets and step secrets, create the example's repository and
    namespace (idempotent)."""
    github, kubernetes = getattr(servers, "github", None), getattr(servers, "kubernetes", None)
    create_example_places(github and github.url, kubernetes and kubernetes.url)
    vault = hvac.Client(url=servers.vault.url, token=servers.vault.token)
    vault_secrets = {f"sources/platform/{path}": value for path, value in platform.items()}
    for path, value in {**vault_secrets, **STEP_SECRETS_VAULT}.items():
        vault.secrets.kv.v2.create_or_update_secret(mount_point="secret", path=path, secret=value)
    client = boto3.client(
        "secretsmanager",
        endpoint_url=servers.aws.url,
        region_name=AWS_REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    for name, value in {**legacy, **STEP_SECRETS_AWS}.items():
        try:
            client.create_secret(Name=name, SecretString=value)
        except client.exceptions.ResourceExistsException:
            client.put_secret_value(SecretId=name, SecretString=value)
