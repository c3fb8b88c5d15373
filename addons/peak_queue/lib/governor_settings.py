"""The governor settings that Settings > Peak Operations edits (no ORM).

Their defaults and their validation are the governor's own code
(``peak_governor.policy``), so Odoo shows the default actually in force and
refuses exactly what the governor would refuse at its start, with its words.
When the governor package is not installed next to Odoo, :func:`available`
is false and Settings says so instead of guessing.
"""

import re

try:
    from peak_governor.config import ConfigError, apply_policy_settings, policy_fields
    from peak_governor.policy import SUMMARIES, PolicyConfig
except ImportError:  # an Odoo image without the governor package
    PolicyConfig = None
    SUMMARIES = {}

#: Settings field -> the governor's flat setting name (system parameter
#: ``peak_governor.<name>``, flag ``--<name>``, env ``PEAK_GOVERNOR_<NAME>``).
EDITABLE = {
    "peak_governor_elevated_age": "protected_elevated_enter_age",
    "peak_governor_severe_age": "protected_severe_enter_age",
    "peak_governor_min_dwell": "min_dwell_seconds",
    "peak_governor_max_pause": "max_pause_seconds",
}
PARAM_PREFIX = "peak_governor."
#: The two choices an operator makes (system parameters ``peak_governor.profile``
#: and ``peak_governor.drain``); unset means the governor's default.
PROFILE_PARAM = PARAM_PREFIX + "profile"
DRAIN_PARAM = PARAM_PREFIX + "drain"
PROFILES = [
    ("balanced", "Balanced"),
    ("pickers_first", "Pickers first"),
    ("observe", "Observe only"),
]
DEFAULT_PROFILE = "balanced"
DRAIN_MODES = [("auto", "Automatic"), ("off", "Off"), ("fixed", "Fixed lead")]


def profile_summary(profile: str) -> str:
    """The governor's one-line explanation of ``profile`` ("" without it)."""
    return SUMMARIES.get(profile or DEFAULT_PROFILE, "")


def drain_from_param(raw) -> tuple[str, float]:
    """(mode, seconds) of a stored ``drain`` value; unset is ``auto``."""
    text = str(raw or "auto").strip().lower()
    if text in ("auto", "off"):
        return text, 0.0
    try:
        return "fixed", float(text)
    except ValueError:
        return "auto", 0.0  # the governor refuses it at start, and says why


def drain_to_param(mode: str, seconds: float) -> str | bool:
    """The value to store for (mode, seconds); False unsets (auto)."""
    if mode == "off":
        return "off"
    if mode == "fixed":
        return f"{seconds:g}"
    return False


def available() -> bool:
    return PolicyConfig is not None


def defaults() -> dict[str, float]:
    """The governor's default for each editable setting, by setting name."""
    if PolicyConfig is None:
        return {}
    known = policy_fields()
    out = {}
    for name in EDITABLE.values():
        value = PolicyConfig()
        for part in known[name][0]:
            value = getattr(value, part)
        out[name] = float(value)
    return out


#: The governor's names for what Settings shows, in Settings' words.
LABELS = {
    "protected_elevated_enter_age": "Elevated after (s)",
    "protected_severe_enter_age": "Severe after (s)",
    "min_dwell_seconds": "Calm for (s) before resuming",
    "max_pause_seconds": "Longest pause per hour (s)",
}
# A threshold name as the governor's messages write it: "protected.X" or a
# bare "X" of the same group, "normal.X" for the thresholds outside windows.
_THRESHOLD = re.compile(
    r"\b(?:(?P<group>protected|normal)\.)?"
    r"(?P<name>(?:elevated|severe)_(?:enter|exit)_(?:age|count))\b"
)
_SETTING = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


def in_settings_words(message: str) -> str:
    """A governor message with Settings' labels for what Settings shows, and
    the rest named as the governor's expert settings (where to change them)."""
    expert = set(policy_fields()) if PolicyConfig is not None else set()

    def setting(match: re.Match) -> str:
        word = match[0]
        if word in LABELS:
            return f"“{LABELS[word]}”"
        if word in expert:
            return f"the governor's expert setting {word}"
        return word

    group = "protected"

    def threshold(match: re.Match) -> str:
        nonlocal group
        group = match["group"] or group
        name = f"{group}_{match['name']}"
        if name in LABELS:
            return f"“{LABELS[name]}”"
        return f"the governor's expert setting {name}"

    # Flat names first: the threshold pass writes flat names itself.
    return _THRESHOLD.sub(threshold, _SETTING.sub(setting, message))


def refusal(values: dict[str, float | str]) -> str | None:
    """The governor's own message refusing ``{setting name: value}``, or None
    when it would start with them (None too when it is not installed here)."""
    if PolicyConfig is None:
        return None
    try:
        policy = apply_policy_settings(
            PolicyConfig(),
            {name: (f"Odoo {PARAM_PREFIX}{name}", v) for name, v in values.items()},
        )
        policy.validate()
    except (ConfigError, ValueError) as exc:
        return str(exc)
    return None
