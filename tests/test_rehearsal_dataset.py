"""peak-rehearsal's pure parts: the seeded distributor's shape, how an Odoo
error is classified, how a lock wait is labelled (no Odoo, no network)."""

import random
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "rehearsal"))

from peak_rehearsal import dataset  # noqa: E402
from peak_rehearsal.cli import masked  # noqa: E402
from peak_rehearsal.observe import query_shape, session_label  # noqa: E402
from peak_rehearsal.rpc import classify, error_of  # noqa: E402


def test_sizes_grow_with_the_scale_and_a_fraction_is_small():
    one, two = dataset.Sizes.for_scale(1), dataset.Sizes.for_scale(2)
    assert (one.products, one.customers, one.open_orders) == (1000, 200, 60)
    assert two.products == 2 * one.products and two.extra_warehouses == 2
    tiny = dataset.Sizes.for_scale(0.1)
    assert tiny.products == 100 and tiny.extra_warehouses == 1
    for bad in (0, 0.01, 21):
        with pytest.raises(ValueError, match="scale"):
            dataset.Sizes.for_scale(bad)


def test_a_few_best_sellers_take_most_order_lines():
    assert 0.45 < dataset.top_share(1000, 20) < 0.6
    weights = dataset.popularity(1000)
    assert weights == sorted(weights, reverse=True)
    assert sum(weights) == pytest.approx(1.0)
    # Drawn lines follow the weights: the top 20 ranks take about half.
    catalogue = dataset.Catalogue(1000)
    rng = random.Random(1)
    ranks = [catalogue.rank(rng) for _ in range(20000)]
    assert 0.45 < sum(r < 20 for r in ranks) / len(ranks) < 0.6


def test_an_order_never_repeats_a_product_and_respects_its_line_count():
    catalogue = dataset.Catalogue(50)
    rng = random.Random(7)
    for _ in range(200):
        lines = dataset.order_lines(catalogue, rng, (5, 20))
        ranks = [rank for rank, _qty in lines]
        assert 5 <= len(lines) <= 20 and len(set(ranks)) == len(ranks)
        assert all(1 <= qty <= 6 for _rank, qty in lines)


def test_the_same_seed_gives_the_same_data():
    def catalogue_values(seed):
        rng = dataset.rng_for(seed, "products")
        return [dataset.product_values(rank, rng) for rank in range(30)]

    assert catalogue_values(42) == catalogue_values(42)
    assert catalogue_values(42) != catalogue_values(43)
    assert catalogue_values(42)[0]["default_code"] == "RH-P00001"


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("could not serialize access due to concurrent update", "serialization"),
        ("psycopg2.errors.SerializationFailure: x", "serialization"),
        ("deadlock detected", "serialization"),
        ("canceling statement due to lock timeout", "lock_timeout"),
        ("You cannot validate a transfer if no quantities are reserved", "odoo"),
    ],
)
def test_odoo_errors_are_classified_by_family(message, kind):
    assert classify(message) == kind


def test_a_json_rpc_error_is_read_from_its_data():
    body = {
        "error": {
            "message": "Odoo Server Error",
            "data": {
                "name": "odoo.exceptions.UserError",
                "message": "Nothing to invoice",
            },
        }
    }
    assert error_of(body) == ("odoo", "odoo.exceptions.UserError: Nothing to invoice")
    assert error_of({"result": True}) is None
    assert error_of("not json-rpc")[0] == "odoo"


def test_a_query_loses_its_literals_and_a_session_its_job_uuid():
    shape = query_shape(
        "SELECT id FROM stock_quant WHERE id IN (1, 2178, 2282) AND name = 'x''y'"
    )
    assert shape == "SELECT id FROM stock_quant WHERE id IN (?...) AND name = ?"
    assert session_label("pk1|job|bulk|" + "a" * 32 + "|root.bulk") == (
        "job bulk root.bulk"
    )
    assert session_label("pk1|http|stock.picking.button_validate") == (
        "http stock.picking.button_validate"
    )
    assert session_label("psql") == "psql"
    assert session_label(None) == "?"


def test_the_recorded_command_line_carries_no_secret():
    argv = [
        "run",
        "--dsn",
        "host=db user=mon password=s3cret",
        "--url",
        "https://ops:pa55@odoo.example.com",
        "--dsn=password=abc",
    ]
    shown = " ".join(masked(argv))
    assert "s3cret" not in shown and "pa55" not in shown and "abc" not in shown
    assert "password=***" in shown and "https://ops:***@odoo.example.com" in shown
