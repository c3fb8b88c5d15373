# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""``odoo-bin --addons-path=... peak_sync_windows -c odoo.conf -d DB``.

Prints (or writes with ``--output``) the AppProject sync windows computed
from the database's peak calendar, read-only. ``--addons-path`` must come
first: Odoo only discovers an addon's commands from it.
"""

import logging
import optparse
import sys
from pathlib import Path

import odoo
from odoo.cli import Command
from odoo.exceptions import UserError

_logger = logging.getLogger(__name__)


def _names(value: str) -> list[str]:
    return [name.strip() for name in (value or "").split(",") if name.strip()]


class PeakSyncWindows(Command):
    """Export the peak calendar as Argo CD AppProject sync windows (YAML)"""

    name = "peak_sync_windows"

    def run(self, args):
        parser = odoo.tools.config.parser
        parser.prog = f"{Path(sys.argv[0]).name} {self.name}"
        group = optparse.OptionGroup(
            parser,
            "Argo CD sync windows",
            "Deny automated syncs during the peak periods that freeze changes "
            "and the fulfillment windows of the database given by -d.",
        )
        group.add_option(
            "--output", dest="sw_output", help="file to write (default: stdout)"
        )
        group.add_option("--project", dest="sw_project", default="odoo-peak")
        group.add_option("--project-namespace", dest="sw_namespace", default="argocd")
        group.add_option(
            "--applications",
            dest="sw_applications",
            default="*",
            help="comma-separated Argo CD applications (default: *)",
        )
        group.add_option("--namespaces", dest="sw_namespaces", default="")
        group.add_option("--clusters", dest="sw_clusters", default="")
        group.add_option(
            "--valid-days",
            dest="sw_days",
            type="int",
            default=365,
            help="days of validity from today 00:00 UTC, 1-365 (default 365)",
        )
        parser.add_option_group(group)
        opt = odoo.tools.config.parse_config(args, setup_logging=True)
        dbname = odoo.tools.config["db_name"]
        if not dbname or "," in dbname:
            sys.exit("peak_sync_windows needs one database: use -d DB.")
        try:
            registry = odoo.modules.registry.Registry(dbname)
        except Exception as exc:  # any load failure ends the command
            sys.exit(f"Cannot open database {dbname!r}: {exc}")
        if "peak.sync.window.export" not in registry:
            sys.exit(f"peak_governance is not installed in database {dbname!r}.")
        with registry.cursor(readonly=True) as cr:
            # Nothing is written: the export only reads the calendar.
            cr.execute("SET TRANSACTION READ ONLY")
            env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
            try:
                text = env["peak.sync.window.export"].export_yaml(
                    project=opt.sw_project,
                    namespace=opt.sw_namespace,
                    applications=_names(opt.sw_applications),
                    namespaces=_names(opt.sw_namespaces),
                    clusters=_names(opt.sw_clusters),
                    days=opt.sw_days,
                )
            except UserError as exc:
                sys.exit(str(exc))
        if opt.sw_output:
            Path(opt.sw_output).write_text(text, encoding="utf-8")
            _logger.info("Argo CD sync windows written to %s", opt.sw_output)
        else:
            sys.stdout.write(text)
