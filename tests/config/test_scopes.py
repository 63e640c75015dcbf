"""Store scopes: the overlap rule, and the loader errors it gives (SPEC §3a, issue 14)."""

from __future__ import annotations

import textwrap

import pytest

from airflow_secretsync.config import parse_config
from airflow_secretsync.errors import ConfigError
from airflow_secretsync.scopes import overlaps
from airflow_secretsync.stores.aws import AwsDestination, AwsSourceLocation
from airflow_secretsync.stores.s3 import S3Location
from airflow_secretsync.stores.vault import VaultLocation

V, A, D, S = VaultLocation, AwsSourceLocation, AwsDestination, S3Location


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # Vault paths are folders: a subtree, segment by segment
        (V(path="dst"), V(path="dst/eu"), True),
        (V(path="dst"), V(path="dst2"), False),
        (V(path="dst/"), V(path="/dst//eu"), True),
        (V(path="dst"), V(path="dst"), True),
        (V(path=""), V(path="anything/below"), True),
        (V(mount="secret"), V(mount="other", path=""), False),
        (V(mount="secret/", path="a"), V(mount="secret", path="a/b"), True),
        (V(path="a", connection_id="one"), V(path="a", connection_id="two"), True),
        # AWS prefixes are name prefixes
        (D(prefix="app"), D(prefix="app-legacy/"), True),
        (D(prefix="app/"), D(prefix="app-legacy/"), False),
        (D(prefix=""), A(prefix="legacy/"), True),
        (D(prefix="app/", region="us-east-1"), D(prefix="app/", region="eu-west-1"), False),
        (D(prefix="app/", region="us-east-1"), A(prefix="app/"), True),  # default region
        (D(prefix="", account_id="111111111111"), A(prefix="", account_id="222222222222"), False),
        (D(prefix="", account_id="111111111111"), A(prefix=""), True),  # default account
        (
            D(prefix="", role_arn="arn:aws:iam::111111111111:role/sync"),
            A(prefix="", role_arn="arn:aws:iam::222222222222:role/read"),
            False,
        ),
        (D(prefix="x/", connection_id="a"), D(prefix="x/", connection_id="b"), True),
        # different services never overlap
        (S(bucket="b", prefix=""), D(prefix=""), False),
        (V(path="app"), D(prefix="app"), False),
        (S(bucket="b", prefix="m/"), S(bucket="b", prefix="m/x/"), True),
        (S(bucket="b", prefix="m/"), S(bucket="c", prefix="m/"), False),
    ],
)
def test_overlaps(a, b, expected: bool) -> None:
    assert overlaps(a.scope(), b.scope()) is expected
    assert overlaps(b.scope(), a.scope()) is expected


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(textwrap.dedent(text), "p.yaml")
    return caught.value.errors


def test_merge_store_at_a_mount_root_overlaps_a_source_on_that_mount() -> None:
    """Finding 1: ``merge_store: {vault: {mount: secret}}`` deleted foreign secrets."""
    assert errors(
        """\
        version: 1
        merge_store: {vault: {mount: secret}}
        sources:
          app: {vault: {mount: secret, path: apps/app}}
        targets:
          prod: [app]
        """
    ) == [
        "p.yaml:4:9: sources.app.vault: source scope vault:secret/apps/app overlaps merge store "
        "merge_store.vault (p.yaml:2:15, vault:secret/); vault:secret/apps/app lies inside "
        "vault:secret/: give each block a path of its own"
    ]


def test_merge_store_at_the_mount_root_overlaps_source_and_destination() -> None:
    """Finding 2: the merge store at the mount root destroyed the source ``Base``."""
    found = errors(
        """\
        version: 1
        merge_store:
          vault: {mount: secret, path: /}
        sources:
          Base-src: {vault: {path: Base}}
        targets:
          Base:
            imports: [Base-src]
            exclude: ["^tmp/"]
            vault: {path: out/base}
        """
    )
    assert found == [
        "p.yaml:5:14: sources.Base-src.vault: source scope vault:secret/Base overlaps merge "
        "store merge_store.vault (p.yaml:3:3, vault:secret/); vault:secret/Base lies inside "
        "vault:secret/: give each block a path of its own",
        "p.yaml:10:5: targets.Base.vault: destination scope vault:secret/out/base overlaps "
        "merge store merge_store.vault (p.yaml:3:3, vault:secret/); vault:secret/out/base "
        "lies inside vault:secret/: give each block a path of its own",
    ]


