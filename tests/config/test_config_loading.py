"""Valid configs load into the typed, immutable model with every default resolved."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
from pydantic import ValidationError

from airflow_secretsync.config import PipelineConfig, load_config, parse_config
from airflow_secretsync.errors import ConfigError
from airflow_secretsync.stores.aws import AwsDestination
from airflow_secretsync.stores.s3 import S3Location
from airflow_secretsync.stores.vault import VaultLocation
from devtools.paths import REPO

SPEC_EXAMPLE = """\
version: 1
dag:
  dag_id: secretsync_example
  schedule: "0 * * * *"
  tags: [secrets]
  max_active_runs: 1
  retries: 2
  retry_delay_seconds: 30
pipeline:
  merge: {enabled: true, parallel: 4}
  sync:  {enabled: true, parallel: 8, delete_orphans: false, max_deletions: 10}
  dry_run: false
connections: {vault: vault_main, aws: aws_main}
merge_store:
  s3: {bucket: my-bucket, prefix: secretsync/merged/, kms_key_id: null}
sources:
  team-a:  {vault: {mount: secret, path: team-a}}
  legacy:  {aws: {prefix: legacy/, region: eu-west-1, connection_id: aws_legacy}}
targets:
  Base: [team-a]
  Staging:
    inherits: Base
    imports: [legacy]
    include: ["^app/"]
    exclude: ["^app/tmp/"]
    aws: {region: us-east-1, account_id: "123456789012", role_arn: null, prefix: "",
          kms_key_id: null, tags: {team: platform}}
  Production:
    inherits: Staging
    vault: {mount: secret, path: prod}
    adopt: false
    step_secrets: {GITHUB_TOKEN: "ref+vault://secret/ci#/github_token"}
step_secrets:
  sync.Production: {AWS_EXTERNAL_ID: "ref+vault://secret/ops/aws#/external_id"}
