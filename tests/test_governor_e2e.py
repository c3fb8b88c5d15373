"""The governor against a real Odoo 18: peak_queue, multi-process server and
queue_job's jobrunner. The governor is killed with SIGKILL while its lease
holds: the jobrunner alone resumes the channel."""

import signal
import time

from pg import INTERACTIVE, LockScene, hot_rows, job_tag, needs_db, sql
from test_governor import clean_contract_state, set_peak  # noqa: F401
from test_governor_cli import start, wait_for

from odoo.addons.peak_queue.tests.test_jobrunner import (  # noqa: F401
    _all_done,
    _enqueue,
    _states,
    odoo_server,
)

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
