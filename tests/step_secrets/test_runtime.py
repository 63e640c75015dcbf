"""Step secrets at run time: resolved when execute starts, in the environment only until it ends."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import pytest

from airflow_secretsync.airflow import attach_step_secrets, with_step_secrets
from airflow_secretsync.airflow.step_secrets import task_step_secrets
from airflow_secretsync.errors import ConfigError, SecretReferenceError
from airflow_secretsync.step_secrets import step_secret_environment
from tests.helpers import unique
from tests.step_secrets.scan import database_hits


@pytest.fixture
def canary(monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """A canary value in a fresh environment variable: ``(reference to it, value)``."""
    source, value = f"SS_SRC_{unique().upper()}", f"canary-{unique()}"
    monkeypatch.setenv(source, value)
    return f"ref+env://{source}", value


def test_environment_is_restored_even_when_the_block_raises(canary, monkeypatch) -> None:
    from airflow.sdk.log import redact

    ref, value = canary
    monkeypatch.setenv("SS_EXISTING", "previous")
    monkeypatch.delenv("SS_NEW", raising=False)

    scope = step_secret_environment("t1", {"SS_EXISTING": ref, "SS_NEW": ref})
    with pytest.raises(RuntimeError, match="boom"), scope as values:  # noqa: PT012
        assert os.environ["SS_EXISTING"] == os.environ["SS_NEW"] == value
        assert values == {"SS_EXISTING": value, "SS_NEW": value}
        raise RuntimeError("boom")

    assert os.environ["SS_EXISTING"] == "previous"
    assert "SS_NEW" not in os.environ
    assert redact(f"the value is {value}") == "the value is ***"  # masked, with no name


def test_unresolvable_reference_names_task_variable_and_reference(canary) -> None:
    ref, value = canary
    missing = f"ref+env://SS_MISSING_{unique().upper()}"

    with pytest.raises(SecretReferenceError) as exc:  # noqa: SIM117
        with step_secret_environment("load", {"SS_OK": ref, "SS_BAD": missing}):
            pytest.fail("must not run")

    message = str(exc.value)
    assert message.startswith(f"task 'load': step secret SS_BAD = '{missing}' cannot be resolved")
    assert value not in message
    assert "SS_OK" not in os.environ  # nothing exported when one reference fails


def test_attach_to_any_operator_merges_and_survives_copies() -> None:
    from airflow.providers.standard.operators.bash import BashOperator

    op = BashOperator(task_id="deploy", bash_command="true")
    assert attach_step_secrets(op, {"A": "ref+env://A_SRC"}, B="ref+env://B_SRC") is op
    attach_step_secrets(op, B="ref+vault://secret/b#/v")
    assert task_step_secrets(op) == {"A": "ref+env://A_SRC", "B": "ref+vault://secret/b#/v"}
    clone = copy.deepcopy(op)  # Airflow copies tasks (partial_subset); the wrapper follows
    assert clone.execute.__self__ is clone
    assert task_step_secrets(clone) == task_step_secrets(op)
    prepared = clone.prepare_for_execution()  # the shallow copy a worker executes
    assert prepared is not clone
    assert prepared.execute.__self__ is prepared
    assert prepared.prepare_for_execution.__self__ is prepared


def test_decorator_forms_and_misuse() -> None:
    from airflow.sdk import DAG, task

    with DAG("step_secrets_decorators", schedule=None) as dag:

        @with_step_secrets(TOKEN="ref+env://TOKEN_SRC")
        @task
        def publish() -> None: ...

        publish()
        publish.override(task_id="publish_again")()
        with pytest.raises(ConfigError, match="mapped"):
            publish.expand(x=[1, 2])

    assert task_step_secrets(dag.task_dict["publish"]) == {"TOKEN": "ref+env://TOKEN_SRC"}
    assert task_step_secrets(dag.task_dict["publish_again"]) == {"TOKEN": "ref+env://TOKEN_SRC"}
    with pytest.raises(ConfigError, match="above @task"):
        with_step_secrets(TOKEN="ref+env://TOKEN_SRC")(lambda: None)
    with pytest.raises(ConfigError, match="operator instance"):
        attach_step_secrets(object(), TOKEN="ref+env://TOKEN_SRC")


DAG_SOURCE = """
import os

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, task

from airflow_secretsync.airflow import attach_step_secrets, with_step_secrets

OUT = {out!r}

with DAG({dag_id!r}, schedule=None) as dag:
    # an explicit env replaces os.environ for the subprocess: the secret is added to it
    # templates are rendered on the copy Airflow executes: the wrapper must run that copy
    explicit_env = BashOperator(
        task_id="explicit_env",
        env={{"KEEP": "{{{{ ti.task_id }}}}", "OUT": OUT}},
        bash_command="env > $OUT/explicit.env; echo {{{{ ti.task_id }}}} > $OUT/rendered",
    )
    attach_step_secrets(explicit_env, SS_EXPLICIT={ref!r})

    @with_step_secrets(SS_BASH={ref!r})
    @task.bash
    def decorated_bash():
        return f'echo "$SS_BASH" > {{OUT}}/bash.out'

    @with_step_secrets(SS_FAILS={ref!r})
    @task
    def fails():
        assert os.environ["SS_FAILS"]
        raise RuntimeError("task failed on purpose")

    @with_step_secrets(SS_MISSING={missing!r})
    @task
    def unresolvable():
        raise AssertionError("must not run")

    decorated_bash()
    fails()
    unresolvable()
"""


def test_in_a_dag_run(tmp_path: Path, dag_file, airflow_db: Path, canary, capfd) -> None:
    ref, value = canary
    dag_id = unique("ssrun")
    missing = f"ref+env://SS_MISSING_{unique().upper()}"
    dag = dag_file(
        dag_id, DAG_SOURCE.format(out=str(tmp_path), dag_id=dag_id, ref=ref, missing=missing)
    )

    run = dag.test()  # tasks run in this process: the environment must be restored after each

    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert states == {
        "explicit_env": "success", "decorated_bash": "success",
        "fails": "failed", "unresolvable": "failed",
    }  # fmt: skip
    explicit = (tmp_path / "explicit.env").read_text().splitlines()
    assert {"KEEP=explicit_env", f"SS_EXPLICIT={value}"} <= set(explicit)
    assert (tmp_path / "rendered").read_text().strip() == "explicit_env"
    assert (tmp_path / "bash.out").read_text().strip() == value
    assert {"SS_EXPLICIT", "SS_BASH", "SS_FAILS", "SS_MISSING"}.isdisjoint(os.environ)
    output = "".join(capfd.readouterr())
    assert f"task 'unresolvable': step secret SS_MISSING = '{missing}' cannot be resolved" in output
    # the rendered env of explicit_env was recorded without the secret
    assert database_hits(airflow_db / "airflow.db", [value]) == []
