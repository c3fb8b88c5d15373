# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""The rehearsal's jobs: real Odoo code paths under real queue_job jobs.

Arguments are drawn when enqueuing and stored as plain data (ids, lists,
strings), so a job run twice does the same work twice, as a real one would.
"""

import logging
import random
import uuid

from odoo import Command, _, models
from odoo.exceptions import UserError

_logger = logging.getLogger(__name__)

CUSTOMER_REF_PREFIX = "RH-C"  # the seeder's customers: RH-C00001, ...
PRODUCT_CODE_PREFIX = "RH-P"  # the seeder's catalogue, best-sellers first
BEST_SELLERS = 20
DEFAULT_LINES = (5, 20)
MAX_LINES = 500
EXPORT_FIELDS = [
    "order_id/name",
    "product_id/default_code",
    "product_uom_qty",
    "qty_delivered",
    "price_subtotal",
]


class PeakRehearsal(models.AbstractModel):
    _inherit = "peak.rehearsal"

    # Arguments, drawn when enqueuing ---------------------------------------

    def _int_option(self, options, key, default, low, high):
        value = options.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int):
            value = None
        if value is None or not low <= value <= high:
            raise UserError(
                _(
                    "options[%(key)r] must be an integer from %(low)s to %(high)s, "
                    "not %(value)r.",
                    key=key,
                    low=low,
                    high=high,
                    value=options.get(key),
                )
            )
        return value

    def _job_args_edi(self, count, options):
        seed = self._int_option(options, "seed", 0, 0, 2**31)
        low, high = self._lines_option(options)
        products = self._edi_products(options)
        customers = self._edi_customers()
        calls = []
        for index in range(count):
            # One generator per job: job i draws the same order on every run.
            rng = random.Random(seed + index)
            partner_id = rng.choice(customers)
            size = min(rng.randint(low, high), len(products))
            lines = [[pid, rng.randint(1, 5)] for pid in rng.sample(products, size)]
            calls.append((f"EDI-{uuid.uuid4().hex[:12]}", partner_id, lines))
        return calls

    def _job_args_invoicing(self, count, options):
        return [(self._int_option(options, "orders_per_job", 10, 1, 1000),)] * count

    def _job_args_scheduler(self, count, options):
        return [()] * count

    def _job_args_export(self, count, options):
        return [(self._int_option(options, "rows", 2000, 1, 100000),)] * count

    def _lines_option(self, options):
        lines = options.get("lines", list(DEFAULT_LINES))
        valid = (
            isinstance(lines, list | tuple)
            and len(lines) == 2
            and all(isinstance(n, int) and not isinstance(n, bool) for n in lines)
            and 1 <= lines[0] <= lines[1] <= MAX_LINES
        )
        if not valid:
            raise UserError(
                _(
                    "options['lines'] must be [min, max] with 1 <= min <= max <= "
                    "%(max)s, not %(lines)r.",
                    max=MAX_LINES,
                    lines=lines,
                )
            )
        return lines[0], lines[1]

    def _company_domain(self):
        # env.companies may hold all the user's companies; orders are for one.
        return [("company_id", "in", [False, self.env.company.id])]

    def _edi_products(self, options):
        Product = self.env["product.product"]
        domain = [("sale_ok", "=", True), *self._company_domain()]
        if "best_sellers" in options:
            wanted = options["best_sellers"]
            if not isinstance(wanted, list) or not all(
                isinstance(pid, int) for pid in wanted
            ):
                raise UserError(_("options['best_sellers'] must be a list of ids."))
            found = set(Product.search([("id", "in", wanted), *domain]).ids)
            products = [pid for pid in wanted if pid in found]
        else:
            products = Product.search(
                [("default_code", "=like", f"{PRODUCT_CODE_PREFIX}%"), *domain],
                order="default_code",
                limit=BEST_SELLERS,
            ).ids
        if not products:
            raise UserError(
                _("No rehearsal products to order: run `peak-rehearsal seed` first.")
            )
        return products

    def _edi_customers(self):
        customers = (
            self.env["res.partner"]
            .search(
                [
                    *self._company_domain(),
                    "|",
                    ("customer_rank", ">", 0),
                    ("ref", "=like", f"{CUSTOMER_REF_PREFIX}%"),
                ],
                order="id",
            )
            .ids
        )
        if not customers:
            raise UserError(
                _("No customers to order for: run `peak-rehearsal seed` first.")
            )
        return customers

    # The jobs ------------------------------------------------------------

    def _job_edi(self, ref, partner_id, lines):
        """An EDI order import: create the order, confirm it (reservation and
        pickings happen in action_confirm)."""
        # No check for an existing order with this ref, on purpose: a job run
        # twice must show up as a duplicate ref (job_stats counts them).
        order = self.env["sale.order"].create(
            {
                "partner_id": partner_id,
                "client_order_ref": ref,
                "origin": "EDI",
                "order_line": [
                    Command.create({"product_id": pid, "product_uom_qty": qty})
                    for pid, qty in lines
                ],
            }
        )
        order.action_confirm()
        return (
            f"{order.name} ({ref}) confirmed: {len(lines)} lines, "
            f"{len(order.picking_ids)} picking(s)"
        )

    def _job_invoicing(self, limit):
        """Invoice and post up to ``limit`` orders to invoice, oldest first."""
        # Concurrent invoicing jobs pick the same oldest orders and contend
        # on them, as two real invoicing runs would.
        orders = self.env["sale.order"].search(
            [("invoice_status", "=", "to invoice"), *self._company_domain()],
            order="date_order, id",
            limit=limit,
        )
        if not orders:
            _logger.info("peak_rehearsal: no sale order to invoice")
            return "nothing to invoice"
        invoices = orders._create_invoices()
        invoices.action_post()
        return f"{len(invoices)} invoice(s) posted for {len(orders)} order(s)"

    def _job_scheduler(self):
        """The nightly procurement scheduler of the current company: orderpoints,
        then reservation of every waiting move (real contention on quants)."""
        company = self.env.company
        # One transaction (use_new_cursor=False): a job that fails or is
        # preempted rolls back whole and queue_job retries it.
        self.env["procurement.group"].run_scheduler(
            use_new_cursor=False, company_id=company.id
        )
        return f"scheduler run for {company.name}"

    def _job_export(self, rows):
        """export_data of the latest ``rows`` order lines, as the list view's
        export does."""
        lines = self.env["sale.order.line"].search(
            self._company_domain(), order="id desc", limit=rows
        )
        exported = len(lines.export_data(EXPORT_FIELDS)["datas"])
        return f"{exported} rows exported"
