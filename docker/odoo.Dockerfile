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
# docker/compose.yaml does the same through build.additional_contexts;
# `make images` builds it offline with buildah (scripts/images.sh), on a
# Debian root made by debootstrap passed as BASE.
# No secret is baked in: every setting, secrets included, comes from PEAK_*
# environment variables when the container starts.

# Any Debian 12 root: the official Python image in production, a local
# debootstrap root offline. Both give the same image: see `python` below.
ARG BASE=python:3.11-slim-bookworm
# checkov does not expand ARG: the default above is a pinned tag.
# checkov:skip=CKV_DOCKER_7:BASE defaults to a tagged image

# --- python: what every stage runs on, whatever BASE is --------------------
# Debian's own Python 3.11 (python3, venv and pip through python3-venv) and
# what the official image has that a bare Debian root lacks: CA
# certificates, tzdata, netbase (/etc/services). The official image's own
# interpreter in /usr/local stays unused: the virtualenv is made by
# /usr/bin/python3, so both bases run the same interpreter and wheels.
# Versions are not pinned: Debian point releases drop superseded versions
# from the archive, so the bookworm base tag pins them.
# hadolint ignore=DL3006
FROM ${BASE} AS python
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates \
        netbase \
        python3 \
        tzdata \
    && rm -rf /var/lib/apt/lists/*
ENV LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1

# --- build: a virtualenv and the compilers it needs --------------------------
FROM python AS build
# psycopg2 and python-ldap compile against libpq and OpenLDAP/SASL; rjsmin,
# ofxparse and vobject are sdists too.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        gcc \
        libc6-dev \
        libldap-dev \
        libpq-dev \
        libsasl2-dev \
        python3-dev \
        python3-venv \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN /usr/bin/python3 -m venv /opt/venv

# --- requirements: the runtime subset of requirements.txt --------------------
# requirements.txt also pins test and lint tooling (pytest, ruff, hadolint,
# SeaweedFS and Traefik binaries, ...), which is not shipped: keep the pins
# of what Odoo, the addons' manifests (ours and OCA's) and the governor
# declare. A stage of its own: an addon change re-runs this step only, and
# the install below stays cached while its output is unchanged.
FROM build AS requirements
# The CA of a TLS-inspecting proxy between pip and PyPI, as a path: `make
# images` bind-mounts the host's there for RUN steps only, so the
# certificate is never stored in an image. Unset: pip's own CA bundle.
ARG PIP_BUILD_CA=""
COPY requirements.txt requirements-addons.txt docker/runtime_requirements.py /tmp/
# hadolint ignore=DL3022
COPY --from=odoo requirements.txt /tmp/odoo-requirements.txt
COPY settings/pyproject.toml /tmp/settings/pyproject.toml
COPY governor/pyproject.toml /tmp/governor/pyproject.toml
COPY addons /tmp/addons
RUN if [ -n "$PIP_BUILD_CA" ]; then export PIP_CERT="$PIP_BUILD_CA"; fi \
    && pip install --no-cache-dir \
        --no-deps --target /tmp/oca -r /tmp/requirements-addons.txt \
    && python /tmp/runtime_requirements.py /tmp/requirements.txt /tmp/odoo-requirements.txt \
        --addons /tmp/addons /tmp/oca/odoo/addons \
        --pyproject /tmp/settings/pyproject.toml /tmp/governor/pyproject.toml \
        > /tmp/requirements-runtime.txt \
    && sed -E 's/\[[^]]*\]//' /tmp/requirements.txt > /tmp/constraints.txt

# --- venv: every runtime Python dependency ----------------------------------
FROM build AS venv
ARG PIP_BUILD_CA=""
# requirements.txt as constraints too: what the runtime pins pull in (an
# extra's dependencies, say) gets the versions `make test` ran. pip rejects
# extras in constraints, hence the sed above.
COPY --from=requirements /tmp/requirements-runtime.txt /tmp/constraints.txt /tmp/
RUN if [ -n "$PIP_BUILD_CA" ]; then export PIP_CERT="$PIP_BUILD_CA"; fi \
    && pip install --no-cache-dir \
        -r /tmp/requirements-runtime.txt -c /tmp/constraints.txt
# OCA addon wheels (queue_job) require the `odoo` distribution, which does
# not exist (Odoo comes from source), hence --no-deps; they land in
# site-packages/odoo/addons/. The shared settings reader (the S3, Redis and
# metrics addons import it) and the governor package are installed too:
# Settings > Peak Operations checks the governor's settings with its code.
COPY requirements-addons.txt /tmp/
COPY settings /tmp/settings
COPY governor /tmp/governor
RUN if [ -n "$PIP_BUILD_CA" ]; then export PIP_CERT="$PIP_BUILD_CA"; fi \
    && pip install --no-cache-dir \
        --no-deps -r /tmp/requirements-addons.txt \
    && pip install --no-cache-dir --no-deps /tmp/settings /tmp/governor \
    && python -m compileall -q /opt/venv/lib > /dev/null

# --- odoo-src: the Odoo tree, trimmed and byte-compiled ---------------------
FROM python AS odoo-src
# `odoo` is the named build context given with --build-context, not a stage,
# which hadolint cannot know about.
# hadolint ignore=DL3022
COPY --from=odoo . /opt/odoo
# Byte-compile now: the runtime root filesystem is read-only, so Python could
# not cache bytecode there and every process start would recompile Odoo.
# compileall's status is ignored: a file that does not compile is simply
# compiled (or not imported) at run time, as without this step.
RUN rm -rf /opt/odoo/.git /opt/odoo/.github /opt/odoo/.tx \
    && find /opt/odoo -name __pycache__ -type d -prune -exec rm -rf {} + \
    && (python3 -m compileall -q -j 0 /opt/odoo/odoo /opt/odoo/addons > /dev/null || true)

# --- runtime -----------------------------------------------------------------
FROM python AS runtime

LABEL org.opencontainers.image.title="odoo-peak" \
      org.opencontainers.image.description="Odoo 18.0 Community with the Odoo Peak addons"

# Runtime libraries only: libpq/OpenLDAP/SASL for psycopg2 and python-ldap,
# wkhtmltopdf and fonts for PDF reports, tini as PID 1 (forwards signals,
# reaps wkhtmltopdf zombies). No compiler, no pip tooling beyond the venv's.
# Debian's wkhtmltopdf is built on unpatched Qt: PDF headers/footers need the
# upstream "patched qt" wkhtmltox package, which can replace it here.
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

# Code stays root-owned and read-only for the odoo user.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PEAK_ODOO_RC=/tmp/odoo.conf

COPY --from=venv /opt/venv /opt/venv
COPY --from=odoo-src /opt/odoo /opt/odoo
COPY addons /opt/odoo-peak/addons
RUN python3 -m compileall -q /opt/odoo-peak/addons > /dev/null
COPY --chmod=0755 docker/entrypoint.sh /usr/local/bin/peak-odoo-entrypoint

USER 1000:1000
WORKDIR /var/lib/odoo
VOLUME ["/var/lib/odoo"]

# 8069: HTTP (web, queue), 8072: gevent/websocket.
EXPOSE 8069 8072

# Role-aware: HTTP /web/health on 8069 or 8072, a database check for cron.
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s --retries=3 \
    CMD ["peak-odoo-entrypoint", "healthcheck"]

ENTRYPOINT ["tini", "--", "peak-odoo-entrypoint"]
