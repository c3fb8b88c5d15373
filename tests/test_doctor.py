"""``peak-governor doctor``: every check fails and passes on real PostgreSQL.

Server and role settings change on a private PostgreSQL instance (initdb in a
temporary directory); queue_job, governor and Peak checks run on the test
database of `make test` inside a transaction that is rolled back, so other
tests never see the states made up here.
"""

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from peak_dev.pginstance import PrivatePostgres, make_root
from peak_dev.processes import free_port
from pg import connect, needs_db

from peak_governor import doctor
from peak_governor.doctor import FAIL, PASS, SKIP, WARN, DoctorConfig

PRIVATE_DB = "peak_doctor"


@pytest.fixture(scope="module")
def private_pg():
    server = PrivatePostgres(make_root("peak-doctor-pg-")).initdb()
    server.configure(max_connections=20)
    server.start()
    try:
        with psycopg.connect(server.dsn(), autocommit=True) as admin:
            admin.execute("CREATE ROLE peak LOGIN")
            admin.execute(f"CREATE DATABASE {PRIVATE_DB} OWNER peak")
        yield server
    finally:
        server.destroy()


@pytest.fixture
def admin(private_pg):
    """A superuser session on the private database."""
    with psycopg.connect(private_pg.dsn("postgres", PRIVATE_DB), autocommit=True) as c:
        yield c


def _reload(conn, **settings):
    for name, value in settings.items():
        if value is None:
            conn.execute(f"ALTER SYSTEM RESET {name}")
        else:
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
    conn.execute("SELECT pg_reload_conf()")
    time.sleep(0.3)  # the postmaster signals the backends


def _by_check(findings):
    return {f.check: f for f in findings}


def _status(findings, check):
    found = _by_check(findings)
    assert check in found, f"{check} not reported: {[f.check for f in findings]}"
    return found[check].status


# --- server and role settings (private instance) ------------------------------


def test_connection_budget_fails_passes_and_warns(admin):
    with admin.cursor() as cur:
        # max_connections 20 - 3 reserved = 17 for Odoo and friends.
        small = DoctorConfig(workers=2, db_maxconn=2, cron_threads=1)
        finding = doctor.check_connection_budget(cur, small)[0]
        assert finding.status == PASS, finding
        assert "= 10" in finding.message and "allows 17" in finding.message
        big = DoctorConfig(workers=4, db_maxconn=4, cron_threads=2)
        finding = doctor.check_connection_budget(cur, big)[0]
        assert finding.status == FAIL and "= 30" in finding.message
        assert "db_maxconn" in finding.fix
        tight = DoctorConfig(
            workers=2, db_maxconn=3, cron_threads=1, pooler_connections=2
        )
        assert doctor.check_connection_budget(cur, tight)[0].status == WARN  # 16/17


def test_idle_in_transaction_timeout_of_the_odoo_role(admin):
    cfg = DoctorConfig(odoo_role="peak")
    try:
        with admin.cursor() as cur:
            finding = doctor.check_idle_in_transaction(cur, cfg)[0]
            assert (
                finding.status == FAIL and "disabled for role peak" in finding.message
            )
            assert (
                "ALTER ROLE peak SET idle_in_transaction_session_timeout" in finding.fix
            )
            admin.execute(
                "ALTER ROLE peak SET idle_in_transaction_session_timeout = '2h'"
            )
            assert doctor.check_idle_in_transaction(cur, cfg)[0].status == WARN
            # A database-specific setting of the role wins over its global one.
            admin.execute(
                f"ALTER ROLE peak IN DATABASE {PRIVATE_DB} "
                "SET idle_in_transaction_session_timeout = '5min'"
            )
            finding = doctor.check_idle_in_transaction(cur, cfg)[0]
            assert finding.status == PASS and "300s" in finding.message
    finally:
        admin.execute("ALTER ROLE peak RESET ALL")
        admin.execute(f"ALTER ROLE peak IN DATABASE {PRIVATE_DB} RESET ALL")


def test_job_lock_timeout(admin):
    cfg = DoctorConfig(odoo_role="peak")
    try:
        with admin.cursor() as cur:
            finding = doctor.check_job_timeouts(cur, cfg)[0]
            assert finding.status == WARN and "lock_timeout disabled" in finding.message
            admin.execute("ALTER ROLE peak SET lock_timeout = '30s'")
            finding = doctor.check_job_timeouts(cur, cfg)[0]
            assert finding.status == PASS and "lock_timeout 30s" in finding.message
    finally:
        admin.execute("ALTER ROLE peak RESET ALL")


