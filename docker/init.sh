#!/usr/bin/env bash
# The airflow-init service of docker-compose.yaml, run once before the Airflow components:
# the UI login, the metadata database, and the example source secrets.
set -euo pipefail

PASSWORDS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE}"
if [[ ! -s "$PASSWORDS" ]]; then
  # The simple auth manager reads this file; a user missing from it gets a generated password.
  printf '{"admin": "%s"}\n' "${AIRFLOW_ADMIN_PASSWORD:-admin}" > "$PASSWORDS"
fi

echo "Migrating the metadata database"
airflow db migrate

if [[ "${SECRETSYNC_SEED_EXAMPLE:-true}" == "true" ]]; then
  echo "Seeding the example source secrets"
  PYTHONPATH=/opt/secretsync python /opt/secretsync/docker/seed_compose.py
fi
