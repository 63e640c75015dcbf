"""Kubernetes names: relative path -> Secret name, and what a data key may be (no client import).

A path becomes ``prefix + mapped(path)``: lower case, ``/`` becomes ``.``, every character
other than ``a-z``, ``0-9``, ``.`` and ``-`` becomes ``-``. The result must be a DNS-1123
subdomain (at most 253 characters; each ``.``-separated part starts and ends with a letter or
digit), else the path cannot be stored. A name that is already valid maps to itself.
"""

from __future__ import annotations

import re

from airflow_secretsync.errors import StoreError

MAX_NAME = 253
DNS1123_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
DNS1123_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
#: What a name prefix may hold (it is glued in front of the mapped path).
PREFIX = re.compile(r"([a-z0-9][-a-z0-9.]*)?")
DATA_KEY = re.compile(r"[-._a-zA-Z0-9]+")
_INVALID = re.compile(r"[^a-z0-9.-]")


def secret_name(prefix: str, path: str, where: str) -> str:
    """The Secret name of ``path``; :class:`StoreError` naming ``where`` if it is not valid."""
    name = prefix + _INVALID.sub("-", path.lower().replace("/", "."))
    if len(name) > MAX_NAME or not DNS1123_SUBDOMAIN.fullmatch(name):
        raise StoreError(
            f"{where} '{path}': maps to '{name}', which is not a valid Secret name (a DNS-1123 "
            f"subdomain of at most {MAX_NAME} characters; each '.'-separated part starts and "
            "ends with a letter or digit)"
        )
    return name


def check_data_key(key: object, where: str) -> str:
    """``key`` if it can be a Secret data key (``[-._a-zA-Z0-9]``, at most 253 characters)."""
    if not isinstance(key, str) or len(key) > MAX_NAME or not DATA_KEY.fullmatch(key):
        raise StoreError(
            f"{where}: key {key!r} cannot be a Secret data key (letters, digits, '-', '_' and "
            f"'.' only, at most {MAX_NAME} characters)"
        )
    return key