def test_deadlock_timeout_and_log_lock_waits(private_pg):
    dsn = private_pg.dsn("postgres", PRIVATE_DB)
    with psycopg.connect(dsn, autocommit=True) as conn:
        _reload(conn, deadlock_timeout="5s", log_lock_waits="off")
    try:
        with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
            found = _by_check(doctor.check_lock_logging(cur, DoctorConfig()))
        assert found["deadlock_timeout"].status == WARN
        assert "5s" in found["deadlock_timeout"].message
        assert found["log_lock_waits"].status == WARN
        assert "log_lock_waits = on" in found["log_lock_waits"].fix
        with psycopg.connect(dsn, autocommit=True) as conn:
            _reload(conn, deadlock_timeout="1s", log_lock_waits="on")
        with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
            found = _by_check(doctor.check_lock_logging(cur, DoctorConfig()))
        assert found["deadlock_timeout"].status == PASS
        assert found["log_lock_waits"].status == PASS
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            _reload(conn, deadlock_timeout=None, log_lock_waits=None)


def _flush_stats(conn):
    conn.execute("SELECT pg_stat_force_next_flush()")
    conn.execute("SELECT 1")


def test_autovacuum_and_bloat_of_hot_tables(admin, private_pg):
    cfg = DoctorConfig(bloat_min_dead_rows=500)
    admin.execute("DROP TABLE IF EXISTS queue_job")
    admin.execute(
        "CREATE TABLE queue_job (id serial PRIMARY KEY, state varchar, "
        "channel varchar) WITH (autovacuum_enabled = false)"
    )
    admin.execute(
        "INSERT INTO queue_job (state, channel) "
        "SELECT 'done', 'root.bulk' FROM generate_series(1, 2000)"
    )
    admin.execute("DELETE FROM queue_job WHERE id <= 1800")  # 90 % dead
    _flush_stats(admin)
    with admin.cursor() as cur:
        finding = _by_check(doctor.check_autovacuum(cur, cfg))["bloat queue_job"]
    assert finding.status == FAIL
    assert "autovacuum disabled on queue_job" in finding.message
    assert "1800 dead of 2000 rows" in finding.message

    admin.execute("ALTER TABLE queue_job RESET (autovacuum_enabled)")
    with admin.cursor() as cur:
        finding = _by_check(doctor.check_autovacuum(cur, cfg))["bloat queue_job"]
    assert finding.status == FAIL and "(90%)" in finding.message  # bloat alone
    assert "VACUUM (ANALYZE) queue_job" in finding.fix
    warn_cfg = DoctorConfig(
        bloat_min_dead_rows=500, bloat_warn_ratio=0.5, bloat_fail_ratio=0.95
    )
    with admin.cursor() as cur:
        findings = doctor.check_autovacuum(cur, warn_cfg)
    assert _status(findings, "bloat queue_job") == WARN

    admin.execute("VACUUM queue_job")
    _flush_stats(admin)
    with admin.cursor() as cur:
        finding = _by_check(doctor.check_autovacuum(cur, cfg))["bloat queue_job"]
    assert finding.status == PASS and "0 dead of 200 rows" in finding.message
    assert "never vacuumed" not in finding.message
    # A small table: a high ratio passes, and the report says why.
    admin.execute("DELETE FROM queue_job WHERE id <= 1900")  # 100 of 200 dead
    _flush_stats(admin)
    with admin.cursor() as cur:
        finding = _by_check(doctor.check_autovacuum(cur, cfg))["bloat queue_job"]
    assert finding.status == PASS and "(50%)" in finding.message
    assert "under 500 dead rows, too few to matter" in finding.message

    _reload(admin, autovacuum="off")
    try:
        with (
            psycopg.connect(
                private_pg.dsn("postgres", PRIVATE_DB), autocommit=True
            ) as conn,
            conn.cursor() as cur,
        ):
            assert _status(doctor.check_autovacuum(cur, cfg), "autovacuum") == FAIL
    finally:
        _reload(admin, autovacuum=None)
    with admin.cursor() as cur:
        checks = [f.check for f in doctor.check_autovacuum(cur, cfg)]
    assert "autovacuum" not in checks, "reported only when off"
    assert "bloat stock_move" not in checks, "absent tables are not reported"


