# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""The rehearsal API in a real registry with sale_stock, as peak-rehearsal
calls it: as the administrator, jobs enqueued for real and performed here
(``make test`` runs no jobrunner)."""

import json
from datetime import timedelta

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.peak_rehearsal.models.peak_rehearsal import TARGET_PARAM
from odoo.addons.queue_job.job import Job


@tagged("post_install", "-at_install")
class TestRehearsal(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["ir.config_parameter"].set_param(TARGET_PARAM, False)
        cls.rehearsal = cls.env["peak.rehearsal"].with_user(
            cls.env.ref("base.user_admin")
        )
        cls.stock = (
            cls.env["stock.warehouse"]
            .search([("company_id", "=", cls.env.company.id)], limit=1)
            .lot_stock_id
        )
        cls.products = cls.env["product.product"].create(
            [
                {
                    "name": f"Rehearsal product {n}",
                    "default_code": f"RH-P{n:05d}",
                    "type": "consu",
                    "is_storable": True,
                    "list_price": 10.0,
                }
                for n in range(1, 26)
            ]
        )
        for product in cls.products:
            cls.env["stock.quant"]._update_available_quantity(product, cls.stock, 100)
        cls.customer = cls.env["res.partner"].create(
            {"name": "Rehearsal customer", "ref": "RH-C00001"}
        )

    def _order(self, products, qty=2):
        return self.env["sale.order"].create(
            {
                "partner_id": self.customer.id,
                "order_line": [
                    Command.create({"product_id": p.id, "product_uom_qty": qty})
                    for p in products
                ],
            }
        )

    def _backdate(self, uuid, interval):
        self.env.flush_all()
        self.env.cr.execute(
            "UPDATE queue_job SET date_created = date_created - %s::interval "
            "WHERE uuid = %s",
            [interval, uuid],
        )

    def _run(self, kind, options=None):
        """Enqueue one job of ``kind`` and perform it: (job, result)."""
        [uuid] = self.rehearsal.enqueue(kind, 1, options)
        job = Job.load(self.env, uuid)
        return job, job.perform()

    def test_mark_target_then_status(self):
        status = self.rehearsal.target_status()
        self.assertFalse(status["marked"])
        self.assertIn("never marked", status["reason"])
        marked = self.rehearsal.mark_target()
        self.assertTrue(marked["marked"], marked["reason"])
        self.assertEqual(marked["db"], self.env.cr.dbname)
        self.assertTrue(marked["marked_at"])
        self.assertEqual(self.rehearsal.target_status(), marked)
        marker = json.loads(self.env["ir.config_parameter"].get_param(TARGET_PARAM))
        self.assertEqual(marker["by"], "admin")
        self.assertEqual(
            marker["uuid"], self.env["ir.config_parameter"].get_param("database.uuid")
        )

    def test_a_marker_for_another_database_is_not_a_target(self):
        params = self.env["ir.config_parameter"]
        db_uuid = params.get_param("database.uuid")
        params.set_param(TARGET_PARAM, json.dumps({"db": "prod", "uuid": db_uuid}))
        status = self.rehearsal.target_status()
        self.assertFalse(status["marked"])
        self.assertIn("prod", status["reason"])
        marker = {"db": self.env.cr.dbname, "uuid": "another-uuid"}
        params.set_param(TARGET_PARAM, json.dumps(marker))
        status = self.rehearsal.target_status()
        self.assertFalse(status["marked"])
        self.assertIn("database.uuid", status["reason"])
        with self.assertRaisesRegex(UserError, "not a rehearsal target"):
            self.rehearsal.enqueue("scheduler")

    def test_non_system_users_are_refused(self):
        user = new_test_user(self.env, "rehearsal-user", groups="base.group_user")
        rehearsal = self.env["peak.rehearsal"].with_user(user)
        self.rehearsal.mark_target()
        for call in (
            rehearsal.mark_target,
            rehearsal.target_status,
            lambda: rehearsal.enqueue("edi"),
            lambda: rehearsal.job_stats("2024-01-01T00:00:00"),
            rehearsal.conflicts,
        ):
            with self.assertRaisesRegex(AccessError, "system administrators"):
                call()

    def test_conflicts_are_peak_queue_counters(self):
        before = self.rehearsal.conflicts()
        self.assertEqual(set(before), {"interactive", "critical", "operational"})
        self.env.cr.execute("SELECT nextval('peak_queue_conflicts_critical')")
        after = self.rehearsal.conflicts()
        self.assertEqual(after["critical"], before["critical"] + 1)
        self.assertEqual(after["interactive"], before["interactive"])

    def test_enqueue_refusals(self):
        with self.assertRaisesRegex(UserError, "run `peak-rehearsal seed`"):
            self.rehearsal.enqueue("edi")
        self.rehearsal.mark_target()
        with self.assertRaisesRegex(UserError, "edi, invoicing, scheduler, export"):
            self.rehearsal.enqueue("payroll")
        for count in (0, 1001, "3", True):
            with self.assertRaisesRegex(UserError, "count must be"):
                self.rehearsal.enqueue("edi", count)
        with self.assertRaisesRegex(UserError, "root.bulk"):
            self.rehearsal.enqueue("edi", 1, None, "root.nope")
        with self.assertRaisesRegex(UserError, "lines"):
            self.rehearsal.enqueue("edi", 1, {"lines": [5, 2]})
        self.assertFalse(
            self.env["queue.job"].search([("model_name", "=", "peak.rehearsal")])
        )

    def test_edi_jobs_are_real_reproducible_jobs(self):
        self.rehearsal.mark_target()
        uuids = self.rehearsal.enqueue("edi", 2, {"seed": 7})
        jobs = self.env["queue.job"].search([("uuid", "in", uuids)])
        self.assertEqual(len(jobs), 2)
        function = self.env.ref("peak_rehearsal.job_function_edi")
        for job in jobs:
            self.assertEqual(job.channel, "root.bulk")
            self.assertEqual(job.state, "pending")
            self.assertEqual(job.job_function_id, function)
            self.assertTrue(job.func_string.startswith("peak.rehearsal()._job_edi("))
            ref, partner_id, lines = job.args
            self.assertRegex(ref, r"^EDI-[0-9a-f]{12}$")
            self.assertTrue(5 <= len(lines) <= 20)
            best_sellers = self.products[:20].ids
            self.assertTrue(all(pid in best_sellers for pid, _qty in lines))
            self.assertTrue(all(1 <= qty <= 5 for _pid, qty in lines))
        # The same seed draws the same orders, under new refs.
        again = self.env["queue.job"].search(
            [("uuid", "in", self.rehearsal.enqueue("edi", 2, {"seed": 7}))]
        )
        self.assertEqual(
            sorted(j.args[1:] for j in jobs), sorted(j.args[1:] for j in again)
        )
        refs = {j.args[0] for j in jobs | again}
        self.assertEqual(len(refs), 4)

        job = Job.load(self.env, uuids[0])
        ref = job.args[0]
        self.assertIn("confirmed", job.perform())
        order = self.env["sale.order"].search([("client_order_ref", "=", ref)])
        self.assertEqual(order.state, "sale")
        self.assertEqual(order.origin, "EDI")
        self.assertTrue(order.client_order_ref.startswith("EDI-"))
        self.assertEqual(len(order.order_line), len(job.args[2]))
        self.assertEqual(order.picking_ids.state, "assigned")

    def test_invoicing_job_posts_the_invoice(self):
        self.rehearsal.mark_target()
        order = self._order(self.products[:2])
        order.action_confirm()
        picking = order.picking_ids
        for move in picking.move_ids:
            move.quantity = move.product_uom_qty
        picking.move_ids.picked = True
        picking.button_validate()
        self.assertEqual(picking.state, "done")
        _job, result = self._run("invoicing", {"orders_per_job": 1000})
        self.assertIn("posted", result)
        invoice = order.invoice_ids
        self.assertEqual(invoice.move_type, "out_invoice")
        self.assertEqual(invoice.state, "posted")
        self.assertEqual(order.invoice_status, "invoiced")
        # Nothing left to invoice is not an error.
        self.assertEqual(
            self._run("invoicing", {"orders_per_job": 1000})[1], "nothing to invoice"
        )

    def test_scheduler_job_reserves_a_waiting_move(self):
        self.rehearsal.mark_target()
        product = self.env["product.product"].create(
            {"name": "Rehearsal late product", "type": "consu", "is_storable": True}
        )
        order = self._order(product, qty=3)
        order.action_confirm()
        self.assertEqual(order.picking_ids.state, "confirmed")
        self.env["stock.quant"]._update_available_quantity(product, self.stock, 3)
        _job, result = self._run("scheduler")
        self.assertIn("scheduler run", result)
        self.assertEqual(order.picking_ids.state, "assigned")

    def test_export_job_returns_the_number_of_rows(self):
        self.rehearsal.mark_target()
        self._order(self.products[:3])
        self.assertEqual(self._run("export", {"rows": 3})[1], "3 rows exported")

    def test_job_stats(self):
        self.rehearsal.mark_target()
        since = (self.env.cr.now() - timedelta(hours=1)).isoformat()
        twice, failed, pending, old = self.rehearsal.enqueue("edi", 4)
        [background] = self.rehearsal.enqueue("export", 1, None, "root.background")
        self._backdate(old, "2 hours")  # before `since`: not counted
        self._backdate(pending, "120 seconds")
        # Run twice (a retry): two orders with one ref, one done job retried.
        job = Job.load(self.env, twice)
        job.perform()
        job.set_done(job.perform())
        job.store()
        job = Job.load(self.env, failed)
        job.set_failed(exc_name="ValueError", exc_info="boom")
        job.store()

        stats = self.rehearsal.job_stats(since)
        bulk = stats["root.bulk"]
        self.assertEqual(
            {k: v for k, v in bulk.items() if k != "oldest_pending_age_s"},
            {"done": 1, "failed": 1, "pending": 1, "retried": 1},
        )
        self.assertGreaterEqual(bulk["oldest_pending_age_s"], 120)
        self.assertEqual(stats["root.background"]["pending"], 1)
        self.assertEqual(stats["duplicates"], 1)
        self.assertEqual(set(stats), {"root.bulk", "root.background", "duplicates"})
        # A UTC offset is understood; nothing after now.
        later = (self.env.cr.now() + timedelta(days=1)).isoformat() + "+00:00"
        self.assertEqual(self.rehearsal.job_stats(later), {"duplicates": 0})
        with self.assertRaisesRegex(UserError, "ISO datetime"):
            self.rehearsal.job_stats("yesterday")
