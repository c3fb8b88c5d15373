"""Plain pytest tests for ``peak_governance/lib/frozen_settings.py``.

Reference: "Black Friday week" runs 2026-11-23 00:00 to 2026-12-01 00:00 UTC.
"""

from datetime import UTC, datetime

import pytest

from odoo.addons.peak_governance.lib import freeze, frozen_settings


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


BF = freeze.PeakPeriod(utc(2026, 11, 23), utc(2026, 12, 1), "Black Friday week")
INSIDE = utc(2026, 11, 25, 12)
OUTSIDE = utc(2026, 11, 10, 12)
EXPIRES = utc(2026, 11, 26)

CRON = frozen_settings.FrozenSetting(
    7, "Scheduled action schedules", "ir.cron", frozenset({"interval_number"})
)
SMTP = frozen_settings.FrozenSetting(8, "Outgoing mail servers", "ir.mail_server")


def exc(modules):
    return freeze.ChangeException(1, frozenset(modules), "approved", EXPIRES)


def setting_exc(settings, state="approved", expires=EXPIRES, id_=3):
    return freeze.ChangeException(
        id_, frozenset(), state, expires, settings=frozenset(settings)
    )


def test_which_settings_an_operation_touches():
    both = [CRON, SMTP]
    assert frozen_settings.settings_touched(both, "write", {"interval_number"}) == (
        CRON,
        SMTP,
    )
    assert frozen_settings.settings_touched(both, "write", {"name"}) == (SMTP,)
    # Nothing really changed (a value written back): nothing touched.
    assert frozen_settings.settings_touched(both, "write", set()) == ()
    # A new record changes no existing field; deleting one takes its values.
    assert frozen_settings.settings_touched(both, "create") == (SMTP,)
    # ...unless it sets a frozen field to something else than its default.
    touched = frozen_settings.settings_touched(both, "create", {"interval_number"})
    assert touched == (CRON, SMTP)
    assert frozen_settings.settings_touched(both, "unlink") == (CRON, SMTP)
    with pytest.raises(freeze.FreezeError):
        frozen_settings.settings_touched(both, "copy")


def test_setting_change_needs_an_effective_exception_naming_it():
    state = freeze.freeze_at("periods", [BF], False, INSIDE)
    refused = frozen_settings.decide_setting(state, [], [CRON], INSIDE)
    assert not refused.allowed and refused.uncovered == ("Scheduled action schedules",)
    allowed = frozen_settings.decide_setting(state, [setting_exc({7})], [CRON], INSIDE)
    assert allowed.allowed and allowed.used == (3,)
    # A module exception, a request, an expired or another setting's: no.
    for other in (
        exc({"ir.cron"}),
        setting_exc({7}, state="requested"),
        setting_exc({7}, expires=INSIDE),
        setting_exc({8}),
    ):
        assert not frozen_settings.decide_setting(
            state, [other], [CRON], INSIDE
        ).allowed
    # Two settings touched: both must be named.
    decision = frozen_settings.decide_setting(
        state, [setting_exc({7})], [CRON, SMTP], INSIDE
    )
    assert decision.uncovered == ("Outgoing mail servers",) and decision.used == ()


def test_settings_are_free_outside_a_freeze():
    state = freeze.freeze_at("periods", [BF], False, OUTSIDE)
    decision = frozen_settings.decide_setting(state, [], [CRON, SMTP], OUTSIDE)
    assert decision.allowed and decision.used == ()
    with pytest.raises(freeze.FreezeError):
        frozen_settings.decide_setting(state, [], [CRON], datetime(2026, 11, 25))


def test_setting_refusal_message_names_period_setting_and_how_to_ask():
    state = freeze.freeze_at("periods", [BF], False, INSIDE)
    decision = frozen_settings.decide_setting(state, [], [CRON, SMTP], INSIDE)
    message = frozen_settings.setting_refusal_message(
        decision, "change Scheduled Actions X"
    )
    assert message.startswith(
        "Settings are frozen: peak period “Black Friday week” until "
        "2026-12-01 00:00 UTC. Cannot change Scheduled Actions X: it touches the "
        "frozen settings “Outgoing mail servers”, “Scheduled action schedules”"
    )
    assert "names them" in message and "Change exceptions" in message
    single = frozen_settings.decide_setting(state, [], [CRON], INSIDE)
    assert "it is the frozen setting “Scheduled action schedules”" in (
        frozen_settings.setting_refusal_message(single, "change it")
    )
