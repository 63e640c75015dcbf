"""Load a pipeline YAML file into a validated :class:`PipelineConfig` (SPEC §1).

Every mistake in the file is collected (syntax, schema, naming, graph, references) and raised
together as one :class:`ConfigError`, one ``file:line:column: key.path: message`` per mistake.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from airflow_secretsync.config.cache import read_cached, write_cached
from airflow_secretsync.config.checks import check_document, task_problems
from airflow_secretsync.config.model import Connections, PipelineConfig, VaultLocation
from airflow_secretsync.config.problems import Problem, render
from airflow_secretsync.config.schema_errors import schema_problems
from airflow_secretsync.config.yaml_reader import YamlDocument, read_yaml
from airflow_secretsync.errors import ConfigError

_Store = TypeVar("_Store", bound=BaseModel)


def load_config(path: str | os.PathLike[str]) -> PipelineConfig:
    """Read and validate the pipeline file at ``path`` (a file loaded before with the same
    content comes from :mod:`~airflow_secretsync.config.cache`)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"{os.fspath(path)}: cannot read the config file: {exc.strerror}"
        ) from None
    cached = read_cached(raw, Path(path))
    if cached is not None:
        return cached
    config = parse_config(raw, path)
    write_cached(raw, config)
    return config


def parse_config(text: str | bytes, file: str | os.PathLike[str] | None = None) -> PipelineConfig:
    """Validate pipeline YAML ``text``; ``file`` names it in errors and sets the default DAG id."""
    name = os.fspath(file) if file is not None else "<config>"
    doc = read_yaml(text, name)
    if doc.data is None:
        raise ConfigError(render(name, 1, 1, (), "the config is empty: start with 'version: 1'"))
    if not isinstance(doc.data, dict):
        raise ConfigError(doc.error_line((), "the config must be a mapping, starting 'version: 1'"))
    problems = check_document(doc.data, Path(name).stem if file is not None else None)
    try:
        config = PipelineConfig.model_validate(
            {key: value for key, value in doc.data.items() if key != "source_file"}
        )
    except ValidationError as exc:
        problems += schema_problems(exc, already_reported=problems)
    else:
        if not problems:
            problems = task_problems(config)
    if problems:
        raise ConfigError(_render_all(doc, problems))
    config = with_connection_defaults(config)
    return config.model_copy(update={"source_file": Path(file)}) if file is not None else config


def _render_all(doc: YamlDocument, problems: list[Problem]) -> list[str]:
    """One line per problem, in file order, duplicates dropped."""
    located = sorted(
        ((doc.position(p.loc, at_key=p.at_key), p) for p in problems), key=lambda item: item[0]
    )
    lines = (render(doc.file, pos.line, pos.column, p.loc, p.message) for pos, p in located)
    return list(dict.fromkeys(lines))


def with_connection_defaults(config: PipelineConfig) -> PipelineConfig:
    """Fill every ``connection_id`` left empty from the ``connections:`` block."""
    defaults = config.connections

    def fill(store: _Store | None) -> _Store | None:
        if store is None or getattr(store, "connection_id", None):
            return store
        return store.model_copy(update={"connection_id": _default_for(store, defaults)})

    def fill_all(block: BaseModel, *fields: str) -> BaseModel:
        return block.model_copy(update={field: fill(getattr(block, field)) for field in fields})

    update: dict[str, object] = {
        "sources": {n: fill_all(s, "vault", "aws") for n, s in config.sources.items()},
        "targets": {n: fill_all(t, "vault", "aws") for n, t in config.targets.items()},
    }
    if config.merge_store is not None:
        update["merge_store"] = fill_all(config.merge_store, "vault", "s3")
    return config.model_copy(update=update)


def _default_for(store: BaseModel, defaults: Connections) -> str:
    return defaults.vault if isinstance(store, VaultLocation) else defaults.aws
