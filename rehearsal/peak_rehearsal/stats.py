"""Latency statistics of request samples.

A sample is ``(t_s, step, latency_ms, ok, error_kind)``: seconds since the
start of the run, the measured step (e.g. ``order.confirm``), its latency, and
for a failed request why (``serialization``, ``lock_timeout``, ``http``,
``timeout``, ``odoo``; None when ok).

Latency percentiles count every attempt, failed ones included: a request that
waited 30 s on a lock before failing is exactly the pain a rehearsal looks for.
"""

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

Sample = tuple[float, str, float, bool, str | None]
MAX_BUCKETS = 100_000  # a run is at most an hour: more means t_s is not relative


def percentile(values: Iterable[float], pct: float) -> float | None:
    """The pct-th percentile (0..100) by linear interpolation between ranks.

    The same definition as numpy's default ("linear", Hyndman & Fan type 7):
    the p95 of [1, 2, ..., 100] is 95.05. None when there are no values.
    """
    if not 0 <= pct <= 100:
        raise ValueError(f"percentile must be within 0..100, got {pct}")
    ordered = sorted(values)
    if not ordered:
        return None
    rank = (len(ordered) - 1) * pct / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarize_step(samples: Sequence[Sample]) -> dict[str, Any]:
    """Counts and percentiles of one step's samples (None when there are none)."""
    latencies = [s[2] for s in samples]
    failed = [s for s in samples if not s[3]]
    count = len(samples)
    return {
        "count": count,
        "errors": len(failed),
        "error_rate": len(failed) / count if count else None,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies, default=None),
        # A failure without a kind is still counted, as "unknown".
        "errors_by_kind": dict(Counter(s[4] or "unknown" for s in failed)),
    }


def summarize_steps(
    samples: Iterable[Sample], since_s: float = 0.0
) -> dict[str, dict[str, Any]]:
    """summarize_step per step (sorted by name) of the samples from since_s on.

    Pass the profile's warmup as since_s: requests during warmup are not scored.
    """
    by_step: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples:
        if sample[0] >= since_s:
            by_step[sample[1]].append(sample)
    return {step: summarize_step(by_step[step]) for step in sorted(by_step)}


def overall_error_rate(steps: dict[str, dict[str, Any]]) -> float | None:
    """Failed / all requests over every step of summarize_steps (None if none)."""
    count = sum(s["count"] for s in steps.values())
    return sum(s["errors"] for s in steps.values()) / count if count else None


def buckets(samples: Iterable[Sample], width_s: float) -> dict[str, list[dict]]:
    """Per step, one entry per width_s bucket from t=0 to the last sample.

    Every step gets the same, gapless list of buckets (empty ones have count
    0 and None percentiles), so time series of different steps line up.
    Each entry: start_s, count, errors, per_min, p50_ms, p95_ms.
    """
    if not width_s > 0:
        raise ValueError(f"bucket width must be > 0 s, got {width_s}")
    latencies: dict[str, dict[int, list[float]]] = defaultdict(
        lambda: defaultdict(list)
    )
    errors: Counter[tuple[str, int]] = Counter()
    last = -1
    for t_s, step, latency_ms, ok, _kind in samples:
        index = max(0, int(t_s // width_s))  # a clock skewed below 0 goes first
        latencies[step][index].append(latency_ms)
        errors[step, index] += not ok
        last = max(last, index)
    if last >= MAX_BUCKETS:
        raise ValueError(f"samples span {last} buckets of {width_s} s: t_s too large")
    series = {}
    for step in sorted(latencies):
        rows = []
        for index in range(last + 1):
            values = latencies[step].get(index, [])
            rows.append(
                {
                    "start_s": index * width_s,
                    "count": len(values),
                    "errors": errors[step, index],
                    "per_min": len(values) * 60 / width_s,
                    "p50_ms": percentile(values, 50),
                    "p95_ms": percentile(values, 95),
                }
            )
        series[step] = rows
    return series
