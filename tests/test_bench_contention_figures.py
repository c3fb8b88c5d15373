"""How the peak contention benchmark turns calls and lease events into its
governor figures (pure: no database, no server).

A lease answers a contention episode only while the episode lasts: a lone
slow call seconds before a wave is not "answered" by the wave's own lease.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def bench():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        spec = importlib.util.spec_from_file_location(
            "peak_contention_under_test", ROOT / "bench" / "peak_contention.py"
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.path.remove(str(ROOT / "bench"))


START = 1_000_000.0


def call(t, ms):
    return {"t": t, "ms": ms, "row": 0, "error": None}


def figures(bench, calls, leases):
    events = []
    for a, b in leases:
        events.append(("created", START + a, "gov"))
        events.append(("released", START + b, "gov"))
    return bench.governor_metrics(calls, START, START + 200, events, 100.0)


def test_slow_calls_close_together_are_one_episode(bench):
    slow = [(0.0, 1.0), (1.5, 2.0), (5.0, 5.2)]
    episodes = bench.contention_episodes(slow)
    assert [len(e) for e in episodes] == [2, 1]


def test_a_lone_call_before_a_wave_is_not_answered_by_the_waves_lease(bench):
    calls = [call(156.1, 3600)]  # lone, returns at 159.7
    calls += [call(165.1 + i / 10, 1500) for i in range(5)]  # the wave
    result = figures(bench, calls, [(165.45, 199.0)])
    assert result["contention_onsets_s"] == [156.1, 165.1]
    assert result["time_to_lease_samples_s"] == [pytest.approx(0.35)]
    assert result["onsets_without_lease"] == 1
    (why,) = result["onsets_without_lease_explained"]
    assert why["t_s"] == 156.1 and why["slow_calls"] == 1
    assert "lone slow call" in why["why"]


def test_a_lease_after_the_episode_ended_answers_nothing(bench):
    calls = [call(10.0, 500), call(10.2, 400)]  # over by 10.6
    result = figures(bench, calls, [(12.0, 40.0)])
    assert result["time_to_lease_samples_s"] == []
    assert result["onsets_without_lease"] == 1


def test_slow_calls_under_a_lease_are_no_onset(bench):
    calls = [call(50.0, 900), call(70.0, 900)]
    result = figures(bench, calls, [(45.0, 80.0)])
    assert result["contention_onsets_s"] == []
    assert result["transitions"] == 2


def test_a_profile_run_records_the_settings_the_governor_got(bench):
    """``--policy`` (the pickers-first profile) reaches the governor's flags
    and the JSON's effective policy; a bad setting is refused as the
    governor would refuse it, before anything starts."""
    args = bench.parse_args(["--policy", "protect_starving=true"])
    effective, raw = args.policy_settings
    assert effective.protect_starving is True
    assert raw == {"protect_starving": "true"}
    assert bench.bench_command(args).endswith("--policy protect_starving=true")
    assert bench.bench_command(bench.parse_args([])) == "make bench"
    for bad in ("protect_starving=maybe", "no_such_setting=1", "lone_hold_seconds"):
        with pytest.raises(SystemExit):
            bench.parse_args(["--policy", bad])


def test_lone_slow_calls_are_the_slow_calls_between_waves(bench):
    import contention_lone

    workload = bench.Workload(
        mode_seconds=100.0, wave_period_s=50.0, burst_offset_s=10.0, burst_seconds=10.0
    )  # bursts at 10-20 s and 60-70 s
    samples = [
        call(12.0, 900.0),  # slow inside a burst: the wave's figures
        call(22.0, 700.0),  # in the burst's 5 s tail: still the wave
        call(30.0, 50.0),  # between waves, fast
        call(31.0, 1200.0),  # lone and slow
        call(40.0, 2400.0),  # lone and slow
        {"t": 45.0, "ms": 5000.0, "row": 0, "error": "HTTP 500"},  # an error
    ]
    figures = contention_lone.lone_calls(samples, workload, threshold_ms=100.0)
    assert figures["lone_slow_calls"] == 2
    assert figures["lone_slow_max_s"] == 2.4
    assert 1.2 < figures["lone_slow_p95_s"] <= 2.4
    assert contention_lone.lone_calls([], workload, 100.0) == {
        "lone_slow_calls": 0,
        "lone_slow_max_s": None,
        "lone_slow_p95_s": None,
    }