def test_indexes_the_peak_queries_need(admin):
    admin.execute("DROP TABLE IF EXISTS queue_job")
    admin.execute(
        "CREATE TABLE queue_job (id serial PRIMARY KEY, state varchar, channel varchar)"
    )
    # A partial index does not serve the general query: still missing.
    admin.execute(
        "CREATE INDEX queue_job_partial ON queue_job (state) WHERE state = 'x'"
    )
    with admin.cursor() as cur:
        found = _by_check(doctor.check_indexes(cur, DoctorConfig()))
    assert found["index queue_job(state)"].status == FAIL
    assert (
        "CREATE INDEX CONCURRENTLY queue_job_state_index"
        in found["index queue_job(state)"].fix
    )
    assert found["index queue_job(channel)"].status == FAIL
    assert "index stock_move(state)" not in found, "absent tables are not reported"
    admin.execute("CREATE INDEX ON queue_job (state)")
    admin.execute("CREATE INDEX ON queue_job (channel, id)")
    with admin.cursor() as cur:
        found = _by_check(doctor.check_indexes(cur, DoctorConfig()))
    assert found["index queue_job(state)"].status == PASS
    assert found["index queue_job(channel)"].status == PASS


# --- queue_job mode (configuration) ------------------------------------------


def test_queue_job_channel_mode_from_the_odoo_config(tmp_path, admin):
    conf = tmp_path / "odoo.conf"
    conf.write_text(
        "[options]\nworkers = 6\ndb_maxconn = 8\nmax_cron_threads = 1\n"
        "server_wide_modules = base,web,queue_job\n"
        "[queue_job]\nchannels = root:4\n"
    )
    values = doctor.read_odoo_config(str(conf))
    assert values["workers"] == 6 and values["db_maxconn"] == 8
    assert values["cron_threads"] == 1
    cfg = DoctorConfig(**values)
    with admin.cursor() as cur:
        found = _by_check(
            doctor.check_queue_mode(cur, cfg, {"queue_job", "peak_queue"})
        )
    assert found["queue_job channel mode"].status == FAIL
    assert "'root:4'" in found["queue_job channel mode"].message
    assert found["server_wide_modules"].status == FAIL
    assert "peak_queue" in found["server_wide_modules"].message
    assert "module queue_job" not in found

    conf.write_text(
        "[options]\nworkers = 2\nserver_wide_modules = base,web,queue_job,peak_queue\n"
        "[queue_job]\n"
    )
    cfg = DoctorConfig(**doctor.read_odoo_config(str(conf)))
    with admin.cursor() as cur:
        found = _by_check(
            doctor.check_queue_mode(cur, cfg, {"queue_job", "peak_queue"})
        )
        assert found["queue_job channel mode"].status == PASS
        assert found["server_wide_modules"].status == PASS
        # The jobrunner's environment variable wins over the file.
        env_cfg = DoctorConfig(
            queue_job_channels="", environ={"ODOO_QUEUE_JOB_CHANNELS": "root:2"}
        )
        found = _by_check(doctor.check_queue_mode(cur, env_cfg, set()))
        assert found["queue_job channel mode"].status == FAIL
        assert found["module queue_job"].status == FAIL
        assert found["module peak_queue"].status == FAIL
        # Unknown without a config file: skipped, said so, not a pass.
        found = _by_check(doctor.check_queue_mode(cur, DoctorConfig(), {"queue_job"}))
        assert found["queue_job channel mode"].status == SKIP


def test_bad_doctor_settings_are_refused(tmp_path):
    with pytest.raises(doctor.DoctorConfigError, match="cannot read"):
        doctor.read_odoo_config(str(tmp_path / "missing.conf"))
    bad = tmp_path / "bad.conf"
    bad.write_text("[options]\nworkers = many\n")
    with pytest.raises(doctor.DoctorConfigError, match="workers='many'"):
        doctor.read_odoo_config(str(bad))
    with pytest.raises(doctor.DoctorConfigError, match="bloat ratios"):
        DoctorConfig(bloat_warn_ratio=0.8, bloat_fail_ratio=0.5).validate()


# --- queue_job channels, governor, leases (test database, rolled back) --------


