# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Leases on queue_job's real in-memory channels, no database involved."""

import time

import pytest

from odoo.addons.peak_queue.lib import leases
from odoo.addons.queue_job.jobrunner import channels as qj


@pytest.fixture
def manager():
    leases.patch_channel(qj.Channel)
    manager = qj.ChannelManager()
    manager.simple_configure("root:4,root.bulk:0,root.bulk.sub:1,root.critical:2")
    return manager


def _enqueue(manager, channel, count, prefix="job"):
    for i in range(count):
        manager.notify(
            "db", channel, f"{prefix}-{channel}-{i}", i, i, 10, None, qj.PENDING
        )


def _runnable(manager, now=None):
    return [job.uuid for job in manager.get_jobs_to_run(now or time.time())]


def _lease(manager, remaining_by_name, now):
    return leases.apply_leases(manager._channels_by_name, remaining_by_name, now)


def test_leased_channel_of_unlimited_capacity_starts_nothing(manager):
    # capacity 0 is "unlimited" in queue_job: the lease must still win.
    _enqueue(manager, "root.bulk", 3)
    _lease(manager, {"root.bulk": 30}, time.time())
    assert _runnable(manager) == []


def test_lease_holds_sub_channels_but_not_siblings(manager):
    _enqueue(manager, "root.bulk.sub", 1)
    _enqueue(manager, "root.critical", 1)
    _lease(manager, {"root.bulk": 30}, time.time())
    assert _runnable(manager) == ["job-root.critical-0"]


def test_expired_lease_stops_holding_by_itself(manager):
    _enqueue(manager, "root.bulk", 2)
    now = time.time()
    _lease(manager, {"root.bulk": 5}, now)
    assert _runnable(manager, now) == []
    # Nobody touches the channel again: time passing is enough.
    bulk = manager.get_channel_by_name("root.bulk")
    assert not leases.is_leased(bulk, now + 5.01)


def test_wakeup_time_is_the_lease_end(manager):
    _enqueue(manager, "root.bulk", 1)
    now = time.time()
    _lease(manager, {"root.bulk": 7}, now)
    assert manager.get_wakeup_time() == pytest.approx(now + 7)


def test_refresh_drops_released_leases(manager):
    _enqueue(manager, "root.bulk", 1)
    now = time.time()
    _lease(manager, {"root.bulk": 30}, now)
    assert _runnable(manager) == []
    _lease(manager, {}, now)
    assert _runnable(manager) == ["job-root.bulk-0"]


def test_unknown_leased_channels_are_reported(manager):
    assert _lease(manager, {"root.nowhere": 3}, time.time()) == ["root.nowhere"]


def test_manual_pause_and_lease_both_hold(manager):
    _enqueue(manager, "root.bulk", 1)
    bulk = manager.get_channel_by_name("root.bulk")
    bulk.paused = True
    now = time.time()
    _lease(manager, {"root.bulk": 30}, now)
    _lease(manager, {}, now)  # lease released: the manual pause still holds
    assert _runnable(manager) == []
    bulk.paused = False
    _lease(manager, {"root.bulk": 30}, now)  # resumed by hand: lease holds
    assert _runnable(manager) == []
    _lease(manager, {}, now)
    assert _runnable(manager) == ["job-root.bulk-0"]


def test_patching_twice_changes_nothing():
    leases.patch_channel(qj.Channel)
    first = qj.Channel.has_capacity
    leases.patch_channel(qj.Channel)
    assert qj.Channel.has_capacity is first


def test_trickling_lease_runs_one_job_at_a_time(manager):
    _enqueue(manager, "root.bulk", 3)
    now = time.time()
    _lease_trickle = leases.apply_leases(
        manager._channels_by_name, {"root.bulk": 30}, now, frozenset({"root.bulk"})
    )
    assert _lease_trickle == []
    assert len(_runnable(manager, now)) == 1, "capacity 0 (unlimited) trickles at 1"
    assert _runnable(manager, now) == [], "the first job still runs"
