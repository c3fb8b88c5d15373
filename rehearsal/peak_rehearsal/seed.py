"""``peak-rehearsal seed``: a distributor's data, through Odoo's JSON-RPC.

Everything goes through the ORM as a user's client would send it (batched
``create`` calls, ``action_confirm``, ``button_validate``), so the data is what
Odoo itself makes: moves, reservations, quants, sequences. Every stage creates
only what is missing, so a second run (or one after an interrupted run) is
quick and changes nothing that exists.
"""

import logging
import time

from . import dataset
from .errors import RehearsalError

_logger = logging.getLogger(__name__)
REQUIRED_MODULES = ("sale_stock", "peak_rehearsal")
BATCH = 250
ORDER_BATCH = 20


class Seeder:
    def __init__(self, rpc, scale, seed=42, progress=print):
        self.rpc = rpc
        self.sizes = dataset.Sizes.for_scale(scale)
        self.scale = scale
        self.seed = seed
        self.progress = progress
        self.catalogue = dataset.Catalogue(self.sizes.products)

    def run(self):
        started = time.monotonic()
        self.ensure_modules()
        stages = (
            ("warehouses", self.warehouses),
            ("products", self.products),
            ("customers", self.customers),
            ("stock", self.stock),
            ("open orders", self.open_orders),
            ("delivered orders", self.delivered_orders),
        )
        counts = {}
        for name, stage in stages:
            stage_start = time.monotonic()
            counts[name] = stage()
            self.progress(
                f"seed: {name:<17} {counts[name]:>6} new  "
                f"({time.monotonic() - stage_start:5.1f} s)"
            )
        status = self.rpc.call("peak.rehearsal", "mark_target")
        counts["seconds"] = round(time.monotonic() - started, 1)
        self.progress(
            f"seed: database {self.rpc.db} marked as a rehearsal target "
            f"({status.get('marked_at')}); {counts['seconds']} s in all"
        )
        return counts

    # -- stages ----------------------------------------------------------

    def _module_states(self):
        rows = self.rpc.call(
            "ir.module.module",
            "search_read",
            [("name", "in", list(REQUIRED_MODULES))],
            fields=["name", "state"],
        )
        return rows, {row["name"]: row["state"] for row in rows}

    def ensure_modules(self):
        rows, states = self._module_states()
        if len(states) < len(REQUIRED_MODULES):
            self.rpc.call("ir.module.module", "update_list")
            rows, states = self._module_states()
        unknown = [n for n in REQUIRED_MODULES if n not in states]
        if unknown:
            raise RehearsalError(
                f"this Odoo does not know {', '.join(unknown)}: add Odoo Peak's "
                "addons/ (and Odoo's own addons) to its addons path"
            )
        missing = [n for n in REQUIRED_MODULES if states.get(n) != "installed"]
        if not missing:
            return
        self.progress(f"seed: installing {', '.join(missing)} (a few minutes)")
        ids = [row["id"] for row in rows if row["name"] in missing]
        self.rpc.call("ir.module.module", "button_immediate_install", ids)
        self.rpc.authenticate()  # the registry was reloaded

    def warehouses(self):
        existing = self._codes("stock.warehouse", "code", dataset.WAREHOUSE_PREFIX)
        wanted = [
            f"{dataset.WAREHOUSE_PREFIX}{i}"
            for i in range(1, self.sizes.extra_warehouses + 1)
        ]
        missing = [code for code in wanted if code not in existing]
        for code in missing:
            self.rpc.call(
                "stock.warehouse", "create", {"name": f"Rehearsal {code}", "code": code}
            )
        created_bins = 0
        for warehouse in self._stocked_warehouses():
            names = {
                row["name"]
                for row in self.rpc.call(
                    "stock.location",
                    "search_read",
                    [("location_id", "=", warehouse["stock_location"])],
                    fields=["name"],
                )
            }
            bins = [
                {"name": name, "location_id": warehouse["stock_location"]}
                for name in (
                    f"B{i:02d}" for i in range(1, dataset.BINS_PER_WAREHOUSE + 1)
                )
                if name not in names
            ]
            if bins:
                self.rpc.call("stock.location", "create", bins)
                created_bins += len(bins)
        return len(missing) + created_bins

    def products(self):
        existing = self._codes(
            "product.product", "default_code", dataset.PRODUCT_PREFIX
        )
        rng = dataset.rng_for(self.seed, "products")
        values = [
            dataset.product_values(rank, rng) for rank in range(self.sizes.products)
        ]
        missing = [v for v in values if v["default_code"] not in existing]
        for start in range(0, len(missing), BATCH):
            self.rpc.call("product.product", "create", missing[start : start + BATCH])
        return len(missing)

    def customers(self):
        existing = self._codes("res.partner", "ref", dataset.CUSTOMER_PREFIX)
        rng = dataset.rng_for(self.seed, "customers")
        values = [dataset.customer_values(i, rng) for i in range(self.sizes.customers)]
        missing = [v for v in values if v["ref"] not in existing]
        for start in range(0, len(missing), BATCH):
            self.rpc.call("res.partner", "create", missing[start : start + BATCH])
        return len(missing)

    def stock(self):
        """One inventory adjustment per product and warehouse, in bins."""
        products = self.product_ids()
        created = 0
        for index, warehouse in enumerate(self._stocked_warehouses()):
            ranks = range(
                self.sizes.products if index == 0 else self.sizes.stocked_in_extra
            )
            stocked = {
                row["product_id"][0]
                for row in self.rpc.call(
                    "stock.quant",
                    "search_read",
                    [("location_id", "child_of", warehouse["stock_location"])],
                    fields=["product_id"],
                )
            }
            bins = self.rpc.call(
                "stock.location",
                "search",
                [("location_id", "=", warehouse["stock_location"])],
                order="name",
            ) or [warehouse["stock_location"]]
            rng = dataset.rng_for(self.seed, "stock", warehouse["code"])
            values = [
                {
                    "product_id": products[rank],
                    "location_id": bins[rank % len(bins)],
                    "inventory_quantity": dataset.stock_level(rank, rng),
                }
                for rank in ranks
                if products[rank] not in stocked
            ]
            for start in range(0, len(values), BATCH):
                ids = self.rpc.call(
                    "stock.quant",
                    "create",
                    values[start : start + BATCH],
                    context={"inventory_mode": True},
                )
                self.rpc.call(
                    "stock.quant",
                    "action_apply_inventory",
                    ids,
                    context={"inventory_mode": True},
                )
            created += len(values)
        return created

    def open_orders(self):
        return self._orders("RH-OPEN", self.sizes.open_orders, deliver=False)

    def delivered_orders(self):
        return self._orders("RH-DELIVERED", self.sizes.delivered_orders, deliver=True)

    # -- helpers ---------------------------------------------------------

    def product_ids(self):
        """Product ids by popularity rank (0 = best-seller)."""
        rows = self.rpc.call(
            "product.product",
            "search_read",
            [("default_code", "=like", f"{dataset.PRODUCT_PREFIX}%")],
            fields=["default_code"],
        )
        by_code = {row["default_code"]: row["id"] for row in rows}
        try:
            return [
                by_code[dataset.product_code(r)] for r in range(self.sizes.products)
            ]
        except KeyError as exc:
            raise RehearsalError(f"product {exc} is missing: seed again") from exc

    def _orders(self, origin, count, deliver):
        done = self.rpc.call("sale.order", "search_count", [("origin", "=", origin)])
        missing = count - done
        if missing <= 0:
            return 0
        products = self.product_ids()
        customers = self.rpc.call(
            "res.partner", "search", [("ref", "=like", f"{dataset.CUSTOMER_PREFIX}%")]
        )
        rng = dataset.rng_for(self.seed, "orders", origin)
        for start in range(0, missing, ORDER_BATCH):
            values = [
                {
                    "partner_id": rng.choice(customers),
                    "origin": origin,
                    "order_line": [
                        (0, 0, {"product_id": products[rank], "product_uom_qty": qty})
                        for rank, qty in dataset.order_lines(
                            self.catalogue, rng, (2, 6)
                        )
                    ],
                }
                for _ in range(min(ORDER_BATCH, missing - start))
            ]
            ids = self.rpc.call("sale.order", "create", values)
            self.rpc.call("sale.order", "action_confirm", ids)
            if deliver:
                self._deliver(ids)
        return missing

    def _deliver(self, order_ids):
        pickings = self.rpc.call(
            "stock.picking",
            "search",
            [("sale_id", "in", order_ids), ("state", "=", "assigned")],
        )
        if pickings:
            self.rpc.call(
                "stock.picking",
                "button_validate",
                pickings,
                context={"skip_backorder": True, "skip_sms": True},
            )

    def _codes(self, model, field, prefix):
        rows = self.rpc.call(
            model, "search_read", [(field, "=like", f"{prefix}%")], fields=[field]
        )
        return {row[field] for row in rows}

    def _stocked_warehouses(self):
        """The company's first warehouse, then RH1..RHS."""
        rows = self.rpc.call(
            "stock.warehouse",
            "search_read",
            [],
            fields=["code", "lot_stock_id"],
            order="id",
        )
        wanted = {
            f"{dataset.WAREHOUSE_PREFIX}{i}"
            for i in range(1, self.sizes.extra_warehouses + 1)
        }
        main = [row for row in rows if row["code"] not in wanted][:1]
        extra = [row for row in rows if row["code"] in wanted]
        return [
            {"code": row["code"], "stock_location": row["lot_stock_id"][0]}
            for row in main + extra
        ]
