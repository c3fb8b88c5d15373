"""The distributor a rehearsal seeds: sizes per scale and skewed popularity.

Pure and deterministic (a seed in, the same catalogue out), so the seeder and
the load generator agree on which products are the best-sellers without
asking the database, and a test can check the shape without Odoo.

Row counts for scale S (``peak-rehearsal seed --scale S``)::

    products           1000 x S   default_code RH-P00001.., best-sellers first
    customers           200 x S   ref RH-C00001..
    warehouses            1 + S   the company's own plus RH1..RHS (S rounded, >= 1)
    bin locations   10 per warehouse, under its stock location
    quants            one per product and stocked warehouse (the extra
                      warehouses stock the 100 x S best-sellers)
    open orders          60 x S   confirmed, their pickings ready to validate
    delivered orders     20 x S   picked and shipped, waiting for an invoice
"""

import bisect
import itertools
import random
from dataclasses import dataclass

PRODUCT_PREFIX = "RH-P"
CUSTOMER_PREFIX = "RH-C"
WAREHOUSE_PREFIX = "RH"
# Zipf exponent of product popularity: with 1000 products the first 20 take
# about half of all order lines, as with a distributor's runners.
ZIPF_S = 1.1
BINS_PER_WAREHOUSE = 10
MIN_SCALE = 0.05
MAX_SCALE = 20


@dataclass(frozen=True)
class Sizes:
    products: int
    customers: int
    extra_warehouses: int
    stocked_in_extra: int
    open_orders: int
    delivered_orders: int

    @classmethod
    def for_scale(cls, scale):
        """Sizes at ``scale`` (a fraction gives a small data set for tests)."""
        if not MIN_SCALE <= scale <= MAX_SCALE:
            raise ValueError(f"scale must be between {MIN_SCALE} and {MAX_SCALE}")
        return cls(
            products=round(1000 * scale),
            customers=round(200 * scale),
            extra_warehouses=max(1, round(scale)),
            stocked_in_extra=round(100 * scale),
            open_orders=round(60 * scale),
            delivered_orders=round(20 * scale),
        )


def product_code(rank):
    """Rank 0 is the best-seller."""
    return f"{PRODUCT_PREFIX}{rank + 1:05d}"


def customer_ref(index):
    return f"{CUSTOMER_PREFIX}{index + 1:05d}"


def popularity(count, exponent=ZIPF_S):
    """Zipf weights of ``count`` products, best-seller first, summing to 1."""
    raw = [1.0 / (rank + 1) ** exponent for rank in range(count)]
    total = sum(raw)
    return [weight / total for weight in raw]


def top_share(count, top, exponent=ZIPF_S):
    """The share of order lines the ``top`` best-sellers take."""
    return sum(popularity(count, exponent)[:top])


class Catalogue:
    """Draws products by popularity: ``pick(rng, n)`` distinct ranks."""

    def __init__(self, count, exponent=ZIPF_S):
        self.count = count
        self._cumulative = list(itertools.accumulate(popularity(count, exponent)))

    def rank(self, rng):
        index = bisect.bisect_left(self._cumulative, rng.random())
        return min(index, self.count - 1)

    def pick(self, rng, lines):
        """``lines`` distinct product ranks (at most the catalogue)."""
        lines = min(lines, self.count)
        chosen = []
        seen = set()
        for _attempt in range(lines * 20):
            rank = self.rank(rng)
            if rank not in seen:
                seen.add(rank)
                chosen.append(rank)
                if len(chosen) == lines:
                    break
        return chosen


def stock_level(rank, rng):
    """Units on hand: best-sellers are stocked deep, the tail thin (a few
    tail products run out during a rehearsal, as they do in December)."""
    if rank < 20:
        return rng.randint(800, 1200)
    if rank < 200:
        return rng.randint(150, 400)
    return rng.randint(5, 60)


def product_values(rank, rng):
    cost = round(rng.uniform(2.0, 180.0), 2)
    return {
        "name": f"Rehearsal article {rank + 1:05d}",
        "default_code": product_code(rank),
        "type": "consu",
        "is_storable": True,
        "invoice_policy": "delivery",
        "standard_price": cost,
        "list_price": round(cost * rng.uniform(1.2, 1.8), 2),
    }


def customer_values(index, rng):
    return {
        "name": f"Rehearsal customer {index + 1:05d}",
        "ref": customer_ref(index),
        "is_company": True,
        "customer_rank": 1,
        "city": rng.choice(("Lyon", "Gent", "Porto", "Leipzig", "Bologna", "Cork")),
    }


def order_lines(catalogue, rng, lines_range):
    """``[(rank, quantity)]`` for one order of ``lines_range`` lines."""
    low, high = lines_range
    return [
        (rank, rng.randint(1, 6))
        for rank in catalogue.pick(rng, rng.randint(low, high))
    ]


def rng_for(seed, *names):
    """An independent, reproducible stream per purpose (seeding, a user...)."""
    return random.Random(f"{seed}:{':'.join(str(n) for n in names)}")
