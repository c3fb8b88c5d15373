"""The change-freeze rules, free of any ORM.

No ORM, like ``peak_base/lib/windows.py``, whose peak periods and rule for
the current one (``PeakPeriod``, ``period_at``) it uses: the Odoo models, the
server-wide command-line guard (plain SQL, before any registry exists) and the
tests all call these functions, so the rule is written once.

Rules
-----
* Module changes are **frozen** while a peak period is current (start
  inclusive, end exclusive), whatever Peak mode says: an operator forcing Peak
  mode off for the governor does not lift the change freeze. With the scope
  ``peak_mode``, they are also frozen while Peak mode is on outside a period
  (switched on by hand).
* During a freeze a change goes through only when **every** module it names is
  covered by an exception that is approved and whose ``expires_at`` is still
  in the future. An exception counts as expired at ``expires_at`` even before
  the cron marks it so.
* An exception's ``expires_at`` must be in the future and not past the end of
  the peak period current when it is requested, or else of the next one (an
  exception prepared ahead of the season); with no period at all (a freeze by
  Peak mode alone) it lasts :data:`NO_PERIOD_MAX` at most.

* **Frozen settings** follow the same freeze (``lib/frozen_settings.py``).

Every datetime is timezone-aware UTC; naive values are refused.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from odoo.addons.peak_base.lib.windows import PeakPeriod, period_at

__all__ = [
    "NO_PERIOD_MAX",
    "SCOPES",
    "ChangeException",
    "Decision",
    "Freeze",
    "FreezeError",
    "PeakPeriod",
    "decide",
    "describe_freeze",
    "due_for_expiry",
    "expiry_error",
    "followers",
    "freeze_at",
    "max_expiry",
    "refusal_message",
]

#: "periods": frozen during peak periods; "peak_mode": also while Peak mode is on.
SCOPES = ("periods", "peak_mode")
#: Longest exception when no peak period is current or planned.
NO_PERIOD_MAX = timedelta(hours=24)
#: Where people ask for an exception, as the messages say it.
HOW_TO = (
    "Ask for a change exception in Peak Operations > Change freeze > "
    "Change exceptions; a member of the “Peak change approver” group other "
    "than you must approve it."
)


class FreezeError(ValueError):
    """Invalid input; the message is user-facing."""


def _aware(value: object, label: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise FreezeError(f"{label} must be a timezone-aware datetime, got {value!r}.")
    return value


@dataclass(frozen=True)
class ChangeException:
    """An emergency change exception, as far as the rule needs it."""

    id: int
    modules: frozenset[str]
    state: str
    expires_at: datetime
    name: str = ""
    #: Ids of the frozen settings (``FrozenSetting.id``) it covers.
    settings: frozenset[int] = frozenset()

    def effective(self, at: datetime) -> bool:
        return self.state == "approved" and at < self.expires_at


@dataclass(frozen=True)
class Freeze:
    """Whether module changes are frozen, and why ("period" or "peak_mode")."""

    active: bool
    reason: str | None = None
    period: PeakPeriod | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    freeze: Freeze
    modules: tuple[str, ...] = ()
    uncovered: tuple[str, ...] = ()
    used: tuple[int, ...] = field(default=())


def freeze_at(
    scope: str, periods: Iterable[PeakPeriod], peak_mode_on: bool, at: datetime
) -> Freeze:
    """Whether module changes are frozen at ``at``."""
    _aware(at, "at")
    if scope not in SCOPES:
        scope = "periods"  # an unknown stored value must not lift the freeze
    # The one ending last when several overlap: it says how long it lasts.
    period = period_at(periods, at)
    if period is not None:
        return Freeze(True, "period", period)
    if scope == "peak_mode" and peak_mode_on:
        return Freeze(True, "peak_mode")
    return Freeze(False)


def followers(
    roots: Iterable[str],
    pending: dict[str, str],
    depends: dict[str, frozenset[str]],
    auto_install: Iterable[str] = (),
) -> set[str]:
    """The modules Odoo marked because of ``roots`` (pending modules).

    ``pending`` maps each module marked in the database to its state ("to
    install", "to upgrade", "to remove"), ``depends`` a module to the modules
    it depends on. Followed: the dependencies an install or upgrade pulls in,
    the auto-install modules an install triggers, the dependents an upgrade
    or a removal takes along.
    """
    accepted = {name for name in roots if name in pending}
    auto = set(auto_install)
    changed = True
    while changed:
        changed = False
        for name, state in pending.items():
            if name in accepted:
                continue
            deps = depends.get(name, frozenset())
            pulled = any(
                name in depends.get(a, ()) and pending[a] != "to remove"
                for a in accepted
            )
            along = {a for a in deps & accepted if pending[a] == state}
            if (
                (state == "to install" and (pulled or (name in auto and along)))
                or (state == "to upgrade" and along)
                or (state == "to remove" and along)
            ):
                accepted.add(name)
                changed = True
    return accepted


def decide(
    freeze: Freeze,
    exceptions: Iterable[ChangeException],
    modules: Iterable[str],
    at: datetime,
    pending: dict[str, str] | None = None,
    depends: dict[str, frozenset[str]] | None = None,
    auto_install: Iterable[str] = (),
) -> Decision:
    """May ``modules`` (and the ``pending`` ones) be installed, upgraded or
    removed at ``at``? Each of ``modules`` must be covered by an effective
    exception; a pending module may also follow a covered one."""
    _aware(at, "at")
    pending = pending or {}
    names = tuple(sorted(set(modules) | set(pending)))
    if not freeze.active:
        return Decision(True, freeze, names)
    effective = [e for e in exceptions if e.effective(at)]
    covered = {n for n in names if any(n in e.modules for e in effective)}
    followed = followers(covered, pending, depends or {}, auto_install)
    uncovered = tuple(n for n in names if n not in covered | followed)
    used = tuple(
        sorted({e.id for e in effective if e.modules & covered})
        if not uncovered
        else ()
    )
    return Decision(not uncovered, freeze, names, uncovered, used)


def _fmt(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def describe_freeze(freeze: Freeze) -> str:
    if freeze.period is not None:
        return f"peak period “{freeze.period.name}” until {_fmt(freeze.period.end)}"
    if freeze.reason == "peak_mode":
        return "Peak mode is on"
    return "no freeze"


def refusal_message(decision: Decision, action: str = "change") -> str:
    """One message: what is frozen, until when, what is missing, how to ask."""
    missing = ", ".join(decision.uncovered)
    return (
        f"Module changes are frozen: {describe_freeze(decision.freeze)}. "
        f"Cannot {action} {missing}: no approved, unexpired change exception "
        f"covers {'it' if len(decision.uncovered) == 1 else 'them'}. {HOW_TO}"
    )


def max_expiry(
    periods: Iterable[PeakPeriod], at: datetime
) -> tuple[datetime, PeakPeriod | None]:
    """The latest ``expires_at`` allowed for an exception requested at ``at``."""
    periods = list(periods)
    current = period_at(periods, at)
    if current is not None:
        return current.end, current
    upcoming = [p for p in periods if p.start > at]
    if upcoming:
        following = min(upcoming, key=lambda p: (p.start, -p.end.timestamp()))
        return following.end, following
    return at + NO_PERIOD_MAX, None


def expiry_error(
    expires_at: datetime, periods: Iterable[PeakPeriod], at: datetime
) -> str | None:
    """Why ``expires_at`` is not acceptable at ``at``, or None."""
    _aware(expires_at, "expires_at")
    _aware(at, "at")
    if expires_at <= at:
        return (
            f"The exception would expire at {_fmt(expires_at)}, which is not in "
            "the future: give it an expiry after now."
        )
    limit, period = max_expiry(periods, at)
    if expires_at > limit:
        if period is None:
            return (
                f"The exception would expire at {_fmt(expires_at)}: with no peak "
                f"period, an exception lasts {NO_PERIOD_MAX.total_seconds() / 3600:g} "
                f"hours at most (until {_fmt(limit)})."
            )
        return (
            f"The exception would expire at {_fmt(expires_at)}, after the end "
            f"of peak period “{period.name}” ({_fmt(limit)}): an exception "
            "cannot outlive its period."
        )
    return None


def due_for_expiry(exceptions: Iterable[ChangeException], at: datetime) -> list[int]:
    """Ids of requested or approved exceptions whose time is up at ``at``."""
    _aware(at, "at")
    return [
        e.id
        for e in exceptions
        if e.state in ("requested", "approved") and e.expires_at <= at
    ]