"""


def test_spec_example_loads_with_connection_defaults(tmp_path: Path) -> None:
    path = tmp_path / "example.yaml"
    path.write_text(SPEC_EXAMPLE)
    config = load_config(path)
    assert isinstance(config, PipelineConfig)
    assert config.source_file == path
    assert config.dag_id == "secretsync_example"
    assert config.dag.schedule == "0 * * * *"
    # connection ids: the block's own wins, otherwise the `connections:` default of its kind
    assert config.sources["team-a"].vault == VaultLocation(
        mount="secret", path="team-a", connection_id="vault_main"
    )
    assert config.sources["legacy"].aws.connection_id == "aws_legacy"
    assert config.merge_store.s3 == S3Location(
        bucket="my-bucket", prefix="secretsync/merged/", connection_id="aws_main"
    )
    staging = config.targets["Staging"]
    assert isinstance(staging.destination, AwsDestination)
    assert staging.destination.connection_id == "aws_main"
    assert staging.destination.account_id == "123456789012"
    assert staging.inherits == ["Base"]  # a single parent is a list of one
    assert config.targets["Production"].destination.connection_id == "vault_main"
    assert config.targets["Base"].imports == ["team-a"]  # shorthand
    assert config.targets["Base"].destination is None
    assert config.step_secrets == {
        "sync.Production": {"AWS_EXTERNAL_ID": "ref+vault://secret/ops/aws#/external_id"}
    }


def test_defaults_of_a_minimal_config() -> None:
    config = parse_config("version: 1\nmerge_store: {vault: {path: merged}}\n")
    assert config.dag_id == "secretsync_pipeline"
    assert config.dag.schedule is None
    assert config.dag.max_active_runs == 1
    assert config.pipeline.sync.max_deletions == 10
    assert config.pipeline.sync.delete_orphans is False
    assert config.merge_store.vault.connection_id == "vault_default"
    assert config.targets == {}


def test_default_dag_id_comes_from_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "team_payments.yaml"
    path.write_text("version: 1\npipeline: {merge: {enabled: false}}\n")
    assert load_config(path).dag_id == "secretsync_team_payments"


def test_the_model_is_immutable() -> None:
    config = parse_config(SPEC_EXAMPLE)
    with pytest.raises(ValidationError):
        config.version = 2  # type: ignore[misc]
    with pytest.raises(ValidationError):
        config.targets["Staging"].adopt = True  # type: ignore[misc]


def test_yaml_anchors_and_merge_keys() -> None:
    config = parse_config(
        textwrap.dedent(
            """\
            version: 1
            merge_store: {vault: {path: merged}}
            sources:
              a: {vault: {path: a}}
              b: {vault: {path: b}}
            targets:
              Staging: &env
                imports: [a, b]
                aws: &aws {region: us-east-1, tags: {team: x}}
              Production:
                <<: *env
                aws: {<<: *aws, region: eu-west-1}
            """
        )
    )
    production = config.targets["Production"]
    assert production.imports == ["a", "b"]
    assert production.aws.region == "eu-west-1"
    assert production.aws.tags == {"team": "x"}


def test_keys_are_names_as_written() -> None:
    """YAML 1.1 reads `on:` as true and `1:` as an int; a key stays the name written."""
    text = (
        "version: 1\nmerge_store: {vault: {path: m}}\n"
        "sources: {1: {vault: {path: a}}}\ntargets:\n  on: ['1']\n"
    )
    config = parse_config(text + "  'yes': ['on']\n")
    assert list(config.sources) == ["1"]
    assert list(config.targets) == ["on", "yes"]
    assert config.targets["yes"].imports == ["on"]
    # values keep YAML types, so an unquoted `on` is a boolean, with a hint
    with pytest.raises(ConfigError, match=r":6:11: targets\.yes\.imports\[0\]: .*quote it"):
        parse_config(text + "  'yes': [on]\n")


def test_schedule_presets_and_cron() -> None:
    for schedule in ("@daily", "@quarterly", "@once", "@continuous", "*/5 * * * *"):
        text = f"version: 1\nmerge_store: {{vault: {{}}}}\ndag: {{schedule: '{schedule}'}}\n"
        assert parse_config(text).dag.schedule == schedule


def test_repository_example_config_is_valid() -> None:
    config = load_config(REPO / "dags" / "configs" / "example.yaml")
    assert config.targets


def test_loading_does_not_import_airflow() -> None:
    import subprocess

    code = (
        "import sys; from airflow_secretsync.config import load_config, build_plan; "
        f"build_plan(load_config({str(REPO / 'dags' / 'configs' / 'example.yaml')!r})); "
        "print(sorted(m for m in sys.modules if m == 'airflow' or m.startswith('airflow.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_model_is_the_contract_for_block_rules() -> None:
    """A model built in Python obeys the same per-block rules as a file (no loader needed)."""
    from pydantic import ValidationError

    from airflow_secretsync.config.model import PipelineConfig

    with pytest.raises(ValidationError, match="no merge_store is configured"):
        PipelineConfig.model_validate({"version": 1})
    with pytest.raises(ValidationError, match="needs exactly one of 'vault'"):
        PipelineConfig.model_validate(
            {"version": 1, "merge_store": {"vault": {}}, "sources": {"a": {}}}
        )
    with pytest.raises(ValidationError, match="at most one destination: 'vault' or 'aws'"):
        PipelineConfig.model_validate(
            {"version": 1, "merge_store": {"vault": {}}, "targets": {"T": {"vault": {}, "aws": {}}}}
        )
    config = PipelineConfig.model_validate(
        {
            "version": 1,
            "connections": {"vault": "vault_x"},
            "merge_store": {"vault": {"path": "m"}},
            "sources": {"a": {"vault": {"path": "a"}}, "b": {"aws": {"prefix": "b/"}}},
        }
    )
    assert config.sources["a"].store.connection_id == "vault_x"  # defaults applied once, here
    assert config.sources["b"].store.connection_id == "aws_default"
    assert config.merge_store.store.connection_id == "vault_x"
