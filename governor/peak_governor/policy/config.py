"""Settings of the policy: thresholds, profile, drain and the expert knobs.

An operator chooses two things (see :mod:`.profiles`): the ``profile``
(``balanced``, ``pickers_first`` or ``observe``) and the ``drain`` before
fulfillment windows (``auto``, ``off`` or a lead in seconds).  Every other
field is an expert setting: its default is what the bench measured, and
``validate()`` refuses what makes no sense, in one line.
"""

import math
from dataclasses import dataclass, field, fields

#: The drain's lead, configured or derived, is never longer than this.
MAX_DRAIN_LEAD_S = 3600.0
PROFILE_NAMES = ("balanced", "pickers_first", "observe")


@dataclass(frozen=True)
class Thresholds:
    """When contention among protected waiters is elevated or severe.

    A waiter "counts" once it waited ``elevated_enter_age`` seconds (to enter)
    or ``elevated_exit_age`` (to stay).  Elevated: at least
    ``elevated_enter_count`` counting waiters (stays while
    ``elevated_exit_count``).  Severe: at least ``severe_enter_count``
    counting waiters or one waiting ``severe_enter_age`` (stays while
    ``severe_exit_count`` or ``severe_exit_age``).
    """

    # Defaults: a request stuck half a second on a row lock is felt (Odoo's
    # own row locks are held for milliseconds); five at once, or one for 5 s
    # (users retry, proxies start timing out), is an incident.  Exits at half.
    elevated_enter_count: int = 1
    elevated_enter_age: float = 0.5
    elevated_exit_count: int = 1
    elevated_exit_age: float = 0.25
    severe_enter_count: int = 5
    severe_enter_age: float = 5.0
    severe_exit_count: int = 3
    severe_exit_age: float = 2.5

    def validate(self, name: str = "thresholds") -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith("_count"):
                if isinstance(value, bool) or not isinstance(value, int):
                    raise ValueError(f"{name}.{f.name} must be an integer")
                if value < 1:
                    raise ValueError(f"{name}.{f.name} must be at least 1")
            else:
                _check_seconds(f"{name}.{f.name}", value, positive=True)
        for level in ("elevated", "severe"):
            for what in ("count", "age"):
                enter = getattr(self, f"{level}_enter_{what}")
                exit_ = getattr(self, f"{level}_exit_{what}")
                if exit_ > enter:
                    raise ValueError(
                        f"{name}.{level}_exit_{what} ({exit_}) is above "
                        f"{level}_enter_{what} ({enter})"
                    )
        for when in ("enter", "exit"):
            for what in ("count", "age"):
                severe = getattr(self, f"severe_{when}_{what}")
                elevated = getattr(self, f"elevated_{when}_{what}")
                if severe < elevated:
                    raise ValueError(
                        f"{name}.severe_{when}_{what} ({severe}) is below "
                        f"elevated_{when}_{what} ({elevated})"
                    )


#: Inside a fulfillment window: pickers scan every few seconds, and a
#: request that waits on a row lock pays Odoo's retry on top (a serialization
#: failure, then a random sleep of up to 2 s) once the holder commits, so a
#: tenth of a second (ten times Odoo's own lock times) already counts; three
#: stuck requests are an incident.  Only waits whose root blocker is less
#: important work lead to a lease (blame), and a new one needs a wave (the
#: demand gate): this does not pause bulk for collisions among pickers.
PROTECTED_THRESHOLDS = Thresholds(
    elevated_enter_count=1,
    elevated_enter_age=0.1,
    elevated_exit_count=1,
    elevated_exit_age=0.05,
    severe_enter_count=3,
    severe_enter_age=2.5,
    severe_exit_count=2,
    severe_exit_age=1.0,
)


