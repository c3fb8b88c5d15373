# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Change governance families in a real registry with peak_governance
installed (``PEAK_SUITE=...,peak_metrics,peak_governance``): grants and
exceptions are written as rows of their tables (the collector reads those
with SQL), periods through the ORM; Peak mode's clock is passed in."""

import unittest
from datetime import UTC, timedelta

from odoo import fields

from odoo.addons.peak_metrics.lib import collector
from odoo.addons.peak_metrics.lib import config as cfg

from .test_kpis import MetricsCase, parse

FAMILIES = (
    "peak_access_grants_active",
    "peak_access_grants_ending_soon",
    "peak_access_grants_overdue",
    "peak_change_exceptions_active",
    "peak_change_freeze_active",
)


class TestGovernanceMetrics(MetricsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if "peak.change.exception" not in cls.env:
            raise unittest.SkipTest("peak_governance is not in this test database")
        cls.env["peak.period"].search([]).action_archive()
        cls.env["ir.config_parameter"].sudo().set_param("peak_base.mode", "auto")
        cls.env["ir.config_parameter"].sudo().set_param(
            "peak_governance.freeze_scope", "periods"
        )
        cls.now = fields.Datetime.now().replace(microsecond=0)
        users = cls.env["res.users"].with_context(no_reset_password=True)
        cls.seasonal, cls.approver = (
            users.create({"name": name, "login": name})
            for name in ("peak_metrics_seasonal", "peak_metrics_approver")
        )

    def collect_at(self, now=None, peak_mode=False) -> dict:
        self.env.flush_all()
        config = cfg.load({}, {})
        at = (now or self.now).replace(tzinfo=UTC)
        status = {"peak_mode": peak_mode}
        return parse(collector.collect(self.env.cr, config, status, 1, at).render())

    def gauge(self, samples, name) -> float:
        return self.value(samples, name)

    def _grant(self, state, hours_to_end, hours_from_start=-48):
        self.env.cr.execute(
            "INSERT INTO peak_access_grant (user_id, requester_id, approver_id, "
            "date_start, date_end, state, end_action, reason, create_uid, "
            "create_date, write_uid, write_date) "
            "VALUES (%s, %s, %s, %s, %s, %s, 'remove_groups', 'metrics test', "
            "1, now(), 1, now())",
            (
                self.seasonal.id,
                self.env.uid,
                self.approver.id,
                self.now + timedelta(hours=hours_from_start),
                self.now + timedelta(hours=hours_to_end),
                state,
            ),
        )

    def _exception(self, state, hours_to_expiry):
        self.env.cr.execute(
            "INSERT INTO peak_change_exception (state, requester_id, approver_id, "
            "reason, expires_at, create_uid, create_date, write_uid, write_date) "
            "VALUES (%s, %s, %s, 'metrics test', %s, 1, now(), 1, now())",
            (
                state,
                self.env.uid,
                self.approver.id,
                self.now + timedelta(hours=hours_to_expiry),
            ),
        )

    def test_access_grants_active_ending_soon_and_overdue(self):
        before = self.collect_at()
        self._grant("active", 2)  # ends within 24 h
        self._grant("active", 23.5)  # still within
        self._grant("active", 72)
        self._grant("active", -1)  # past its end: the cron is late
        self._grant("approved", 2, hours_from_start=1)  # not started
        self._grant("ended", -5)
        self._grant("revoked", 5)
        after = self.collect_at()
        for name, more in (
            ("peak_access_grants_active", 4),
            ("peak_access_grants_ending_soon", 2),
            ("peak_access_grants_overdue", 1),
        ):
            assert self.gauge(after, name) == self.gauge(before, name) + more, name
        # A day later the ones that ended are overdue, none ends soon but one.
        later = self.collect_at(self.now + timedelta(hours=25))
        assert self.gauge(later, "peak_access_grants_overdue") == (
            self.gauge(before, "peak_access_grants_overdue") + 3
        )

    def test_active_change_exceptions(self):
        self.env.cr.execute("UPDATE peak_change_exception SET state = 'revoked'")
        assert self.gauge(self.collect_at(), "peak_change_exceptions_active") == 0
        self._exception("approved", 2)
        self._exception("approved", 10)
        self._exception("requested", 2)  # not approved yet
        self._exception("approved", -1)  # expired before the cron says so
        self._exception("expired", -3)
        assert self.gauge(self.collect_at(), "peak_change_exceptions_active") == 2
        later = self.collect_at(self.now + timedelta(hours=3))
        assert self.gauge(later, "peak_change_exceptions_active") == 1

    def test_change_freeze_follows_the_calendar(self):
        name = "peak_change_freeze_active"
        assert self.gauge(self.collect_at(), name) == 0
        period = self.env["peak.period"].create(
            {
                "name": "Black Friday week",
                "date_start": self.now + timedelta(days=2),
                "date_end": self.now + timedelta(days=9),
            }
        )
        assert self.gauge(self.collect_at(), name) == 0, "not started yet"
        at_start = self.now + timedelta(days=2)
        assert self.gauge(self.collect_at(at_start), name) == 1, "start inclusive"
        at_end = self.now + timedelta(days=9)
        assert self.gauge(self.collect_at(at_end), name) == 0, "end exclusive"
        period.change_freeze = False  # before it starts: allowed
        assert self.gauge(self.collect_at(at_start), name) == 0
        period.change_freeze = True
        period.action_archive()
        assert self.gauge(self.collect_at(at_start), name) == 0
        # Peak mode freezes changes only with the scope that says so.
        assert self.gauge(self.collect_at(peak_mode=True), name) == 0
        self.env["ir.config_parameter"].sudo().set_param(
            "peak_governance.freeze_scope", "peak_mode"
        )
        assert self.gauge(self.collect_at(peak_mode=True), name) == 1
        assert self.gauge(self.collect_at(), name) == 0

    def test_no_governance_families_without_the_module(self):
        served = {name for name, _labels in self.collect_at()}
        assert set(FAMILIES) <= served, set(FAMILIES) - served
        self.env.cr.execute(
            "UPDATE ir_module_module SET state = 'uninstalled' "
            "WHERE name = 'peak_governance'"
        )
        served = {name for name, _labels in self.collect_at()}
        assert not served & set(FAMILIES), "absent, not zeros"
        assert "peak_mode_on" in served and "peak_queue_jobs" in served

    def test_an_older_peak_governance_schema(self):
        """Before grants and per-period freezes (18.0.1.0.0): what it has is
        served, every period freezes changes, the collection does not fail."""
        period = self.env["peak.period"].create(
            {
                "name": "Old style",
                "date_start": self.now + timedelta(days=1),
                "date_end": self.now + timedelta(days=2),
                "change_freeze": False,
            }
        )
        at = self.now + timedelta(days=1, hours=1)
        assert self.gauge(self.collect_at(at), "peak_change_freeze_active") == 0
        self.env.flush_all()
        self.env.cr.execute("DROP TABLE peak_access_grant CASCADE")
        self.env.cr.execute("ALTER TABLE peak_period DROP COLUMN change_freeze")
        period.invalidate_recordset()
        samples = self.collect_at(at)
        assert self.gauge(samples, "peak_change_freeze_active") == 1
        served = {name for name, _labels in samples}
        assert not any(name.startswith("peak_access_") for name in served)
        assert "peak_change_exceptions_active" in served

    def test_the_scrape_carries_them(self):
        """The controller's collection passes Peak mode's clock along."""
        from odoo.addons.peak_metrics.controllers.main import _collect_db

        text, db_up, _duration = _collect_db(self.env.cr, cfg.load({}, {}))
        assert db_up
        assert b"\npeak_change_freeze_active 0.0\n" in text
        assert b"# HELP peak_change_exceptions_active " in text
