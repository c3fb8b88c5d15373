# syntax=docker/dockerfile:1
#
# peak-governor: the Odoo Peak sidecar daemon (package governor/ only; no
# Odoo inside). Build from the repository root:
#
#   docker build -f docker/governor.Dockerfile -t ghcr.io/odoo-peak/governor:0.1.0 .
#
# Runtime configuration comes from the environment only:
#   PEAK_GOVERNOR_DSN        libpq DSN of the least-privilege `peak_governor`
#                            role; keep the password out of it and pass it as
#                            PGPASSWORD (libpq reads it) from a Secret
#   PEAK_GOVERNOR_HTTP_PORT  /metrics, /healthz and /readyz (default 9187)

# --- build ------------------------------------------------------------------
FROM python:3.11-slim-bookworm AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PATH=/opt/venv/bin:$PATH
RUN python -m venv /opt/venv

# requirements.txt pins every dependency of the project; used as constraints
# the governor gets exactly those versions without pulling in Odoo's own
# requirements. pip rejects extras in constraints (psycopg[binary]==...), so
# they are stripped first.
COPY requirements.txt /tmp/requirements.txt
COPY settings /src/settings
COPY governor /src/governor
RUN sed -E 's/\[[^]]*\]//' /tmp/requirements.txt > /tmp/constraints.txt \
    && pip install --no-cache-dir --constraint /tmp/constraints.txt /src/settings /src/governor

# --- runtime ----------------------------------------------------------------
FROM python:3.11-slim-bookworm AS runtime

LABEL org.opencontainers.image.title="peak-governor" \
      org.opencontainers.image.description="Odoo Peak governor sidecar"

# tini as PID 1: a bare Python PID 1 ignores SIGTERM unless it installs a
# handler. Unpinned: Debian point releases replace versions in the archive.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 1000 governor \
    && useradd --system --uid 1000 --gid governor --no-create-home \
        --home-dir /nonexistent --shell /usr/sbin/nologin governor

COPY --from=build /opt/venv /opt/venv

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PEAK_GOVERNOR_HTTP_PORT=9187 \
    PEAK_GOVERNOR_HTTP_HOST=0.0.0.0

USER 1000:1000
EXPOSE 9187

HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PEAK_GOVERNOR_HTTP_PORT', '9187'), timeout=4)"]

ENTRYPOINT ["tini", "--", "peak-governor"]
