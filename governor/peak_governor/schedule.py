"""Peak mode as ``peak_base`` publishes it (docs/db-contract.md)."""

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeakState:
    peak_mode: bool  # Peak mode is on
    protected: bool  # ...and a fulfillment window is open
    next_window_at: float | None = None  # start of the next protected interval


OFF = PeakState(peak_mode=False, protected=False)


def _parse(moment: str) -> float:
    return (
        datetime.strptime(moment, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    )


def _inside(intervals, now: float) -> bool:
    return any(_parse(start) <= now < _parse(end) for start, end in intervals)


def peak_state(document: str | None, now: float) -> PeakState:
    """Read the ``peak_base.protected_intervals`` parameter; missing, stale or
    garbled means Peak mode off (the governor then only observes)."""
    if not document:
        return OFF
    try:
        data = json.loads(document)
        if data.get("version") != 1 or now >= _parse(data["valid_until"]):
            return OFF
        intervals = data.get("intervals", ())
        valid_until = _parse(data["valid_until"])
        # A window that starts where another ends (or inside one) opens
        # nothing new: fulfillment is protected already.
        starts = [
            start
            for start in (_parse(interval[0]) for interval in intervals)
            if now < start < valid_until and not _inside(intervals, start - 1)
        ]
        return PeakState(
            peak_mode=_inside(data.get("peak_mode", ()), now),
            protected=_inside(intervals, now),
            next_window_at=min(starts, default=None),
        )
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        _logger.warning("unreadable peak_base.protected_intervals: %s", exc)
        return OFF