@pytest.fixture
def peak_cur():
    """A cursor on the test database whose changes are rolled back."""
    conn = connect("peak-test-doctor", autocommit=False)
    try:
        with conn.cursor() as cur:
            yield cur
    finally:
        conn.rollback()
        conn.close()


def _channel(cur, name, parent="root", klass=None, pinned=False, paused=False):
    cur.execute(
        "INSERT INTO queue_job_channel (name, complete_name, parent_id, "
        "priority_class, pinned, paused, removal_interval) "
        "SELECT %s, %s, id, %s, %s, %s, 30 FROM queue_job_channel "
        "WHERE complete_name = %s RETURNING id",
        (name, f"{parent}.{name}", klass, pinned, paused, parent),
    )
    return cur.fetchone()[0]


@needs_db
def test_channels_classified_pinned_and_paused(peak_cur):
    cur = peak_cur
    cur.execute("UPDATE queue_job_channel SET pinned = false, paused = false")
    cur.execute(
        "UPDATE queue_job_channel SET priority_class = 'operational' "
        "WHERE name = 'root'"
    )
    _channel(cur, "doctor_import", klass=None)
    found = _by_check(doctor.check_channels(cur, DoctorConfig()))
    assert found["channels classified"].status == PASS, "inherits root's class"
    assert found["channel pins"].status == PASS
    assert found["channel manual pause"].status == PASS

    cur.execute(
        "UPDATE queue_job_channel SET priority_class = NULL WHERE name = 'root'"
    )
    cur.execute(
        "UPDATE queue_job_channel SET pinned = true "
        "WHERE complete_name = 'root.doctor_import'"
    )
    _channel(cur, "doctor_paused", klass="bulk", paused=True)
    found = _by_check(doctor.check_channels(cur, DoctorConfig()))
    assert found["channels classified"].status == WARN
    assert "root.doctor_import" in found["channels classified"].message
    assert "root.doctor_paused" not in found["channels classified"].message
    assert found["channel pins"].status == WARN
    assert "root.doctor_import" in found["channel pins"].message
    assert found["channel manual pause"].status == WARN
    assert "root.doctor_paused" in found["channel manual pause"].message
    # root alone on the default class is the design, as the Channels list shows.
    assert not found["channels classified"].message.startswith("root:")
    cur.execute(
        "UPDATE queue_job_channel SET priority_class = 'bulk' "
        "WHERE complete_name = 'root.doctor_import'"
    )
    cur.execute(
        "UPDATE queue_job_channel SET priority_class = 'operational' "
        "WHERE priority_class IS NULL AND name != 'root'"
    )
    found = _by_check(doctor.check_channels(cur, DoctorConfig()))
    assert found["channels classified"].status == PASS
    assert "(root: Operational, the default)" in found["channels classified"].message


@needs_db
def test_governor_leader(peak_cur):
    cur = peak_cur
    cur.execute("DELETE FROM peak_queue_governor_leader")
    finding = doctor.check_governor(cur, DoctorConfig())[0]
    assert finding.status == FAIL and "no governor" in finding.message
    assert "peak-governor status" in finding.fix
    now = "(now() AT TIME ZONE 'utc')"
    cur.execute(
        "INSERT INTO peak_queue_governor_leader (id, holder, since, expires_at, level) "
        f"VALUES (1, 'gov-a', {now}, {now} - interval '5 seconds', 'calm')"
    )
    finding = doctor.check_governor(cur, DoctorConfig())[0]
    assert finding.status == FAIL and "last holder gov-a" in finding.message
    cur.execute(
        "UPDATE peak_queue_governor_leader "
        f"SET expires_at = {now} + interval '30 seconds'"
    )
    finding = doctor.check_governor(cur, DoctorConfig())[0]
    assert finding.status == PASS and "gov-a (level calm" in finding.message


def _lease(cur, channel_id, seconds, state="active"):
    cur.execute(
        "INSERT INTO peak_queue_lease (channel_id, holder, reason, expires_at, state, "
        "trickle) VALUES (%s, 'doctor-test', 'test', "
        "(now() AT TIME ZONE 'utc') + %s * interval '1 second', %s, false)",
        (channel_id, seconds, state),
    )


