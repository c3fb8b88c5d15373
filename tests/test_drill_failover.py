"""``peak-governor drill failover`` against real components of a local stack.

The governor (a real ``peak-governor`` process on a private PostgreSQL with
the Peak schema), a private Redis, the SeaweedFS S3 gateway and that
PostgreSQL are stopped and restarted one at a time through shell commands, as
an operator would give them; the drill measures detection and recovery.
"""

import json
import os
import shlex
import subprocess
import sys
import time

import psycopg
import pytest
from peak_dev.pgbackrest import shared_lab
from peak_dev.pginstance import PG_BIN
from peak_dev.processes import free_port, wait_for_http
from pg import GOVERNOR_ROLE, copy_peak_schema, needs_db

pytestmark = needs_db
FAILOVER_DB = "peak_failover"


def _pg_ctl_command(pg, action: str) -> str:
    argv = [
        str(PG_BIN / "pg_ctl"),
        "-D",
        str(pg.data),
        "-l",
        str(pg.log),
        "-o",
        f"-p {pg.port} -k {pg.root} -c listen_addresses=''",
        "-w",
        "-t",
        "60",
        *action.split(),
    ]
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    return shlex.join(argv)


@pytest.fixture(scope="module")
def stack(tmp_path_factory, seaweed_s3):
    lab = shared_lab()
    workdir = tmp_path_factory.mktemp("failover")
    admin = lab.pg.dsn()
    with psycopg.connect(admin, autocommit=True) as conn:
        for role in ("peak", GOVERNOR_ROLE):
            if not conn.execute(
                "SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)
            ).fetchone():
                conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"DROP DATABASE IF EXISTS {FAILOVER_DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {FAILOVER_DB} OWNER peak")
    copy_peak_schema(lab.pg.dsn("peak", FAILOVER_DB))

    redis_port = free_port()
    redis_start = shlex.join(
        [
            "redis-server",
            "--port",
            str(redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--dir",
            str(workdir),
            "--pidfile",
            str(workdir / "redis.pid"),
        ]
    )
    redis_stop = f"redis-cli -p {redis_port} shutdown nosave"

    governor_port = free_port()
    governor_dsn = lab.pg.dsn(GOVERNOR_ROLE, FAILOVER_DB)
    governor_argv = shlex.join(
        [
            sys.executable,
            "-m",
            "peak_governor.cli",
            "--dsn",
            governor_dsn,
            "--http-host",
            "127.0.0.1",
            "--http-port",
            str(governor_port),
            "--interval",
            "0.5",
            "--dry-run",
        ]
    )
    pidfile = workdir / "governor.pid"
    governor_start = (
        f"nohup {governor_argv} >> {workdir / 'governor.log'} 2>&1 & "
        f"echo $! > {pidfile}"
    )
    governor_stop = f"kill -TERM $(cat {pidfile})"

    gateway = getattr(seaweed_s3, "gateway", seaweed_s3)
    s3_pid = gateway.proc.pid
    creds = seaweed_s3.credentials

    subprocess.run(redis_start, shell=True, check=True)
    subprocess.run(governor_start, shell=True, check=True)
    wait_for_http(f"http://127.0.0.1:{governor_port}/healthz", 30)
    try:
        yield {
            "lab": lab,
            "env": {
                "PEAK_REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
                "PEAK_S3_ENDPOINT_URL": creds.endpoint_url,
                "PEAK_S3_ACCESS_KEY": creds.access_key,
                "PEAK_S3_SECRET_KEY": creds.secret_key,
                "PEAK_S3_BUCKET": creds.bucket,
            },
            "args": [
                f"--governor-url=http://127.0.0.1:{governor_port}",
                f"--dsn={lab.pg.dsn()}",
                f"--stop=governor={governor_stop}",
                f"--start=governor={governor_start}",
                f"--stop=redis={redis_stop}",
                f"--start=redis={redis_start}",
                f"--stop=s3=kill -STOP {s3_pid}",
                f"--start=s3=kill -CONT {s3_pid}",
                f"--stop=postgres={_pg_ctl_command(lab.pg, 'stop -m fast')}",
                f"--start=postgres={_pg_ctl_command(lab.pg, 'start')}",
            ],
            "redis_start": redis_start,
            "redis_stop": redis_stop,
        }
    finally:
        subprocess.run(f"kill -CONT {s3_pid}", shell=True, check=False)
        subprocess.run(governor_stop, shell=True, check=False)
        subprocess.run(redis_stop, shell=True, check=False, capture_output=True)
        if not lab.pg.running():
            lab.pg.start()


def _drill(stack, *args):
    done = subprocess.run(
        [sys.executable, "-m", "peak_governor.cli", "drill", "failover", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, **stack["env"]},
        check=False,
    )
    return done


def test_every_component_fails_over_and_recovers(stack):
    done = _drill(
        stack,
        *stack["args"],
        "--component=governor",
        "--component=redis",
        "--component=s3",
        "--component=postgres",
        "--outage-seconds=2",
        "--recover-target-seconds=60",
        "--json",
    )
    report = json.loads(done.stdout)
    assert done.returncode == 0, json.dumps(report, indent=1) + done.stderr
    results = {r["component"]: r for r in report["components"]}
    assert list(results) == ["governor", "redis", "s3", "postgres"]
    for name, result in results.items():
        assert result["status"] == "pass", result
        assert result["detected_seconds"] is not None, name
        assert result["recovered_seconds"] is not None, name
    # The governor notices a PostgreSQL outage (not ready) and comes back.
    assert results["postgres"]["impact"]["governor"] is not None
    # Redis and S3 outages do not touch the governor.
    assert results["redis"]["impact"]["governor"] is None
    assert results["s3"]["impact"]["governor"] is None

    text = _drill(stack, *stack["args"], "--component=redis", "--outage-seconds=0.5")
    assert text.returncode == 0, text.stdout + text.stderr
    assert "drill PASSED: every component recovered" in text.stdout
    assert text.stdout.splitlines()[1].startswith("redis      PASS")


def test_a_component_that_does_not_come_back_fails_the_drill(stack):
    args = [a for a in stack["args"] if not a.startswith("--start=redis=")]
    started = time.monotonic()
    try:
        done = _drill(
            stack,
            *args,
            "--start=redis=true",
            "--component=redis",
            "--outage-seconds=0.5",
            "--timeout=4",
            "--json",
        )
    finally:
        subprocess.run(stack["redis_start"], shell=True, check=True)
    assert done.returncode == 1
    result = json.loads(done.stdout)["components"][0]
    assert result["status"] == "fail"
    assert "not recovered in 4s: redis down" in result["message"]
    assert time.monotonic() - started < 30


def test_bad_failover_options(stack):
    done = _drill(stack, "--component=redis")
    assert done.returncode == 2 and "--stop redis=CMD" in done.stderr
    done = _drill(stack, *stack["args"], "--component=postgres", "--timeout=soon")
    assert done.returncode == 2 and "is not a number" in done.stderr
    done = _drill(stack, "--stop=redis", "--component=redis")
    assert done.returncode == 2 and "expected NAME=COMMAND" in done.stderr