def test_overlapping_aws_destinations_name_both_blocks() -> None:
    """Finding 3: ``app`` and ``app-legacy/`` deleted each other's secrets."""
    assert errors(
        """\
        version: 1
        pipeline: {merge: {enabled: false}}
        targets:
          A:
            aws: {region: us-east-1, prefix: app}
          B:
            aws: {region: us-east-1, prefix: app-legacy/}
        """
    ) == [
        "p.yaml:7:5: targets.B.aws: destination scope aws:us-east-1:app-legacy/ overlaps "
        "destination targets.A.aws (p.yaml:5:5, aws:us-east-1:app); write prefixes with a "
        "trailing '/' to keep them apart"
    ]


def test_nested_vault_destinations_and_a_destination_over_a_source() -> None:
    found = errors(
        """\
        version: 1
        merge_store: {vault: {path: secretsync/merged}}
        sources:
          team: {vault: {path: dst/eu/team}}
        targets:
          Eu: {imports: [team], vault: {path: dst/eu}}
          All: {imports: [team], vault: {path: dst}}
          Other: {imports: [team], vault: {path: dst2}}
        """
    )
    assert found == [
        "p.yaml:6:25: targets.Eu.vault: destination scope vault:secret/dst/eu overlaps source "
        "sources.team.vault (p.yaml:4:10, vault:secret/dst/eu/team); vault:secret/dst/eu/team "
        "lies inside vault:secret/dst/eu: give each block a path of its own",
        "p.yaml:7:26: targets.All.vault: destination scope vault:secret/dst overlaps source "
        "sources.team.vault (p.yaml:4:10, vault:secret/dst/eu/team); vault:secret/dst/eu/team "
        "lies inside vault:secret/dst: give each block a path of its own",
        "p.yaml:7:26: targets.All.vault: destination scope vault:secret/dst overlaps destination "
        "targets.Eu.vault (p.yaml:6:25, vault:secret/dst/eu); vault:secret/dst/eu lies inside "
        "vault:secret/dst: give each block a path of its own",
    ]


def test_merge_store_written_last_still_names_the_earlier_block() -> None:
    (error,) = errors(
        """\
        version: 1
        targets:
          Prod: {vault: {path: shared}}
        merge_store: {vault: {path: shared/merged}}
        """
    )
    assert error.startswith(
        "p.yaml:4:15: merge_store.vault: merge store scope vault:secret/shared/merged overlaps "
        "destination targets.Prod.vault (p.yaml:3:10, vault:secret/shared); "
    )


def test_same_location_with_different_connection_ids_overlaps() -> None:
    (error,) = errors(
        """\
        version: 1
        connections: {vault: vault_main}
        merge_store: {vault: {path: merged}}
        sources:
          app: {vault: {path: app, connection_id: vault_old}}
        targets:
          App: {imports: [app], vault: {path: app}}
        """
    )
    assert error == (
        "p.yaml:7:25: targets.App.vault: destination scope vault:secret/app overlaps source "
        "sources.app.vault (p.yaml:5:9, vault:secret/app); both name the same location; "
        "connections 'vault_main' and 'vault_old' may reach the same server, so the location "
        "alone decides"
    )


def test_an_unset_region_could_be_any_region() -> None:
    (error,) = errors(
        """\
        version: 1
        pipeline: {merge: {enabled: false}}
        sources:
          legacy: {aws: {prefix: "", region: eu-west-1}}
        targets:
          Out: {imports: [legacy], aws: {prefix: out/}}
        """
    )
    assert error == (
        "p.yaml:6:28: targets.Out.aws: destination scope aws:default-region:out/ overlaps "
        "source sources.legacy.aws (p.yaml:4:12, aws:eu-west-1:*); a part left to the "
        "connection's default could be any value: set it on both"
    )


