"""``make run``: the whole local stack on embedded defaults, until Ctrl-C.

Starts SeaweedFS (when no S3 endpoint is configured; attachments go there),
a private redis-server for HTTP sessions (when PEAK_REDIS_URL is unset), Odoo
in multi-process mode with queue_job's jobrunner on DB-configured channels,
Traefik in front of it with the compose stack's routes (``/websocket`` to the
gevent process: edge.py), peak-governor, and a Prometheus scraping Odoo and
the governor; prints the URLs. SIGINT or SIGTERM stops everything it started
in a few seconds.
"""

import dataclasses
import logging
import os
import signal
import sys
import time

from . import postgres
from .edge import Edge
from .odoo import (
    OdooServer,
    init_database,
    set_admin_password,
    suite_addons,
    write_config,
)
from .processes import Child, port_is_free, wait_for_http
from .prometheus import Prometheus, ensure_token_file
from .redis import RedisServer
from .seaweed import SeaweedS3
from .settings import SettingsError, load

_logger = logging.getLogger("peak.run")
STOP_BUDGET_S = 8.0


class _Stop(Exception):
    pass


def _raise_stop(signum, _frame):
    raise _Stop(signal.Signals(signum).name)


def _stop_all(children) -> None:
    """SIGTERM everyone at once, then wait; the whole stop fits STOP_BUDGET_S."""
    deadline = time.monotonic() + STOP_BUDGET_S
    for child in reversed(children):
        child.stop(grace_s=max(0.5, deadline - time.monotonic() - 1.0))


