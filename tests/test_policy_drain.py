"""The pre-window drain (policy/drain.py)."""

import json
from datetime import UTC, datetime

from policy_factories import (
    QUIET,
    T0,
    Run,
    busy,
    http,
    job,
    leased,
    policy,
    released,
    sample,
    wait,
)

from peak_governor.policy import (
    PolicyConfig,
    drain_lead,
)
from peak_governor.schedule import peak_state

# -- pre-window drain -----------------------------------------------------------


def test_bulk_and_background_are_drained_before_a_window_opens():
    run = Run(policy(drain="30.0"))
    window = T0 + 100
    off_window = {"protected": False, "next_window_at": window}
    assert run.step(QUIET, T0, **off_window).actions == ()
    assert run.step(QUIET, T0 + 69, **off_window).actions == ()
    decision = run.step(QUIET, T0 + 71, **off_window)
    drained = leased(decision)
    # The largest sub-trees: root.bulk covers root.bulk.imports.
    assert set(drained) == {"root.background", "root.bulk"}
    lease = drained["root.bulk"]
    assert lease.reason == "pre_window_drain"
    assert lease.evidence["drain"]["lead_seconds"] == 30.0
    assert lease.evidence["drain"]["lead_source"] == "configured"
    assert lease.evidence["drain"]["seconds_to_window"] == 29.0
    assert "draining root.background, root.bulk before the window" in (
        decision.explanation
    )
    for t in range(72, 100):
        decision = run.step(QUIET, T0 + t, **off_window)
        assert {a.reason for a in decision.actions} == {"renew"}
    # Open: held into the window, then released at once (no demand came).
    for t in range(100, 130):
        decision = run.step(QUIET, T0 + t, protected=True)
        if released(decision):
            break
    assert t - 100 >= 15, "drained channels were released as the window opened"
    assert sorted(released(decision)) == ["root.background", "root.bulk"]


def test_drain_keeps_a_wave_protected_by_demand():
    run = Run(policy(drain="10.0"))
    window = T0 + 10
    run.step(QUIET, T0 + 1, protected=False, next_window_at=window)
    assert set(run.held) == {"root.background", "root.bulk"}
    for t in range(10, 70):  # the wave of the window: 60 s of pickers
        decision = run.step(busy(T0 + t), T0 + t, protected=True)
        assert released(decision) == []
    assert leased(decision)["root.bulk"].reason == "hold"


def test_drained_channels_are_released_when_the_window_closes():
    """The wave of the window still shows as demand when it closes (its
    rate decays over the demand window): the plan ends with the window."""
    run = Run(policy(drain="5.0"))
    run.step(QUIET, T0, protected=False, next_window_at=T0 + 5)
    assert set(run.held) == {"root.background", "root.bulk"}
    for t in range(5, 35):
        decision = run.step(busy(T0 + t, 10), T0 + t, protected=True)
        assert released(decision) == []
    decision = run.step(busy(T0 + 35, 10), T0 + 35, protected=False)
    assert sorted(released(decision)) == ["root.background", "root.bulk"]
    # An unannounced wave afterwards is held by its demand again, as usual.
    run.step(sample(wait(http(10), 2.0, 20), wait(http(11), 2.0, 20),
                    blockers=[job(20, "bulk", "root.bulk")]), T0 + 200,
             protected=True)  # fmt: skip
    assert "root.bulk" in run.held
    for t in range(201, 240):
        decision = run.step(busy(T0 + t, 10), T0 + t, protected=True)
        assert released(decision) == []


def test_contention_at_the_window_close_keeps_the_lease():
    run = Run(policy(drain="5.0"))
    run.step(QUIET, T0, protected=False, next_window_at=T0 + 5)
    run.step(QUIET, T0 + 6, protected=True)
    blocked = sample(wait(http(10), 2.0, 20), blockers=[job(20, "bulk", "root.bulk")])
    decision = run.step(blocked, T0 + 30, protected=False)
    assert released(decision) == []
    assert leased(decision)["root.bulk"].reason == "renew"


def test_drain_lead_comes_from_recent_job_durations_with_a_cap():
    default = PolicyConfig()
    assert drain_lead(default, None) == (30.0, "default, no recent job")
    assert drain_lead(default, 4.0)[0] == 7.0  # 1.5 x 4 + 1
    assert drain_lead(default, 1.0)[0] == 2.5  # 1.5 x 1 + 1
    assert drain_lead(default, 0.5)[0] == 2.0  # floor
    lead, source = drain_lead(default, 600.0)
    assert lead == 120.0 and source.endswith("capped")
    assert drain_lead(PolicyConfig(drain="45"), 600.0) == (
        45.0,
        "configured",
    )
    assert drain_lead(PolicyConfig(drain="off"), 4.0) == (0.0, "off")


def test_drain_off_or_far_window_takes_no_action():
    run = Run(policy(drain="off"))
    assert run.step(QUIET, T0, next_window_at=T0 + 5).actions == ()
    run = Run()
    assert run.step(QUIET, T0, next_window_at=T0 + 3600).actions == ()


def test_schedule_reports_the_next_window():
    def iso(t):
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    now = 1_800_000_000.0
    doc = {
        "version": 1,
        "valid_from": iso(now - 3600),
        "valid_until": iso(now + 7200),
        "intervals": [[iso(now - 60), iso(now + 60)], [iso(now + 600), iso(now + 900)]],
        "peak_mode": [[iso(now - 3600), iso(now + 7200)]],
    }
    state = peak_state(json.dumps(doc), now)
    assert state.protected and state.next_window_at == now + 600
    # Back to back with the open one: no new window, nothing to drain for.
    doc["intervals"][1] = [iso(now + 60), iso(now + 900)]
    assert peak_state(json.dumps(doc), now).next_window_at is None
    doc["intervals"][1] = [iso(now + 600), iso(now + 900)]
    assert peak_state(json.dumps(doc), now + 700).next_window_at is None
    doc["intervals"] = [["garbage"]]
    assert peak_state(json.dumps(doc), now).next_window_at is None
