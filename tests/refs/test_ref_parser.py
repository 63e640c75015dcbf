"""The reference grammar: vals-compatible parsing, rendering and one clear error per mistake."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from airflow_secretsync.errors import SecretReferenceError
from airflow_secretsync.refs import SecretReference, is_reference, parse_reference


@pytest.mark.parametrize(
    ("text", "provider", "key", "params", "fragment"),
    [
        ("ref+vault://secret/app/db#/password", "vault", "secret/app/db", {}, ("password",)),
        ("ref+vault://secret/app/db#password", "vault", "secret/app/db", {}, ("password",)),
        ("ref+awssecrets://prod/db#/conn/host", "awssecrets", "prod/db", {}, ("conn", "host")),
        ("ref+env://DB_PASSWORD", "env", "DB_PASSWORD", {}, ()),
        ("ref+awssecrets:///app/db", "awssecrets", "/app/db", {}, ()),
        (
            "ref+awssecrets://prod/db?region=eu-west-1&connection_id=aws_prod#/password",
            "awssecrets",
            "prod/db",
            {"region": "eu-west-1", "connection_id": "aws_prod"},
            ("password",),
        ),
        (
            "ref+vault://secret/ci?version=3#/github_token",
            "vault",
            "secret/ci",
            {"version": "3"},
            ("github_token",),
        ),
        ("ref+vault://secret/a%20b#/a%2Fb", "vault", "secret/a b", {}, ("a/b",)),
        ("ref+my-store_2://x?q=a%26b", "my-store_2", "x", {"q": "a&b"}, ()),
        ("ref+env://LIST#/items/0", "env", "LIST", {}, ("items", "0")),
    ],
)
def test_parses_vals_grammar(text, provider, key, params, fragment) -> None:
    ref = parse_reference(text)
    assert ref == SecretReference(provider, key, params, fragment)
    assert (ref.provider, ref.key, dict(ref.params), ref.fragment) == (
        provider,
        key,
        params,
        fragment,
    )
    assert parse_reference(str(ref)) == ref


def test_structured_reference_matches_parsed_one() -> None:
    ref = SecretReference(provider="env", key="DB_PASSWORD")
    assert ref == parse_reference("ref+env://DB_PASSWORD")
    assert hash(ref) == hash(parse_reference("ref+env://DB_PASSWORD"))
    assert str(ref) == "ref+env://DB_PASSWORD"
    assert {ref: 1}[SecretReference("env", "DB_PASSWORD", {})] == 1


def test_params_are_read_only_and_order_insensitive_for_equality() -> None:
    a = parse_reference("ref+awssecrets://x?region=r&version=1")
    b = parse_reference("ref+awssecrets://x?version=1&region=r")
    assert a == b
    assert hash(a) == hash(b)
    with pytest.raises(TypeError):
        a.params["region"] = "other"  # type: ignore[index]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("ref+vault:/secret/x", "missing '://'"),
        ("ref+Vault://secret/x", "invalid provider name 'Vault'"),
        ("ref+://secret/x", "invalid provider name ''"),
        ("ref+env://", "empty path"),
        ("ref+env://?region=x", "empty path"),
        ("ref+env://X?", "empty query"),
        ("ref+env://X?region", "not of the form name=value"),
        ("ref+env://X?region=a&region=b", "parameter 'region' given twice"),
        ("ref+env://X?region=", "parameter 'region' has an empty value"),
        ("ref+env://X#", "empty key in the '#' path"),
        ("ref+env://X#/", "empty key in the '#' path"),
        ("ref+env://X#/a//b", "empty key in the '#' path"),
        ("ref+env://X#/a#b", "more than one '#'"),
        ("ref+env://X Y", "contains whitespace"),
        ("ref+env://X ", "contains whitespace"),
    ],
)
def test_malformed_reference_quotes_it(text: str, reason: str) -> None:
    with pytest.raises(SecretReferenceError) as exc:
        parse_reference(text)
    message = str(exc.value)
    assert message.startswith(f"malformed secret reference {text!r}: ")
    assert reason in message


def test_invalid_param_name_is_quoted_without_its_value() -> None:
    with pytest.raises(SecretReferenceError) as exc:
        parse_reference("ref+env://X?Region=eu-west-1")
    assert str(exc.value) == (
        "malformed secret reference 'ref+env://X?Region=...': "
        "invalid parameter name 'Region' (lower-case letters, digits and '_')"
    )


def test_unknown_param_values_are_hidden_when_quoted() -> None:
    canary = "s.CANARY-token-in-a-reference"
    with pytest.raises(SecretReferenceError) as exc:
        parse_reference(f"ref+vault://secret/x?region=eu&token={canary}&version=#/k")
    assert canary not in str(exc.value)
    assert "'ref+vault://secret/x?region=eu&token=...&version=#/k'" in str(exc.value)
    ref = parse_reference(f"ref+vault://secret/x?token={canary}")
    assert canary not in repr(ref)
    assert canary not in ref.render()
    assert canary in str(ref)  # the full text, for whoever asks for it explicitly


@pytest.mark.parametrize(
    "text", ["ghp_CANARYsecretvalue123", "vault://secret/x", "", "REF+env://X"]
)
def test_non_reference_is_never_quoted(text: str) -> None:
    assert not is_reference(text)
    with pytest.raises(SecretReferenceError) as exc:
        parse_reference(text)
    assert "expected a secret reference ref+BACKEND://PATH[?PARAMS][#/KEY]" in str(exc.value)
    if text:
        assert text not in str(exc.value)


def test_non_string_is_rejected() -> None:
    assert not is_reference(None)
    with pytest.raises(SecretReferenceError, match="must be a string, not int"):
        parse_reference(42)  # type: ignore[arg-type]


def test_is_reference_only_checks_the_prefix() -> None:
    assert is_reference("ref+vault://secret/x#/k")
    assert is_reference("ref+broken")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"provider": "Bad Name", "key": "x"}, "invalid secret provider name 'Bad Name'"),
        ({"provider": "env", "key": ""}, "empty key"),
        ({"provider": "env", "key": "X", "fragment": ("a", "")}, "empty key in the '#' path"),
    ],
)
def test_structured_reference_is_validated(kwargs, message) -> None:
    with pytest.raises(SecretReferenceError, match=message):
        SecretReference(**kwargs)


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12)
#: Keys that stay below their prefix (check_key): no control character, '%' or dot segment.
_keys = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc"), exclude_characters="%/"),
    min_size=1,
    max_size=12,
).filter(lambda key: key not in (".", ".."))


@given(
    provider=st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True),
    key=st.lists(_keys, min_size=1, max_size=3).map("/".join),
    params=st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True), _text),
    fragment=st.lists(_text, max_size=3),
)
def test_render_then_parse_round_trips(provider, key, params, fragment) -> None:
    ref = SecretReference(provider, key, params, tuple(fragment))
    assert parse_reference(str(ref)) == ref
