# syntax=docker/dockerfile:1
#
# peak-governor: the Odoo Peak sidecar daemon (package governor/ only; no
# Odoo inside). Build from the repository root:
#
#   docker build -f docker/governor.Dockerfile -t ghcr.io/odoo-peak/governor:0.1.0 .
#
# `make images` builds it offline with buildah on a local Debian root
# (BASE; see docker/odoo.Dockerfile and docker/README.md).
#
# Runtime configuration comes from the environment only:
#   PEAK_GOVERNOR_DSN        libpq DSN of the least-privilege `peak_governor`
#                            role; keep the password out of it and pass it as
#                            PGPASSWORD (libpq reads it) from a Secret
#   PEAK_GOVERNOR_HTTP_PORT  /metrics, /healthz and /readyz (default 9187)

ARG BASE=python:3.11-slim-bookworm
# checkov does not expand ARG: the default above is a pinned tag.
# checkov:skip=CKV_DOCKER_7:BASE defaults to a tagged image

# --- python: Debian's Python 3.11 whatever BASE is ---------------------------
# As in odoo.Dockerfile: the virtualenv is made by /usr/bin/python3, so the
# official image and a debootstrap root give the same interpreter; CA
# certificates, tzdata and netbase are what the official image adds to
# Debian. Unpinned: Debian point releases replace versions in the archive.
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

# --- build ------------------------------------------------------------------
FROM python AS build
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3-venv \
    && rm -rf /var/lib/apt/lists/*
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN /usr/bin/python3 -m venv /opt/venv

# requirements.txt pins every dependency of the project; used as constraints
# the governor gets exactly those versions without pulling in Odoo's own
# requirements. pip rejects extras in constraints (psycopg[binary]==...), so
# they are stripped first.
# The CA of a TLS-inspecting proxy for pip, as a path (see odoo.Dockerfile).
ARG PIP_BUILD_CA=""
COPY requirements.txt /tmp/requirements.txt
COPY settings /src/settings
COPY governor /src/governor
RUN sed -E 's/\[[^]]*\]//' /tmp/requirements.txt > /tmp/constraints.txt \
    && if [ -n "$PIP_BUILD_CA" ]; then export PIP_CERT="$PIP_BUILD_CA"; fi \
    && pip install --no-cache-dir \
        --constraint /tmp/constraints.txt /src/settings /src/governor \
    && python -m compileall -q /opt/venv/lib > /dev/null

# --- runtime ----------------------------------------------------------------
FROM python AS runtime

LABEL org.opencontainers.image.title="peak-governor" \
      org.opencontainers.image.description="Odoo Peak governor sidecar"

# tini as PID 1: a bare Python PID 1 ignores SIGTERM unless it installs a
# handler.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 1000 governor \
    && useradd --system --uid 1000 --gid governor --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin governor

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PEAK_GOVERNOR_HTTP_PORT=9187 \
    PEAK_GOVERNOR_HTTP_HOST=0.0.0.0

COPY --from=build /opt/venv /opt/venv

USER 1000:1000
EXPOSE 9187

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PEAK_GOVERNOR_HTTP_PORT', '9187'), timeout=4)"]

ENTRYPOINT ["tini", "--", "peak-governor"]
