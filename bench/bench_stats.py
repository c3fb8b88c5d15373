"""The figures benchmarks of bench/ report: percentiles, latency summaries,
ratios and spreads over runs."""

import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "rehearsal") not in sys.path:
    sys.path.insert(0, str(ROOT / "rehearsal"))

# peak-rehearsal's own definition (numpy's default); pure, no dependency.
from peak_rehearsal.stats import percentile as _linear  # noqa: E402


def percentile(values, pct, method="linear"):
    """The pct-th percentile (0..100) of ``values``; None when empty.

    ``linear``: interpolated between ranks (numpy's default), what new
    figures use. The two others stay for the benchmarks whose committed
    results were computed with them, so new runs remain comparable:
    ``nearest``, the value at the rounded rank (attachment_s3), and
    ``floor``, ``sorted(values)[int(pct / 100 * n)]`` (session_store).
    """
    if method == "linear":
        return _linear(values, pct)
    ordered = sorted(values)
    if not ordered:
        return None
    last = len(ordered) - 1
    if method == "nearest":
        return ordered[min(last, max(0, round(pct / 100 * last)))]
    if method == "floor":
        return ordered[min(last, int(pct / 100 * len(ordered)))]
    raise ValueError(f"unknown percentile method {method!r}")


def latency(samples_ms, digits=3, pcts=(50, 95), method="linear"):
    """``p<N>_ms`` for each of ``pcts``, then ``max_ms``, rounded."""
    out = {
        f"p{pct}_ms": round(percentile(samples_ms, pct, method), digits) for pct in pcts
    }
    out["max_ms"] = round(max(samples_ms), digits)
    return out


def ratio(a, b):
    """a / b to 2 decimals; None when either is unknown (or b is 0)."""
    return round(a / b, 2) if a is not None and b else None


def spread(values, digits=2):
    """Median (to ``digits``) and range of one figure over the runs, the
    unknown (None) values left out."""
    known = [v for v in values if v is not None]
    if not known:
        return {"median": None, "min": None, "max": None}
    return {
        "median": round(statistics.median(known), digits),
        "min": min(known),
        "max": max(known),
    }


def fmt(value, digits):
    """A figure for a table: ``-`` when unknown, floats to ``digits``."""
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)
