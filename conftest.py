"""Repository-wide pytest rules.

A skipped test is a failed promise here: Odoo skips browser tests silently when
Chromium or websocket-client is missing and still reports 0 failed. Any skip
fails the run unless its reason is listed in PEAK_ALLOWED_SKIPS (comma-separated
substrings), so a green run means every test really ran.
"""

import os

import pytest


def _import_odoo_test_framework_in_test_mode():
    """pytest-odoo imports ``odoo.tests`` right after parsing Odoo's config,
    outside test mode, and Odoo then logs an ERROR with a stack trace that
    reads as a failure. Importing it here, inside test mode, keeps the log
    clean. Test mode is switched off again: pytest-odoo turns it on per test
    module, and on while loading the registry it would run post-install tests.
    """
    try:
        from odoo.tools import config
    except ImportError:  # tests that need no Odoo
        return
    previous = config["test_enable"]
    config["test_enable"] = True
    try:
        import odoo.tests.common  # noqa: F401
    finally:
        config["test_enable"] = previous


_import_odoo_test_framework_in_test_mode()

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
