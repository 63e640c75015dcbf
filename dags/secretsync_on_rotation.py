"""Runs after ``secretsync_example`` changed a destination: scheduled on the destinations'
Airflow Assets, which a sync task emits only when it added, modified or removed a secret."""

from pathlib import Path

from airflow.sdk import dag, task

from airflow_secretsync.airflow import target_asset

CONFIG = Path(__file__).parent / "configs" / "example.yaml"
STAGING = target_asset(CONFIG, "Staging")  # secretsync://aws/_/_/staging/*
PRODUCTION = target_asset(CONFIG, "Production")  # secretsync://vault/secret/prod


@dag(schedule=(STAGING | PRODUCTION), catchup=False, tags=["secrets", "example"])
def secretsync_on_rotation() -> None:
    @task
    def rotated_secrets(*, triggering_asset_events=None) -> list[str]:
        """The names the triggering syncs changed (names and counts only, never a value): what
        a real DAG would restart or re-deploy."""
        names = set()
        for asset in (STAGING, PRODUCTION):
            for event in (triggering_asset_events or {}).get(asset, ()):
                extra = event.extra
                print(
                    f"{asset.uri}: target {extra['target']} added {extra['added']}, "
                    f"modified {extra['modified']}, removed {extra['removed']}"
                )
                names.update(f"{asset.uri}: {name}" for name in extra["names"])
        return sorted(names)

    rotated_secrets()


rotation_dag = secretsync_on_rotation()
