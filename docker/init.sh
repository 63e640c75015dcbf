#!/usr/bin/env bash
# The airflow-init service of docker-compose.yaml (runs once, as root, before the components):
# volume ownership, the UI login, the metadata database, and the example source secrets.
set -euo pipefail

AIRFLOW_UID="${AIRFLOW_UID:-50000}"
PASSWORDS="${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE}"

mkdir -p /opt/airflow/logs "$(dirname "$PASSWORDS")"
if [[ ! -s "$PASSWORDS" ]]; then
  # The simple auth manager reads this file; users missing from it get a generated password.
  printf '{"admin": "%s"}\n' "${AIRFLOW_ADMIN_PASSWORD:-admin}" > "$PASSWORDS"
fi
chown -R "${AIRFLOW_UID}:0" /opt/airflow/logs "$(dirname "$PASSWORDS")"

echo "Migrating the metadata database"
/entrypoint airflow db migrate

if [[ "${SECRETSYNC_SEED_EXAMPLE:-true}" == "true" ]]; then
  echo "Seeding the example source secrets"
  PYTHONPATH=/opt/secretsync /entrypoint python /opt/secretsync/docker/seed_compose.py
fi
