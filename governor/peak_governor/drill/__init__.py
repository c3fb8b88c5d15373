"""``peak-governor drill restore|failover``: recovery drills.

``restore`` (:mod:`.restore`) restores a backup into a scratch copy
(:mod:`.restore_copy`), checks it (:mod:`.restore_checks`), reports recovery
time (RTO) and data age (RPO) against the targets and drops the copy; its
options are in :mod:`.restore_options`. ``failover`` (:mod:`.failover`) stops
and restarts components one at a time and measures detection and recovery
(options and probes: :mod:`.failover_options`). :mod:`.common` holds what
both share. Every name is importable from here.
"""

import sys

from .common import FAIL, PASS, DrillError
from .failover import (
    FailoverResult,
    failover_main,
    render_failover_json,
    render_failover_text,
    run_failover_drill,
)
from .failover_options import COMPONENTS, FAILOVER_OPTIONS, FailoverOptions
from .restore import render_json, render_text, run_restore_drill
from .restore_checks import (
    PEAK_ADDONS,
    REGISTRY_SCRIPT,
    Step,
    check_addons,
    check_attachments,
    check_registry,
    check_rpo,
)
from .restore_copy import (
    RestoredCopy,
    restore_command,
    restore_dump,
    restore_pgbackrest,
)
from .restore_options import (
    DEFAULT_RPO_SQL,
    RESTORE_OPTIONS,
    DrillOptions,
    build_parser,
    options_from,
)

__all__ = [
    "COMPONENTS",
    "DEFAULT_RPO_SQL",
    "FAIL",
    "FAILOVER_OPTIONS",
    "PASS",
    "PEAK_ADDONS",
    "REGISTRY_SCRIPT",
    "RESTORE_OPTIONS",
    "DrillError",
    "DrillOptions",
    "FailoverOptions",
    "FailoverResult",
    "RestoredCopy",
    "Step",
    "build_parser",
    "check_addons",
    "check_attachments",
    "check_registry",
    "check_rpo",
    "failover_main",
    "main",
    "options_from",
    "render_failover_json",
    "render_failover_text",
    "render_json",
    "render_text",
    "restore_command",
    "restore_dump",
    "restore_pgbackrest",
    "run_failover_drill",
    "run_restore_drill",
]


def main(argv: list[str]) -> int:
    if argv and argv[0] == "failover":
        return failover_main(argv)
    args = build_parser().parse_args(argv)
    try:
        opts = options_from(args)
    except DrillError as exc:
        print(f"peak-governor drill: {exc}", file=sys.stderr)
        return 2
    steps = run_restore_drill(opts)
    print(render_json(steps) if args.json else render_text(steps))
    return 0 if all(s.status == PASS for s in steps) else 1
