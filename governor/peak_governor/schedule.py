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
        return PeakState(
            peak_mode=_inside(data.get("peak_mode", ()), now),
            protected=_inside(data.get("intervals", ()), now),
        )
    except (ValueError, KeyError, TypeError) as exc:
        _logger.warning("unreadable peak_base.protected_intervals: %s", exc)
        return OFF
