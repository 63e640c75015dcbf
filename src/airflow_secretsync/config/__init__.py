"""The pipeline config: the typed model, the YAML loader and the target graph / run plan."""

from airflow_secretsync.config.graph import Contribution, Plan, TargetGraph, build_plan
from airflow_secretsync.config.loader import load_config, parse_config
from airflow_secretsync.config.model import PipelineConfig, TargetConfig

__all__ = [
    "Contribution",
    "PipelineConfig",
    "Plan",
    "TargetConfig",
    "TargetGraph",
    "build_plan",
    "load_config",
    "parse_config",
]
