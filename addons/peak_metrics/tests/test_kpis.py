# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Database-derived metrics in a real registry with sale_stock installed
(``make test`` installs it for peak_metrics: TEST_EXTRA_MODULES)."""

import time
import uuid

import psycopg2
from prometheus_client.parser import text_string_to_metric_families

from odoo import fields
from odoo.tests.common import TransactionCase
from odoo.tools import config as odoo_config

from odoo.addons.peak_metrics.controllers.main import _collect_db
from odoo.addons.peak_metrics.lib import collector
from odoo.addons.peak_metrics.lib import config as cfg


def parse(text: bytes) -> dict:
    """{(sample name, sorted label items): value}"""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text.decode())
        for sample in family.samples
    }


class MetricsCase(TransactionCase):
    def collect(self, **env) -> dict:
        self.env.flush_all()  # the collector reads with SQL
        config = cfg.load(env, {})
        status = self.env["peak.mode"].get_status()
        root = self.env["queue.job.channel"]._root_max_capacity()
        return parse(collector.collect(self.env.cr, config, status, root).render())

    @staticmethod
    def value(samples, name, **labels):
        key = (name, tuple(sorted(labels.items())))
        assert key in samples, f"{key} not served; have {sorted(samples)[:5]}..."
        return samples[key]


class TestBusinessKpis(MetricsCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner = cls.env["res.partner"].create({"name": "peak-kpi customer"})
        cls.product = cls.env["product.product"].create(
            {"name": "peak-kpi widget", "type": "consu", "is_storable": True}
        )
        cls.warehouse = cls.env["stock.warehouse"].search(
            [("company_id", "=", cls.env.company.id)], limit=1
        )

    def _order(self, qty=5):
        return self.env["sale.order"].create(
            {
                "partner_id": self.partner.id,
                "order_line": [
                    (
                        0,
                        0,
                        {
                            "product_id": self.product.id,
                            "product_uom_qty": qty,
                            "price_unit": 10,
                        },
                    )
                ],
            }
        )

    def _backdate(self, record, seconds):
        self.env.flush_all()
        self.env.cr.execute(
            f"UPDATE {record._table} SET create_date = "  # table of a model, not input
            "(now() AT TIME ZONE 'utc') - %s * interval '1 second' WHERE id IN %s",
            (seconds, tuple(record.ids)),
        )
        record.invalidate_recordset(["create_date"])

    def test_apps_are_detected_from_module_state(self):
        samples = self.collect()
        for app in ("sale", "stock", "account"):
            assert self.value(samples, "peak_metrics_app_installed", app=app) == 1.0
        # Without the app, none of its KPIs: pretend sale is uninstalled.
        self.env.cr.execute(
            "UPDATE ir_module_module SET state = 'uninstalled' WHERE name = 'sale'"
        )
        samples = self.collect()
        assert self.value(samples, "peak_metrics_app_installed", app="sale") == 0.0
        assert not any(name.startswith("peak_sale_") for name, _ in samples)
        assert any(name.startswith("peak_stock_") for name, _ in samples)

    def test_confirming_orders_and_validating_pickings_moves_the_kpis(self):
        out, before = {"picking_type": "outgoing"}, self.collect()
        confirmed_0 = self.value(before, "peak_sale_orders_confirmed_total")
        recent_0 = self.value(before, "peak_sale_orders_confirmed_last_hour")
        ready_0 = self.value(before, "peak_stock_pickings", state="ready", **out)
        waiting_0 = self.value(before, "peak_stock_pickings", state="waiting", **out)
        moves_0 = self.value(before, "peak_stock_moves_pending")

        slow, fast = self._order(), self._order()
        (slow | fast).action_confirm()
        # Created 30 min and 1 min before their confirmation (date_order).
        self.env.flush_all()
        for order, seconds in ((slow, 1800), (fast, 60)):
            self.env.cr.execute(
                "UPDATE sale_order SET create_date = date_order - %s * interval "
                "'1 second' WHERE id = %s",
                (seconds, order.id),
            )
        after = self.collect()
        assert self.value(after, "peak_sale_orders_confirmed_total") == confirmed_0 + 2
        assert self.value(after, "peak_sale_orders_confirmed_last_hour") == recent_0 + 2
        if recent_0 == 0:  # only our two orders in the last hour: exact values
            delay = {
                q: self.value(
                    after, "peak_sale_order_confirmation_delay_seconds", quantile=q
                )
                for q in ("0.5", "0.95", "1")
            }
            assert delay == {"0.5": 930.0, "0.95": 1713.0, "1": 1800.0}, delay
        # No stock: both deliveries wait.
        assert (
            self.value(after, "peak_stock_pickings", state="waiting", **out)
            == waiting_0 + 2
        )
        assert self.value(after, "peak_stock_moves_pending") == moves_0 + 2

        # Stock arrives for one order: its delivery becomes ready.
        self.env["stock.quant"]._update_available_quantity(
            self.product, self.warehouse.lot_stock_id, 5
        )
        slow.picking_ids.action_assign()
        self.assertEqual(slow.picking_ids.state, "assigned")
        self._backdate(fast.picking_ids, 7200)  # the other waits for 2 h
        after = self.collect()
        assert self.value(after, "peak_stock_pickings", state="ready", **out) == (
            ready_0 + 1
        )
        assert (
            self.value(after, "peak_stock_pickings", state="waiting", **out)
            == waiting_0 + 1
        )
        age = self.value(
            after, "peak_stock_picking_oldest_age_seconds", state="waiting", **out
        )
        assert age >= 7200

        # Validated: the delivery and its move leave the open counts.
        picking = slow.picking_ids
        picking.move_ids.quantity = 5
        picking.move_ids.picked = True
        picking.button_validate()
        self.assertEqual(picking.state, "done")
        after = self.collect()
        assert self.value(after, "peak_stock_pickings", state="ready", **out) == ready_0
        assert self.value(after, "peak_stock_moves_pending") == moves_0 + 1

    def test_posting_an_invoice_counts_it(self):
        key = {"move_type": "out_invoice"}
        before = self.value(self.collect(), "peak_account_invoices_posted_total", **key)
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.partner.id,
                "invoice_date": fields.Date.today(),
                "invoice_line_ids": [
                    (0, 0, {"product_id": self.product.id, "price_unit": 10})
                ],
            }
        )
        samples = self.collect()
        assert (
            self.value(samples, "peak_account_invoices_posted_total", **key) == before
        )
        invoice.action_post()
        samples = self.collect()
        assert (
            self.value(samples, "peak_account_invoices_posted_total", **key)
            == before + 1
        )


class TestQueueMetrics(MetricsCase):
    def _jobs(self, channel, state, count, age_s=0, eta_in_s=None):
        self.env.cr.execute(
            """
            INSERT INTO queue_job (uuid, name, state, channel, date_created, eta)
            SELECT %s || g, 'peak-metrics test', %s, %s,
                   (now() AT TIME ZONE 'utc') - %s * interval '1 second',
                   CASE WHEN %s IS NULL THEN NULL ELSE
                   (now() AT TIME ZONE 'utc') + %s * interval '1 second' END
              FROM generate_series(1, %s) g
            """,
            (str(uuid.uuid4()), state, channel, age_s, eta_in_s, eta_in_s, count),
        )

    def test_jobs_by_channel_class_and_state_and_oldest_age(self):
        bulk = {"channel": "root.bulk", "priority_class": "bulk"}
        before = self.collect()
        pending_0 = self.value(before, "peak_queue_jobs", state="pending", **bulk)
        self._jobs("root.bulk", "pending", 3, age_s=600)
        self._jobs("root.bulk", "pending", 2, age_s=5000, eta_in_s=60)  # not due
        self._jobs("root.bulk", "failed", 1)
        self._jobs("root.bulk", "done", 50, age_s=9000)  # never counted
        self._jobs("root.bulk.nightly", "pending", 4, age_s=30)  # no record
        after = self.collect()
        assert self.value(after, "peak_queue_jobs", state="pending", **bulk) == (
            pending_0 + 5
        )
        assert not any(
            dict(labels).get("state") == "done"
            for name, labels in after
            if name == "peak_queue_jobs"
        )
        age = self.value(after, "peak_queue_oldest_pending_job_age_seconds", **bulk)
        assert 600 <= age < 700  # the future eta is not an age
        # A channel without a record takes its parent's class.
        assert (
            self.value(
                after,
                "peak_queue_jobs",
                channel="root.bulk.nightly",
                priority_class="bulk",
                state="pending",
            )
            == 4
        )

    def test_failed_integration_jobs_and_channel_state(self):
        channels = self.env["queue.job.channel"]
        root = self.env.ref("queue_job.channel_root")
        edi = channels.create({"name": "edi", "parent_id": root.id})
        channels.create({"name": "orders", "parent_id": edi.id, "capacity": 3})
        self._jobs("root.edi.orders", "failed", 2)
        self._jobs("root.edi", "failed", 1)
        self._jobs("root.edifact", "failed", 5)  # not below root.edi
        samples = self.collect(PEAK_METRICS_INTEGRATION_CHANNELS="root.edi")
        assert (
            self.value(samples, "peak_integration_jobs_failed", channel="root.edi") == 3
        )
        # One meaning of capacity: queue_job's effective capacity, as listed.
        orders = channels.search([("complete_name", "=", "root.edi.orders")])
        for channel in (root, edi, orders):
            labels = {"channel": channel.complete_name, "priority_class": "operational"}
            assert (
                self.value(samples, "peak_queue_channel_capacity", **labels)
                == channel.effective_capacity
            )
        assert orders.effective_capacity == min(3, root.effective_capacity)
        # A configured integration channel that neither exists nor has jobs is
        # not reported (the default list names root.marketplace too).
        samples = self.collect(PEAK_METRICS_INTEGRATION_CHANNELS="root.edi,root.shop")
        assert self.value(samples, "peak_integration_jobs_failed", channel="root.edi")
        served = {
            labels for name, labels in samples if name == "peak_integration_jobs_failed"
        }
        assert served == {(("channel", "root.edi"),)}, served
        bulk = self.env["queue.job.channel"].search(
            [("complete_name", "=", "root.bulk")]
        )
        bulk.write({"paused": True, "pinned": True})
        bulk_labels = {"channel": "root.bulk", "priority_class": "bulk"}
        samples = self.collect()
        assert self.value(samples, "peak_queue_channel_paused", **bulk_labels) == 1
        assert self.value(samples, "peak_queue_channel_pinned", **bulk_labels) == 1

    def test_governor_lease_state_per_channel(self):
        bulk = {"channel": "root.bulk", "priority_class": "bulk"}
        samples = self.collect()
        assert (
            self.value(samples, "peak_queue_channel_leased", mode="pause", **bulk) == 0
        )
        self.env.cr.execute(
            "SELECT * FROM peak_queue_lease_acquire("
            "'root.bulk', 'peak-metrics-test', 'test', '{}'::jsonb, 120)"
        )
        samples = self.collect()
        assert (
            self.value(samples, "peak_queue_channel_leased", mode="pause", **bulk) == 1
        )
        left = self.value(samples, "peak_queue_channel_lease_remaining_seconds", **bulk)
        assert 100 < left <= 120

    def test_conflicts_of_protected_work_per_class(self):
        before = self.collect()
        self.env.cr.execute("SELECT nextval('peak_queue_conflicts_interactive')")
        after = self.collect()
        for cls, more in (("interactive", 1), ("critical", 0), ("operational", 0)):
            name, labels = "peak_queue_conflicts_total", {"priority_class": cls}
            assert self.value(after, name, **labels) == (
                self.value(before, name, **labels) + more
            )

    def test_peak_mode_and_window(self):
        self.env["peak.mode"].set_peak_mode(True, "test")
        samples = self.collect()
        assert self.value(samples, "peak_mode_on") == 1.0
        self.env["peak.mode"].set_peak_mode(False, "test")
        assert self.value(self.collect(), "peak_mode_on") == 0.0


class TestCollectionFailure(MetricsCase):
    def test_a_locked_table_times_out_quickly_and_the_request_goes_on(self):
        """A collection stuck behind a lock ends at statement_timeout: no
        database families, db_up 0, the transaction still usable."""
        dsn = {
            "dbname": self.env.cr.dbname,
            **{
                key: value
                for key, value in (
                    ("host", odoo_config.get("db_host")),
                    ("port", odoo_config.get("db_port")),
                    ("user", odoo_config.get("db_user")),
                    ("password", odoo_config.get("db_password")),
                )
                if value
            },
        }
        blocker = psycopg2.connect(**dsn)
        try:
            with blocker.cursor() as cr:
                cr.execute("SET lock_timeout = '5s'")
                cr.execute("LOCK TABLE queue_job_channel IN ACCESS EXCLUSIVE MODE")
            config = cfg.load({"PEAK_METRICS_STATEMENT_TIMEOUT_MS": "200"}, {})
            started = time.monotonic()
            text, db_up, duration = _collect_db(self.env.cr, config)
            elapsed = time.monotonic() - started
        finally:
            blocker.rollback()
            blocker.close()
        assert (text, db_up) == (b"", False)
        assert 0.15 < duration < 2.0 and elapsed < 2.0
        self.env.cr.execute("SHOW statement_timeout")
        assert self.env.cr.fetchone()[0] != "200ms", "the timeout leaked"
        # Released: the same collection succeeds in the same transaction.
        text, db_up, _duration = _collect_db(self.env.cr, config)
        assert db_up and b"peak_queue_jobs{" in text
