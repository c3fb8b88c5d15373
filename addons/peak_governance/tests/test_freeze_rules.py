"""Plain pytest tests for ``peak_governance/lib/freeze.py`` (no database).

Reference: "Black Friday week" runs 2026-11-23 00:00 to 2026-12-01 00:00 UTC.
"""

from datetime import UTC, datetime, timedelta

import pytest

from odoo.addons.peak_governance.lib import freeze


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


BF = freeze.PeakPeriod(utc(2026, 11, 23), utc(2026, 12, 1), "Black Friday week")
XMAS = freeze.PeakPeriod(utc(2026, 12, 14), utc(2026, 12, 24), "Christmas rush")
INSIDE = utc(2026, 11, 25, 12)
OUTSIDE = utc(2026, 11, 10, 12)


EXPIRES = utc(2026, 11, 26)


def exc(modules, state="approved", expires=EXPIRES, id_=1):
    return freeze.ChangeException(id_, frozenset(modules), state, expires)


def test_frozen_inside_a_period_with_its_name_and_end():
    state = freeze.freeze_at("periods", [BF, XMAS], False, INSIDE)
    assert (state.active, state.reason, state.period) == (True, "period", BF)
    assert freeze.describe_freeze(state) == (
        "peak period “Black Friday week” until 2026-12-01 00:00 UTC"
    )


def test_period_bounds_start_inclusive_end_exclusive():
    assert freeze.freeze_at("periods", [BF], False, BF.start).active
    assert not freeze.freeze_at("periods", [BF], False, BF.end).active


def test_outside_a_period_everything_is_allowed():
    state = freeze.freeze_at("periods", [BF], False, OUTSIDE)
    assert not state.active
    decision = freeze.decide(state, [], ["sale", "stock"], OUTSIDE)
    assert decision.allowed and decision.uncovered == ()


def test_peak_mode_freezes_only_with_the_peak_mode_scope():
    assert not freeze.freeze_at("periods", [], True, OUTSIDE).active
    state = freeze.freeze_at("peak_mode", [], True, OUTSIDE)
    assert (state.active, state.reason) == (True, "peak_mode")
    assert not freeze.freeze_at("peak_mode", [], False, OUTSIDE).active


def test_a_period_freezes_even_with_peak_mode_forced_off():
    assert freeze.freeze_at("periods", [BF], False, INSIDE).active


def test_an_unknown_scope_does_not_lift_the_freeze():
    assert freeze.freeze_at("bogus", [BF], False, INSIDE).active


def test_overlapping_periods_report_the_one_ending_last():
    late = freeze.PeakPeriod(utc(2026, 11, 24), utc(2026, 12, 3), "Cyber Monday")
    assert freeze.freeze_at("periods", [BF, late], False, INSIDE).period == late


@pytest.mark.parametrize(
    "exceptions,allowed,uncovered",
    [
        ([], False, ("sale",)),
        ([exc({"sale"})], True, ()),
        ([exc({"sale"}, state="requested")], False, ("sale",)),
        ([exc({"sale"}, state="revoked")], False, ("sale",)),
        # Still "approved" in the table, but its time is up: expired anyway.
        ([exc({"sale"}, expires=INSIDE)], False, ("sale",)),
        ([exc({"stock"})], False, ("sale",)),
    ],
)
def test_an_install_needs_an_approved_unexpired_exception(
    exceptions, allowed, uncovered
):
    state = freeze.freeze_at("periods", [BF], False, INSIDE)
    decision = freeze.decide(state, exceptions, ["sale"], INSIDE)
    assert (decision.allowed, decision.uncovered) == (allowed, uncovered)


def test_every_module_must_be_covered_possibly_by_several_exceptions():
    state = freeze.freeze_at("periods", [BF], False, INSIDE)
    one = exc({"sale"}, id_=1)
    decision = freeze.decide(state, [one], ["sale", "stock"], INSIDE)
    assert not decision.allowed and decision.uncovered == ("stock",)
    assert decision.used == ()
    two = exc({"stock", "mrp"}, id_=2)
    unrelated = exc({"crm"}, id_=3)
    decision = freeze.decide(state, [one, two, unrelated], ["sale", "stock"], INSIDE)
    assert decision.allowed and decision.used == (1, 2)


