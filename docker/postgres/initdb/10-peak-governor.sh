#!/bin/sh
# Creates the least-privilege login role used by peak-governor, like the CNPG
# managed role in k8s/base/postgres-cluster.yaml: no predefined role (no
# pg_monitor), peak_queue grants it the contract's functions at install
# (docs/db-contract.md). The postgres image runs this once, on an empty volume.
# The password is passed as a psql variable, never spliced into SQL text.
set -eu

: "${PEAK_GOVERNOR_DB_PASSWORD:?PEAK_GOVERNOR_DB_PASSWORD must be set}"

psql --no-psqlrc -v ON_ERROR_STOP=1 \
    -v governor_password="$PEAK_GOVERNOR_DB_PASSWORD" \
    --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE peak_governor LOGIN PASSWORD :'governor_password';
COMMENT ON ROLE peak_governor IS 'peak-governor sidecar (leases through the contract functions)';
SQL
