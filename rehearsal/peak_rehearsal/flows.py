"""The people of a distributor, as Locust users on Odoo's JSON-RPC.

One user class per flow of the profile (order entry, warehouse, customer
service, finance), each paced to its share of the flow's rate, times the
multiplier of the waves in progress. Every RPC is one *step* (``order.confirm``,
``pick.validate``...): Locust's own statistics get it under that name, and
the rehearsal records it with the error family the user would have seen.
"""

import logging
import time

from locust import HttpUser, task

from . import dataset
from .rpc import error_of, payload

_logger = logging.getLogger(__name__)
STEP_TIMEOUT_S = 120.0


class StepFailed(Exception):
    """A step failed: the rest of that task is abandoned, as a user would."""


class FlowUser(HttpUser):
    """What every flow shares: login, pacing, steps. Not a user by itself."""

    abstract = True
    flow = ""  # the profile's flow name
    rehearsal = None  # the run's RunContext, set by build_user_classes

    def on_start(self):
        self.index = self.rehearsal.next_index(self.flow)
        # One reproducible stream per user of a flow: the same profile seed
        # draws the same orders, picks and lookups again.
        self.rng = dataset.rng_for(self.rehearsal.profile.seed, self.flow, self.index)
        self.peers = self.rehearsal.profile.flows[self.flow].users
        self.options = self.rehearsal.profile.flows[self.flow].options
        self._task_started = time.monotonic()
        with self.client.post(
            "/web/session/authenticate",
            json={
                "jsonrpc": "2.0",
                "method": "call",
                "params": {
                    "db": self.rehearsal.db,
                    "login": self.rehearsal.login,
                    "password": self.rehearsal.password,
                },
            },
            name="login",
            catch_response=True,
            timeout=STEP_TIMEOUT_S,
        ) as response:
            body = _json(response)
            if not (body and (body.get("result") or {}).get("uid")):
                response.failure("login refused")
                self.rehearsal.fatal(f"{self.flow} user could not log in")

    def wait_time(self):
        """Pace the user to its share of the flow's rate at this moment."""
        flow = self.rehearsal.profile.flows[self.flow]
        rate = flow.rate_per_min * self.rehearsal.profile.multiplier(
            self.flow, self.rehearsal.elapsed()
        )
        interval = self.peers * 60.0 / rate * self.rng.uniform(0.8, 1.2)
        busy = time.monotonic() - self._task_started
        return max(0.0, interval - busy)

    def step(self, name, model, method, *args, refuse_wizard=False, **kwargs):
        """One RPC, recorded as ``name``; raises StepFailed on an error.
        ``refuse_wizard``: a dialog instead of the result is an error too (a
        user would be stuck in front of it)."""
        started = time.perf_counter()
        kind = message = None
        result = None
        with self.client.post(
            f"/web/dataset/call_kw/{model}/{method}",
            json=payload(model, method, args, kwargs),
            name=name,
            catch_response=True,
            timeout=STEP_TIMEOUT_S,
        ) as response:
            if response.status_code == 0 or response.status_code >= 400:
                error = getattr(response, "error", None)
                kind = "timeout" if "timeout" in repr(error).lower() else "http"
                message = f"HTTP {response.status_code} {error or ''}".strip()
            else:
                body = _json(response)
                failure = error_of(body)
                if failure:
                    kind, message = failure
                else:
                    result = body.get("result")
                    if (
                        refuse_wizard
                        and isinstance(result, dict)
                        and result.get("res_model")
                    ):
                        kind = "odoo"
                        message = f"{method} opened {result['res_model']} instead"
            if kind:
                response.failure(f"{kind}: {message[:200]}")
            else:
                response.success()
        self.rehearsal.record(
            name, (time.perf_counter() - started) * 1000.0, kind, message
        )
        if kind:
            raise StepFailed(f"{name}: {kind}")
        return result

    def mine(self, ids):
        """This user's share of a work list (peers never take the same pick)."""
        return [i for i in ids if i % self.peers == self.index % self.peers]

    def run_task(self, body):
        self._task_started = time.monotonic()
        try:
            body()
        except StepFailed:
            pass