def test_refusal_names_period_modules_and_how_to_ask():
    state = freeze.freeze_at("periods", [BF], False, INSIDE)
    message = freeze.refusal_message(
        freeze.decide(state, [], ["stock", "sale"], INSIDE), "install"
    )
    assert "peak period “Black Friday week” until 2026-12-01 00:00 UTC" in message
    assert "Cannot install sale, stock" in message
    assert "Peak Operations > Change freeze > Change exceptions" in message
    assert "“Peak change approver”" in message


@pytest.mark.parametrize(
    "at,expires,error",
    [
        (INSIDE, INSIDE - timedelta(minutes=1), "not in the future"),
        (INSIDE, INSIDE, "not in the future"),
        (INSIDE, BF.end + timedelta(seconds=1), "after the end of peak period"),
        (INSIDE, BF.end, None),
        # Before the season: bounded by the next period.
        (OUTSIDE, BF.end, None),
        (OUTSIDE, BF.end + timedelta(hours=1), "“Black Friday week”"),
        # After every period: 24 hours at most.
        (utc(2027, 1, 5), utc(2027, 1, 6), None),
        (utc(2027, 1, 5), utc(2027, 1, 6, 0, 1), "24 hours at most"),
    ],
)
def test_expiry_must_be_future_and_within_the_period(at, expires, error):
    found = freeze.expiry_error(expires, [BF, XMAS], at)
    if error is None:
        assert found is None
    else:
        assert error in found


def test_between_periods_the_next_one_bounds_the_expiry():
    at = utc(2026, 12, 5)
    assert freeze.max_expiry([BF, XMAS], at) == (XMAS.end, XMAS)


def test_due_for_expiry_is_idempotent_and_late_safe():
    items = [
        exc({"a"}, expires=utc(2026, 11, 24), id_=1),
        exc({"b"}, state="requested", expires=utc(2026, 11, 24), id_=2),
        exc({"c"}, state="revoked", expires=utc(2026, 11, 24), id_=3),
        exc({"d"}, expires=utc(2026, 11, 30), id_=4),
    ]
    # Run late (days after): the same ones, and never the revoked one.
    assert freeze.due_for_expiry(items, INSIDE) == [1, 2]
    assert freeze.due_for_expiry(items, utc(2027, 1, 1)) == [1, 2, 4]


def test_naive_datetimes_are_refused():
    with pytest.raises(freeze.FreezeError):
        freeze.freeze_at("periods", [BF], False, datetime(2026, 11, 25))
    with pytest.raises(freeze.FreezeError):
        freeze.expiry_error(datetime(2026, 11, 25), [BF], INSIDE)


def test_modules_odoo_marks_follow_the_covered_ones():
    state = freeze.freeze_at("periods", [BF], False, INSIDE)
    pending = {
        "crm": "to install",
        "sales_team": "to install",  # a dependency crm pulls in
        "crm_sms": "to install",  # auto-install on crm + sms
        "stock": "to install",  # marked for another reason
    }
    depends = {
        "crm": frozenset({"sales_team", "base"}),
        "crm_sms": frozenset({"crm", "sms"}),
    }
    args = (pending, depends, {"crm_sms"})
    decision = freeze.decide(state, [exc({"crm"})], [], INSIDE, *args)
    assert decision.uncovered == ("stock",)
    del pending["stock"]
    decision = freeze.decide(state, [exc({"crm"})], [], INSIDE, *args)
    assert decision.allowed and decision.used == (1,)
    # Without the auto-install flag crm_sms would be a module of its own.
    decision = freeze.decide(state, [exc({"crm"})], [], INSIDE, pending, depends)
    assert decision.uncovered == ("crm_sms",)


def test_upgrades_and_removals_take_their_dependents_only():
    state = freeze.freeze_at("periods", [BF], False, INSIDE)
    depends = {"sale_stock": frozenset({"sale", "stock"}), "tiny": frozenset({"base"})}
    for kind in ("to upgrade", "to remove"):
        pending = {"sale": kind, "sale_stock": kind}
        assert freeze.decide(
            state, [exc({"sale"})], [], INSIDE, pending, depends
        ).allowed
        # The other way round: a dependent does not carry its dependency.
        decision = freeze.decide(
            state, [exc({"sale_stock"})], [], INSIDE, pending, depends
        )
        assert decision.uncovered == ("sale",)
    # An exception for a small module never carries an upgrade of base.
    pending = {"tiny": "to upgrade", "base": "to upgrade"}
    decision = freeze.decide(state, [exc({"tiny"})], [], INSIDE, pending, depends)
    assert decision.uncovered == ("base",)
