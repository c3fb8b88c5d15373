"""Odoo configuration files, database initialisation and the server process."""

import configparser
import logging
import os
import subprocess
from pathlib import Path

from .processes import Child
from .settings import ROOT, Settings

_logger = logging.getLogger(__name__)

# Every addon of the suite that exists in this checkout, in dependency order.
SUITE = [
    "peak_base",
    "peak_queue",
    "peak_attachment_s3",
    "peak_session_redis",
    "peak_metrics",
    "peak_rehearsal",
    "peak_governance",
]
SERVER_WIDE = ["base", "web", "queue_job"]
# Addons whose post_load must run in every Odoo process (jobrunner included).
SERVER_WIDE_ADDONS = ["peak_queue", "peak_session_redis", "peak_metrics"]
INIT_TIMEOUT_S = 1800


def suite_addons() -> list[str]:
    """The suite's addons in this checkout; ``PEAK_SUITE`` (comma-separated)
    narrows it, e.g. to work on one addon while another is half-written."""
    present = [
        name for name in SUITE if (ROOT / "addons" / name / "__manifest__.py").exists()
    ]
    wanted = [
        n.strip() for n in os.environ.get("PEAK_SUITE", "").split(",") if n.strip()
    ]
    unknown = sorted(set(wanted) - set(present))
    if unknown:
        raise RuntimeError(
            f"PEAK_SUITE names {', '.join(unknown)}: not an addon of the suite "
            f"here ({', '.join(present)})"
        )
    return [name for name in present if not wanted or name in wanted]


def server_wide_modules() -> str:
    present = set(suite_addons())
    return ",".join(SERVER_WIDE + [a for a in SERVER_WIDE_ADDONS if a in present])


def venv_addons_dir(settings: Settings) -> Path:
    """Where pip puts OCA addon wheels (queue_job) inside the virtualenv."""
    out = subprocess.run(
        [
            str(settings.python),
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return Path(out) / "odoo" / "addons"


def addons_path(settings: Settings) -> str:
    return ",".join(
        str(path)
        for path in (
            settings.odoo_src / "odoo" / "addons",
            settings.odoo_src / "addons",
            venv_addons_dir(settings),
            ROOT / "addons",
        )
        if path.is_dir()
    )


def write_config(
    settings: Settings, path: Path, db_name: str, queue_capacity: int = 0, **options
) -> Path:
    """An Odoo config file: DB-configured queue_job channels, no `channels` string.

    ``queue_capacity`` caps the jobs running at once over all channels
    (queue_job's ``max_capacity``; 0 leaves queue_job's default of 1).
    """
    parser = configparser.ConfigParser(interpolation=None)
    parser["options"] = {
        "addons_path": addons_path(settings),
        "data_dir": str(settings.state_dir / "data"),
        "db_host": settings.db_host or "False",
        "db_port": str(settings.db_port),
        "db_user": settings.db_user,
        "db_password": settings.db_password or "False",
        "db_name": db_name,
        "dbfilter": f"^{db_name}$",
        "list_db": "False",
        "server_wide_modules": server_wide_modules(),
        "without_demo": "all",
        **{key: str(value) for key, value in options.items()},
    }
    # Deliberately no `channels` key: queue_job then reads channel capacity,
    # pause and throttle from queue.job.channel and hot-reloads on NOTIFY.
    parser["queue_job"] = (
        {"max_capacity": str(queue_capacity)} if queue_capacity else {}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        parser.write(handle)
    path.chmod(0o600)  # may hold the DB password
    return path


def odoo_argv(settings: Settings, config: Path, *args: str) -> list[str]:
    return [str(settings.python), str(settings.odoo_bin), "-c", str(config), *args]


def init_database(
    settings: Settings,
    config: Path,
    db_name: str,
    modules: list[str],
    log_path: Path,
    update: bool = False,
) -> None:
    """Install ``modules`` in ``db_name`` (created if needed); ``update`` also
    upgrades the installed ones to the code of this checkout."""
    names = ",".join(modules)
    argv = odoo_argv(
        settings,
        config,
        "-d",
        db_name,
        "-i",
        names,
        *(["-u", names] if update else []),
        "--stop-after-init",
        "--no-http",
        "--log-level=warn",
    )
    _logger.info("installing %s into database %s", ", ".join(modules), db_name)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # The log is appended to across runs: judge this run by its own lines only.
    start = log_path.stat().st_size if log_path.exists() else 0
    with open(log_path, "ab") as log:
        done = subprocess.run(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=INIT_TIMEOUT_S,
            check=False,
        )
    this_run = log_lines_since(log_path, start)
    if done.returncode != 0:
        tail = this_run[-30:]
        raise RuntimeError(
            f"installing {modules} into {db_name} failed (exit {done.returncode}); "
            f"last lines of {log_path}:\n" + "\n".join(tail)
        )
    errors = [line for line in this_run if " ERROR " in line or " CRITICAL " in line]
    if errors:
        raise RuntimeError(
            "module installation logged errors:\n" + "\n".join(errors[-20:])
        )


def log_lines_since(log_path: Path, offset: int) -> list[str]:
    """The lines appended to ``log_path`` after byte ``offset``."""
    with open(log_path, "rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace").splitlines()


def set_admin_password(settings: Settings, config: Path, db_name: str, password: str):
    """Set the `admin` user's password through the ORM (hashing included)."""
    code = (
        "import sys, odoo\n"
        "odoo.tools.config.parse_config(['-c', sys.argv[1], '-d', sys.argv[2]])\n"
        "registry = odoo.modules.registry.Registry(sys.argv[2])\n"
        "with registry.cursor() as cr:\n"
        "    env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})\n"
        "    env.ref('base.user_admin').password = sys.stdin.read()\n"
    )
    subprocess.run(
        [str(settings.python), "-c", code, str(config), db_name],
        input=password,
        text=True,
        check=True,
        capture_output=True,
    )


class OdooServer(Child):
    def __init__(self, settings: Settings, config: Path, db_name: str, log_path: Path):
        super().__init__(
            "odoo",
            odoo_argv(settings, config, "-d", db_name),
            log_path,
            cwd=str(ROOT),
        )