def test_lookalikes_that_do_not_overlap_are_valid() -> None:
    config = parse_config(
        textwrap.dedent(
            """\
            version: 1
            merge_store: {s3: {bucket: merged, prefix: app/}}   # S3, not Secrets Manager
            sources:
              team: {vault: {path: dst2}}
              legacy: {aws: {prefix: legacy/, region: eu-west-1}}
              shared: {vault: {path: dst2/shared}}              # sources may overlap
            targets:
              A: {imports: [team], aws: {prefix: app/, region: eu-west-1}}
              B: {imports: [team], aws: {prefix: app-legacy/, region: eu-west-1}}
              C: {imports: [legacy], vault: {path: dst}}
              D: {imports: [legacy], aws: {prefix: "", region: us-east-1}}
              E: {aws: {prefix: "", region: eu-central-1, account_id: "111111111111"}}
              F: {aws: {prefix: "", region: eu-central-1, account_id: "222222222222"}}
            """
        ),
        "p.yaml",
    )
    assert set(config.targets) == {"A", "B", "C", "D", "E", "F"}


def test_overlaps_are_reported_with_every_other_mistake() -> None:
    found = errors(
        """\
        version: 1
        merge_store: {vault: {mount: secret}}
        sources:
          a: {vault: {path: a}, regoin: x}
        targets:
          T: {imports: [b], vault: {path: t}}
        """
    )
    assert [line.split(": ")[1] for line in found] == [
        "sources.a.vault",
        "sources.a.regoin",
        "targets.T.imports[0]",
        "targets.T.vault",
    ]


def _asset_uri_cases() -> list[tuple[object, str]]:
    from airflow_secretsync.stores.gcp import GcpDestination
    from airflow_secretsync.stores.github import GithubDestination
    from airflow_secretsync.stores.kubernetes import KubernetesDestination

    return [
        (V(mount="secret", path="prod"), "secretsync://vault/secret/prod"),
        (V(mount="/secret/", path="/dst//eu/"), "secretsync://vault/secret/dst/eu"),
        (V(mount="kv/team", path=""), "secretsync://vault/kv%2Fteam"),
        (
            D(prefix="app/", region="eu-west-1", account_id="123456789012"),
            "secretsync://aws/123456789012/eu-west-1/app/*",
        ),
        (D(prefix="app"), "secretsync://aws/_/_/app*"),
        (D(prefix=""), "secretsync://aws/_/_/*"),
        (
            D(prefix="x+y=z@", role_arn="arn:aws:iam::111111111111:role/sync"),
            "secretsync://aws/111111111111/_/x%2By%3Dz%40*",
        ),
        (S(bucket="b", prefix="merged/"), "secretsync://s3/b/merged/*"),
        (GcpDestination(project="proj-1", prefix="app-"), "secretsync://gcp/proj-1/global/app-*"),
        (
            KubernetesDestination(namespace="apps", prefix="db-"),
            "secretsync://kubernetes/apps/db-*",
        ),
        (KubernetesDestination(prefix="db-"), "secretsync://kubernetes/_/db-*"),
        (
            GithubDestination(repository="Org/Repo", prefix="APP_"),
            "secretsync://github/repos%2Forg%2Frepo/APP_*",
        ),
    ]


def test_asset_uri_of_every_destination_kind() -> None:
    from airflow_secretsync.scopes import asset_uri

    for block, uri in _asset_uri_cases():
        assert asset_uri(block.scope()) == uri, block


def test_asset_uris_are_airflow_normalized_and_tell_scopes_apart() -> None:
    """Airflow keeps each URI as is (no trailing slash lost), and two blocks have the same URI
    only when they name the same location."""
    from airflow.sdk import Asset

    from airflow_secretsync.scopes import asset_uri

    uris = [uri for _, uri in _asset_uri_cases()]
    assert [Asset(uri).uri for uri in uris] == uris
    assert len(set(uris)) == len(uris)
    assert asset_uri(D(prefix="app/").scope()) != asset_uri(D(prefix="app").scope())
    assert asset_uri(V(path="dst").scope()) == asset_uri(V(path="/dst/").scope())
