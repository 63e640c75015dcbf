"""Text that comes from servers, never passed through: third-party error bodies (which may quote
a value) and attacker-controlled key names (control characters, workflow commands). Real
OpenBao and moto, the CLI in every output format."""

from __future__ import annotations

import json
import re
import uuid

import hvac
import pytest

from airflow_secretsync.core.render import OUTPUT_FORMATS
from tests.helpers import aws_to_vault_config, seed_aws, seed_vault, unique, write_config
from tests.reliability.cli import secretsync

#: A number OpenBao cannot store: its error body quotes the digits.
BIG_NUMBER = int("9" * 340)
INJECTED_KEY = "\x1b[31mred\r\n::warning title=pwned::owned\x07%0A,:\u202e"
#: What must never reach a line start or a terminal: the raw characters and the command.
RAW = ("\x1b", "\r", "\x07", "\u202e")


@pytest.fixture
def vault(servers) -> hvac.Client:
    return hvac.Client(url=servers.vault.url, token=servers.vault.token)


def test_vault_error_body_quoting_a_value_is_not_passed_on(
    servers, aws_client, tmp_path, monkeypatch
) -> None:
    """The issue's example: an AWS source whose number OpenBao rejects, synced to Vault."""
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "github_output"))
    ns = unique("bignum")
    canary = f"canary-{uuid.uuid4().hex}"
    digits = str(BIG_NUMBER)
    seed_aws(
        aws_client("secretsmanager"),
        {f"{ns}/src/app": f'{{"d": {digits}, "note": "{canary}"}}'},
    )
    config = aws_to_vault_config(tmp_path, ns)
    printed = []
    for output in OUTPUT_FORMATS:
        result = secretsync("pipeline", "--config", config, "--output", output)
        assert result.code != 0
        printed += [result.out, result.err]
    error = json.loads(printed[2])["targets"][0]["error"]
    assert re.search(r"HTTP 400|InvalidRequest", error), error
    everything = "\n".join(printed)
    assert digits[:40] not in everything
    assert canary not in everything


def test_key_names_cannot_inject_commands_or_escapes(servers, vault, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GITHUB_OUTPUT", str(tmp_path / "github_output"))
    ns = unique("inject")
    seed_vault(vault, f"{ns}/src", {"app": {"k": "v"}})
    config = write_config(
        tmp_path,
        f"""
        version: 1
        merge_store: {{vault: {{path: {ns}/merged}}}}
        sources:
          app: {{vault: {{path: {ns}/src}}}}
        targets:
          Prod:
            imports: [app]
            vault: {{path: {ns}/dest}}
        """,
    )
    assert secretsync("pipeline", "--config", config, "--output", "compact").code == 0
    seed_vault(vault, f"{ns}/src", {"app": {"k": "v", INJECTED_KEY: "v2"}})
    results = {
        output: secretsync("pipeline", "--config", config, "--output", output, "--dry-run")
        for output in OUTPUT_FORMATS
    }
    outputs = {output: result.out + result.err for output, result in results.items()}
    for output, text in outputs.items():
        assert not any(char in text for char in RAW), output
        lines = text.splitlines()
        assert not any(line.lstrip().startswith("::warning title=pwned") for line in lines)
    assert r"+\x1b[31mred\r\n::warning title=pwned::owned\x07%0A,:\u202e" in outputs["human"]
    assert r"+\x1b[31mred\r\n::warning title=pwned::owned\x07%250A,:\u202e" in (outputs["github"])
    document = results["json"].report
    assert document["targets"][0]["changes"][0]["keys_added"] == [INJECTED_KEY]
