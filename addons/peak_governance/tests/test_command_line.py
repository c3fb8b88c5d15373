"""``odoo-bin -u`` against the `make test` database, as the rollout Job runs
it (``--load=base,web,peak_governance``): refused inside a peak period before
anything is written, allowed with an approved, unexpired exception.

Plain pytest (Odoo's own runner ignores this file: it is not imported by
``tests/__init__.py``); rows are committed for the subprocess to see and
removed afterwards.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import odoo

DB = os.environ.get("PEAK_TEST_DB")
CONFIG = os.environ.get("PEAK_TEST_ODOO_CONFIG")
pytestmark = pytest.mark.skipif(
    not (DB and CONFIG), reason="needs `make test` (PEAK_TEST_DB)"
)
MODULE = "peak_governance"


def sql(query, params=()):
    with odoo.sql_db.db_connect(DB).cursor() as cr:
        cr.execute(query, params)
        return cr.fetchall() if cr.description else None


def odoo_update(*extra, module_args=("-u", MODULE)):
    odoo_bin = Path(odoo.__file__).resolve().parents[1] / "odoo-bin"
    argv = [sys.executable, str(odoo_bin), "-c", CONFIG, "-d", DB]
    argv += ["--load=base,web,peak_governance", "--no-http", "--workers=0"]
    argv += ["--max-cron-threads=0", "--stop-after-init", "--log-level=warn"]
    return subprocess.run(
        [*argv, *module_args, *extra],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def module_row():
    return sql(
        "SELECT state, write_date FROM ir_module_module WHERE name = %s", (MODULE,)
    )[0]


@pytest.fixture(autouse=True)
def registry_in_step():
    """An allowed ``-u`` in the subprocess bumps the shared test database's
    registry signaling; the code is the same, so this process's registry is
    told it is current instead of reloading in the middle of later tests
    (a reload under the test runner tries to run at_install tests)."""
    yield
    registry = odoo.modules.registry.Registry(DB)
    with registry.cursor() as cr:
        registry_sequence, cache_sequences = registry.get_sequences(cr)
    registry.registry_sequence = registry_sequence
    registry.cache_sequences.update(cache_sequences)


@pytest.fixture
def peak_period():
    (period_id,) = sql(
        """INSERT INTO peak_period (name, active, date_start, date_end)
           VALUES ('CLI freeze week', true,
                   now() at time zone 'UTC' - interval '1 hour',
                   now() at time zone 'UTC' + interval '1 day')
           RETURNING id"""
    )[0]
    try:
        yield period_id
    finally:
        sql(
            "DELETE FROM peak_change_exception_log WHERE exception_id IN "
            "(SELECT id FROM peak_change_exception WHERE reason = 'CLI test')"
        )
        sql("DELETE FROM peak_change_exception WHERE reason = 'CLI test'")
        sql("DELETE FROM peak_period WHERE id = %s", (period_id,))


def approved_exception(module):
    admin, root = (
        sql(
            "SELECT res_id FROM ir_model_data WHERE module = 'base' AND name = %s", (n,)
        )[0][0]
        for n in ("user_admin", "user_root")
    )
    (exception_id,) = sql(
        """INSERT INTO peak_change_exception
               (state, requester_id, approver_id, reason, expires_at, approved_at)
           VALUES ('approved', %s, %s, 'CLI test',
                   now() at time zone 'UTC' + interval '2 hours',
                   now() at time zone 'UTC')
           RETURNING id""",
        (admin, root),
    )[0]
    sql(
        """INSERT INTO peak_change_exception_module_rel (exception_id, module_id)
           SELECT %s, id FROM ir_module_module WHERE name = %s""",
        (exception_id, module),
    )
    return exception_id


def test_update_is_refused_in_a_period_then_allowed_with_an_exception(peak_period):
    before = module_row()
    refused = odoo_update()
    output = refused.stdout + refused.stderr
    assert refused.returncode != 0, output[-3000:]
    assert "Module changes are frozen: peak period “CLI freeze week” until" in output
    assert f"Cannot install, upgrade or remove {MODULE}" in output
    assert "Peak change approver" in output
    assert "Traceback" not in output
    assert module_row() == before, "nothing written"

    exception_id = approved_exception(MODULE)
    allowed = odoo_update()
    assert allowed.returncode == 0, (allowed.stdout + allowed.stderr)[-3000:]
    state, write_date = module_row()
    assert state == "installed" and write_date > before[1], "really upgraded"
    used = sql(
        "SELECT modules, note FROM peak_change_exception_log "
        "WHERE exception_id = %s AND event = 'used'",
        (exception_id,),
    )
    assert used == [(MODULE, f"odoo-bin -i/-u {MODULE} (command line)")]


def test_an_exception_for_another_module_does_not_cover_it(peak_period):
    approved_exception("peak_base")
    before = module_row()
    refused = odoo_update()
    assert refused.returncode != 0
    assert f"Cannot install, upgrade or remove {MODULE}:" in refused.stderr
    assert module_row() == before


def test_install_from_the_command_line_is_refused(peak_period):
    approved_exception(MODULE)  # covers another module than the one installed
    refused = odoo_update(module_args=("-i", "crm"))
    assert refused.returncode != 0
    assert "Cannot install, upgrade or remove crm:" in refused.stderr
    state = sql("SELECT state FROM ir_module_module WHERE name = 'crm'")[0][0]
    assert state == "uninstalled"
