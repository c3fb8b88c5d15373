"""Frozen settings: chosen fields of a model (a cron's schedule, a queue
channel's capacity), or whole records (mail servers), under the change freeze
of ``freeze.py``: during a freeze a change goes through only when every
setting it touches is named by an effective exception. No ORM."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from .freeze import (
    HOW_TO,
    ChangeException,
    Decision,
    Freeze,
    FreezeError,
    _aware,
    describe_freeze,
)

__all__ = [
    "FrozenSetting",
    "decide_setting",
    "setting_refusal_message",
    "settings_touched",
]


@dataclass(frozen=True)
class FrozenSetting:
    """A frozen setting: ``fields`` of ``model``, or (empty) the whole record,
    creation and deletion included."""

    id: int
    label: str
    model: str
    fields: frozenset[str] = frozenset()


def settings_touched(
    settings: Iterable[FrozenSetting], operation: str, changed: Iterable[str] = ()
) -> tuple[FrozenSetting, ...]:
    """The settings a ``create``, ``write`` or ``unlink`` touches; ``changed``:
    the fields whose values a write really changes, or that a create sets to
    something else than their default. A create touches whole-record settings
    and the settings of the fields it sets (a new channel with a capacity of
    its own changes what runs; one with the defaults does not); deleting a
    record touches every setting of its model (its values go with it)."""
    changed = set(changed)
    if operation not in ("create", "write", "unlink"):
        raise FreezeError(f"Unknown operation {operation!r}.")
    return tuple(
        s
        for s in settings
        if (operation == "unlink")
        or (operation == "create" and (not s.fields or s.fields & changed))
        or (operation == "write" and changed and (not s.fields or s.fields & changed))
    )


def decide_setting(
    freeze: Freeze,
    exceptions: Iterable[ChangeException],
    settings: Iterable[FrozenSetting],
    at: datetime,
) -> Decision:
    """May a change touching ``settings`` happen at ``at``? Each one must be
    named by an effective exception. ``Decision.modules``/``uncovered`` hold
    the settings' labels."""
    _aware(at, "at")
    settings = sorted(set(settings), key=lambda s: (s.label, s.id))
    labels = tuple(s.label for s in settings)
    if not freeze.active or not settings:
        return Decision(True, freeze, labels)
    effective = [e for e in exceptions if e.effective(at)]
    uncovered = tuple(
        s.label for s in settings if not any(s.id in e.settings for e in effective)
    )
    wanted = {s.id for s in settings}
    used = (
        ()
        if uncovered
        else tuple(sorted(e.id for e in effective if e.settings & wanted))
    )
    return Decision(not uncovered, freeze, labels, uncovered, used)


def setting_refusal_message(decision: Decision, what: str) -> str:
    """Like :func:`refusal_message`, for frozen settings; ``what`` names the
    change (e.g. "change Scheduled Actions “Mail: send”")."""
    missing = ", ".join(f"“{label}”" for label in decision.uncovered)
    one = len(decision.uncovered) == 1
    return (
        f"Settings are frozen: {describe_freeze(decision.freeze)}. Cannot "
        f"{what}: {'it is' if one else 'it touches'} the frozen "
        f"setting{'' if one else 's'} {missing}, and no approved, unexpired "
        f"change exception names {'it' if one else 'them'}. {HOW_TO}"
    )