def governor_child(settings, log_path) -> Child:
    """peak-governor on the stack's database, as its least-privilege role."""
    dsn = f"dbname={settings.db_name} user={settings.governor_role}"
    if settings.db_host:
        dsn += f" host={settings.db_host} port={settings.db_port}"
    argv = [
        str(settings.venv / "bin" / "peak-governor"),
        "--dsn",
        dsn,
        "--http-port",
        str(settings.governor_http_port),
        "--log-format",
        "text",
    ]
    return Child("peak-governor", argv, log_path)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        settings = load()
    except SettingsError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 2
    for key, value in settings.masked().items():
        _logger.info("config %s = %s", key, value)
    for port in (
        settings.edge_port,
        settings.http_port,
        settings.gevent_port,
        settings.governor_http_port,
        settings.prometheus_port,
    ):
        if not port_is_free(port):
            print(
                f"make run: port {port} is already in use (set PEAK_EDGE_PORT / "
                "PEAK_HTTP_PORT / PEAK_GEVENT_PORT / PEAK_GOVERNOR_HTTP_PORT / "
                "PEAK_PROMETHEUS_PORT)",
                file=sys.stderr,
            )
            return 2

    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    children = []
    logs = settings.state_dir / "logs"
    try:
        if settings.pg_archive:
            # The stack's database on a private PostgreSQL archiving its WAL.
            from .pgbackrest import LocalArchivingPostgres

            archiving = LocalArchivingPostgres(settings.state_dir)
            children.append(archiving.start())
            settings = dataclasses.replace(
                settings, db_host=archiving.host, db_port=archiving.pg.port
            )
            _logger.info(
                "WAL archiving on: PostgreSQL at %s port %s, pgBackRest stanza peak "
                "(--config=%s)",
                archiving.host,
                archiving.pg.port,
                archiving.backrest.config,
            )
        postgres.ensure_role(settings)
        # Before installing: peak_queue grants the governor's role at install.
        with_governor = postgres.ensure_governor_role(settings, settings.governor_role)
        env = dict(os.environ, PEAK_GOVERNOR_ROLE=settings.governor_role)
        if not settings.s3_endpoint_url:
            if not port_is_free(settings.s3_port):
                print(
                    f"make run: port {settings.s3_port} for the embedded S3 is in use "
                    "(set PEAK_S3_PORT or PEAK_S3_ENDPOINT_URL)",
                    file=sys.stderr,
                )
                return 2
            s3 = SeaweedS3(
                settings.state_dir / "seaweedfs",
                settings.s3_port,
                bucket=settings.s3_bucket,
            )
            children.append(s3.start())
            env.update(
                PEAK_S3_ENDPOINT_URL=s3.credentials.endpoint_url,
                PEAK_S3_ACCESS_KEY=s3.credentials.access_key,
                PEAK_S3_SECRET_KEY=s3.credentials.secret_key,
                PEAK_S3_BUCKET=s3.credentials.bucket,
                PEAK_S3_REGION="us-east-1",
                PEAK_S3_ADDRESSING_STYLE="path",
            )
        # peak_attachment_s3: attachments of this database in that S3; it
        # reads credentials only from boto3's chain (AWS_* variables).
        env.setdefault("PEAK_S3_ENABLED", "1")
        env.setdefault("PEAK_S3_BUCKET", settings.s3_bucket)
        if env.get("PEAK_S3_ACCESS_KEY") and env.get("PEAK_S3_SECRET_KEY"):
            env["AWS_ACCESS_KEY_ID"] = env["PEAK_S3_ACCESS_KEY"]
            env["AWS_SECRET_ACCESS_KEY"] = env["PEAK_S3_SECRET_KEY"]
            env.pop("AWS_SESSION_TOKEN", None)
        # peak_session_redis: sessions shared by the web workers, in the
        # given Redis or a private redis-server (data kept in .state/redis).
        sessions_line = "Redis (PEAK_REDIS_URL)"
        if not settings.redis_url:
            redis_server = RedisServer(settings.state_dir / "redis", persist=True)
            children.append(redis_server.start())
            env["PEAK_REDIS_URL"] = redis_server.url
            sessions_line = f"{redis_server.url}  (embedded)"
        config = write_config(
            settings,
            settings.state_dir / "odoo.conf",
            settings.db_name,
            queue_capacity=settings.workers,  # jobs run in the HTTP workers
            workers=settings.workers,
            max_cron_threads=1,
            http_port=settings.http_port,
            gevent_port=settings.gevent_port,
            http_interface="127.0.0.1",
            proxy_mode="False",
            limit_time_real=600,
            limit_time_cpu=300,
            # Odoo's default of 64 per process would let the workers alone ask
            # for more connections than a stock PostgreSQL has (the doctor's
            # connection-budget check); 16 is plenty for 2 workers.
            db_maxconn=16,
        )
        modules = ["queue_job", *suite_addons()]
        fresh = not postgres.database_exists(settings, settings.db_name)
        init_args = {} if fresh else {"update": True}
        init_database(
            settings,
            config,
            settings.db_name,
            modules,
            logs / "odoo-init.log",
            **init_args,
        )
        if fresh:
            set_admin_password(
                settings, config, settings.db_name, settings.admin_password
            )
        # peak_metrics: the /metrics token (PEAK_METRICS_TOKEN, else generated
        # once into .state, mode 0600) and prometheus_client's multiprocess
        # directory, set before Odoo starts and emptied at every start.
        token_file = settings.state_dir / "metrics-token"
        env["PEAK_METRICS_TOKEN"] = ensure_token_file(
            token_file, settings.metrics_token
        )
        multiproc = settings.state_dir / "prometheus-multiproc"
        multiproc.mkdir(parents=True, exist_ok=True)
        for stale in multiproc.glob("*.db"):
            stale.unlink()
        env["PROMETHEUS_MULTIPROC_DIR"] = str(multiproc)
        odoo = OdooServer(settings, config, settings.db_name, logs / "odoo.log")
        odoo.env = env
        children.append(odoo.start())
        base = f"http://127.0.0.1:{settings.http_port}"
        wait_for_http(f"{base}/web/health", 120, odoo.proc)
        edge = Edge(
            settings.state_dir / "traefik",
            settings.edge_port,
            settings.http_port,
            settings.gevent_port,
        )
        children.append(edge.start())
        governor_line = "not started (no role: see the log above)"
        if with_governor:
            governor = governor_child(settings, logs / "governor.log")
            children.append(governor.start())
            metrics = f"http://127.0.0.1:{settings.governor_http_port}"
            wait_for_http(f"{metrics}/healthz", 30, governor.proc)
            governor_line = f"{metrics}/metrics  (role {settings.governor_role})"
        prometheus = Prometheus(
            settings.state_dir / "prometheus",
            settings.prometheus_port,
            f"127.0.0.1:{settings.http_port}",
            token_file,
            governor_target=(
                f"127.0.0.1:{settings.governor_http_port}" if with_governor else None
            ),
        )
        children.append(prometheus.start())
        print(
            "\nOdoo Peak is up:\n"
            f"  Odoo          {edge.url}/odoo  (login admin, PEAK_ADMIN_PASSWORD)\n"
            f"  Health        {edge.url}/web/health\n"
            f"  S3 (embedded) {env.get('PEAK_S3_ENDPOINT_URL', '-')}\n"
            f"  Logs          {logs} (Traefik's access log: {edge.access_log})\n"
            f"  Governor      {governor_line}\n"
            f"  Sessions      {sessions_line}\n"
            f"  Prometheus    {prometheus.targets_page()}  (token in {token_file})\n"
            "Ctrl-C stops everything.\n",
            flush=True,
        )
        while all(child.alive() for child in children):
            time.sleep(0.5)
        dead = [child.name for child in children if not child.alive()]
        _logger.error("%s exited; stopping the stack", ", ".join(dead))
        return 1
    except _Stop as stop:
        _logger.info("%s received, stopping", stop)
        return 0
    except (postgres.PostgresError, RuntimeError, TimeoutError) as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _stop_all(children)


if __name__ == "__main__":
    sys.exit(main())
