#!/bin/sh
# Odoo Peak container entrypoint (POSIX sh; kept shellcheck-clean).
#
# One image serves every Odoo process type. The role always comes from
# PEAK_ODOO_ROLE (not from an argument) so that the image HEALTHCHECK, which
# is run without arguments, probes the right thing:
#
#   web        HTTP workers on 8069 (prefork, workers >= 2, no cron)
#   websocket  the gevent server on 8072 (serves /websocket)
#   queue      the OCA queue_job job runner (queue_job loaded server-wide)
#              and the HTTP workers it dispatches jobs to (its own, on
#              127.0.0.1): bulk jobs never take a web worker from a user
#   cron       scheduled actions only (--no-http, --max-cron-threads=2)
#
# Arguments:
#   (none)            run the role
#   --opt ...         run the role with extra Odoo options appended
#   init              install those of PEAK_ODOO_INIT_MODULES that PEAK_DB_NAME
#                     lacks, give the administrator PEAK_ADMIN_PASSWORD, exit
#   upgrade           update PEAK_ODOO_UPGRADE_MODULES (-u) in PEAK_DB_NAME,
#                     then exit (the k8s odoo-upgrade Job; see k8s/README.md)
#   render            write odoo.conf and print the role's odoo-bin flags, then
#                     exit (no Odoo started; used by tests and for debugging)
#   odoo ARGS...      run odoo-bin ARGS with the generated config
#                     (e.g. `odoo -u peak_base --stop-after-init`, `odoo shell`)
#   healthcheck       probe the role (used by the image HEALTHCHECK)
#   anything else     exec'd as is (sh, python, ...)
#
# Settings shared by all roles, secrets included, are written to an odoo.conf
# (mode 0600, $PEAK_ODOO_RC, default /tmp/odoo.conf) rather than passed as
# flags, so that passwords never appear in the process list. Role flags are
# passed on the command line. The last step always `exec`s Odoo, so the
# process receives SIGTERM directly (tini, PID 1, forwards it).
#
# Variables (defaults in parentheses):
#   PEAK_DB_HOST, PEAK_DB_USER, PEAK_DB_PASSWORD, PEAK_DB_NAME   required
#   PEAK_DB_PORT (5432), PEAK_DB_SSLMODE (prefer), PEAK_DB_MAXCONN (32)
#   PGSSLROOTCERT   the database's CA certificate, required by verify-ca/-full
#   PEAK_ODOO_ADMIN_PASSWORD (random: database manager unusable)
#   PEAK_ADMIN_PASSWORD or PEAK_ADMIN_PASSWORD_FILE   required by `init`: the
#     password of Odoo's administrator (login admin) instead of the "admin"
#     of Odoo's base data; 12 characters or more. Set once, while the account
#     still accepts "admin": a password changed in Odoo is never overwritten
#   PEAK_ODOO_WORKERS (web 2, queue max capacity + 1),
#     PEAK_ODOO_MAX_CRON_THREADS (2)
#   PEAK_ODOO_SERVER_WIDE_MODULES (base,web,peak_session_redis,peak_metrics;
#     the queue role adds queue_job,peak_queue),
#   PEAK_ODOO_PROXY_MODE (true)
#   PEAK_ODOO_LOG_LEVEL (info), PEAK_ODOO_WITHOUT_DEMO (all)
#   PEAK_ODOO_LIMIT_TIME_CPU, _TIME_REAL, _TIME_REAL_CRON, _MEMORY_SOFT,
#     _MEMORY_HARD, _REQUEST (PEAK_ODOO_LIMIT_*; Odoo's defaults)
#   PEAK_ODOO_HTTP_PORT (8069), PEAK_ODOO_GEVENT_PORT (8072)
#   PEAK_ODOO_ADDONS_PATH, PEAK_ODOO_DATA_DIR (/var/lib/odoo)
#   PEAK_QUEUE_JOB_MAX_CAPACITY (2), PEAK_QUEUE_JOB_HOST (127.0.0.1: the
#     queue role's own workers), PEAK_QUEUE_JOB_PORT (PEAK_ODOO_HTTP_PORT),
#     PEAK_QUEUE_JOB_SCHEME (http)
#   PEAK_ODOO_INIT_MODULES (for `init`), PEAK_ODOO_UPGRADE_MODULES (for `upgrade`)
#   PEAK_ODOO_UPDATE_LOAD (base,web,peak_governance) server-wide modules of
#     `init` and `upgrade` (the change freeze checks -i/-u before any write)
#   ODOO_BIN (/opt/odoo/odoo-bin), ODOO_PYTHON (python3 on PATH) run Odoo
#   PROMETHEUS_MULTIPROC_DIR (unset) prometheus_client multiprocess directory:
#     created and emptied when a role starts (stale files of dead processes
#     would otherwise be summed into /metrics); unset for `init` and `odoo`,
#     which may run inside a live pod and must not touch its files
# PEAK_S3_*, AWS_* (boto3), PEAK_REDIS_* and PEAK_METRICS_* are read by the
# addons themselves.
set -eu

