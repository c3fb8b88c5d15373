"""Plain pytest tests of the activity labels (lib/activity.py, no Odoo)."""

import importlib.util
import pathlib
import re

import pytest

_PATH = pathlib.Path(__file__).resolve().parents[1] / "lib" / "activity.py"
_SPEC = importlib.util.spec_from_file_location("peak_queue_activity", _PATH)
activity = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(activity)


@pytest.mark.parametrize(
    ("reason", "label"),
    [
        ("blame", "Order work waited on this channel's jobs"),
        ("peak_off", "Released: Peak mode is off"),
        ("adopted by vm:30298", "Handed over to governor on vm (process 30298)"),
        ("released by Mitchell Admin", "released by Mitchell Admin"),
        ("", ""),
        (None, ""),
    ],
)
def test_reason_labels(reason, label):
    assert activity.reason_label(reason) == label


def test_every_reason_the_governor_writes_has_a_label():
    """The codes the governor's rules use (grepped from its source, not
    copied): a new rule without a label shows up here."""
    governor = _PATH.parents[3] / "governor" / "peak_governor"
    if not governor.exists():
        pytest.skip("the governor's source is not next to the addon")
    files = [*governor.glob("policy/*.py"), governor / "actuator.py"]
    source = "\n".join(p.read_text() for p in files)
    patterns = (
        r'reason = "([a-z_]+)"(?: if [^\n]* else "([a-z_]+)")?',
        r'Action\(\s*"\w+",\s*[\w.]+,\s*"([a-z_]+)"',
        r'(?:release|keep|new|step)\(\s*cycle, [\w"]+, "([a-z_]+)"',
    )
    found = [re.findall(pattern, source) for pattern in patterns]
    used = {
        code
        for matches in found
        for match in matches
        for code in (match if isinstance(match, tuple) else (match,))
        if code
    }
    assert used, "no reason found: the pattern is stale"
    missing = sorted(code for code in used if code not in activity.REASONS)
    assert missing == []


@pytest.mark.parametrize(
    ("holder", "label"),
    [
        ("vm:30298", "governor on vm (process 30298)"),
        ("gov-a", "gov-a"),
        ("admin", "admin"),
    ],
)
def test_holder_labels(holder, label):
    assert activity.holder_label(holder) == label
