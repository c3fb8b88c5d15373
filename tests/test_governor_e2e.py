"""The governor against a real Odoo 18: peak_queue, multi-process server and
queue_job's jobrunner (one Odoo for the module).

- The governor is killed with SIGKILL while its lease holds: the jobrunner
  alone resumes the channel.
- Pre-window drain: a window opening at T finds no bulk job running at T.
"""

import dataclasses
import json
import signal
import threading
import time
import uuid
from datetime import UTC, datetime

from pg import (
    DB,
    INTERACTIVE,
    LockScene,
    hot_rows,
    job_tag,
    needs_db,
    picker,
    sql,
)
from prometheus_client.parser import text_string_to_metric_families
from test_governor import (  # noqa: F401
    FAST_POLICY,
    clean_contract_state,
    make_config,
    set_peak,
)
from test_governor_cli import start, wait_for

from odoo.addons.peak_queue.tests.test_jobrunner import (  # noqa: F401
    _all_done,
    _enqueue,
    _env,
    _set_channel,
    _states,
    odoo_server,
)

from peak_governor.daemon import run

pytestmark = needs_db
LEASE_TTL_S = 5


def test_killed_governor_cannot_keep_jobs_from_running(odoo_server):  # noqa: F811
    set_peak(protected=True)
    governor = start("--lease-ttl", str(LEASE_TTL_S), instance="gov-e2e")
    try:
        with (
            hot_rows() as table,
            LockScene(table, job_tag("bulk", "root.bulk")) as scene,
        ):
            scene.add_waiter(INTERACTIVE)
            wait_for(
                lambda: sql(
                    "SELECT count(*) FROM peak_queue_active_leases() "
                    "WHERE channel = 'root.bulk'"
                )[0][0]
                == 1,
                10,
                "the governor never leased root.bulk",
            )
            jobs = _enqueue("root.bulk", 2)
            time.sleep(2)
            assert set(_states(jobs).values()) == {"pending"}, "the lease holds"
            governor.send_signal(signal.SIGKILL)
            governor.wait(5)
            killed = time.monotonic()
        # No governor, no cron, nobody releases anything: queue_job's
        # jobrunner resumes the channel when the lease runs out.
        wait_for(_all_done(jobs), LEASE_TTL_S + 5 + 10, "jobs never ran")
        lease_end = sql(
            "SELECT max(expires_at) FROM peak_queue_lease WHERE holder = 'gov-e2e'"
        )[0][0]
        started = sql(
            "SELECT min(date_started) FROM queue_job WHERE uuid = ANY(%s)", (jobs,)
        )[0][0]
        assert started >= lease_end.replace(microsecond=0), "ran before expiry"
        assert time.monotonic() - killed < LEASE_TTL_S + 5 + 10
    finally:
        governor.kill()


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _publish_window(opens_at: float) -> None:
    """Peak mode on now; a fulfillment window opening at ``opens_at``."""
    now = time.time()
    doc = {
        "version": 1,
        "valid_from": _iso(now - 3600),
        "valid_until": _iso(now + 7200),
        "intervals": [[_iso(opens_at), _iso(opens_at + 3600)]],
        "peak_mode": [[_iso(now - 3600), _iso(now + 7200)]],
    }
    sql(
        "INSERT INTO ir_config_parameter (key, value) VALUES "
        "('peak_base.protected_intervals', %s) ON CONFLICT (key) DO UPDATE "
        "SET value = EXCLUDED.value",
        (json.dumps(doc),),
    )


def _enqueue_slow(channel: str, count: int, seconds: float, tag: str) -> list[str]:
    """Jobs of ``channel`` that create one partner each and then hold their
    transaction open for ``seconds`` (a bulk recompute)."""
    with _env() as env:
        action = env["ir.actions.server"].create(
            {
                "name": f"peak-e2e slow {tag}",
                "model_id": env["ir.model"]._get("res.partner").id,
                "state": "code",
                "code": (
                    f"env['res.partner'].create({{'name': 'peak-e2e-{tag}-' + "
                    "str(time.time())})\n"
                    f"time.sleep({seconds!r})\n"
                ),
            }
        )
        return [
            action.with_delay(channel=channel, description=f"peak-e2e {tag}").run().uuid
            for _i in range(count)
        ]


def _running(channel_prefix: str) -> tuple[int, int]:
    """(jobs started per queue_job, bulk sessions working per PostgreSQL)."""
    started = sql(
        "SELECT count(*) FROM queue_job WHERE channel LIKE %s "
        "AND state IN ('enqueued', 'started')",
        (channel_prefix + "%",),
    )[0][0]
    sessions = sql(
        "SELECT count(*) FROM pg_stat_activity WHERE state <> 'idle' "
        "AND application_name LIKE 'pk1|job|bulk|%%'"
    )[0][0]
    return started, sessions


