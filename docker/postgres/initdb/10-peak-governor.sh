#!/bin/sh
# Creates the least-privilege login role used by peak-governor, like the CNPG
# managed role in k8s/base/postgres-cluster.yaml (member of pg_monitor, no
# other privilege). The postgres image runs this once, on an empty volume.
# The password is passed as a psql variable, never spliced into SQL text.
set -eu

: "${PEAK_GOVERNOR_DB_PASSWORD:?PEAK_GOVERNOR_DB_PASSWORD must be set}"

psql --no-psqlrc -v ON_ERROR_STOP=1 \
    -v governor_password="$PEAK_GOVERNOR_DB_PASSWORD" \
    --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE peak_governor LOGIN PASSWORD :'governor_password' IN ROLE pg_monitor;
COMMENT ON ROLE peak_governor IS 'peak-governor sidecar (read-only monitoring)';
SQL