ODOO_BIN=${ODOO_BIN:-/opt/odoo/odoo-bin}
# odoo-bin is run by the interpreter on PATH (the image's virtualenv), so
# neither its exec bit nor its shebang matter (a source tarball may lack both).
ODOO_PYTHON=${ODOO_PYTHON:-python3}
ODOO_RC=${PEAK_ODOO_RC:-/tmp/odoo.conf}
ROLE=${PEAK_ODOO_ROLE:-web}
HTTP_PORT=${PEAK_ODOO_HTTP_PORT:-8069}
GEVENT_PORT=${PEAK_ODOO_GEVENT_PORT:-8072}
# Server-wide modules of `init` and `upgrade`: peak_governance's change freeze
# guards -i/-u (a database without it installed is not governed).
UPDATE_LOAD=${PEAK_ODOO_UPDATE_LOAD:-base,web,peak_governance}
NL='
'

log() { printf 'peak-entrypoint: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 64; }

require() {
    val=''
    for var in "$@"; do
        eval "val=\${$var:-}"
        [ -n "$val" ] || die "required environment variable $var is not set"
    done
}

is_uint() {
    case $1 in
        '' | *[!0-9]*) return 1 ;;
        *) return 0 ;;
    esac
}

# Print "key = value" for a non-empty value. A newline would let one variable
# inject arbitrary odoo.conf lines, so it is refused.
opt() {
    case $2 in
        *"$NL"*) die "value for odoo.conf option '$1' contains a newline" ;;
    esac
    if [ -n "$2" ]; then
        printf '%s = %s\n' "$1" "$2"
    fi
}

bool() {
    case $(printf '%s' "$1" | tr '[:upper:]' '[:lower:]') in
        1 | true | yes | on) printf 'True' ;;
        0 | false | no | off) printf 'False' ;;
        *) die "not a boolean: '$1'" ;;
    esac
}

# The administrator's password for `init`, from the environment or a file
# (a mounted secret); refused when missing or weak, before Odoo starts.
admin_user_password() {
    pw=${PEAK_ADMIN_PASSWORD:-}
    if [ -z "$pw" ] && [ -n "${PEAK_ADMIN_PASSWORD_FILE:-}" ]; then
        [ -r "$PEAK_ADMIN_PASSWORD_FILE" ] \
            || die "PEAK_ADMIN_PASSWORD_FILE $PEAK_ADMIN_PASSWORD_FILE is not readable"
        pw=$(cat "$PEAK_ADMIN_PASSWORD_FILE") || exit $?
    fi
    [ -n "$pw" ] || die "init needs the administrator's password: set PEAK_ADMIN_PASSWORD or PEAK_ADMIN_PASSWORD_FILE (Odoo's base data would leave admin/admin)"
    case $pw in
        *"$NL"*) die "the administrator's password contains a newline" ;;
    esac
    [ "${#pw}" -ge 12 ] || die "the administrator's password must have 12 characters or more"
    [ "$pw" != admin ] || die "the administrator's password must not be 'admin'"
    printf '%s' "$pw"
}

# Give the administrator PEAK_ADMIN_PASSWORD while it still accepts "admin"
# (a fresh database); odoo shell runs the script read from stdin, and the
# password travels in the environment, never on a command line.
# After init's install, in one Odoo shell: the administrator's password, and
# attachments written to the local filestore before peak_attachment_s3 was
# installed moved to S3 (in k8s init's data dir is a pod's emptyDir: files
# left there would be lost, and every other pod would miss them).
finish_init() {
    "$ODOO_PYTHON" "$ODOO_BIN" shell -c "$ODOO_RC" --no-http --log-level=warn <<'PY'
import os

admin = env.ref("base.user_admin")
env.cr.execute("SELECT COALESCE(password, '') FROM res_users WHERE id = %s", [admin.id])
stored = env.cr.fetchone()[0]
if stored and admin._crypt_context().verify("admin", stored):
    admin.password = os.environ["PEAK_ADMIN_PASSWORD"]
    env.cr.commit()
    print("peak-entrypoint: administrator password set from PEAK_ADMIN_PASSWORD")
else:
    print("peak-entrypoint: administrator password already changed: kept")

attachments = env["ir.attachment"]
if hasattr(attachments, "_peak_s3_migrate_now") and attachments._storage() == "s3":
    moved = attachments._peak_s3_migrate_now("s3")
    env.cr.commit()
    print("peak-entrypoint: local attachments moved to S3: %s" % (moved,))
PY
}

