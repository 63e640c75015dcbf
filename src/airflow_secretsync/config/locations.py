"""Where a source, the merge store or a destination lives, as data and for people (no
network access, no secrets): used by ``secretsync plan`` and a generated DAG's docs. Each store
kind describes its own blocks (:meth:`~airflow_secretsync.stores.registry.StoreBlock.describe`).
"""

from __future__ import annotations

from typing import Any

from airflow_secretsync.config.model import PipelineConfig
from airflow_secretsync.stores.registry import StoreBlock, kind_of


def location(block: StoreBlock) -> dict[str, Any]:
    """A store block as data: its kind (``type``) and its settings, connection id included."""
    return {"type": kind_of(block).name, **block.model_dump(mode="json")}


def describe(block: StoreBlock) -> str:
    """A store block for people: ``AWS Secrets Manager staging/* in us-east-1 (connection
    aws_default)``."""
    return f"{block.describe()} (connection {block.connection_id})"


def destination_text(config: PipelineConfig, target: str) -> str:
    """Where ``target`` syncs to, for people; ``(no destination)`` when it has none."""
    block = config.targets[target].destination
    return describe(block) if block is not None else "(no destination)"
