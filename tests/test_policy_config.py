"""Policy settings and their validation (policy/config.py)."""

import random
import re

import pytest
from policy_factories import T0, Run, bulk_blocks_http, held_leases

from peak_governor.config import ConfigError, apply_policy_settings
from peak_governor.model import SEVERE
from peak_governor.policy import (
    PROTECTED_THRESHOLDS,
    Policy,
    PolicyConfig,
    Thresholds,
    drain_lead,
    with_profile,
)

# -- configuration ------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"min_dwell_seconds": -1}, "min_dwell_seconds"),
        ({"min_dwell_seconds": float("nan")}, "min_dwell_seconds"),
        ({"fallback_escalate_cycles": 0}, "fallback_escalate_cycles"),
        ({"max_pause_seconds": 0}, "max_pause_seconds"),
        ({"max_pause_seconds": 4000}, "below pause_window_seconds"),
        ({"trickle_seconds": -5}, "trickle_seconds"),
        ({"resume_step_seconds": "20"}, "resume_step_seconds"),
        ({"resume_jitter": 1.5}, "resume_jitter"),
        ({"demand_min_rate": 0}, "demand_min_rate"),
        ({"demand_window_seconds": -1}, "demand_window_seconds"),
        ({"demand_hold_fraction": 1.5}, "demand_hold_fraction"),
        ({"min_hold_seconds": 400}, "max_hold_seconds (300.0) is below"),
        ({"drain": "7200"}, "drain must be auto, off or a lead"),
        ({"drain_lead_max_seconds": 0}, "drain_lead_max_seconds"),
        ({"drain": "soon"}, "drain must be auto, off or a lead"),
        ({"preempt_after": -1}, "preempt_after"),
        ({"demand_gate": 1}, "demand_gate must be true or false"),
        ({"protect_starving": "on"}, "protect_starving must be true or false"),
        ({"demand_gate_max_wait": 0}, "demand_gate_max_wait must be positive"),
        (
            {"normal": Thresholds(elevated_exit_age=2.0)},
            "normal.elevated_exit_age",
        ),
        ({"normal": Thresholds(severe_exit_count=9)}, "normal.severe_exit_count"),
        (
            {"normal": Thresholds(severe_enter_age=0.4, severe_exit_age=0.3)},
            "normal.severe_enter_age (0.4) is below",
        ),
        ({"normal": Thresholds(elevated_enter_count=0)}, "at least 1"),
        ({"normal": Thresholds(elevated_enter_count=1.5)}, "integer"),
        (
            {"protected": Thresholds(elevated_enter_age=2.0, severe_enter_age=20)},
            "protected.elevated_enter_age",
        ),
    ],
)
def test_config_validation_rejects_nonsense(config, message):
    cfg = PolicyConfig(**config)
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        cfg.validate()
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError):
        Policy(cfg, random.Random(0))


def test_default_config_is_valid():
    PolicyConfig().validate()
    assert PolicyConfig().demand_gate is True
    assert PolicyConfig().protected == PROTECTED_THRESHOLDS


# -- profiles -------------------------------------------------------------------


def test_observe_never_acts_even_when_severe():
    run = Run(Policy(with_profile(PolicyConfig(), "observe"), random.Random(1)))
    decision = run.step(bulk_blocks_http(6.0), T0)
    assert decision.level == SEVERE
    assert (decision.acting, decision.actions) == (False, ())
    assert "observing only (profile observe)" in decision.explanation


def test_observe_winds_down_what_is_held_and_drains_nothing():
    config = with_profile(PolicyConfig(), "observe")
    run = Run(Policy(config, random.Random(1)), held=held_leases("root.bulk"))
    decision = run.step(bulk_blocks_http(6.0), T0, next_window_at=T0 + 5)
    assert [(a.kind, a.channel, a.reason) for a in decision.actions] == [
        ("release", "root.bulk", "peak_off")
    ]
    assert "winding down, profile observe" in decision.explanation


def test_a_profile_sets_defaults_and_explicit_settings_win():
    def apply(values):
        return apply_policy_settings(
            PolicyConfig(), {k: ("test", v) for k, v in values.items()}
        )

    assert apply({"profile": "pickers_first"}).preempt_after == 0.1
    # Whatever the order the sources were merged in.
    for values in (
        {"profile": "pickers_first", "preempt_after": "2"},
        {"preempt_after": "2", "profile": "pickers_first"},
    ):
        config = apply(values)
        assert (config.profile, config.preempt_after) == ("pickers_first", 2.0)
    assert apply({"profile": "balanced"}) == PolicyConfig()
    with pytest.raises(ConfigError, match="is not one of balanced, pickers_first"):
        apply({"profile": "fast"})


@pytest.mark.parametrize(
    ("drain", "lead"),
    [
        ("auto", (30.0, "default, no recent job")),
        ("off", (0.0, "off")),
        (" 12.5 ", (12.5, "configured")),
    ],
)
def test_drain_setting(drain, lead):
    assert drain_lead(PolicyConfig(drain=drain), None) == lead
