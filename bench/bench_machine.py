"""What every benchmark of bench/ shares: its options, its run, a throw-away
database, the host it ran on and where its results go.

The figures (percentiles, ratios, spreads) are in bench_stats.py beside it.
"""

import argparse
import json
import logging
import os
import platform
import shutil
import signal
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))

from peak_dev import odoo as peak_odoo  # noqa: E402
from peak_dev import postgres  # noqa: E402
from peak_dev import settings as peak_settings  # noqa: E402

_logger = logging.getLogger("peak.bench")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


# -- options ------------------------------------------------------------------


def arguments(description, smoke_help, output=RESULTS):
    """A parser with the options every benchmark has: --smoke, --output."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--smoke", action="store_true", help=smoke_help)
    parser.add_argument("--output", type=Path, default=output, help="result dir")
    return parser


def database_arguments(parser, modules):
    """--db and --odoo-config: run on an existing database instead of a
    throw-away one (see odoo_database)."""
    parser.add_argument(
        "--db",
        help=f"existing database with {', '.join(modules)} installed "
        "(default: a throw-away one, dropped at the end)",
    )
    parser.add_argument(
        "--odoo-config",
        type=Path,
        help="Odoo configuration file for --db (default: one written from the "
        "PEAK_* settings)",
    )


def parse(parser, argv, smoke=None, full=None):
    """The parsed options; with ``smoke``/``full`` (size name -> value), every
    size not given on the command line is taken from the one --smoke picks."""
    args = parser.parse_args(argv)
    if getattr(args, "odoo_config", None) and not args.db:
        parser.error("--odoo-config only goes with --db")
    if full is not None:
        for name, value in (smoke if args.smoke else full).items():
            if getattr(args, name, None) is None:
                setattr(args, name, value)
    return args


# -- a run ----------------------------------------------------------------------


def begin(verbose=False):
    """Signals and logging of a benchmark process."""
    # SIGTERM unwinds like Ctrl-C: every clean-up in a finally runs either way.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    logging.getLogger("odoo").setLevel(logging.INFO if verbose else logging.WARNING)


def load_settings():
    """The PEAK_* settings, or None (said in the log) when they are wrong."""
    try:
        return peak_settings.load()
    except peak_settings.SettingsError as exc:
        _logger.error("%s", exc)
        return None


def init_database(settings, scratch: Path, db_name, modules):
    """``db_name`` created with ``modules`` installed; returns the config the
    install used (no workers, no cron: for ORM scripts)."""
    postgres.ensure_role(settings)
    config = peak_odoo.write_config(
        settings,
        scratch / "odoo-init.conf",
        db_name,
        data_dir=scratch / "data",
        workers=0,
        max_cron_threads=0,
    )
    peak_odoo.init_database(settings, config, db_name, modules, scratch / "init.log")
    return config


def drop_database(settings, db_name) -> bool:
    """Drop a throw-away database; a failure is logged, not raised (the run's
    own error, if any, matters more)."""
    try:
        postgres.drop_database(settings, db_name)
    except (postgres.PostgresError, psycopg2.Error) as exc:
        _logger.warning("could not drop %s: %s", db_name, exc)
        return False
    _logger.info("dropped %s", db_name)
    return True


@dataclass(frozen=True)
class Scratch:
    dir: Path  # removed at the end
    db_name: str
    config: Path  # Odoo's, for db_name
    created: bool  # db_name is throw-away (dropped at the end)


@contextmanager
def odoo_database(settings, modules, name, db=None, odoo_config=None):
    """``db`` (with ``odoo_config``, else a config written from the PEAK_*
    settings), or a throw-away database ``name`` with ``modules`` installed,
    dropped at the end whatever happens; and a scratch directory."""
    scratch = Path(tempfile.mkdtemp(prefix=f"{name}_"))
    created = False
    try:
        if db:
            config = odoo_config or peak_odoo.write_config(
                settings, scratch / "odoo.conf", db, data_dir=scratch / "data"
            )
        else:
            created = True  # set first: a half-made database is dropped too
            _logger.info("creating throw-away database %s", name)
            config = init_database(settings, scratch, name, modules)
        yield Scratch(scratch, db or name, Path(config), created)
    finally:
        if created:
            drop_database(settings, name)
        shutil.rmtree(scratch, ignore_errors=True)


def odoo_for(config, db_name, verbose=False):
    """Odoo, configured in this process for ``db_name`` (an ORM benchmark)."""
    import odoo

    odoo.tools.config.parse_config(
        ["-c", str(config), "-d", db_name], setup_logging=False
    )
    logging.getLogger("odoo").setLevel(logging.INFO if verbose else logging.WARNING)
    return odoo


# -- the machine ----------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            return next(
                (
                    line.split(":", 1)[1].strip()
                    for line in handle
                    if line.startswith("model name")
                ),
                "",
            )
    except OSError:
        return ""


def host() -> dict:
    """CPUs, memory and Python of this machine (the database adds its own)."""
    mem_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": round(mem_bytes / 2**30, 1),
        "python": platform.python_version(),
    }


def load_1m() -> float:
    """The 1-minute load average: a shared machine shows here."""
    return round(os.getloadavg()[0], 2)


def machine(**facts) -> dict:
    """host(), then ``facts`` (PostgreSQL, Odoo, ...), then the load at start;
    the caller adds ``loadavg_1m_at_end`` = load_1m() when it is done."""
    return {**host(), **facts, "loadavg_1m_at_start": load_1m()}


# -- results --------------------------------------------------------------------


def machine_line(m: dict) -> str:
    """The markdown line saying what a benchmark ran on (``machine()`` with
    ``odoo``, load averages at start and end)."""
    return (
        f"Machine: {m['cpus']} CPUs ({m['cpu_model'] or 'unknown'}), "
        f"{m['memory_gb']} GB RAM, PostgreSQL {m['postgresql']}, "
        f"Python {m['python']}, Odoo {m['odoo']}, "
        f"1-min load average {m['loadavg_1m_at_start']} at start, "
        f"{m['loadavg_1m_at_end']} at end."
    )


def write_results(
    result: dict,
    output: Path,
    stem: str,
    title: str,
    table: str,
    smoke: bool,
    indent: int = 2,
) -> tuple[Path, Path]:
    """``<stem>.json`` and ``<stem>.md`` (``<stem>.smoke.*`` in smoke mode,
    so a smoke run never overwrites the committed results)."""
    output.mkdir(parents=True, exist_ok=True)
    stem = f"{stem}.smoke" if smoke else stem
    json_path, md_path = output / f"{stem}.json", output / f"{stem}.md"
    json_path.write_text(json.dumps(result, indent=indent) + "\n")
    md_path.write_text(f"# {title}\n\n{table}")
    return json_path, md_path


def publish(result, args, stem, title, table, indent=2):
    """write_results to --output (``*.smoke.*`` with --smoke), then the table
    on stdout and the paths in the log."""
    json_path, md_path = write_results(
        result, args.output, stem, title, table, args.smoke, indent
    )
    print()
    print(table)
    _logger.info("wrote %s and %s", json_path, md_path)
    return json_path, md_path
