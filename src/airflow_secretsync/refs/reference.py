"""Secret references: ``ref+BACKEND://PATH[?PARAMS][#/KEY]`` (the grammar of helmfile's vals).

A reference names where a secret lives, never the secret itself, so it may appear in configs,
DAG files and error messages. Query parameter values of parameters this package does not know
are still hidden when a reference is quoted, in case someone put a credential there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import quote, unquote

from airflow_secretsync.errors import SecretReferenceError

PREFIX = "ref+"
PROVIDER_NAME = re.compile(r"[a-z][a-z0-9_-]*")
_PARAM_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_WHITESPACE = re.compile(r"\s")
#: Characters no key or look-up id may hold: C0 and C1 controls, DEL, and ``%`` (a key is
#: already percent-decoded, so a ``%`` left in it would be decoded again on the way).
_FORBIDDEN_IN_KEY = re.compile(r"[\x00-\x1f\x7f-\x9f%]")
#: Parameters whose values are shown when a reference is quoted; others appear as ``name=...``.
SHOWN_PARAMS = frozenset({"connection_id", "region", "version", "version_id", "version_stage"})
_SAFE = "/:@!$&'()*+,;=-._~"
_NAME_RULE = "lower-case letters, digits, '-' and '_', starting with a letter"


def check_provider_name(name: object) -> str:
    """``name`` if it is a valid provider name, else :class:`SecretReferenceError`."""
    if not isinstance(name, str) or not PROVIDER_NAME.fullmatch(name):
        raise SecretReferenceError(f"invalid secret provider name {name!r}: use {_NAME_RULE}")
    return name


def check_key(key: str, what: str = "secret key") -> str:
    """``key`` if it cannot escape the prefix it is appended to, else :class:`SecretReferenceError`.

    Between an optional leading and trailing ``/`` (AWS names may start with one), no segment
    may be empty, ``.`` or ``..``, and no character may be ``%`` or a control character. Used
    for every reference's key (step secrets included) and every secrets-backend look-up id,
    before any request.
    """
    if _FORBIDDEN_IN_KEY.search(key):
        raise SecretReferenceError(
            f"{what} {key!r}: contains a control character or '%' (not allowed in look-ups)"
        )
    if any(segment in ("", ".", "..") for segment in key.strip("/").split("/")):
        raise SecretReferenceError(
            f"{what} {key!r}: has an empty, '.' or '..' path segment (not allowed in look-ups)"
        )
    return key


@dataclass(frozen=True)
class SecretReference:
    """A parsed reference: which provider, which key, provider parameters, JSON path in the value.

    ``fragment`` is the path into the (JSON) value: ``#/db/password`` -> ``("db", "password")``;
    empty means the whole value.
    """

    provider: str
    key: str
    params: Mapping[str, str] = field(default_factory=dict)
    fragment: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_provider_name(self.provider)
        if not self.key:
            raise SecretReferenceError(f"secret reference to provider {self.provider!r}: empty key")
        check_key(self.key, f"secret reference to provider {self.provider!r}: key")
        fragment = tuple(self.fragment)
        if not all(fragment):
            raise SecretReferenceError(
                f"secret reference to {self.key!r}: empty key in the '#' path"
            )
        params = {str(name): str(value) for name, value in self.params.items()}
        object.__setattr__(self, "params", MappingProxyType(params))
        object.__setattr__(self, "fragment", fragment)

    def __hash__(self) -> int:
        return hash((self.provider, self.key, tuple(sorted(self.params.items())), self.fragment))

    def __str__(self) -> str:
        return self.render(redact=False)

    def __repr__(self) -> str:
        return f"SecretReference({self.render(redact=True)!r})"

    def render(self, *, redact: bool = True) -> str:
        """The reference as text; ``redact`` hides values of parameters not in SHOWN_PARAMS."""
        text = f"{PREFIX}{self.provider}://{quote(self.key, safe=_SAFE)}"
        if self.params:
            text += "?" + "&".join(
                f"{quote(name)}="
                + ("..." if redact and name not in SHOWN_PARAMS else quote(value, safe=""))
                for name, value in self.params.items()
            )
        if self.fragment:
            text += "#/" + "/".join(quote(part, safe="") for part in self.fragment)
        return text


def is_reference(text: object) -> bool:
    """Whether ``text`` is meant as a reference (starts with ``ref+``); it may be malformed."""
    return isinstance(text, str) and text.startswith(PREFIX)


def _quote(text: str) -> str:
    """``text`` (which starts with ``ref+``) quoted for an error message, parameter values of
    parameters not in SHOWN_PARAMS hidden."""
    head, hash_, fragment = text.partition("#")
    base, question, query = head.partition("?")
    if question:
        shown = []
        for pair in query.split("&"):
            name, eq, _ = pair.partition("=")
            hide = pair and unquote(name) not in SHOWN_PARAMS
            shown.append((f"{name}=..." if eq else "...") if hide else pair)
        base += "?" + "&".join(shown)
    return repr(base + hash_ + fragment)


def parse_reference(text: str) -> SecretReference:
    """Parse ``ref+BACKEND://PATH[?PARAMS][#/KEY]``; :class:`SecretReferenceError` if malformed.

    ``PATH`` and parameter values are percent-decoded. The fragment navigates into a JSON value:
    ``#/a/b`` and ``#a/b`` are the same. Parameters may not repeat.
    """

    def fail(reason: str) -> SecretReferenceError:
        return SecretReferenceError(f"malformed secret reference {_quote(text)}: {reason}")

    if not isinstance(text, str):
        raise SecretReferenceError(
            f"a secret reference must be a string, not {type(text).__name__}"
        )
    if not is_reference(text):
        raise SecretReferenceError(
            "expected a secret reference ref+BACKEND://PATH[?PARAMS][#/KEY], "
            "got a value that is not one (not shown: it may be a secret)"
        )
    if _WHITESPACE.search(text):
        raise fail("contains whitespace (percent-encode it as %20)")
    provider, sep, rest = text[len(PREFIX) :].partition("://")
    if not sep:
        raise fail("missing '://' after the provider name")
    if not PROVIDER_NAME.fullmatch(provider):
        raise fail(f"invalid provider name {provider!r} ({_NAME_RULE})")
    head, has_fragment, fragment_text = rest.partition("#")
    path, has_query, query = head.partition("?")
    key = unquote(path)
    if not key:
        raise fail("empty path")
    params = _parse_params(query, fail) if has_query else {}
    fragment = _parse_fragment(fragment_text, fail) if has_fragment else ()
    return SecretReference(provider=provider, key=key, params=params, fragment=fragment)


def _parse_params(query: str, fail) -> dict[str, str]:
    params: dict[str, str] = {}
    if not query:
        raise fail("empty query after '?'")
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        if not eq:
            raise fail("a query parameter is not of the form name=value")
        name = unquote(name)
        if not _PARAM_NAME.fullmatch(name):
            raise fail(f"invalid parameter name {name!r} (lower-case letters, digits and '_')")
        if name in params:
            raise fail(f"parameter {name!r} given twice")
        value = unquote(value)
        if not value:
            raise fail(f"parameter {name!r} has an empty value")
        params[name] = value
    return params


def _parse_fragment(fragment: str, fail) -> tuple[str, ...]:
    if "#" in fragment:
        raise fail("more than one '#'")
    parts = fragment.removeprefix("/").split("/")
    if not all(parts):
        raise fail("empty key in the '#' path (write #/key or #/a/b)")
    return tuple(unquote(part) for part in parts)