def test_window_opening_at_t_has_no_bulk_job_running_at_t(odoo_server):  # noqa: F811
    lead, job_seconds = 6.0, 2.0
    tag = uuid.uuid4().hex[:8]
    opens_at = float(int(time.time()) + 16)
    _publish_window(opens_at)
    _set_channel("root.bulk", capacity=1)
    jobs = _enqueue_slow("root.bulk", 10, job_seconds, tag)
    policy = dataclasses.replace(FAST_POLICY, drain=str(lead))
    config = make_config(policy=policy, instance_id=f"gov-drain-{tag}")
    stop = threading.Event()
    loop = threading.Thread(target=run, args=(config, stop), daemon=True)
    loop.start()
    try:
        # Before the drain, bulk runs back to back (the test can fail).
        wait_for(
            lambda: _running("root.bulk")[0] > 0,
            opens_at - lead - time.time() - 1,
            "no bulk job ran before the drain",
        )
        while time.time() < opens_at:
            time.sleep(0.05)
        at_open = [_running("root.bulk")]
        while time.time() < opens_at + 1.0:
            at_open.append(_running("root.bulk"))
            time.sleep(0.1)
        assert at_open[0] == (0, 0), f"bulk still running at T: {at_open[0]}"
        assert set(at_open) == {(0, 0)}, "bulk restarted as the window opened"
        drained = sql(
            "SELECT EXTRACT(EPOCH FROM create_date AT TIME ZONE 'utc'), evidence "
            "FROM peak_queue_lease_event WHERE holder = %s AND action = 'created' "
            "AND channel_name = 'root.bulk' ORDER BY id LIMIT 1",
            (config.instance_id,),
        )
        assert drained, "root.bulk was never drained"
        drained_at, evidence = drained[0]
        assert opens_at - lead - 1.0 <= float(drained_at) <= opens_at - lead + 1.0
        assert evidence["drain"]["lead_seconds"] == lead
    finally:
        stop.set()
        loop.join(10)
    # Drained, not lost: every job ran, once.
    wait_for(_all_done(jobs), 60, "drained jobs never ran")
    ran = sql(
        "SELECT count(*) FROM res_partner WHERE name LIKE %s",
        (f"peak-e2e-{tag}-%",),
    )[0][0]
    assert ran == len(jobs)


def _set_param(key: str, value: str) -> None:
    sql(
        "INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s) "
        "ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        (key, value),
    )


def _enqueue_row_holder(table: str, tag: str) -> str:
    """A bulk job that creates a partner, updates hot row 1 and then runs a
    long statement (pg_sleep for ``peak_e2e.hold_seconds``) with the row lock
    held: a mass recompute in the database, the kind preemption is for."""
    with _env() as env:
        action = env["ir.actions.server"].create(
            {
                "name": f"peak-e2e row holder {tag}",
                "model_id": env["ir.model"]._get("res.partner").id,
                "state": "code",
                "code": (
                    f"env['res.partner'].create({{'name': 'peak-e2e-{tag}'}})\n"
                    "env.flush_all()\n"
                    f"env.cr.execute('UPDATE {table} SET qty = qty - 1 WHERE id = 1')\n"
                    'env.cr.execute("SELECT pg_sleep(COALESCE((SELECT value::float '
                    "FROM ir_config_parameter "
                    "WHERE key = 'peak_e2e.hold_seconds'), 0))\")\n"
                ),
            }
        )
        return action.with_delay(channel="root.bulk", max_retries=5).run().uuid


def test_preempted_job_is_retried_and_done_exactly_once(odoo_server):  # noqa: F811
    from peak_governor.metrics import GovernorMetrics

    tag = uuid.uuid4().hex[:8]
    set_peak(protected=True)
    _set_channel("root.bulk", capacity=1)
    _set_param("peak_e2e.hold_seconds", "120")
    metrics = GovernorMetrics([DB])
    stop = threading.Event()
    loop = None
    waited: list[float] = []
    try:
        with hot_rows() as table:
            job_uuid = _enqueue_row_holder(table, tag)
            wait_for(
                lambda: sql(
                    "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                    "AND application_name LIKE 'pk1|job|bulk|%%' "
                    "AND query LIKE '%%pg_sleep%%'"
                )[0][0]
                == 1,
                30,
                "the bulk job never started its long statement",
            )
            policy = dataclasses.replace(FAST_POLICY, preempt_after=1.0)
            config = make_config(policy=policy, instance_id=f"gov-preempt-{tag}")
            loop = threading.Thread(
                target=run, args=(config, stop, metrics), daemon=True
            )
            loop.start()

            pick = picker(table, waited)  # needs the row the job holds
            wait_for(
                lambda: sql(
                    "SELECT count(*) FROM peak_queue_lease_event "
                    "WHERE action = 'preempted' AND holder = %s",
                    (config.instance_id,),
                )[0][0]
                == 1,
                20,
                "the governor never preempted the job",
            )
            _set_param("peak_e2e.hold_seconds", "0")  # the retry is quick
            pick.join(20)
            assert waited and waited[0] < 15, "the picker was not freed"
            wait_for(_all_done([job_uuid]), 60, "the preempted job never ran again")
            qty = sql(f"SELECT qty FROM {table} WHERE id = 1")[0][0]
    finally:
        stop.set()
        if loop is not None:
            loop.join(10)  # it releases its leases and resigns
        sql("DELETE FROM ir_config_parameter WHERE key = 'peak_e2e.hold_seconds'")
    state, retry = sql(
        "SELECT state, retry FROM queue_job WHERE uuid = %s", (job_uuid,)
    )[0]
    assert (state, retry) == ("done", 1), "ran twice, the preempted run not counted"
    partners = sql(
        "SELECT count(*) FROM res_partner WHERE name = %s", (f"peak-e2e-{tag}",)
    )[0][0]
    assert partners == 1, "the preempted run's side effects were rolled back"
    assert qty == 99, "the row was updated once (the picker rolled back)"
    event = sql(
        "SELECT channel_name, reason, evidence FROM peak_queue_lease_event "
        "WHERE action = 'preempted' AND holder = %s",
        (config.instance_id,),
    )[0]
    assert event[0] == "root.bulk" and event[1] == "preempt"
    assert event[2]["job_uuid"] == job_uuid and event[2]["signal_sent"] is True
    assert event[2]["signal"] == "cancel", "it was running a statement"
    assert event[2]["preempted"]["blocked_protected_seconds"] >= 1.0
    counted = [
        s.value
        for family in text_string_to_metric_families(metrics.render().decode())
        for s in family.samples
        if s.name == "peak_governor_decisions_total"
        and s.labels.get("action") == "preempt"
    ]
    assert counted == [1.0]
