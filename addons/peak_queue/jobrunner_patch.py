# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Hook the pause leases into queue_job's jobrunner (see lib/leases.py).

Runs at ``post_load``, i.e. only when peak_queue is a server-wide module
(``server_wide_modules = base,web,queue_job,peak_queue``), before the jobrunner
process or thread starts. Every patch wraps queue_job's own method and calls it.
"""

import logging
import time
from contextlib import closing

import psycopg2

from .lib import leases

_logger = logging.getLogger(__name__)


def _refresh_leases(runner, db) -> None:
    """Re-read the active leases of one database: O(leased channels)."""
    manager = runner._channel_manager_by_db.get(db.db_name)
    if manager is None or db.conn is None:
        return
    rows = []
    try:
        with closing(db.conn.cursor()) as cr:
            cr.execute(leases.HAS_CONTRACT_SQL)
            if cr.fetchone()[0]:
                cr.execute(leases.ACTIVE_LEASES_SQL)
                rows = cr.fetchall()
    except psycopg2.ProgrammingError as exc:
        # Code newer than the database (peak_queue not upgraded yet): run
        # jobs without leases rather than stop the jobrunner.
        _logger.error(
            "cannot read channel leases of db %s (run -u peak_queue): %s",
            db.db_name,
            exc,
        )
    remaining = {name: seconds for name, seconds, _trickle in rows}
    trickling = frozenset(name for name, _seconds, trickle in rows if trickle)
    unknown = leases.apply_leases(
        manager._channels_by_name, remaining, time.time(), trickling
    )
    for name in unknown:
        _logger.warning(
            "lease on channel %s unknown to the jobrunner (db %s)", name, db.db_name
        )
    _logger.info(
        "channel leases for db %s: %s",
        db.db_name,
        ", ".join(sorted(remaining)) or "none",
    )


def _patch_database(database_cls) -> None:
    original_initialize = database_cls._initialize

    def _initialize(self):
        original_initialize(self)
        with closing(self.conn.cursor()) as cr:
            cr.execute(f"LISTEN {leases.NOTIFY_CHANNEL}")

    database_cls._initialize = _initialize


def _patch_runner(runner_cls) -> None:
    original_configure_db = runner_cls._configure_db
    original_process_notifications = runner_cls.process_notifications

    def _configure_db(self, db):
        original_configure_db(self, db)
        # A reload builds new Channel objects: give them their leases back.
        _refresh_leases(self, db)

    def process_notifications(self):
        lease_changed = []
        for db in self.db_by_name.values():
            notifies = db.conn.notifies
            ours = [n for n in notifies if n.channel == leases.NOTIFY_CHANNEL]
            if ours:
                # queue_job would read our payload as a job uuid: take ours out.
                notifies[:] = [
                    n for n in notifies if n.channel != leases.NOTIFY_CHANNEL
                ]
                lease_changed.append(db)
        original_process_notifications(self)
        for db in lease_changed:
            _refresh_leases(self, db)

    runner_cls._configure_db = _configure_db
    runner_cls.process_notifications = process_notifications


def post_load():
    from odoo.addons.queue_job.jobrunner import channels, runner

    if getattr(runner.QueueJobRunner, "_peak_leases_patched", False):
        return
    leases.patch_channel(channels.Channel)
    _patch_database(runner.Database)
    _patch_runner(runner.QueueJobRunner)
    runner.QueueJobRunner._peak_leases_patched = True
    _logger.info("peak_queue: pause leases hooked into the queue_job jobrunner")