@needs_db
def test_leases_consistent(peak_cur):
    cur = peak_cur
    cur.execute("UPDATE peak_queue_lease SET state = 'released' WHERE state = 'active'")
    bulk = _channel(cur, "doctor_bulk", klass="bulk")
    _lease(cur, bulk, 60)
    finding = doctor.check_leases(cur, DoctorConfig())[0]
    assert finding.status == PASS and "1 active lease" in finding.message

    stale = _channel(cur, "doctor_stale", klass="bulk")
    _lease(cur, stale, -120)
    finding = doctor.check_leases(cur, DoctorConfig())[0]
    assert finding.status == WARN and "root.doctor_stale" in finding.message

    pinned = _channel(cur, "doctor_pinned", klass="bulk", pinned=True)
    _lease(cur, pinned, 60)
    critical = _channel(cur, "doctor_critical", klass="critical")
    _lease(cur, critical, 60)
    too_long = _channel(cur, "doctor_long", klass="bulk")
    _lease(cur, too_long, 100_000)
    finding = doctor.check_leases(cur, DoctorConfig())[0]
    assert finding.status == FAIL
    assert "root.doctor_pinned is pinned but leased" in finding.message
    assert "root.doctor_critical is critical but leased" in finding.message
    assert "root.doctor_long leased for" in finding.message


def _publish(cur, document):
    cur.execute(
        "DELETE FROM ir_config_parameter WHERE key = 'peak_base.protected_intervals'"
    )
    if document is not None:
        cur.execute(
            "INSERT INTO ir_config_parameter (key, value) "
            "VALUES ('peak_base.protected_intervals', %s)",
            (document if isinstance(document, str) else json.dumps(document),),
        )


@needs_db
def test_next_protected_interval(peak_cur):
    cur = peak_cur
    now = datetime.now(UTC).replace(microsecond=0)

    def iso(when):
        return when.strftime("%Y-%m-%dT%H:%M:%SZ")

    def check():
        return doctor.check_protected_interval(cur, DoctorConfig())[0]

    _publish(cur, None)
    assert check().status == FAIL and "never published" in check().message
    _publish(cur, "{not json")
    assert check().status == FAIL and "unreadable" in check().message
    stale = {
        "valid_from": iso(now - timedelta(days=3)),
        "valid_until": iso(now - timedelta(days=1)),
        "intervals": [],
    }
    _publish(cur, stale)
    assert check().status == FAIL and "stale" in check().message
    empty = {
        "valid_from": iso(now),
        "valid_until": iso(now + timedelta(days=2)),
        "intervals": [],
    }
    _publish(cur, empty)
    assert check().status == WARN
    assert "none in the next 48 h" in check().message
    upcoming = dict(
        empty,
        intervals=[[iso(now + timedelta(hours=3)), iso(now + timedelta(hours=5))]],
    )
    _publish(cur, upcoming)
    finding = check()
    assert finding.status == PASS
    assert (now + timedelta(hours=3)).strftime("%Y-%m-%d %H:%M") in finding.message
    current = dict(
        empty,
        intervals=[[iso(now - timedelta(hours=1)), iso(now + timedelta(hours=1))]],
    )
    _publish(cur, current)
    assert check().status == PASS and "protected now" in check().message


@needs_db
def test_run_checks_on_the_peak_database(peak_cur):
    cur = peak_cur
    cur.execute("DELETE FROM peak_queue_governor_leader")
    findings = doctor.run_checks(cur, DoctorConfig())
    checks = _by_check(findings)
    assert checks["governor leader"].status == FAIL
    assert "channels classified" in checks and "leases consistent" in checks
    assert "next protected interval" in checks
    assert checks["WAL archiving"].status in (PASS, WARN, FAIL)
    # Only when their addon is installed.
    installed = doctor.installed_modules(cur)
    for addon, check in (
        ("peak_attachment_s3", "S3 attachments"),
        ("peak_session_redis", "session store"),
        ("peak_metrics", "/metrics protected"),
    ):
        assert (check in checks) == (addon in installed), check
    assert doctor.exit_code(findings) == 2
    text = doctor.render_text(findings)
    assert "FAIL  governor leader: no governor" in text
    assert "fix: start peak-governor" in text


