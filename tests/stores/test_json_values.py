"""json_normalized: how JSON stores hold a value, without copying one that needs no change."""

from __future__ import annotations

import pytest

from airflow_secretsync.errors import StoreError
from airflow_secretsync.stores.base import json_normalized


def test_a_value_already_in_json_form_is_returned_itself() -> None:
    value = {"user": "svc", "nested": {"list": [1, 2.5, None, True]}}
    assert json_normalized(value, "here") is value


@pytest.mark.parametrize(
    ("value", "normal"),
    [
        ({"pair": (1, 2)}, {"pair": [1, 2]}),
        ({1: "one"}, {"1": "one"}),
        ((1, "a"), [1, "a"]),
    ],
    ids=["tuple-inside", "int-key", "tuple"],
)
def test_a_value_the_round_trip_changes_is_returned_in_json_form(value, normal) -> None:
    result = json_normalized(value, "here")
    assert result == normal
    assert type(result) is type(normal)


def test_a_value_json_cannot_hold_is_refused_without_its_content() -> None:
    with pytest.raises(StoreError) as caught:
        json_normalized({"canary": {1, 2}}, "aws://x 'p'")
    assert str(caught.value) == "aws://x 'p': the value cannot be stored as JSON (TypeError)"
