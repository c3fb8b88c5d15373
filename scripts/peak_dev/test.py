"""``make test``: every test of the project in one pytest run.

Creates a throw-away database owned by the dedicated role, installs the suite
into it, runs pytest (governor and cross-component tests in ``tests/``, addon
tests in a real Odoo 18 registry through pytest-odoo, browser tours included)
and drops the database afterwards, whatever happened.
"""

import logging
import os
import secrets
import shutil
import subprocess
import sys

from . import postgres
from .odoo import init_database, suite_addons, write_config
from .settings import ROOT, SettingsError, load

_logger = logging.getLogger("peak.test")
# addon -> extra Odoo apps installed into the test database when that addon is.
TEST_EXTRA_MODULES = {
    "peak_metrics": ["sale_stock"],
    # Odoo's own HTTP suite, run with the session store (test_odoo_suites.py)
    "peak_session_redis": ["test_http"],
}


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    try:
        settings = load()
    except SettingsError as exc:
        print(f"make test: {exc}", file=sys.stderr)
        return 2
    db_name = f"peak_test_{secrets.token_hex(4)}"
    workdir = settings.state_dir / db_name
    try:
        postgres.ensure_role(settings)
        config = write_config(
            settings,
            workdir / "odoo.conf",
            db_name,
            data_dir=workdir / "data",
            workers=0,
            max_cron_threads=0,
        )
        modules = ["queue_job", *suite_addons()]
        # Apps some addons' tests need in the throw-away database (never a
        # manifest dependency of the suite): peak_metrics' KPI tests, Odoo's
        # HTTP suite.
        modules += [
            app
            for addon, apps in TEST_EXTRA_MODULES.items()
            if addon in modules
            for app in apps
        ]
        init_database(settings, config, db_name, modules, workdir / "odoo-init.log")
        env = dict(
            os.environ,
            PEAK_TEST_DB=db_name,
            PEAK_TEST_ODOO_CONFIG=str(config),
            PEAK_TEST_WORKDIR=str(workdir),
            # The pytest process serves HTTP for tours but must not run jobs:
            # end-to-end tests start their own Odoo with a jobrunner, and
            # queue_job elects one runner per database.
            ODOO_QUEUE_JOB_MAX_CAPACITY="0",
        )
        pytest_argv = [
            str(settings.python),
            "-m",
            "pytest",
            f"--odoo-config={config}",
            f"--odoo-database={db_name}",
            "--odoo-http",
            "--odoo-log-level=warn",
            *(argv or ["tests", "addons"]),
        ]
        _logger.info("running %s", " ".join(pytest_argv[2:]))
        return subprocess.run(pytest_argv, cwd=ROOT, env=env, check=False).returncode
    except (postgres.PostgresError, RuntimeError) as exc:
        print(f"make test: {exc}", file=sys.stderr)
        return 1
    finally:
        try:
            postgres.drop_database(settings, db_name)
        except postgres.PostgresError as exc:
            _logger.warning("could not drop %s: %s", db_name, exc)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
