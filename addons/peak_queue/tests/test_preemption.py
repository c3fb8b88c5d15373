# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Which cancelled statements peak_queue turns into a job retry: only the
cancel of pg_cancel_backend (the governor's preemption), never a timeout."""

import threading
import time

import psycopg2
from psycopg2 import errors as pg_errors

from odoo.tests import TransactionCase, tagged
from odoo.tools import config

from odoo.addons.peak_queue.controllers.main import preempted


def _cancel_from_another_session(pid: int, after_s: float) -> threading.Thread:
    def cancel():
        time.sleep(after_s)
        dsn = {"dbname": config["db_name"] or None, "user": config["db_user"] or None}
        if config["db_host"]:
            dsn.update(host=config["db_host"], port=config["db_port"] or 5432)
        with psycopg2.connect(**{k: v for k, v in dsn.items() if v}) as conn:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT pg_cancel_backend(%s)", (pid,))

    thread = threading.Thread(target=cancel, daemon=True)
    thread.start()
    return thread


@tagged("post_install", "-at_install")
class TestPreemption(TransactionCase):
    def _cancelled(self, statement, *setup):
        with self.assertRaises(pg_errors.QueryCanceled) as caught:
            with self.env.cr.savepoint(), self.env.cr._cnx.cursor() as raw:
                for line in setup:
                    raw.execute(line)
                raw.execute(statement)
        return caught.exception

    def test_cancel_by_pg_cancel_backend_is_a_preemption(self):
        self.env.cr.execute("SELECT pg_backend_pid()")
        pid = self.env.cr.fetchone()[0]
        thread = _cancel_from_another_session(pid, 0.3)
        exc = self._cancelled("SELECT pg_sleep(20)")
        thread.join(10)
        self.assertTrue(preempted(exc))

    def test_statement_timeout_is_no_preemption(self):
        exc = self._cancelled("SELECT pg_sleep(5)", "SET LOCAL statement_timeout = 50")
        self.assertFalse(preempted(exc))

    def test_other_errors_are_no_preemption(self):
        self.assertFalse(
            preempted(ValueError("canceling statement due to user request"))
        )
