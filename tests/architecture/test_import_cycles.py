"""No import cycles among our modules (src, benchmarks, devtools, tests), read with ``ast``."""

from __future__ import annotations

import pytest

from tests.architecture.imports import first_cycle, import_graph, modules


@pytest.mark.parametrize("lazy", [False, True], ids=["module-level", "lazy-and-type-only-too"])
def test_no_import_cycles(lazy: bool) -> None:
    """Module-level imports must not form a cycle (import order bugs); nor may imports in
    functions or under ``TYPE_CHECKING`` (a cycle in the design, hidden by a late import)."""
    cycle = first_cycle(import_graph(lazy=lazy))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_graph_sees_our_imports() -> None:
    """The reader resolves absolute, relative, ``from pkg import module`` and parent-package
    imports, and finds a cycle when there is one."""
    assert {"airflow_secretsync.cli", "benchmarks.run", "devtools.paths"} <= modules().keys()
    graph = import_graph()
    assert "airflow_secretsync.core.diff" in graph["airflow_secretsync.core.engine"]
    assert "airflow_secretsync.config" in graph["airflow_secretsync.core.engine"]
    assert "benchmarks.cli_validate" in graph["benchmarks.run"]  # from benchmarks import x
    assert "airflow_secretsync.stores" in graph["airflow_secretsync.core.engine"]  # a parent
    assert "airflow_secretsync.cli" not in graph["airflow_secretsync.cli.validate"]  # its own
    lazy = import_graph(lazy=True)
    assert "airflow_secretsync.refs.reference" in lazy["airflow_secretsync.config.checks"]
    errors, cli = "airflow_secretsync.errors", "airflow_secretsync.cli"
    assert first_cycle(graph) is None
    cycle = first_cycle({**graph, errors: {cli}})  # cli imports errors: now a cycle
    assert cycle is not None
    assert cycle[0] == cycle[-1]
    assert sorted(cycle[1:]) == [cli, errors]
