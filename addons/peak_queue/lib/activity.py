"""What the governor's activity means, in words an operator reads.

The contract stores short reason codes (the governor's rules: docs and
governor/peak_governor/policy) and the governor's instance id as holder; the
Leases and Governor activity screens show these sentences instead.  Unknown
texts (a manager's "released by …", future codes) are shown as they are.
"""

import re

REASONS = {
    "blame": "Order work waited on this channel's jobs",
    "fallback": "Order work waited on untagged jobs: the lowest class is paused",
    "renew": "Renewed: order work still waits",
    "hold": "Kept: orders keep coming in",
    "pre_window_drain": "Drained before a fulfillment window opens",
    "starvation_guard": "One job at a time: paused too long this hour",
    "calm": "Released: waits and orders are over",
    "peak_off": "Released: Peak mode is off",
    "unleasable": "Released: the channel may no longer be paused",
    "preempt": "Job stopped so that a waiting picker goes on (it runs again)",
    "adopted": "Taken over by the next governor (a restart or a failover)",
    "governor stopping": "Released: the governor stopped",
}
_ADOPTED_BY = re.compile(r"^adopted by (?P<holder>.+)$")
# The governor's default instance id: host:pid.
_INSTANCE = re.compile(r"^(?P<host>[^\s:]+):(?P<pid>\d+)$")


def reason_label(reason: str | None) -> str:
    """The sentence for a reason code; other texts unchanged."""
    if not reason:
        return ""
    if reason in REASONS:
        return REASONS[reason]
    adopted = _ADOPTED_BY.match(reason)
    if adopted:
        return f"Handed over to {holder_label(adopted['holder'])}"
    return reason


def holder_label(holder: str | None) -> str:
    """``host:pid`` reads as a governor on that host; other holders (a
    --instance-id, a user's login) unchanged."""
    if not holder:
        return ""
    instance = _INSTANCE.match(holder)
    if instance:
        return f"governor on {instance['host']} (process {instance['pid']})"
    return holder
