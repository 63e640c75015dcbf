"""Where a store block reads or writes, and the one rule that says whether two such places meet.

A :class:`Scope` is built by each store block model (``VaultLocation.scope()``,
``AwsDestination.scope()``...) from what the config says, without network or connection
lookups. A new store kind only adds a ``scope()`` to its block model: :func:`overlaps` does not
know any kind.

- ``kind`` names the service (``vault``, ``aws``, ``s3``): different services never overlap.
- ``place`` is the fixed part (Vault mount; AWS account and region; S3 bucket). ``None`` means
  "whatever the connection defaults to" and matches any value: the safe side.
- ``prefix`` is the name part below the place. With ``segments`` it is a path and covers the
  subtree below it (Vault KV lists ``dst`` as a folder: ``dst`` covers ``dst/eu`` but not
  ``dst2``); without, it is a plain name prefix (AWS, S3: ``app`` covers ``app-legacy/x``).
- ``connection`` is informational only. Two connection ids may reach the same server and the
  loader cannot tell, so the location alone decides.

:func:`asset_uri` names a scope as a URI (the Airflow Asset of a destination).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote

ASSET_SCHEME = "secretsync"
#: Stands in the asset URI for a place part left to the connection's default (no kind's names
#: use it: AWS accounts and regions, GCP projects and Kubernetes namespaces cannot be ``_``).
DEFAULT_PLACE = "_"


@dataclass(frozen=True)
class Scope:
    """A store location: the subtree (or name prefix) ``prefix`` in ``place`` of ``kind``."""

    kind: str
    place: tuple[str | None, ...]
    prefix: str
    segments: bool
    label: str = field(compare=False)
    connection: str | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return self.label


def path_prefix(path: str) -> str:
    """A slash-separated path without empty segments: ``/dst//eu/`` -> ``dst/eu``."""
    return "/".join(part for part in path.split("/") if part)


def asset_uri(scope: Scope) -> str:
    """``secretsync://<kind>/<place part>/.../<prefix>``: the same for every block naming the
    same location, different for different ones.

    Place parts are quoted whole (a Vault mount ``kv/team`` is ``kv%2Fteam``); a part left to the
    connection's default is ``_``. A path scope ends with its path (``secretsync://vault/secret/
    dst/eu``); a name-prefix scope ends with ``*`` so that ``app/`` and ``app`` stay apart (a URI
    loses trailing slashes): ``secretsync://aws/123456789012/eu-west-1/app/*``.
    """
    place = [quote(part, safe="") if part else DEFAULT_PLACE for part in scope.place]
    name = quote(scope.prefix, safe="/") + ("" if scope.segments else "*")
    return f"{ASSET_SCHEME}://{'/'.join([scope.kind, *place, name]).rstrip('/')}"


def _covers(outer: Scope, inner: Scope) -> bool:
    """Every name under ``inner`` is also under ``outer``."""
    if not outer.segments:
        return inner.prefix.startswith(outer.prefix)
    return (
        not outer.prefix
        or inner.prefix == outer.prefix
        or (inner.prefix.startswith(f"{outer.prefix}/"))
    )


def overlaps(a: Scope, b: Scope) -> bool:
    """Whether some secret name could lie in both ``a`` and ``b``."""
    if a.kind != b.kind or a.segments != b.segments or len(a.place) != len(b.place):
        return False
    pairs = zip(a.place, b.place, strict=True)
    if any(x is not None and y is not None and x != y for x, y in pairs):
        return False
    return _covers(a, b) or _covers(b, a)


def overlap_hint(a: Scope, b: Scope) -> str:
    """How to keep two overlapping scopes apart, for the error message."""
    if a.place != b.place:
        return "a part left to the connection's default could be any value: set it on both"
    if a.prefix == b.prefix:
        return "both name the same location"
    outer, inner = (a, b) if _covers(a, b) else (b, a)
    separable = outer.prefix and not inner.prefix.startswith(f"{outer.prefix.rstrip('/')}/")
    if not outer.segments and separable:
        return "write prefixes with a trailing '/' to keep them apart"
    return f"{inner} lies inside {outer}: give each block a path of its own"
