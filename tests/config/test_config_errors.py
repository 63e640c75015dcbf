"""Every user mistake in a config file: one ConfigError naming file, line, column and key path."""

from __future__ import annotations

import re
import textwrap

import pytest

from airflow_secretsync.config import load_config, parse_config
from airflow_secretsync.errors import ConfigError, SecretSyncError
from airflow_secretsync.stores.registry import kinds_for

#: The installed source kinds, as the one-kind rule and the unknown-key hint list them.
SOURCE_KINDS = list(kinds_for("source"))
SOURCE_CHOICES = ", ".join(f"'{k}'" for k in SOURCE_KINDS[:-1]) + f" or '{SOURCE_KINDS[-1]}'"

CANARY = "CANARY-s3cr3t-9f8e7d"

# Lines 1-7 of every case; the case's own lines start at line 8.
HEADER = """\
version: 1
merge_store: {vault: {path: merged}}
sources:
  team-a: {vault: {path: team-a}}
  legacy: {aws: {prefix: legacy/}}
targets:
  Base: [team-a]
"""


def errors_of(text: str, file: str = "p.yaml") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, file)
    assert isinstance(caught.value, SecretSyncError)
    return caught.value.errors


def only_error(text: str) -> str:
    errors = errors_of(text)
    assert len(errors) == 1, errors
    return errors[0]