random_secret() {
    od -An -N32 -tx1 /dev/urandom | tr -d ' \n'
}

write_config() {
    require PEAK_DB_HOST PEAK_DB_USER PEAK_DB_PASSWORD PEAK_DB_NAME
    # libpq would look for ~/.postgresql/root.crt and fail at the first query.
    case ${PEAK_DB_SSLMODE:-prefer} in
        verify-ca | verify-full)
            [ -r "${PGSSLROOTCERT:-}" ] \
                || die "PEAK_DB_SSLMODE=$PEAK_DB_SSLMODE needs PGSSLROOTCERT (the database's CA certificate)"
            ;;
    esac

    # Without a master password Odoo falls back to "admin", which guards the
    # database manager RPC (create/drop/dump). If none is provided, use a
    # random one: nobody knows it, so database management is simply off.
    admin_passwd=${PEAK_ODOO_ADMIN_PASSWORD:-}
    if [ -z "$admin_passwd" ]; then
        admin_passwd=$(random_secret)
    fi
    # Computed here, not inline below: a failure inside "$(...)" used as an
    # argument would not stop the script.
    proxy_mode=$(bool "${PEAK_ODOO_PROXY_MODE:-true}") || exit $?

    umask 077
    tmp="$ODOO_RC.$$"
    # Do not leave a half-written file holding secrets behind on failure.
    trap 'rm -f "$tmp"' EXIT
    {
        printf '[options]\n'
        opt addons_path "${PEAK_ODOO_ADDONS_PATH:-/opt/odoo-peak/addons,/opt/odoo/addons,/opt/odoo/odoo/addons}"
        opt data_dir "${PEAK_ODOO_DATA_DIR:-/var/lib/odoo}"
        opt db_host "$PEAK_DB_HOST"
        opt db_port "${PEAK_DB_PORT:-5432}"
        opt db_user "$PEAK_DB_USER"
        opt db_password "$PEAK_DB_PASSWORD"
        opt db_name "$PEAK_DB_NAME"
        opt db_sslmode "${PEAK_DB_SSLMODE:-prefer}"
        opt db_maxconn "${PEAK_DB_MAXCONN:-32}"
        # One database per deployment: never offer the database selector.
        opt dbfilter "^${PEAK_DB_NAME}\$"
        opt list_db False
        opt admin_passwd "$admin_passwd"
        opt proxy_mode "$proxy_mode"
        opt http_port "$HTTP_PORT"
        opt gevent_port "$GEVENT_PORT"
        opt without_demo "${PEAK_ODOO_WITHOUT_DEMO:-all}"
        opt log_level "${PEAK_ODOO_LOG_LEVEL:-info}"
        opt limit_time_cpu "${PEAK_ODOO_LIMIT_TIME_CPU:-}"
        opt limit_time_real "${PEAK_ODOO_LIMIT_TIME_REAL:-}"
        opt limit_time_real_cron "${PEAK_ODOO_LIMIT_TIME_REAL_CRON:-}"
        opt limit_memory_soft "${PEAK_ODOO_LIMIT_MEMORY_SOFT:-}"
        opt limit_memory_hard "${PEAK_ODOO_LIMIT_MEMORY_HARD:-}"
        opt limit_request "${PEAK_ODOO_LIMIT_REQUEST:-}"
        # Read by the queue_job job runner (only the queue role runs one).
        # No `channels` string on purpose: channel capacity, pause and leases
        # live in the database (queue.job.channel) and apply live.
        printf '\n[queue_job]\n'
        opt max_capacity "${PEAK_QUEUE_JOB_MAX_CAPACITY:-2}"
        opt scheme "${PEAK_QUEUE_JOB_SCHEME:-http}"
        opt host "${PEAK_QUEUE_JOB_HOST:-127.0.0.1}"
        opt port "${PEAK_QUEUE_JOB_PORT:-$HTTP_PORT}"
    } >"$tmp"
    mv -f "$tmp" "$ODOO_RC"
    trap - EXIT
    umask 022
}