class OrderEntry(FlowUser):
    flow = "order_entry"

    @task
    def enter_order(self):
        def body():
            lines = dataset.order_lines(
                self.rehearsal.catalogue, self.rng, self.options.get("lines", (2, 6))
            )
            order_id = self.step(
                "order.create",
                "sale.order",
                "create",
                {
                    "partner_id": self.rng.choice(self.rehearsal.customers),
                    "order_line": [
                        (
                            0,
                            0,
                            {
                                "product_id": self.rehearsal.products[rank],
                                "product_uom_qty": qty,
                            },
                        )
                        for rank, qty in lines
                    ],
                },
            )
            self.step("order.confirm", "sale.order", "action_confirm", [order_id])

        self.run_task(body)


class Warehouse(FlowUser):
    flow = "warehouse"

    @task
    def validate_pick(self):
        def body():
            ready = self.step(
                "pick.search",
                "stock.picking",
                "search",
                [("state", "=", "assigned"), ("picking_type_code", "=", "outgoing")],
                limit=60,
                order="scheduled_date, id",
            )
            mine = self.mine(ready or [])
            if not mine:
                return
            picking = mine[0]
            if self.rng.random() < self.options.get("backorder_share", 0.1):
                self._pick_short(picking)
            self.step(
                "pick.validate",
                "stock.picking",
                "button_validate",
                [picking],
                context={"skip_backorder": True, "skip_sms": True},
                refuse_wizard=True,
            )

        self.run_task(body)

    def _pick_short(self, picking):
        """The shelf holds less than reserved: half of one line ships now,
        the rest becomes a backorder."""
        moves = self.step(
            "pick.prepare",
            "stock.move",
            "search_read",
            [("picking_id", "=", picking), ("quantity", ">=", 2)],
            fields=["quantity"],
            limit=1,
        )
        if moves:
            self.step(
                "pick.prepare",
                "stock.move",
                "write",
                [moves[0]["id"]],
                {"quantity": moves[0]["quantity"] // 2},
            )


class CustomerService(FlowUser):
    flow = "customer_service"

    @task
    def answer_customer(self):
        def body():
            if self.rng.random() < 0.5:
                ranks = self.rehearsal.catalogue.pick(self.rng, 5)
                self.step(
                    "stock.lookup",
                    "product.product",
                    "search_read",
                    [("id", "in", [self.rehearsal.products[r] for r in ranks])],
                    fields=["default_code", "qty_available", "virtual_available"],
                )
            else:
                self.step(
                    "order.lookup",
                    "sale.order",
                    "search_read",
                    [("partner_id", "=", self.rng.choice(self.rehearsal.customers))],
                    fields=["name", "state", "amount_total", "invoice_status"],
                    limit=10,
                    order="id desc",
                )

        self.run_task(body)


class Finance(FlowUser):
    flow = "finance"

    @task
    def invoice_delivery(self):
        def body():
            # Newest first: the batch invoicing job takes the oldest.
            due = self.step(
                "invoice.search",
                "sale.order",
                "search",
                [("invoice_status", "=", "to invoice")],
                limit=40,
                order="id desc",
            )
            mine = self.mine(due or [])
            if not mine:
                return
            order = mine[0]
            context = {"active_model": "sale.order", "active_ids": [order]}
            wizard = self.step(
                "invoice.prepare",
                "sale.advance.payment.inv",
                "create",
                {
                    "advance_payment_method": "delivered",
                    "sale_order_ids": [(6, 0, [order])],
                },
                context=context,
            )
            self.step(
                "invoice.create",
                "sale.advance.payment.inv",
                "create_invoices",
                [wizard],
                context=context,
            )
            drafts = self.step(
                "invoice.search",
                "account.move",
                "search",
                [
                    ("line_ids.sale_line_ids.order_id", "=", order),
                    ("state", "=", "draft"),
                ],
            )
            if drafts:
                self.step("invoice.post", "account.move", "action_post", drafts)

        self.run_task(body)


USER_CLASSES = {
    "order_entry": OrderEntry,
    "warehouse": Warehouse,
    "customer_service": CustomerService,
    "finance": Finance,
}


def build_user_classes(context):
    """One Locust user class per flow of the profile, bound to the run."""
    classes = []
    for name, flow in context.profile.flows.items():
        base = USER_CLASSES[name]
        classes.append(
            type(
                base.__name__,
                (base,),
                {"rehearsal": context, "fixed_count": flow.users, "abstract": False},
            )
        )
    return classes


def _json(response):
    try:
        return response.json()
    except ValueError:
        return None