@dataclass(frozen=True)
class PolicyConfig:
    """Every knob of the policy; the rules are in the policy modules."""

    profile: str = "balanced"
    drain: str = "auto"  # "auto", "off" or the lead in seconds
    normal: Thresholds = field(default_factory=Thresholds)
    protected: Thresholds = PROTECTED_THRESHOLDS
    min_dwell_seconds: float = 10.0
    fallback_escalate_cycles: int = 5
    max_pause_seconds: float = 900.0
    pause_window_seconds: float = 3600.0
    trickle_seconds: float = 300.0
    resume_step_seconds: float = 0.0
    resume_jitter: float = 0.5
    demand_window_seconds: float = 2.0
    demand_min_rate: float = 1.0
    demand_hold_fraction: float = 0.3
    demand_gate: bool = True
    protect_starving: bool = False
    demand_gate_max_wait: float = 1.0
    release_quiet_seconds: float = 1.0
    min_hold_seconds: float = 15.0
    relapse_window_seconds: float = 60.0
    max_hold_seconds: float = 300.0
    drain_lead_max_seconds: float = 120.0
    preempt_after: float = 0.0  # seconds; 0: never preempt

    def validate(self) -> None:
        """Raise :class:`ValueError` (one line) on a nonsensical config."""
        if self.profile not in PROFILE_NAMES:
            raise ValueError(
                f"profile must be one of {', '.join(PROFILE_NAMES)}, "
                f"got {self.profile!r}"
            )
        self.drain_lead_setting()
        self.normal.validate("normal")
        self.protected.validate("protected")
        for f in fields(Thresholds):
            tight = getattr(self.protected, f.name)
            loose = getattr(self.normal, f.name)
            if tight > loose:
                raise ValueError(
                    f"protected.{f.name} ({tight}) is looser than "
                    f"normal.{f.name} ({loose}): protected thresholds must be "
                    "tighter"
                )
        _check_seconds("min_dwell_seconds", self.min_dwell_seconds)
        cycles = self.fallback_escalate_cycles
        if isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 1:
            raise ValueError("fallback_escalate_cycles must be an integer >= 1")
        _check_seconds("max_pause_seconds", self.max_pause_seconds, positive=True)
        _check_seconds("pause_window_seconds", self.pause_window_seconds, positive=True)
        if self.max_pause_seconds >= self.pause_window_seconds:
            raise ValueError(
                f"max_pause_seconds ({self.max_pause_seconds}) must be below "
                f"pause_window_seconds ({self.pause_window_seconds})"
            )
        _check_seconds("trickle_seconds", self.trickle_seconds, positive=True)
        _check_seconds("resume_step_seconds", self.resume_step_seconds)
        jitter = self.resume_jitter
        if isinstance(jitter, bool) or not isinstance(jitter, int | float):
            raise ValueError("resume_jitter must be a number between 0 and 1")
        if not 0.0 <= jitter <= 1.0:
            raise ValueError(f"resume_jitter must be between 0 and 1, got {jitter}")
        _check_seconds(
            "demand_window_seconds", self.demand_window_seconds, positive=True
        )
        _check_seconds("demand_min_rate", self.demand_min_rate, positive=True)
        fraction = self.demand_hold_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, int | float):
            raise ValueError("demand_hold_fraction must be a number between 0 and 1")
        if not 0.0 <= fraction <= 1.0:
            raise ValueError(
                f"demand_hold_fraction must be between 0 and 1, got {fraction}"
            )
        _check_seconds("demand_gate_max_wait", self.demand_gate_max_wait, positive=True)
        _check_seconds("release_quiet_seconds", self.release_quiet_seconds)
        _check_seconds("min_hold_seconds", self.min_hold_seconds)
        _check_seconds("relapse_window_seconds", self.relapse_window_seconds)
        _check_seconds("max_hold_seconds", self.max_hold_seconds)
        for name in ("demand_gate", "protect_starving"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be true or false")
        cap = self.drain_lead_max_seconds
        _check_seconds("drain_lead_max_seconds", cap, positive=True)
        if cap > MAX_DRAIN_LEAD_S:
            raise ValueError(
                f"drain_lead_max_seconds must be at most {MAX_DRAIN_LEAD_S:.0f} s"
            )
        _check_seconds("preempt_after", self.preempt_after)
        longest = max(self.min_hold_seconds, self.release_quiet_seconds)
        if self.max_hold_seconds < longest:
            raise ValueError(
                f"max_hold_seconds ({self.max_hold_seconds}) is below "
                f"min_hold_seconds or release_quiet_seconds ({longest})"
            )

    def drain_lead_setting(self) -> float | None:
        """The ``drain`` setting: None for ``auto``, 0 for ``off``, else the
        configured lead in seconds."""
        text = str(self.drain).strip().lower()
        if text == "auto":
            return None
        if text == "off":
            return 0.0
        try:
            lead = float(text)
        except ValueError:
            lead = math.nan
        if not (math.isfinite(lead) and 0 < lead <= MAX_DRAIN_LEAD_S):
            raise ValueError(
                "drain must be auto, off or a lead in seconds (above 0, at "
                f"most {MAX_DRAIN_LEAD_S:.0f}), got {self.drain!r}"
            )
        return lead


def _check_seconds(name: str, value, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number of seconds")
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        bound = "positive" if positive else "zero or more"
        raise ValueError(f"{name} must be {bound} and finite, got {value}")