# Empty the prometheus_client multiprocess directory before the server
# starts: its files are per PID, and files left by a previous container
# (same emptyDir after a restart) would be summed into the new counters.
reset_metrics_dir() {
    dir=${PROMETHEUS_MULTIPROC_DIR:-}
    [ -n "$dir" ] || return 0
    case $dir in
        /*) ;;
        *) die "PROMETHEUS_MULTIPROC_DIR must be an absolute path (got '$dir')" ;;
    esac
    [ "$dir" != / ] || die "PROMETHEUS_MULTIPROC_DIR must not be /"
    mkdir -p "$dir" || die "cannot create PROMETHEUS_MULTIPROC_DIR $dir"
    # Only the files prometheus_client writes (*.db), nothing else.
    find "$dir" -mindepth 1 -maxdepth 1 -type f -name '*.db' -exec rm -f {} + \
        || die "cannot empty PROMETHEUS_MULTIPROC_DIR $dir"
}

# The prefork server with at least 2 HTTP workers (the web and queue roles).
need_prefork_workers() {
    if ! is_uint "$1" || [ "$1" -lt 2 ]; then
        die "the $ROLE role needs PEAK_ODOO_WORKERS >= 2 (got '$1')"
    fi
}

role_args() {
    modules=${PEAK_ODOO_SERVER_WIDE_MODULES:-base,web,peak_session_redis,peak_metrics}
    case $ROLE in
        web)
            workers=${PEAK_ODOO_WORKERS:-2}
            # Fewer than 2 workers cannot render PDF reports (wkhtmltopdf
            # calls back into the server while a worker waits for it).
            need_prefork_workers "$workers"
            set -- "--workers=$workers" --max-cron-threads=0 "--load=$modules"
            ;;
        websocket)
            # `gevent` must be the first argument of odoo-bin.
            set -- gevent --max-cron-threads=0 "--load=$modules"
            ;;
        queue)
            # Prefork: the job runner process plus one HTTP worker per job
            # running at once and one for the probes. The runner dispatches
            # to these workers (PEAK_QUEUE_JOB_HOST, 127.0.0.1 by default),
            # so a backlog of bulk jobs never occupies the web service's
            # workers in a fulfillment wave. queue_job elects one active
            # runner per database with a PostgreSQL advisory lock.
            capacity=${PEAK_QUEUE_JOB_MAX_CAPACITY:-2}
            is_uint "$capacity" || die "PEAK_QUEUE_JOB_MAX_CAPACITY must be a whole number (got '$capacity')"
            workers=${PEAK_ODOO_WORKERS:-$((capacity + 1))}
            need_prefork_workers "$workers"
            set -- "--workers=$workers" --max-cron-threads=0 "--load=$modules,queue_job,peak_queue"
            ;;
        cron)
            # workers > 0 selects the prefork server (memory/time limits per
            # cron worker); --no-http means no HTTP worker is started.
            set -- --workers=1 --no-http \
                "--max-cron-threads=${PEAK_ODOO_MAX_CRON_THREADS:-2}" "--load=$modules"
            ;;
        *)
            die "unknown PEAK_ODOO_ROLE '$ROLE' (web, websocket, queue or cron)"
            ;;
    esac
    printf '%s\n' "$@"
}

http_probe() {
    python3 - "$1" <<'PY'
import sys
import urllib.request

try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as response:
        sys.exit(0 if response.status == 200 else 1)
except OSError as exc:  # URLError and HTTPError are OSErrors
    sys.exit(f"{sys.argv[1]}: {exc}")
PY
}

# The database, from Python (psycopg2 is Odoo's): `probe` connects;
# `missing-modules` prints those of PEAK_ODOO_INIT_MODULES the database lacks
# (all of them when it or Odoo's tables do not exist yet). `-i` on an
# installed module reloads its data as at a first install, noupdate records
# included: it would, among others, give the administrator the password
# "admin" again.
db_helper() {
    python3 - "$1" <<'PY'
import os
import sys

import psycopg2


def connect(timeout):
    return psycopg2.connect(
        host=os.environ["PEAK_DB_HOST"],
        port=os.environ.get("PEAK_DB_PORT", "5432"),
        user=os.environ["PEAK_DB_USER"],
        password=os.environ["PEAK_DB_PASSWORD"],
        dbname=os.environ["PEAK_DB_NAME"],
        sslmode=os.environ.get("PEAK_DB_SSLMODE", "prefer"),
        connect_timeout=timeout,
    )


if sys.argv[1] == "probe":
    try:
        connect(5).close()
    except psycopg2.Error as exc:
        sys.exit(f"database check failed: {exc}")
    sys.exit(0)

wanted = [m.strip() for m in os.environ["PEAK_ODOO_INIT_MODULES"].split(",") if m.strip()]
installed = set()
try:
    conn = connect(10)
except psycopg2.OperationalError as exc:
    if "does not exist" not in str(exc):
        sys.exit(f"database check failed: {exc}")
else:  # a database Odoo has not created yet has nothing installed
    with conn, conn.cursor() as cur:
        cur.execute("SELECT to_regclass('ir_module_module') IS NOT NULL")
        if cur.fetchone()[0]:
            cur.execute("SELECT name FROM ir_module_module WHERE state = 'installed'")
            installed = {row[0] for row in cur.fetchall()}
    conn.close()
print(",".join(m for m in wanted if m not in installed))
PY
}

healthcheck() {
    case $ROLE in
        web | queue) http_probe "http://127.0.0.1:$HTTP_PORT/web/health" ;;
        websocket) http_probe "http://127.0.0.1:$GEVENT_PORT/web/health" ;;
        # No HTTP server in the cron role: check that it can reach its database.
        cron) db_helper probe ;;
        *) die "unknown PEAK_ODOO_ROLE '$ROLE'" ;;
    esac
}

# Run the role: role flags, then any extra flags given to the container.
run_role() {
    write_config
    args=$(role_args) || exit $?
    reset_metrics_dir
    # Any prefork Odoo whose database has queue_job installed starts a job
    # runner (the master preloads the registry, which imports queue_job's
    # server patch). Only the queue role may run one: elsewhere the runner
    # could win queue_job's election and send bulk jobs to web workers.
    # root:0 is queue_job's documented off switch; the queue role keeps no
    # channels string, so channels come from the database.
    if [ "$ROLE" != queue ]; then
        export ODOO_QUEUE_JOB_CHANNELS=root:0
    fi
    # Word splitting is intended: role_args prints one flag per line, none of
    # which contains whitespace (module lists are comma-separated); globbing
    # is off meanwhile.
    set -f
    # shellcheck disable=SC2086
    set -- $args "$@"
    set +f
    log "starting role '$ROLE': odoo-bin $*"
    exec "$ODOO_PYTHON" "$ODOO_BIN" "$@" -c "$ODOO_RC"
}

case ${1:-} in
    healthcheck)
        healthcheck
        ;;
    render)
        write_config
        role_args
        ;;
    init)
        shift
        require PEAK_ODOO_INIT_MODULES
        unset PROMETHEUS_MULTIPROC_DIR
        PEAK_ADMIN_PASSWORD=$(admin_user_password) || exit $?
        export PEAK_ADMIN_PASSWORD
        write_config
        missing=$(db_helper missing-modules) || die "cannot read the installed modules of '$PEAK_DB_NAME'"
        if [ -n "$missing" ]; then
            log "installing modules into '$PEAK_DB_NAME': $missing"
            "$ODOO_PYTHON" "$ODOO_BIN" -c "$ODOO_RC" --no-http --workers=0 --max-cron-threads=0 \
                "--load=$UPDATE_LOAD" -i "$missing" --stop-after-init "$@"
        else
            log "'$PEAK_DB_NAME' already has $PEAK_ODOO_INIT_MODULES (use upgrade to update them)"
        fi
        finish_init
        ;;
    upgrade)
        shift
        require PEAK_ODOO_UPGRADE_MODULES
        unset PROMETHEUS_MULTIPROC_DIR
        write_config
        log "updating modules in '$PEAK_DB_NAME': $PEAK_ODOO_UPGRADE_MODULES"
        # peak_governance server-wide: inside a peak period, without an
        # approved change exception, the update stops before Odoo writes
        # anything (exit 1, one line).
        exec "$ODOO_PYTHON" "$ODOO_BIN" -c "$ODOO_RC" --no-http --workers=0 --max-cron-threads=0 \
            "--load=$UPDATE_LOAD" -u "$PEAK_ODOO_UPGRADE_MODULES" --stop-after-init "$@"
        ;;
    odoo)
        shift
        unset PROMETHEUS_MULTIPROC_DIR
        write_config
        exec "$ODOO_PYTHON" "$ODOO_BIN" "$@" -c "$ODOO_RC"
        ;;
    '' | -*)
        run_role "$@"
        ;;
    *)
        exec "$@"
        ;;
esac