@pytest.mark.parametrize(
    ("tail", "expected"),
    [
        pytest.param(
            "  Staging: {imports: [legacy}\n",
            "p.yaml:8:29: YAML syntax error: while parsing a flow sequence did not find "
            "expected ',' or ']'",
            id="yaml-syntax",
        ),
        pytest.param(
            "  Staging: {imports: [legacy], improts: [team-a]}\n",
            "p.yaml:8:32: targets.Staging.improts: unknown key 'improts' (did you mean 'imports'?)",
            id="unknown-key",
        ),
        pytest.param(
            "  Staging: {imports: [legacy], adopt: [1]}\n",
            "p.yaml:8:39: targets.Staging.adopt: expected true or false, got a list",
            id="wrong-type",
        ),
        pytest.param(
            "  Staging:\n    imports: [legasy]\n",
            "p.yaml:9:15: targets.Staging.imports[0]: unknown source or target 'legasy' "
            "(did you mean 'legacy'?)",
            id="unknown-import",
        ),
        pytest.param(
            "  Staging:\n    inherits: [Base, Bsae]\n",
            "p.yaml:9:22: targets.Staging.inherits[1]: unknown target 'Bsae' "
            "(did you mean 'Base'?)",
            id="unknown-parent",
        ),
        pytest.param(
            "  Staging: {inherits: legacy}\n",
            "p.yaml:8:23: targets.Staging.inherits[0]: 'legacy' is a source; only targets can be "
            "inherited (import it)",
            id="source-as-parent",
        ),
        pytest.param(
            "  legacy: [team-a]\n",
            "p.yaml:8:3: targets.legacy: 'legacy' is both a source and a target",
            id="source-and-target",
        ),
        pytest.param(
            "  A: {inherits: B}\n  B: {inherits: [Base, C]}\n  C: {inherits: A}\n",
            "p.yaml:8:17: targets.A.inherits[0]: inheritance cycle: A -> B -> C -> A",
            id="cycle",
        ),
        pytest.param(
            "  A: {inherits: Base, imports: [team-a, A]}\n",
            "p.yaml:8:41: targets.A.imports[1]: import cycle: A -> A (self-reference)",
            id="self-reference",
        ),
        pytest.param(
            "  Staging:\n    imports: [legacy]\n    exclude: ['^ok/', '[a-']\n",
            "p.yaml:10:23: targets.Staging.exclude[1]: invalid regular expression: unterminated "
            "character set at position 0",
            id="invalid-regex",
        ),
        pytest.param(
            "  'Staging env': [team-a]\n",
            "p.yaml:8:3: targets[\"Staging env\"]: target name 'Staging env' cannot be used in an "
            "Airflow task id: use letters, digits, '_', '-' and '.', starting with a letter, "
            "digit or '_'",
            id="target-name",
        ),
        pytest.param(
            "  Staging: {aws: {region: eu-west-1, account_id: '12345678901'}}\n",
            "p.yaml:8:50: targets.Staging.aws.account_id: must be a 12-digit AWS account id, "
            'quoted: "123456789012"',
            id="account-id",
        ),
        pytest.param(
            "  Staging: {aws: {account_id: 123456789012}}\n",
            "p.yaml:8:31: targets.Staging.aws.account_id: expected a string, got an integer "
            "(quote it)",
            id="account-id-unquoted",
        ),
        pytest.param(
            "  Staging: {aws: {}, vault: {path: prod}}\n",
            "p.yaml:8:22: targets.Staging.vault: a target has at most one destination: 'vault' "
            "or 'aws', not both",
            id="two-destinations",
        ),
        pytest.param(
            "  Staging: {step_secrets: {TOKEN: 'ref+vault://secret/ci#'}}\n",
            "p.yaml:8:35: targets.Staging.step_secrets.TOKEN: malformed secret reference "
            "'ref+vault://secret/ci#': empty key in the '#' path (write #/key or #/a/b)",
            id="malformed-reference",
        ),
        pytest.param(
            "  Base: [legacy]\n",
            "p.yaml:8:3: targets.Base: duplicate key 'Base'",
            id="duplicate-key",
        ),
        pytest.param(
            "  Empty:\n",
            "p.yaml:8:9: targets.Empty: expected a mapping or a list of imports, got null",
            id="empty-target",
        ),
        pytest.param(
            "  Staging: {aws: {tags: {enabled: yes}}}\n",
            "p.yaml:8:35: targets.Staging.aws.tags.enabled: expected a string, got a boolean "
            "(quote it: YAML reads yes/no/on/off/true/false as booleans)",
            id="yaml-boolean",
        ),
        pytest.param(
            "  Staging: {aws: {prefix: s/}}\nstep_secrets:\n  report: {A_1: 'ref+env://A'}\n"
            "  sync.Stagin: {TOKEN: 'ref+env://TOKEN'}\n",
            "p.yaml:11:3: step_secrets[\"sync.Stagin\"]: unknown task id 'sync.Stagin' (did you "
            "mean 'sync.Staging'?): the DAG's tasks are merge.<target>, sync.<target> and report",
            id="step-secret-task-id",
        ),
    ],
)
def test_each_mistake_is_one_located_error(tail: str, expected: str) -> None:
    assert only_error(HEADER + tail) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "version: 2\nmerge_store: {vault: {}}\n",
            "p.yaml:1:10: version: unsupported version 2",
            id="version",
        ),
        pytest.param(
            "version: '1'\nmerge_store: {vault: {}}\n",
            "p.yaml:1:10: version: must be the number 1",
            id="version-string",
        ),
        pytest.param(
            "pipeline: {merge: {enabled: false}}\n",
            "p.yaml:1:1: version: required key 'version' is missing: add 'version: 1' at the top",
            id="version-missing",
        ),
        pytest.param(
            "version: 1\nmerge_store: {s3: {prefix: merged/}}\n",
            "p.yaml:2:15: merge_store.s3.bucket: required key 'bucket' is missing",
            id="missing-key",
        ),
        pytest.param(
            "version: 1\npipeline:\n  merge: {enabled: true}\n",
            "p.yaml:3:20: pipeline.merge.enabled: merge is enabled but no merge_store is "
            "configured: add one (vault or s3) or set pipeline.merge.enabled: false",
            id="merge-without-store",
        ),
        pytest.param(
            "version: 1\nmerge_store: {vault: {}}\nsources:\n  a: {vault: {}, aws: {}}\n",
            f"p.yaml:4:18: sources.a.aws: takes exactly one of {SOURCE_CHOICES}, not both",
            id="source-both",
        ),
        pytest.param(
            "version: 1\nmerge_store: {vault: {}}\nsources:\n  a: {}\n",
            f"p.yaml:4:3: sources.a: needs exactly one of {SOURCE_CHOICES}",
            id="source-neither",
        ),
        pytest.param(
            "version: 1\nmerge_store: {vault: {}, s3: {bucket: b}}\n",
            "p.yaml:2:26: merge_store.s3: takes exactly one of 'vault' or 's3', not both",
            id="merge-store-both",
        ),
        pytest.param(
            "version: 1\nmerge_store: {vault: {}}\ndag: {schedule: '0 * * *'}\n",
            "p.yaml:3:17: dag.schedule: not a cron expression or preset",
            id="schedule",
        ),
        pytest.param(
            "version: 1\nmerge_store: {vault: {}}\nsoruces: {}\n",
            "p.yaml:3:1: soruces: unknown key 'soruces' (did you mean 'sources'?)",
            id="top-level-key",
        ),
        pytest.param(
            "version: 1\nmerge_store: {vault: {}}\nsource_file: /etc/passwd\n",
            "p.yaml:3:1: source_file: unknown key 'source_file'",
            id="internal-field",
        ),
        pytest.param(
            "version: 1\npipeline: {merge: {enabled: no}}\ntargets: {Base: [], Prod: {aws: {}}}\n"
            "step_secrets:\n  sync.Prod: {A: 'ref+env://A'}\n  merge.Prod: {A: 'ref+env://A'}\n",
            'p.yaml:6:3: step_secrets["merge.Prod"]: pipeline.merge.enabled is false, so there '
            "is no task 'merge.Prod'",
            id="step-secret-disabled-phase",
        ),
        pytest.param(
            "version: 1\nmerge_store: {vault: {}}\ntargets: {Base: []}\n"
            "step_secrets:\n  sync.Base: {A: 'ref+env://A'}\n",
            "p.yaml:5:3: step_secrets[\"sync.Base\"]: target 'Base' has no destination, so "
            "there is no task 'sync.Base'",
            id="step-secret-no-destination",
        ),
        pytest.param("", "p.yaml:1:1: the config is empty: start with 'version: 1'", id="empty"),
        pytest.param("- 1\n", "p.yaml:1:1: the config must be a mapping", id="not-a-mapping"),
        pytest.param(
            "version: 1\nx: \x07\n", "p.yaml:2:4: YAML error: control characters", id="control"
        ),
        pytest.param(
            "version: 1\na: &x [*x]\n", "p.yaml:2:4: a[0]: recursive YAML alias", id="rec"
        ),
        pytest.param(
            "version: 1\n---\nversion: 1\n", "p.yaml:2:1: YAML syntax error", id="two-docs"
        ),
    ],
)
def test_document_level_mistakes(text: str, expected: str) -> None:
    assert only_error(text).startswith(expected)