def test_a_crashing_check_is_a_failure_not_a_crash(admin):
    # A database with ir_module_module saying peak_queue is installed, but
    # none of its tables: the Peak checks crash, the others still run.
    admin.execute("DROP TABLE IF EXISTS ir_module_module")
    admin.execute("CREATE TABLE ir_module_module (name varchar, state varchar)")
    admin.execute("INSERT INTO ir_module_module VALUES ('peak_queue', 'installed')")
    try:
        with (
            psycopg.connect(admin.info.dsn, autocommit=False) as conn,
            conn.cursor() as cur,
        ):
            findings = doctor.run_checks(cur, DoctorConfig())
        found = _by_check(findings)
        assert found["governor leader"].status == FAIL
        assert "check crashed: UndefinedTable" in found["governor leader"].message
        assert found["WAL archiving"].status == FAIL, "ran after the crash"
    finally:
        admin.execute("DROP TABLE ir_module_module")


# --- companion services -------------------------------------------------------


def test_redis_session_store_probe():
    ok = doctor.check_redis(
        DoctorConfig(environ={"PEAK_REDIS_URL": "redis://127.0.0.1:6379/0"})
    )
    assert ok[0].status in (PASS, WARN) and "PING" in ok[0].message
    started = time.monotonic()
    dead = doctor.check_redis(
        DoctorConfig(
            probe_timeout=1,
            environ={"PEAK_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"},
        )
    )
    assert dead[0].status == FAIL and "Redis unreachable" in dead[0].message
    assert time.monotonic() - started < 5
    unset = doctor.check_redis(DoctorConfig(environ={}))
    assert unset[0].status == FAIL and "PEAK_REDIS_URL" in unset[0].message


def test_redis_key_secret_is_checked():
    """Hosts sharing a Redis must share the secret that names sessions."""
    url = {"PEAK_REDIS_URL": "redis://127.0.0.1:6379/0"}
    [_ping, generated] = doctor.check_redis(DoctorConfig(environ=url))
    assert generated.status == WARN and "PEAK_REDIS_KEY_SECRET" in generated.message
    shared = dict(url, PEAK_REDIS_KEY_SECRET="s" * 64)
    [_ping, given] = doctor.check_redis(DoctorConfig(environ=shared))
    assert given.status == PASS and "s" * 64 not in str(given)
    short = doctor.check_redis(
        DoctorConfig(environ=dict(url, PEAK_REDIS_KEY_SECRET="s"))
    )
    assert short[0].status == FAIL and "too short" in short[0].message


def test_s3_probe(seaweed_s3):
    creds = seaweed_s3.credentials
    env = {
        "PEAK_S3_ENDPOINT_URL": creds.endpoint_url,
        "PEAK_S3_ACCESS_KEY": creds.access_key,
        "PEAK_S3_SECRET_KEY": creds.secret_key,
        "PEAK_S3_BUCKET": creds.bucket,
    }
    ok = doctor.check_s3(DoctorConfig(environ=env))[0]
    assert ok.status in (PASS, WARN) and f"bucket {creds.bucket} answers" in ok.message
    wrong_bucket = doctor.check_s3(
        DoctorConfig(environ=dict(env, PEAK_S3_BUCKET="nope"))
    )[0]
    assert wrong_bucket.status == FAIL
    wrong_key = doctor.check_s3(
        DoctorConfig(environ=dict(env, PEAK_S3_SECRET_KEY="x"))
    )[0]
    assert wrong_key.status == FAIL
    started = time.monotonic()
    dead = doctor.check_s3(
        DoctorConfig(
            probe_timeout=1,
            environ=dict(env, PEAK_S3_ENDPOINT_URL=f"http://127.0.0.1:{free_port()}"),
        )
    )[0]
    assert dead.status == FAIL and "unreachable" in dead.message
    assert time.monotonic() - started < 8


def test_redis_probe_through_sentinels_without_a_url(tmp_path):
    """The dedicated overlay's shape: Sentinels, no PEAK_REDIS_URL."""
    from peak_dev.redis import RedisSentinel, RedisServer

    master = RedisServer(tmp_path / "master").start()
    sentinel = RedisSentinel(tmp_path / "sentinel", master)
    try:
        sentinel.start()
        env = {
            "PEAK_REDIS_SENTINELS": f"127.0.0.1:{sentinel.port}",
            "PEAK_REDIS_SENTINEL_MASTER": sentinel.master_name,
        }
        ok = doctor.check_redis(DoctorConfig(environ=env))[0]
        assert ok.status in (PASS, WARN) and "sentinel://" in ok.message, ok
        lost = doctor.check_redis(
            DoctorConfig(
                probe_timeout=1,
                environ=dict(env, PEAK_REDIS_SENTINEL_MASTER="no-such-master"),
            )
        )[0]
        assert lost.status == FAIL and "unreachable" in lost.message
    finally:
        sentinel.stop()
        master.stop()


