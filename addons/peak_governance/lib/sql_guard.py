"""The change freeze for ``odoo-bin -i/-u``, in plain SQL, before any registry.

On the command line Odoo marks the modules of ``-i``/``-u`` with only ``base``
loaded, so the ORM override of ``ir.module.module`` is not active yet. This
module reads the calendar, the setting and the exceptions straight from the
tables (any DB-API cursor) and lets ``freeze.py`` decide. No Odoo import.
"""

from datetime import UTC, datetime

from . import freeze

PENDING = ("to install", "to upgrade", "to remove")
_ACTIVE = ("installed", "to upgrade", "to remove")


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)


def _param(cr, key: str) -> str | None:
    cr.execute("SELECT value FROM ir_config_parameter WHERE key = %s", (key,))
    row = cr.fetchone()
    return row[0] if row else None


def applies(cr) -> bool:
    """Only databases where peak_governance is installed are frozen."""
    cr.execute("SELECT to_regclass('peak_change_exception_module_rel') IS NOT NULL")
    if not cr.fetchone()[0]:
        return False
    cr.execute("SELECT state FROM ir_module_module WHERE name = 'peak_governance'")
    row = cr.fetchone()
    return bool(row) and row[0] in _ACTIVE


def requested_modules(cr, requested) -> set[str]:
    """The modules named, ``all`` meaning every installed one."""
    names = {name for name in requested if name != "all"}
    if "all" in requested:
        cr.execute("SELECT name FROM ir_module_module WHERE state = 'installed'")
        names |= {row[0] for row in cr.fetchall()}
    return names


def pending_modules(cr):
    """Modules already marked to install, upgrade or remove: their states,
    what they depend on, which ones install by themselves."""
    cr.execute(
        """SELECT m.name, m.state, m.auto_install,
                  array_remove(array_agg(d.name), NULL)
             FROM ir_module_module m
             LEFT JOIN ir_module_module_dependency d ON d.module_id = m.id
            WHERE m.state IN %s
            GROUP BY m.id""",
        (PENDING,),
    )
    rows = cr.fetchall()
    pending = {name: state for name, state, _auto, _deps in rows}
    depends = {name: frozenset(deps) for name, _state, _auto, deps in rows}
    auto_install = {name for name, _state, auto, _deps in rows if auto}
    return pending, depends, auto_install


def freezing_periods(cr) -> list[freeze.PeakPeriod]:
    """The active peak periods whose "Freeze changes" switch is on. Without
    the column (a database where this version of peak_governance is not
    installed yet), every active period freezes, as before the switch."""
    cr.execute(
        """SELECT 1 FROM information_schema.columns
            WHERE table_schema = current_schema()
              AND table_name = 'peak_period' AND column_name = 'change_freeze'"""
    )
    # NOT NULL since 18.0.1.1.0; "IS NOT FALSE" keeps a NULL freezing all the same.
    switch = " AND change_freeze IS NOT FALSE" if cr.fetchone() else ""
    cr.execute(
        "SELECT name, date_start, date_end FROM peak_period WHERE active" + switch
    )
    return [
        freeze.PeakPeriod(_aware(start), _aware(end), name)
        for name, start, end in cr.fetchall()
    ]


def decide(cr, requested, at: datetime) -> freeze.Decision | None:
    """The freeze decision for ``requested`` at ``at``; None if not governed."""
    if not applies(cr):
        return None
    names = requested_modules(cr, requested)
    pending, depends, auto_install = pending_modules(cr)
    periods = freezing_periods(cr)
    scope = _param(cr, "peak_governance.freeze_scope") or "periods"
    # Outside a period, Peak mode is on only when switched on by hand.
    peak_mode_on = _param(cr, "peak_base.mode") == "on"
    cr.execute(
        """SELECT e.id, e.state, e.expires_at, array_agg(m.name)
             FROM peak_change_exception e
             JOIN peak_change_exception_module_rel r ON r.exception_id = e.id
             JOIN ir_module_module m ON m.id = r.module_id
            WHERE e.state = 'approved'
            GROUP BY e.id"""
    )
    exceptions = [
        freeze.ChangeException(id_, frozenset(mods), state, _aware(expires))
        for id_, state, expires, mods in cr.fetchall()
    ]
    current = freeze.freeze_at(scope, periods, peak_mode_on, at)
    return freeze.decide(current, exceptions, names, at, pending, depends, auto_install)


def log_use(cr, decision: freeze.Decision, note: str) -> None:
    """Audit the exceptions a command-line change went through with."""
    for exception_id in decision.used:
        cr.execute(
            """INSERT INTO peak_change_exception_log
                   (exception_id, event, note, modules, expires_at,
                    create_date, write_date)
               SELECT e.id, 'used', %s, %s, e.expires_at,
                      now() at time zone 'UTC', now() at time zone 'UTC'
                 FROM peak_change_exception e WHERE e.id = %s""",
            (note, ", ".join(decision.modules), exception_id),
        )
