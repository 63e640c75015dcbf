"""The GitHub secret name of a relative path.

GitHub secret names are ``[A-Z0-9_]`` (case-insensitive, kept upper case), must not start with a
digit nor with ``GITHUB_``. A path maps to ``prefix`` + the path upper-cased with ``/``, ``-`` and
``.`` turned into ``_`` (``app/db-main.url`` -> ``APP_DB_MAIN_URL``). Any other character is an
error naming the path; two paths with one name are an error of the diff naming both.
"""

from __future__ import annotations

import re

from airflow_secretsync.errors import StoreError

_SEPARATORS = str.maketrans({"/": "_", "-": "_", ".": "_"})
_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
_PREFIX = re.compile(r"[A-Z_][A-Z0-9_]*|")
RESERVED = "GITHUB_"


def check_prefix(prefix: str) -> None:
    """Raise ``ValueError`` (a config error) unless ``prefix`` can start a secret name."""
    if not _PREFIX.fullmatch(prefix) or prefix.startswith(RESERVED):
        raise ValueError(
            f"{prefix!r} cannot start a GitHub secret name: use A-Z, 0-9 and _ (upper case), "
            f"not starting with a digit or {RESERVED}"
        )


def secret_name(prefix: str, path: str, where: str) -> str:
    """The secret name of ``path``; :class:`StoreError` naming ``where`` and the path if none."""
    name = prefix + path.upper().translate(_SEPARATORS)
    if not _NAME.fullmatch(name) or name.startswith(RESERVED):
        raise StoreError(
            f"{where}: '{path}' has no GitHub secret name ('{name}' is not [A-Z0-9_], starts "
            f"with a digit or with {RESERVED}); rename it or filter it out with exclude"
        )
    return name
