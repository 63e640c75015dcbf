"""What a generated DAG tells its reader in the UI: a one-line description and ``doc_md``
with the targets, where each syncs to, and the pipeline file itself (references, no values)."""

from __future__ import annotations

from airflow_secretsync.config import PipelineConfig
from airflow_secretsync.config.locations import describe, destination_text


def dag_description(config: PipelineConfig) -> str:
    """``Secret sync from secretsync.yaml: 2 sources -> 2 destinations``."""
    name = config.source_file.name if config.source_file else "a pipeline file"
    synced = sum(1 for t in config.targets.values() if t.destination is not None)
    sources = len(config.sources)
    return (
        f"Secret sync from {name}: {sources} source{'' if sources == 1 else 's'} -> "
        f"{synced} destination{'' if synced == 1 else 's'}"
    )


def dag_doc_md(config: PipelineConfig) -> str:
    """Markdown for the DAG's Docs panel: targets and destinations, then the YAML."""
    lines = [f"## {dag_description(config)}", ""]
    if config.merge_store:
        lines += [f"Merge store: {describe(config.merge_store.store)}", ""]
    lines += ["| target | inherits | imports | syncs to |", "| --- | --- | --- | --- |"]
    for name, target in config.targets.items():
        lines.append(
            f"| {name} | {', '.join(target.inherits) or '-'} | {', '.join(target.imports) or '-'}"
            f" | {destination_text(config, name)} |"
        )
    lines += ["", "Sources:", ""]
    lines += [f"- **{name}**: {describe(source.store)}" for name, source in config.sources.items()]
    if config.source_file and config.source_file.is_file():
        lines += [
            "",
            f"`{config.source_file}`:",
            "",
            "```yaml",
            config.source_file.read_text().rstrip(),
            "```",
        ]
    return "\n".join(lines)
