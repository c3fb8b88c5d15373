"""Lone slow calls and preemptions, for ``peak_contention.py``.

Issue #10 judged onset to lease on wave onsets only; the calls that are slow
*between* waves (one picker waiting on one bulk job) are reported apart
here, with the preemptions the ``pickers_first`` profile answers them with:
how many, by which signal, and what became of each preempted job (done
after its retry, failed, or not run again yet when the mode ended).
"""

from datetime import UTC, datetime

import bench_stats

#: Calls this long after a burst ends still belong to its wave (its tail).
WAVE_TAIL_S = 5.0


def lone_calls(samples, workload, threshold_ms):
    """Calls over ``threshold_ms`` sent outside every burst and its tail:
    count, slowest and p95, end to end, in seconds."""
    waves = [(a, b + WAVE_TAIL_S) for a, b in workload.bursts()]
    slow = [
        s["ms"] / 1000.0
        for s in samples
        if s["error"] is None
        and s["ms"] > threshold_ms
        and not any(a <= s["t"] < b for a, b in waves)
    ]
    p95 = bench_stats.percentile(slow, 95)
    return {
        "lone_slow_calls": len(slow),
        "lone_slow_max_s": round(max(slow), 3) if slow else None,
        "lone_slow_p95_s": None if p95 is None else round(p95, 3),
    }


def _utc(wall):
    return datetime.fromtimestamp(wall, UTC).replace(tzinfo=None)


def preemptions(side, holder, since_wall, until_wall, start_wall):
    """The governor's preemptions in the mode, and each job's outcome."""
    rows = side.sql(
        "SELECT e.create_date, e.evidence->>'job_uuid', e.evidence->>'signal',"
        " j.state, j.retry FROM peak_queue_lease_event e"
        " LEFT JOIN queue_job j ON j.uuid = e.evidence->>'job_uuid'"
        " WHERE e.action = 'preempted' AND e.holder = %s"
        " AND e.create_date >= %s AND e.create_date <= %s ORDER BY e.id",
        (holder, _utc(since_wall), _utc(until_wall)),
    )
    uuids = [uuid for _at, uuid, *_rest in rows]
    outcome = {uuid: state for _at, uuid, _signal, state, _retry in rows}
    signals: dict[str, int] = {}
    for _at, _uuid, signal, *_rest in rows:
        signals[signal or "cancel"] = signals.get(signal or "cancel", 0) + 1
    return {
        "preempted_jobs": len(set(uuids)),
        "preempted_twice": len(uuids) - len(set(uuids)),
        "preempt_signals": signals,
        "preempted_done": sum(1 for s in outcome.values() if s == "done"),
        "preempted_failed": sum(1 for s in outcome.values() if s == "failed"),
        "preempted_not_rerun_yet": sum(
            1 for s in outcome.values() if s not in ("done", "failed")
        ),
        "preempted_at_s": [
            round(at.replace(tzinfo=UTC).timestamp() - start_wall, 2)
            for at, *_rest in rows
        ],
    }