def test_s3_probe_plain_aws_without_endpoint(seaweed_s3, monkeypatch):
    """No PEAK_S3_ENDPOINT_URL: boto3's own endpoint resolution and credential
    chain, as in Odoo (here AWS_ENDPOINT_URL_S3 points it at SeaweedFS)."""
    creds = seaweed_s3.credentials
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", creds.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", creds.access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", creds.secret_key)
    env = {"PEAK_S3_BUCKET": creds.bucket, "PEAK_S3_ENDPOINT_URL": ""}
    ok = doctor.check_s3(DoctorConfig(environ=env))[0]
    assert ok.status in (PASS, WARN), ok
    assert "AWS S3" in ok.message


# --- the command ----------------------------------------------------------------


def _doctor_cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "peak_governor.cli", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_cli_json_exit_codes_and_bad_input(private_pg):
    dsn = private_pg.dsn("postgres", PRIVATE_DB)
    done = _doctor_cli("--dsn", dsn, "--json", "--workers", "2", "--db-maxconn", "2")
    report = json.loads(done.stdout)
    assert done.returncode == 2 == report["exit_code"], done.stderr
    assert report["status"] == FAIL
    statuses = {c["check"]: c["status"] for c in report["checks"]}
    assert statuses["WAL archiving"] == FAIL  # archive_mode off here
    assert statuses["connection budget"] == PASS
    assert all(c["fix"] for c in report["checks"] if c["status"] in (WARN, FAIL))

    text = _doctor_cli("--dsn", dsn, env={"PEAK_DOCTOR_WORKERS": "40"})
    assert "FAIL  connection budget: (40 workers" in text.stdout

    bad = _doctor_cli("--dsn", dsn, env={"PEAK_DOCTOR_WORKERS": "lots"})
    assert bad.returncode == 2 and bad.stdout == ""
    assert "env PEAK_DOCTOR_WORKERS='lots' is not an integer" in bad.stderr

    started = time.monotonic()
    down = _doctor_cli("--dsn", f"host=127.0.0.1 port={free_port()} user=x", "--json")
    assert down.returncode == 2
    assert json.loads(down.stdout)["checks"][0]["check"] == "PostgreSQL reachable"
    assert time.monotonic() - started < 15


def test_cli_wiring_keeps_the_governor_commands():
    done = subprocess.run(
        [sys.executable, "-m", "peak_governor.cli", "doctor", "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parent,
    )
    assert done.returncode == 0 and "--pgbackrest-stanza" in done.stdout


# --- the administrator's password ---------------------------------------------


def test_stored_passwords_are_verified_as_odoo_does():
    from passlib.context import CryptContext

    from peak_governor.doctor.accounts import accepts

    # Odoo's own context (res.users._crypt_context), default rounds.
    stored = CryptContext(["pbkdf2_sha512", "plaintext"], deprecated=["plaintext"])
    admin_hash = stored.hash("admin")
    assert accepts(admin_hash, "admin")
    assert not accepts(admin_hash, "Admin")
    assert not accepts(stored.hash("a long secret"), "admin")
    assert accepts("admin", "admin")  # plain text, as very old databases
    assert not accepts("", "admin")
    assert not accepts("$pbkdf2-sha512$x$y", "admin")  # malformed
    assert not accepts("$2b$12$somebcrypthash", "admin")


@needs_db
def test_the_doctor_fails_while_admin_accepts_admin(peak_cur):
    from passlib.context import CryptContext

    cur = peak_cur
    hashing = CryptContext(["pbkdf2_sha512"])
    cur.execute(
        "UPDATE res_users SET password = %s WHERE login = 'admin'",
        (hashing.hash("admin"),),
    )
    (finding,) = doctor.check_admin_password(cur)
    assert (finding.status, finding.message) == (
        FAIL,
        "login admin still accepts the password 'admin'",
    )
    assert "PEAK_ADMIN_PASSWORD" in finding.fix
    cur.execute(
        "UPDATE res_users SET password = %s WHERE login = 'admin'",
        (hashing.hash("correct horse battery staple"),),
    )
    (finding,) = doctor.check_admin_password(cur)
    assert finding.status == PASS
    checks = _by_check(doctor.run_checks(cur, DoctorConfig()))
    assert checks["administrator password"].status == PASS
