#!/bin/sh
# Creates Odoo's login role and database, like CloudNativePG's `odoo` owner
# in k8s: a normal role that owns its database, not the cluster superuser
# (POSTGRES_USER), so that peak_queue's SECURITY DEFINER functions run with
# Odoo's rights only. CREATEDB lets Odoo's own tools copy a database (e.g.
# a staging copy); nothing more. The postgres image runs this once, on an
# empty volume, before 10-peak-governor.sh. The password is a psql
# variable, never spliced into SQL text.
set -eu

: "${PEAK_DB_USER:?PEAK_DB_USER must be set}"
: "${PEAK_DB_PASSWORD:?PEAK_DB_PASSWORD must be set}"
: "${PEAK_DB_NAME:?PEAK_DB_NAME must be set}"
if [ "$PEAK_DB_USER" = "$POSTGRES_USER" ] || [ "$PEAK_DB_USER" = postgres ]; then
    echo "05-odoo-role.sh: PEAK_DB_USER must not be the superuser ($POSTGRES_USER)" >&2
    exit 1
fi

psql --no-psqlrc -v ON_ERROR_STOP=1 \
    -v odoo_user="$PEAK_DB_USER" -v odoo_password="$PEAK_DB_PASSWORD" \
    -v odoo_db="$PEAK_DB_NAME" \
    --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE :"odoo_user" LOGIN CREATEDB NOSUPERUSER NOCREATEROLE NOREPLICATION
    PASSWORD :'odoo_password';
COMMENT ON ROLE :"odoo_user" IS 'Odoo (owner of its database, no superuser)';
CREATE DATABASE :"odoo_db" OWNER :"odoo_user";
SQL
