"""Pydantic validation errors as config problems a person can act on."""

from __future__ import annotations

import datetime
import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from airflow_secretsync.config.model import PipelineConfig
from airflow_secretsync.config.problems import Loc, Problem, did_you_mean

_EXPECTED = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}
_HIDDEN_FIELDS = {"source_file"}  # set by the loader, never by the file


def schema_problems(exc: ValidationError, already_reported: list[Problem]) -> list[Problem]:
    """One problem per pydantic error, worded for the YAML file (input values never quoted).

    Errors the rule checks already reported are left out: those at the same key path, and a
    block-level check (``exactly one of vault / aws``) reported anywhere inside that block.
    """

    def known(error: ErrorDetails) -> bool:
        loc = tuple(error["loc"])
        block_level = error["type"] == "value_error"
        return any(
            p.loc == loc or (block_level and p.loc[: len(loc)] == loc) for p in already_reported
        )

    return [_problem(error) for error in exc.errors(include_url=False) if not known(error)]


def _problem(error: ErrorDetails) -> Problem:
    loc: Loc = tuple(error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        name = str(loc[-1])
        fields = _field_names(loc[:-1])
        hint = did_you_mean(name, fields) or (
            f" (valid keys: {', '.join(fields)})" if fields else ""
        )
        return Problem(loc, f"unknown key '{name}'{hint}", at_key=True)
    if kind == "missing":
        hint = ": add 'version: 1' at the top" if loc == ("version",) else ""
        return Problem(loc, f"required key '{loc[-1]}' is missing{hint}", at_key=True)
    if kind in _EXPECTED:
        return Problem(loc, _wrong_type(loc, kind, error["input"]))
    if kind == "string_pattern_mismatch" and loc[-1] == "account_id":
        return Problem(loc, 'must be a 12-digit AWS account id, quoted: "123456789012"')
    if kind == "value_error":
        return Problem(loc, str(error["ctx"]["error"]))
    return Problem(loc, error["msg"].replace("Input should", "should"))


def _wrong_type(loc: Loc, kind: str, value: Any) -> str:
    expected = _EXPECTED[kind]
    if kind == "model_type" and len(loc) == 2 and loc[0] == "targets":
        expected = "a mapping or a list of imports"
    message = f"expected {expected}, got {_describe(value)}"
    if kind == "string_type" and isinstance(value, bool):
        message += " (quote it: YAML reads yes/no/on/off/true/false as booleans)"
    elif kind == "string_type" and isinstance(value, int | float | datetime.date):
        message += " (quote it)"
    return message


def _describe(value: Any) -> str:
    """The kind of a YAML value, never the value itself."""
    if value is None:
        return "null"
    for kinds, name in (
        (bool, "a boolean"),
        (int, "an integer"),
        (float, "a number"),
        (str, "a string"),
        (bytes, "binary data"),
        (list, "a list"),
        (dict, "a mapping"),
        (datetime.date, "a date"),
    ):
        if isinstance(value, kinds):
            return name
    return type(value).__name__


def _field_names(loc: Loc) -> list[str]:
    """The keys allowed at ``loc`` (a mapping in the file), from the model."""
    tp: Any = PipelineConfig
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            if not isinstance(part, str) or part not in tp.model_fields:
                return []
            tp = tp.model_fields[part].annotation
        elif get_origin(tp) in (dict, list):
            tp = get_args(tp)[-1]
        else:
            return []
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [name for name in tp.model_fields if name not in _HIDDEN_FIELDS]
    return []


def _unwrap(tp: Any) -> Any:
    """``Annotated[X, ...]`` and ``X | None`` -> ``X``."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            options = [arg for arg in get_args(tp) if arg is not type(None)]
            if len(options) != 1:
                return tp
            tp = options[0]
        else:
            return tp
