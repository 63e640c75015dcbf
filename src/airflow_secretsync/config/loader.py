"""Load a pipeline YAML file into a validated :class:`PipelineConfig` (SPEC §1).

Every mistake in the file is collected (syntax, schema, naming, graph, references) and raised
together as one :class:`ConfigError`, one ``file:line:column: key.path: message`` per mistake.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from pydantic import ValidationError

from airflow_secretsync.config.cache import read_cached, write_cached
from airflow_secretsync.config.checks import check_document, task_problems
from airflow_secretsync.config.model import PipelineConfig
from airflow_secretsync.config.problems import Problem, render
from airflow_secretsync.config.schema_errors import schema_problems
from airflow_secretsync.config.yaml_reader import YamlDocument, read_yaml
from airflow_secretsync.errors import ConfigError

#: The largest config file read (1 MiB); a pipeline file is a few kilobytes.
MAX_CONFIG_BYTES = 1024 * 1024


def load_config(path: str | os.PathLike[str]) -> PipelineConfig:
    """Read and validate the pipeline file at ``path`` (a file loaded before with the same
    content comes from :mod:`~airflow_secretsync.config.cache`)."""
    return load_config_and_bytes(path)[0]


def load_config_and_bytes(path: str | os.PathLike[str]) -> tuple[PipelineConfig, bytes]:
    """:func:`load_config` and the exact bytes it was parsed from (a plan's config identity
    is their hash)."""
    raw = read_config_file(path)
    cached = read_cached(raw, Path(path))
    if cached is not None:
        return cached, raw
    config = parse_config(raw, path)
    write_cached(raw, config)
    return config, raw


def read_config_file(path: str | os.PathLike[str]) -> bytes:
    """The bytes of the regular file ``path`` (at most :data:`MAX_CONFIG_BYTES`).

    FIFOs, devices, directories and sockets are refused without reading (a FIFO is opened
    non-blocking, so nothing waits for a writer).
    """
    where = f"{os.fspath(path)}: cannot read the config file"
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ConfigError(f"{where}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ConfigError(f"{where}: not a regular file (a FIFO, device or directory)")
        try:
            raw = fh.read(MAX_CONFIG_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"{where}: {exc.strerror}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{where}: larger than {MAX_CONFIG_BYTES // 1024} KiB")
    return raw


def parse_config(text: str | bytes, file: str | os.PathLike[str] | None = None) -> PipelineConfig:
    """Validate pipeline YAML ``text``; ``file`` names it in errors and sets the default DAG id."""
    name = os.fspath(file) if file is not None else "<config>"
    doc = read_yaml(text, name)
    if doc.data is None:
        raise ConfigError(render(name, 1, 1, (), "the config is empty: start with 'version: 1'"))
    if not isinstance(doc.data, dict):
        raise ConfigError(doc.error_line((), "the config must be a mapping, starting 'version: 1'"))
    problems = check_document(doc, Path(name).stem if file is not None else None)
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
    return config.model_copy(update={"source_file": Path(file)}) if file is not None else config


def _render_all(doc: YamlDocument, problems: list[Problem]) -> list[str]:
    """One line per problem, in file order, duplicates dropped."""
    located = sorted(
        ((doc.position(p.loc, at_key=p.at_key), p) for p in problems), key=lambda item: item[0]
    )
    lines = (render(doc.file, pos.line, pos.column, p.loc, p.message) for pos, p in located)
    return list(dict.fromkeys(lines))
