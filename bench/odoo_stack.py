"""The servers a benchmark runs, laid out as docker/ and k8s/ deploy them.

Two Odoo servers on one database: a web server whose HTTP workers serve the
users only, and a job server (queue_job's runner plus the workers it
dispatches ``/queue_job/runjob`` to), so that a background job never takes a
worker from a user. And peak-governor, as its least-privilege role.
"""

import os
import time
from pathlib import Path

import bench_machine  # beside this module; puts scripts/ on the path
from peak_dev import odoo as peak_odoo
from peak_dev import postgres
from peak_dev.processes import Child, free_port, wait_for_http
from peak_dev.settings import ROOT

READY_TIMEOUT_S = 180
# Users' server: no queue_job server-wide, so it never runs the jobrunner.
WEB_SERVER_WIDE_MODULES = "base,web"


class StackError(RuntimeError):
    pass


def create_database(settings, scratch: Path, db_name, modules, admin_password):
    """A throw-away database with ``modules`` and the admin password set, the
    governor's role ready (peak_queue grants it at install). Returns the
    config file the install used (no workers, no cron: for ORM scripts)."""
    if not postgres.ensure_governor_role(settings, settings.governor_role):
        raise StackError(f"no governor role {settings.governor_role}")
    # For the install only (a test session may hold its own role in it).
    previous = os.environ.get("PEAK_GOVERNOR_ROLE")
    os.environ["PEAK_GOVERNOR_ROLE"] = settings.governor_role
    try:
        config = bench_machine.init_database(settings, scratch, db_name, modules)
    finally:
        if previous is None:
            os.environ.pop("PEAK_GOVERNOR_ROLE")
        else:
            os.environ["PEAK_GOVERNOR_ROLE"] = previous
    peak_odoo.set_admin_password(settings, config, db_name, admin_password)
    return config


class OdooPair:
    """A web server and a job server on ``db_name``; ``stop()`` ends both."""

    def __init__(self, settings, scratch: Path, db_name: str):
        self.settings = settings
        self.scratch = scratch
        self.db_name = db_name
        self.web = self.jobs = None
        self.web_log = self.jobs_log = None
        self.port = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _server(self, name, port, env, **options):
        config = peak_odoo.write_config(
            self.settings,
            self.scratch / f"{name}.conf",
            self.db_name,
            data_dir=self.scratch / "data",
            max_cron_threads=0,
            http_port=port,
            gevent_port=free_port(),
            http_interface="127.0.0.1",
            log_level="info",
            limit_time_real=300,
            **options,
        )
        argv = peak_odoo.odoo_argv(self.settings, config, "-d", self.db_name)
        log = self.scratch / f"{name}.log"
        return Child(name, argv, log, env=env, cwd=str(ROOT)).start(), log

    def start(self, web_workers, queue_capacity, extra_env=None):
        env = dict(os.environ, ODOO_QUEUE_JOB_MAX_CAPACITY=str(queue_capacity))
        env.pop("ODOO_QUEUE_JOB_CHANNELS", None)  # channels come from the DB
        for name in ("ODOO_QUEUE_JOB_HOST", "ODOO_QUEUE_JOB_PORT"):
            env.pop(name, None)  # the runner dispatches to its own server
        env.update(extra_env or {})
        self.port = free_port()
        self.web, self.web_log = self._server(
            "odoo",
            self.port,
            env,
            workers=web_workers,
            server_wide_modules=WEB_SERVER_WIDE_MODULES,
        )
        self.jobs, self.jobs_log = self._server(
            "odoo-jobs",
            free_port(),
            env,
            workers=queue_capacity + 1,  # one spare for the runner's checks
            queue_capacity=queue_capacity,
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        ready = f"queue job runner ready for db {self.db_name}"
        while ready not in self.jobs_log.read_text(errors="replace"):
            if not self.jobs.alive():
                raise StackError(f"the job server exited, see {self.jobs_log}")
            if time.monotonic() > deadline:
                raise StackError(f"jobrunner not ready, see {self.jobs_log}")
            time.sleep(0.3)
        wait_for_http(f"{self.url}/web/health", 60, self.web.proc)
        return self

    def stop(self):
        for child in (self.jobs, self.web):
            if child is not None:
                child.stop(grace_s=8)
        self.web = self.jobs = None


def start_governor(settings, db_name, log_path, instance_id, interval_s, flags=()):
    """peak-governor on ``db_name`` as the governor's role; waits for /healthz."""
    dsn = f"dbname={db_name} user={settings.governor_role}"
    if settings.db_host:
        dsn += f" host={settings.db_host} port={settings.db_port}"
    port = free_port()
    argv = [
        str(settings.venv / "bin" / "peak-governor"),
        "--dsn",
        dsn,
        "--interval",
        str(interval_s),
        "--http-port",
        str(port),
        "--log-format",
        "text",
        "--instance-id",
        instance_id,
        *flags,
    ]
    governor = Child("peak-governor", argv, log_path).start()
    wait_for_http(f"http://127.0.0.1:{port}/healthz", 30, governor.proc)
    return governor
