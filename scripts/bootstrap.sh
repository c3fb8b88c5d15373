#!/usr/bin/env bash
# Prepare everything `make run` and `make test` need, idempotently:
#   1. an Odoo 18.0 source tree (ODOO_SRC, default /opt/odoo; else upstream 18.0
#      downloaded into the state directory when the network allows);
#   2. the system packages Odoo's wheels and the browser tests need (installed
#      with apt-get when running as root, otherwise a clear hint);
#   3. a virtualenv (PEAK_VENV, default .venv) with requirements.txt, OCA
#      queue_job (without its `odoo` requirement), the governor and Odoo's source
#      on sys.path;
#   4. a second virtualenv (.venv-rehearsal) for peak-rehearsal and Locust.
# A second run with nothing changed takes about a second.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PEAK_VENV="${PEAK_VENV:-$ROOT/.venv}"
PEAK_STATE_DIR="${PEAK_STATE_DIR:-$ROOT/.state}"
ODOO_SRC="${ODOO_SRC:-/opt/odoo}"
ODOO_ARCHIVE_URL="${PEAK_ODOO_ARCHIVE_URL:-https://github.com/odoo/odoo/archive/refs/heads/18.0.tar.gz}"
PYTHON="${PEAK_PYTHON:-python3.11}"

die() { echo "bootstrap: $*" >&2; exit 1; }
say() { echo "bootstrap: $*" >&2; }

is_odoo18() {
    [ -f "$1/odoo-bin" ] && [ -f "$1/odoo/release.py" ] \
        && grep -q "^version_info = (18, 0," "$1/odoo/release.py"
}

resolve_odoo_src() {
    if is_odoo18 "$ODOO_SRC"; then
        return
    fi
    local downloaded="$PEAK_STATE_DIR/odoo-18.0"
    if is_odoo18 "$downloaded"; then
        ODOO_SRC="$downloaded"
        return
    fi
    say "no Odoo 18.0 source at ODOO_SRC=$ODOO_SRC; downloading upstream 18.0"
    mkdir -p "$PEAK_STATE_DIR"
    local tmp="$PEAK_STATE_DIR/odoo-18.0.download"
    rm -rf "$tmp" && mkdir -p "$tmp"
    if ! curl -fsSL --connect-timeout 10 --max-time 1800 "$ODOO_ARCHIVE_URL" \
        | tar -xz -C "$tmp" --strip-components=1 2>/dev/null; then
        rm -rf "$tmp"
        die "no Odoo 18.0 source: set ODOO_SRC to an Odoo 18.0 checkout (it has odoo-bin), or allow downloads from $ODOO_ARCHIVE_URL"
    fi
    mv "$tmp" "$downloaded"
    ODOO_SRC="$downloaded"
}

ensure_system_packages() {
    # Debian package -> a file proving it is installed.
    local -A wanted=(
        [libldap2-dev]=/usr/include/ldap.h
        [libsasl2-dev]=/usr/include/sasl/sasl.h
        [libpq-dev]=/usr/include/postgresql/libpq-fe.h
        [chromium]=/usr/bin/chromium
        [prometheus]=/usr/bin/promtool
        [shellcheck]=/usr/bin/shellcheck
        [redis-server]=/usr/bin/redis-server
        [pgbackrest]=/usr/bin/pgbackrest
        [openssl]=/usr/bin/openssl
    )
    local missing=()
    for pkg in "${!wanted[@]}"; do
        [ -e "${wanted[$pkg]}" ] || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return
    if [ "$(id -u)" -ne 0 ]; then
        die "missing system packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})"
    fi
    say "installing system packages: ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
}

pip_install() {
    local log
    log="$(mktemp)"
    if ! "$PEAK_VENV/bin/pip" install -q --disable-pip-version-check "$@" >"$log" 2>&1; then
        grep -v "is ignored: it is neither" "$log" >&2 || true
        rm -f "$log"
        die "pip install $* failed (output above)"
    fi
    rm -f "$log"
}

ensure_venv() {
    command -v "$PYTHON" >/dev/null || PYTHON=python3
    "$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11)' 2>/dev/null \
        || die "Python 3.11 is required ($PYTHON is $("$PYTHON" --version 2>&1))"
    [ -x "$PEAK_VENV/bin/python" ] || "$PYTHON" -m venv "$PEAK_VENV"
    local stamp="$PEAK_VENV/.peak-requirements"
    local want
    want="$(cat "$ROOT/requirements.txt" "$ROOT/requirements-addons.txt" \
        "$ROOT/settings/pyproject.toml" "$ROOT/governor/pyproject.toml" \
        | sha256sum | cut -c1-16)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        say "installing Python dependencies into $PEAK_VENV"
        pip_install -r "$ROOT/requirements.txt"
        pip_install --no-deps -r "$ROOT/requirements-addons.txt"
        # peak_settings: the settings reader the addons and the governor share.
        pip_install --no-deps -e "$ROOT/settings"
        pip_install --no-deps -e "$ROOT/governor"
        "$PEAK_VENV/bin/python" -c "import psycopg2, psycopg, redis, boto3, peak_settings, peak_governor" \
            || die "the virtualenv at $PEAK_VENV is incomplete (see pip output above)"
        echo "$want" >"$stamp"
    fi
    # Odoo's source goes on sys.path without being copied or pip-installed.
    local site
    site="$("$PEAK_VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    echo "$ODOO_SRC" >"$site/peak-odoo-src.pth"
    "$PEAK_VENV/bin/python" -c "import odoo.release as r; assert r.version_info[:2] == (18, 0)" \
        || die "ODOO_SRC=$ODOO_SRC is not importable as Odoo 18.0"
}

# Deployment linters that clash with Odoo's pins (checkov): a virtualenv of
# their own, filled from requirements-lint.txt (`make lint-deploy` runs
# `scripts/bootstrap.sh --lint`).
ensure_lint_venv() {
    local venv="${PEAK_LINT_VENV:-$ROOT/.venv-lint}"
    command -v "$PYTHON" >/dev/null || PYTHON=python3
    [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
    local stamp="$venv/.peak-requirements" want
    want="$(sha256sum "$ROOT/requirements-lint.txt" | cut -c1-16)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        say "installing the deployment linters into $venv"
        PEAK_VENV="$venv" pip_install -r "$ROOT/requirements-lint.txt"
        echo "$want" >"$stamp"
    fi
}

# peak-rehearsal (rehearsal/): Locust pins gevent and requests newer than
# Odoo 18's, so the load generator gets a virtualenv of its own.
ensure_rehearsal_venv() {
    local venv="${PEAK_REHEARSAL_VENV:-$ROOT/.venv-rehearsal}"
    command -v "$PYTHON" >/dev/null || PYTHON=python3
    [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
    local stamp="$venv/.peak-requirements" want
    want="$(sha256sum "$ROOT/rehearsal/pyproject.toml" | cut -c1-16)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        say "installing peak-rehearsal (Locust) into $venv"
        PEAK_VENV="$venv" pip_install -e "$ROOT/rehearsal"
        "$venv/bin/peak-rehearsal" --help >/dev/null \
            || die "peak-rehearsal does not start from $venv (see pip output above)"
        echo "$want" >"$stamp"
    fi
}

if [ "${1:-}" = "--lint" ]; then
    ensure_lint_venv
    exit 0
fi

resolve_odoo_src
ensure_system_packages
ensure_venv
ensure_rehearsal_venv
mkdir -p "$PEAK_STATE_DIR"
echo "$ODOO_SRC" >"$PEAK_STATE_DIR/odoo-src"
say "ready: venv $PEAK_VENV, Odoo $ODOO_SRC"
