"""moto's server without two costs that grow with the number of secrets, which AWS has not.

In ``moto/secretsmanager/models.py``:

- moto finds a secret by scanning every secret (``SecretsStore.__getitem__``, ``get``,
  ``__contains__``), so each ``GetSecretValue``, ``PutSecretValue``, ``CreateSecret`` and each
  id of a ``BatchGetSecretValue`` costs O(number of secrets). Here a name (the store's dict key)
  or a full ARN (name + ``-`` + 6 characters) is looked up directly and gives what the scan
  gives; anything else (a partial ARN) still scans.
- ``ListSecrets`` filters every secret and builds the response entry of each match, then
  returns one page of them: 10,000 secrets listed 100 at a time cost a million of each. Here
  the first page's request takes the list of matching secrets, the following pages of that
  listing (same filters, a ``NextToken``) page through that list, and only the returned
  entries are built. A listing is thus a snapshot taken when it starts; AWS documents
  ``ListSecrets`` as eventually consistent, so callers cannot count on more.

At 10,000 secrets the benchmark would otherwise measure moto. Everything else is moto as
shipped, and every response is the same.

Run: ``python -m benchmarks.moto_server -H 127.0.0.1 -p PORT`` (moto.server's arguments).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from moto import server
from moto.secretsmanager import models
from moto.secretsmanager.models import SecretsManagerBackend, SecretsStore

ARN_SUFFIX = 7  # "-" and 6 random characters after the name in a full secret ARN

_scan_getitem = SecretsStore.__getitem__
_scan_get = SecretsStore.get
_scan_contains = SecretsStore.__contains__


def direct(store: SecretsStore, key: str) -> Any:
    """The secret named ``key`` or whose full ARN is ``key``, or None (not necessarily absent
    when ``key`` is a partial ARN)."""
    if not key.startswith("arn:"):
        return dict.get(store, key)
    name = key.rsplit(":", 1)[-1][:-ARN_SUFFIX]
    secret = dict.get(store, name)
    return secret if secret is not None and secret.arn == key else None


def _getitem(self: SecretsStore, key: str) -> Any:
    secret = direct(self, key)
    if secret is None and key.startswith("arn:"):
        return _scan_getitem(self, key)
    if secret is None:
        raise KeyError(key)
    return secret


def _get(self: SecretsStore, key: str) -> Any:
    secret = direct(self, key)
    return _scan_get(self, key) if secret is None and key.startswith("arn:") else secret


def _contains(self: SecretsStore, key: str) -> bool:
    return direct(self, key) is not None or (key.startswith("arn:") and _scan_contains(self, key))


_listings: dict[tuple[int, str, bool], list[Any]] = {}  # matching secrets, by listing


def _list_secrets(
    self: SecretsManagerBackend,
    filters: list[dict[str, Any]],
    max_results: int = models.MAX_RESULTS_DEFAULT,
    next_token: str | None = None,
    include_planned_deletion: bool = False,
) -> tuple[list[dict[str, Any]], str | None]:
    """moto's ``list_secrets``: matching secrets found once per listing, entries built for
    the returned page only."""
    key = (id(self), json.dumps(filters, sort_keys=True), include_planned_deletion)
    if next_token is None or key not in _listings:
        _listings[key] = [
            secret
            for secret in self.secrets.values()
            if (include_planned_deletion or not getattr(secret, "deleted_date", None))
            and models._matches(secret, filters)
        ]
    page, token = self._get_secret_values_page_and_next_token(
        _listings[key], max_results, next_token
    )
    return [secret.to_dict() for secret in page], token


def patch_moto() -> None:
    """Replace moto's scanning look-ups and its ``list_secrets`` by the ones above."""
    SecretsStore.__getitem__ = _getitem
    SecretsStore.get = _get
    SecretsStore.__contains__ = _contains
    SecretsManagerBackend.list_secrets = _list_secrets


if __name__ == "__main__":
    patch_moto()
    server.main(sys.argv[1:])