def test_every_error_is_reported_at_once_in_file_order() -> None:
    errors = errors_of(
        textwrap.dedent(
            """\
            version: 1
            merge_store: {vault: {path: merged}}
            dag: {retries: -1}
            sources:
              team-a: {vault: {path: a}, regoin: x}
            targets:
              A: {inherits: B, include: ['(']}
              B: {inherits: A, imports: [team-b]}
              C: {aws: {account_id: '42'}}
            """
        )
    )
    assert errors == [
        "p.yaml:3:16: dag.retries: should be greater than or equal to 0",
        f"p.yaml:5:30: sources.team-a.regoin: unknown key 'regoin' "
        f"(valid keys: {', '.join(SOURCE_KINDS)})",
        "p.yaml:7:17: targets.A.inherits[0]: inheritance cycle: A -> B -> A",
        "p.yaml:7:30: targets.A.include[0]: invalid regular expression: missing ), "
        "unterminated subpattern at position 0",
        "p.yaml:8:30: targets.B.imports[0]: unknown source or target 'team-b' "
        "(did you mean 'team-a'?)",
        "p.yaml:9:25: targets.C.aws.account_id: must be a 12-digit AWS account id, "
        'quoted: "123456789012"',
    ]


def test_separate_cycles_are_all_named() -> None:
    errors = errors_of(
        HEADER + "  A: {inherits: A}\n  B: {imports: [C]}\n  C: {inherits: B}\n  D: {inherits: A}\n"
    )
    assert [e.split(": ", 1)[1] for e in errors] == [
        "targets.A.inherits[0]: inheritance cycle: A -> A (self-reference)",
        "targets.B.imports[0]: inheritance/import cycle: B -> C -> B",
    ]


def test_a_secret_pasted_instead_of_a_reference_is_not_echoed() -> None:
    error = only_error(HEADER + f"  Staging:\n    step_secrets: {{GITHUB_TOKEN: {CANARY}}}\n")
    assert error.startswith("p.yaml:9:34: targets.Staging.step_secrets.GITHUB_TOKEN: ")
    assert "secret reference" in error
    assert CANARY not in error


@pytest.mark.parametrize(
    "value",
    [
        f"{{not_a_string: {CANARY}}}",  # wrong type somewhere secret-ish
        f"[{CANARY}]",
        f"'{CANARY}'",
    ],
)
def test_wrong_values_are_described_never_quoted(value: str) -> None:
    errors = errors_of(HEADER + f"  Staging: {{adopt: {value}}}\n")
    assert errors
    assert all(CANARY not in error for error in errors)


def test_errors_inside_a_yaml_anchor_point_at_the_anchor() -> None:
    text = HEADER + textwrap.indent(
        textwrap.dedent(
            """\
            Staging: &env
              imports: [legacy]
              aws: {region: us-east-1, acount_id: x}
            Production:
              <<: *env
              aws: {region: eu-west-1, prefix: prod/}
            """
        ),
        "  ",
    )
    assert only_error(text) == (
        "p.yaml:10:30: targets.Staging.aws.acount_id: unknown key 'acount_id' "
        "(did you mean 'account_id'?)"
    )


def test_non_utf8_file_names_its_line(tmp_path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(b"version: 1\nsources:\n  caf\xe9: {vault: {}}\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:3:6: the file is not UTF-8 text"):
        load_config(path)


def test_unreadable_file_is_a_config_error(tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.yaml: cannot read the config file"):
        load_config(tmp_path / "missing.yaml")


def test_alias_bomb_is_refused_with_a_line() -> None:
    lines = ["version: 1", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 7)]
    error = only_error("\n".join(lines) + "\n")
    assert re.match(r"p\.yaml:\d+:\d+: YAML syntax error: .*more than 500000 values", error)


def test_a_file_name_that_cannot_be_a_dag_id_needs_dag_id(tmp_path) -> None:
    path = tmp_path / "my pipeline.yaml"
    path.write_text("version: 1\nmerge_store: {vault: {}}\n")
    with pytest.raises(ConfigError, match=r"dag\.dag_id: the file name 'my pipeline' does not"):
        load_config(path)
    path.write_text("version: 1\nmerge_store: {vault: {}}\ndag: {dag_id: my_pipeline}\n")
    assert load_config(path).dag_id == "my_pipeline"
