"""`peak-governor` as operators run it: a real process, real signals."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from pg import (
    DB,
    GOVERNOR_ROLE,
    INTERACTIVE,
    LockScene,
    dsn,
    hot_rows,
    job_tag,
    needs_db,
    sql,
)
from test_governor import clean_contract_state, leased, set_peak  # noqa: F401

pytestmark = needs_db

GOVERNOR = [sys.executable, "-m", "peak_governor.cli"]
FAST = [
    "--interval",
    "0.2",
    "--min-dwell-seconds",
    "1",
    "--resume-step-seconds",
    "0.2",
    "--http-port",
    "0",
    "--log-format",
    "json",
]


def run_cli(*args, env=None, timeout=30):
    return subprocess.run(
        [*GOVERNOR, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )


def start(*args, instance="gov-a"):
    return subprocess.Popen(
        [
            *GOVERNOR,
            "--dsn",
            dsn(user=GOVERNOR_ROLE),
            *FAST,
            "--instance-id",
            instance,
            *args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for(predicate, timeout_s, message):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, message
        time.sleep(0.1)
    return time.monotonic() - (deadline - timeout_s)


def leader():
    rows = sql(
        "SELECT holder FROM peak_queue_governor_leader "
        "WHERE expires_at > now() AT TIME ZONE 'utc'"
    )
    return rows[0][0] if rows else None


@pytest.fixture
def table():
    with hot_rows() as name:
        yield name


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (["--dsn", "dbname=x", "--interval", "abc"], {}, "interval"),
        (["--dsn", "dbname=x", "--lease-ttl", "1"], {}, "lease ttl"),
        (["--dsn", "dbname=x"], {"PEAK_GOVERNOR_INTERVAL": "-1"}, "interval"),
        (["--dsn", "dbname=x", "--protected-elevated-enter-age", "soon"], {}, "soon"),
        ([], {"PEAK_GOVERNOR_DSN": ""}, "no DSN"),
        (["--dsn", "dbname=x", "--log-level", "LOUD"], {}, "log level"),
    ],
)
def test_bad_configuration_exits_2_with_one_line(args, env, message):
    done = run_cli(*args, env={"PEAK_GOVERNOR_DSN": "", **env})
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("peak-governor: ")
    assert message in lines[0]


def test_superuser_dsn_exits_2_with_one_line():
    done = run_cli("--dsn", dsn(user="postgres"), "--once", "--dry-run")
    assert done.returncode == 2
    assert "superuser" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_once_prints_the_sample_and_the_decision(table):
    set_peak(protected=True)
    with LockScene(table, job_tag("bulk", "root.bulk")) as scene:
        scene.add_waiter(INTERACTIVE)
        done = run_cli(
            "--dsn",
            dsn(user=GOVERNOR_ROLE),
            "--once",
            "--dry-run",
            "--log-format",
            "text",
        )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["database"] == DB
    assert out["sample"]["waiters"][0]["role"] == "interactive"
    assert str(scene.blocker_pid) in out["sample"]["blockers"]
    assert "level" in out["decision"]


def _holders(channel):
    return sql(
        "SELECT l.holder FROM peak_queue_lease l JOIN queue_job_channel c "
        "ON c.id = l.channel_id WHERE c.complete_name = %s AND l.state = 'active' "
        "AND l.expires_at > now() AT TIME ZONE 'utc'",
        (channel,),
    )


def test_sigterm_hands_over_and_the_next_governor_adopts_without_a_gap(table):
    set_peak(protected=True)
    first = start("--lease-ttl", "60", instance="gov-a")
    second = None
    try:
        with LockScene(table, job_tag("bulk", "root.bulk")) as scene:
            scene.add_waiter(INTERACTIVE)
            wait_for(lambda: "root.bulk" in leased(), 10, "never leased")
            first.send_signal(signal.SIGTERM)
            first.wait(5)
            assert first.returncode == 0
            assert leader() is None, "it resigns at once"
            assert _holders("root.bulk") == [("gov-a",)], "and keeps its lease"
            second = start("--lease-ttl", "60", instance="gov-b")
            deadline = time.monotonic() + 10
            # The channel stays paused throughout: no transition.
            while _holders("root.bulk") != [("gov-b",)]:
                assert "root.bulk" in leased(), "the channel ran in between"
                assert time.monotonic() < deadline, "never adopted"
                time.sleep(0.05)
        events = sql(
            "SELECT action, holder, reason FROM peak_queue_lease_event "
            "WHERE channel_name = 'root.bulk' AND action IN ('created', 'released') "
            "ORDER BY id"
        )
        assert events[-2:] == [
            ("created", "gov-b", "adopted"),
            ("released", "gov-a", "adopted by gov-b"),
        ]
    finally:
        for proc in (first, second):
            if proc:
                proc.kill()
                proc.wait()


def test_killed_governor_lease_expires_by_itself(table):
    set_peak(protected=True)
    ttl = 5
    proc = start("--lease-ttl", str(ttl))
    try:
        with LockScene(table, job_tag("bulk", "root.bulk")) as scene:
            scene.add_waiter(INTERACTIVE)
            wait_for(lambda: "root.bulk" in leased(), 10, "never leased")
            proc.kill()  # SIGKILL: no chance to release anything
            proc.wait(5)
            killed = time.monotonic()
            wait_for(lambda: leased() == {}, ttl + 5, "lease outlived its TTL + 5 s")
            assert time.monotonic() - killed <= ttl + 5
    finally:
        proc.kill()


def test_two_governors_one_leader_and_takeover(table):
    set_peak(protected=True)
    last_event = sql("SELECT COALESCE(max(id), 0) FROM peak_queue_lease_event")[0][0]
    first = start("--leader-ttl", "3", instance="gov-a")
    second = None
    try:
        wait_for(lambda: leader() == "gov-a", 10, "gov-a never led")
        second = start("--leader-ttl", "3", instance="gov-b")
        with LockScene(table, job_tag("bulk", "root.bulk")) as scene:
            scene.add_waiter(INTERACTIVE)
            wait_for(lambda: "root.bulk" in leased(), 10, "never leased")
            time.sleep(1.0)
            holders = {
                row[0]
                for row in sql(
                    "SELECT DISTINCT holder FROM peak_queue_lease_event WHERE id > %s",
                    (last_event,),
                )
            }
            assert holders == {"gov-a"}, "only the leader acts"
            first.kill()
            first.wait(5)
            killed = time.monotonic()
            wait_for(lambda: leader() == "gov-b", 2 * 3 + 1, "no takeover in 2 TTLs")
            assert time.monotonic() - killed <= 2 * 3
    finally:
        first.kill()
        if second:
            second.terminate()
            second.wait(10)


def test_status_and_explain(table):
    set_peak(protected=True)
    proc = start()
    try:
        with LockScene(table, job_tag("bulk", "root.bulk")) as scene:
            scene.add_waiter(INTERACTIVE)
            wait_for(lambda: "root.bulk" in leased(), 10, "never leased")
            status = run_cli("status", "--dsn", dsn(user=GOVERNOR_ROLE))
            explain = run_cli("explain", "root.bulk", "--dsn", dsn(user=GOVERNOR_ROLE))
    finally:
        proc.terminate()
        proc.wait(10)
    assert status.returncode == 0 and "leader   gov-a" in status.stdout
    assert "root.bulk: paused" in status.stdout
    assert explain.returncode == 0
    assert "class bulk" in explain.stdout and "created" in explain.stdout
    unknown = run_cli("explain", "root.nowhere", "--dsn", dsn(user=GOVERNOR_ROLE))
    assert unknown.returncode == 2 and "unknown channel" in unknown.stderr


def test_status_and_explain_show_the_next_drain():
    """A window opening in 10 minutes: both name it and when its drain starts
    (lead from the settings), as the governor's role reads them."""
    import json
    from datetime import UTC, datetime

    def iso(moment):
        return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    now = time.time()
    opens = int(now) + 600
    doc = {
        "version": 1,
        "valid_from": iso(now - 60),
        "valid_until": iso(now + 7200),
        "intervals": [[iso(opens), iso(opens + 600)]],
        "peak_mode": [[iso(now - 60), iso(now + 7200)]],
    }
    sql(
        "INSERT INTO ir_config_parameter (key, value) VALUES "
        "('peak_base.protected_intervals', %s) ON CONFLICT (key) DO UPDATE "
        "SET value = EXCLUDED.value",
        (json.dumps(doc),),
    )
    env = {"PEAK_GOVERNOR_DRAIN": "45"}
    status = run_cli("status", "--dsn", dsn(user=GOVERNOR_ROLE), env=env)
    explain = run_cli("explain", "root.bulk", "--dsn", dsn(user=GOVERNOR_ROLE), env=env)
    expected = (
        f"window opens {datetime.fromtimestamp(opens, UTC):%Y-%m-%d %H:%M:%S} UTC",
        f"drained from {datetime.fromtimestamp(opens - 45, UTC):%H:%M:%S} UTC",
        "(lead 45s: configured)",
    )
    for output in (status, explain):
        assert output.returncode == 0, output.stderr
        for text in expected:
            assert text in output.stdout, output.stdout
    critical = run_cli(
        "explain", "root.critical", "--dsn", dsn(user=GOVERNOR_ROLE), env=env
    )
    assert "drained" not in critical.stdout, "critical work is never drained"


