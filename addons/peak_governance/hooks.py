# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Server-wide guard: ``--load=base,web,peak_governance`` makes ``odoo-bin
-i/-u`` honour the change freeze before anything is written."""

import logging
from datetime import UTC, datetime

import odoo
from odoo.exceptions import UserError
from odoo.modules.registry import Registry
from odoo.tools import config

from .lib import freeze, sql_guard

_logger = logging.getLogger(__name__)


def _command_line_modules() -> set[str]:
    return {
        name
        for kind in ("init", "update")
        for name, wanted in (config.get(kind) or {}).items()
        if wanted
    }


def check_update(db_name: str) -> None:
    """Refuse an update of ``db_name`` during the freeze, unless covered."""
    requested = _command_line_modules()
    command_line = bool(requested)
    try:
        connection = odoo.sql_db.db_connect(db_name)
        cr = connection.cursor()
    except Exception:  # Odoo reports an unreachable database itself
        return
    with cr:
        decision = sql_guard.decide(cr, requested, datetime.now(UTC))
        if decision is None or not decision.freeze.active:
            return
        if not decision.allowed:
            message = freeze.refusal_message(decision, "install, upgrade or remove")
            if command_line:
                # SystemExit: one message on stderr, exit code 1, no
                # traceback, and Odoo has not started loading (nothing written).
                raise SystemExit(f"peak_governance: {db_name}: {message}")
            _logger.warning("%s: %s", db_name, message)
            raise UserError(message)
        if command_line:
            names = ", ".join(decision.modules)
            sql_guard.log_use(cr, decision, f"odoo-bin -i/-u {names} (command line)")
            cr.commit()
            _logger.info(
                "change freeze: %s allowed by exception(s) %s", names, decision.used
            )


def post_load():
    """Wrap ``Registry.new`` once per process."""
    if getattr(Registry.new, "_peak_governance", False):
        return
    original = Registry.new.__func__

    def new(cls, db_name, force_demo=False, status=None, update_module=False):
        if update_module:
            check_update(db_name)
        return original(cls, db_name, force_demo, status, update_module)

    new._peak_governance = True
    Registry.new = classmethod(new)
