"""peak-rehearsal end to end: its own staging database, a real Odoo pair (web
workers for the users, a job server running queue_job), the real command in
its own virtualenv. The production guard, a small seed, a smoke rehearsal
whose report is read back, and what the database holds afterwards."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from odoo_stack import OdooPair, create_database  # noqa: E402
from peak_dev import postgres  # noqa: E402
from peak_dev.settings import load  # noqa: E402
from pg import dsn  # noqa: E402

COMMAND = (
    Path(os.environ.get("PEAK_REHEARSAL_VENV", ROOT / ".venv-rehearsal"))
    / "bin"
    / "peak-rehearsal"
)
MODULES = ["queue_job", "peak_base", "peak_queue", "peak_rehearsal"]
SMOKE = ROOT / "rehearsal" / "peak_rehearsal" / "profiles" / "smoke.yaml"
TIMEOUT_S = 600


@pytest.fixture(scope="module")
def staging(tmp_path_factory):
    """A throw-away database with sale_stock and peak_rehearsal, served."""
    settings = load()
    scratch = tmp_path_factory.mktemp("rehearsal")
    db_name = f"peak_rehearsal_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(12)
    pair = OdooPair(settings, scratch, db_name)
    try:
        create_database(settings, scratch, db_name, MODULES, password)
        pair.start(web_workers=2, queue_capacity=2)
        yield {"url": pair.url, "db": db_name, "password": password, "scratch": scratch}
    finally:
        pair.stop()
        if postgres.database_exists(settings, db_name):
            postgres.drop_database(settings, db_name)


def rehearsal(staging, *args, password=None):
    env = dict(os.environ)
    env.pop("PEAK_REHEARSAL_PASSWORD", None)
    if password is not False:
        env["PEAK_REHEARSAL_PASSWORD"] = password or staging["password"]
    return subprocess.run(
        [str(COMMAND), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        env=env,
        check=False,
    )


def target(staging):
    return ["--url", staging["url"], "--db", staging["db"]]


def smoke_run(staging, output, *extra):
    return rehearsal(
        staging,
        "run",
        *target(staging),
        "--profile",
        str(SMOKE),
        "--output",
        str(output),
        *extra,
    )


def count(staging, query):
    with psycopg.connect(dsn(database=staging["db"])) as conn:
        return conn.execute(query).fetchone()[0]


def test_run_refuses_a_database_that_seed_did_not_mark(staging, tmp_path):
    done = smoke_run(staging, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "is not a rehearsal target" in done.stderr
    assert "never rehearse on production" in done.stderr
    assert count(staging, "SELECT count(*) FROM sale_order") == 0
    assert count(staging, "SELECT count(*) FROM queue_job") == 0
    assert not list(tmp_path.iterdir())


def test_a_wrong_password_is_one_clear_line(staging):
    done = rehearsal(staging, "seed", *target(staging), password="not-it")
    assert done.returncode == 1
    assert done.stderr.strip().startswith("peak-rehearsal: login as 'admin'")
    assert "not-it" not in done.stderr  # secrets are never echoed


def test_seed_builds_the_distributor_and_a_second_seed_adds_nothing(staging):
    done = rehearsal(staging, "seed", *target(staging), "--scale", "0.1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "marked as a rehearsal target" in done.stdout
    products = count(
        staging, "SELECT count(*) FROM product_product WHERE default_code LIKE 'RH-P%'"
    )
    assert products == 100
    assert count(staging, "SELECT count(*) FROM stock_warehouse") == 2
    ready = "SELECT count(*) FROM stock_picking WHERE state = 'assigned'"
    assert count(staging, ready) > 0
    assert (
        count(
            staging,
            "SELECT count(*) FROM sale_order WHERE invoice_status = 'to invoice'",
        )
        == 2
    )
    again = rehearsal(staging, "seed", *target(staging), "--scale", "0.1")
    assert again.returncode == 0, again.stdout + again.stderr
    news = [line for line in again.stdout.splitlines() if " new " in line]
    assert news and all(" 0 new " in line for line in news), again.stdout
    assert (
        count(
            staging,
            "SELECT count(*) FROM product_product " "WHERE default_code LIKE 'RH-P%'",
        )
        == products
    )


def test_a_bad_dsn_is_one_line_before_any_load(staging, tmp_path):
    orders = count(staging, "SELECT count(*) FROM sale_order")
    done = smoke_run(
        staging, tmp_path, "--dsn", "dbname=peak_nowhere user=nobody password=hunter2"
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "cannot sample lock waits with --dsn" in done.stderr
    assert "hunter2" not in done.stderr and "Traceback" not in done.stderr
    assert count(staging, "SELECT count(*) FROM sale_order") == orders
    assert not list(tmp_path.iterdir())


def test_smoke_rehearsal_drives_every_flow_and_the_jobs(staging, tmp_path):
    orders_before = count(staging, "SELECT count(*) FROM sale_order")
    done_before = count(
        staging, "SELECT count(*) FROM stock_picking WHERE state='done'"
    )
    done = smoke_run(
        staging, tmp_path, "--label", "smoke", "--dsn", dsn(database=staging["db"])
    )
    results = json.loads((tmp_path / "rehearsal-smoke.json").read_text())
    # The verdict and the exit code say the same thing.
    assert done.returncode == (0 if results["passed"] else 1), done.stderr
    assert ("PASS:" if results["passed"] else "FAIL:") in done.stdout
    steps = results["steps"]
    for step in (
        "order.create",
        "order.confirm",
        "pick.validate",
        "stock.lookup",
        "order.lookup",
        "invoice.post",
    ):
        assert steps.get(step, {}).get("count", 0) > 0, (step, sorted(steps))
    assert results["error_rate"] <= 0.05, results["error_messages"]
    # Every job of the profile was enqueued, none failed, none ran twice.
    enqueued = results["background"]["enqueued"]
    assert enqueued == {"edi": 8, "scheduler": 1, "invoicing": 1, "export": 1}
    bulk = results["queue"]["bulk"]
    assert bulk["jobs_done"] + bulk["jobs_pending_at_end"] == 11
    assert bulk["jobs_failed"] == 0 and bulk["run_twice"] == 0
    assert results["contention"]["samples"] > 0  # the lock sampler ran
    # peak_queue's conflict counters were read before and after the run.
    conflicts = results["contention"]["conflicts"]
    assert set(conflicts) == {"interactive", "critical", "operational"}
    assert all(isinstance(n, int) and n >= 0 for n in conflicts.values())
    # What the users and the jobs did is in the database.
    confirmed = "SELECT count(*) FROM sale_order WHERE state = 'sale'"
    assert count(staging, confirmed) > orders_before
    assert count(staging, "SELECT count(*) FROM sale_order WHERE origin = 'EDI'") > 0
    assert (
        count(staging, "SELECT count(*) FROM stock_picking WHERE state='done'")
        > done_before
    )
    assert (
        count(
            staging,
            "SELECT count(*) FROM account_move WHERE state = 'posted' "
            "AND move_type = 'out_invoice'",
        )
        > 0
    )
    html = (tmp_path / "rehearsal-smoke.html").read_text()
    assert html.count("<svg") >= 3 and "order.confirm" in html
    assert (tmp_path / "rehearsal-smoke.md").read_text().startswith("# ")
    # The report can be rendered again from the JSON alone.
    again = subprocess.run(
        [
            str(COMMAND),
            "report",
            str(tmp_path / "rehearsal-smoke.json"),
            "--output",
            str(tmp_path / "again"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again" / "rehearsal-smoke.html").is_file()