def _set_param(key, value):
    if value is None:
        sql("DELETE FROM ir_config_parameter WHERE key = %s", (key,))
    else:
        sql(
            "INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s) "
            "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            (key, value),
        )


def test_settings_order_flags_env_odoo_defaults():
    from peak_governor.cli import build_parser, load_config

    key = "peak_governor.min_dwell_seconds"
    try:
        _set_param(key, "7")
        args = build_parser().parse_args(["--dsn", dsn(user=GOVERNOR_ROLE)])
        assert load_config(args, environ={}).policy.min_dwell_seconds == 7.0
        env = {"PEAK_GOVERNOR_MIN_DWELL_SECONDS": "8"}
        assert load_config(args, environ=env).policy.min_dwell_seconds == 8.0
        flagged = build_parser().parse_args(
            ["--dsn", dsn(user=GOVERNOR_ROLE), "--min-dwell-seconds", "9"]
        )
        assert load_config(flagged, environ=env).policy.min_dwell_seconds == 9.0
        _set_param(key, "0.0")  # an empty Settings field: the default
        assert load_config(args, environ={}).policy.min_dwell_seconds == 10.0
    finally:
        _set_param(key, None)


def test_bad_odoo_setting_exits_2_with_one_line():
    key = "peak_governor.protected_severe_enter_age"
    try:
        _set_param(key, "soon")
        done = run_cli("--dsn", dsn(user=GOVERNOR_ROLE), "--once", "--dry-run")
    finally:
        _set_param(key, None)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"peak-governor: Odoo parameter {key}='soon' is not a number"
    ]
