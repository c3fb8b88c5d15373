"""Decision core of peak-governor: from one contention sample to lease actions.

One :class:`Policy` per database, fed one :class:`~peak_governor.model.Sample`
per interval::

    policy = Policy(PolicyConfig(), random.Random())
    decision = policy.decide(sample, channels, held, now, protected, peak_mode)

``channels`` is the whole channel table by complete name, ``held`` the leases
the actuator reports as held by this governor (the truth: a lease the
actuator failed to take is not held), ``protected`` whether a fulfillment
window is open, ``peak_mode`` whether Peak mode is on; optional
``next_window_at`` and ``job_p95_seconds`` drive the pre-window drain.

The rules, one module each, are the manual: :mod:`.core` (the order they
apply in), :mod:`.profiles`, :mod:`.levels`, :mod:`.demand`,
:mod:`.conflicts`, :mod:`.blame`, :mod:`.fallback`, :mod:`.table`,
:mod:`.episode`, :mod:`.drain`, :mod:`.starvation`, :mod:`.preemption`,
:mod:`.resume`, :mod:`.recovery`, :mod:`.leases`, :mod:`.evidence`;
:mod:`.config` holds the settings and their validation.
"""

from .config import PROFILE_NAMES, PROTECTED_THRESHOLDS, PolicyConfig, Thresholds
from .core import Policy
from .drain import drain_lead
from .evidence import MAX_LISTED
from .profiles import PROFILES, SUMMARIES, with_profile
from .recovery import restore

__all__ = [
    "MAX_LISTED",
    "PROFILES",
    "PROFILE_NAMES",
    "PROTECTED_THRESHOLDS",
    "SUMMARIES",
    "Policy",
    "PolicyConfig",
    "Thresholds",
    "drain_lead",
    "restore",
    "with_profile",
]
