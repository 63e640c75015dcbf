"""Step secrets: each task gets only its own secrets, as environment variables.

This file holds references only, so parsing it looks nothing up. A task's references are
resolved when it starts; the values exist in its environment (and its subprocesses') while it
runs, are masked in its log, and are gone when it ends. See docs/step-secrets.md.
"""

import os
from pathlib import Path

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, task

from airflow_secretsync.airflow import SecretSyncDagBuilder, attach_step_secrets, with_step_secrets

with DAG(
    "step_secrets_example",
    schedule=None,
    tags=["secrets", "example"],
    doc_md=__doc__,
) as dag:

    @with_step_secrets(REPORTING_API_TOKEN="ref+vault://secret/examples/reporting#/token")
    @task
    def publish_report() -> str:
        """Only this task sees REPORTING_API_TOKEN."""
        headers = {"Authorization": f"Bearer {os.environ['REPORTING_API_TOKEN']}"}
        return f"report published with {len(headers)} auth header"  # never return the value

    # Any operator: a BashOperator's command sees the variable in its subprocess.
    deploy = attach_step_secrets(
        BashOperator(
            task_id="deploy",
            bash_command='test -n "$DEPLOY_KEY" && echo "deploy key present"',
        ),
        DEPLOY_KEY="ref+awssecrets://examples/deploy#/key",
    )

    # No step secrets: neither variable exists here.
    audit = BashOperator(
        task_id="audit",
        bash_command='test -z "${REPORTING_API_TOKEN:-}${DEPLOY_KEY:-}" && echo "none here"',
    )

    publish_report() >> deploy >> audit


# The generated pipeline DAG with step secrets added in Python on top of the config's:
# only the sync of Staging gets these AWS credentials (boto3 reads them from the environment
# when the connection has none).
builder = SecretSyncDagBuilder(
    Path(__file__).parent / "configs" / "example.yaml",
    dag_id="secretsync_example_step_secrets",
    tags=["secrets", "example"],
)
builder.add_step_secret(
    "sync.Staging", "AWS_ACCESS_KEY_ID", "ref+vault://secret/examples/aws-staging#/access_key_id"
)
builder.add_step_secret(
    "sync.Staging",
    "AWS_SECRET_ACCESS_KEY",
    "ref+vault://secret/examples/aws-staging#/secret_access_key",
)
pipeline_dag = builder.build()
