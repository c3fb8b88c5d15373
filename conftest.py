"""Repository-wide pytest rules.

A skipped test is a failed promise here: Odoo skips browser tests silently when
Chromium or websocket-client is missing and still reports 0 failed. Any skip
fails the run unless its reason is listed in PEAK_ALLOWED_SKIPS (comma-separated
substrings), so a green run means every test really ran.
"""

import os

import pytest

_skipped: list[tuple[str, str]] = []


def pytest_runtest_logreport(report):
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else ""
        _skipped.append((report.nodeid, str(reason)))


def _unexpected_skips():
    allowed = [s for s in os.environ.get("PEAK_ALLOWED_SKIPS", "").split(",") if s]
    return [
        (node, why)
        for node, why in _skipped
        if not any(token in why for token in allowed)
    ]


def pytest_terminal_summary(terminalreporter):
    unexpected = _unexpected_skips()
    if unexpected:
        terminalreporter.section("unexpected skips (fail the run)")
        for node, why in unexpected:
            terminalreporter.write_line(f"{node}: {why}")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus):
    if _unexpected_skips() and exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
