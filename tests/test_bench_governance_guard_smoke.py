"""The frozen-settings guard benchmark (bench/governance_guard.py) runs end to end.

Smoke size (2 rounds) against the database of `make test`, in a subprocess,
results in a temporary directory. Checked: every scenario measured both ways,
the guard really ran (counted calls, a refusal in each freeze), and the
database is as before (each round is rolled back). Timings are the
benchmark's business, never asserted here.
"""

from bench_smoke import run_smoke_on_test_db
from pg import needs_db, sql

pytestmark = needs_db

SCENARIOS = ("partner_write", "cron_write", "cron_write_freeze", "partner_create_100")
CRON = """
SELECT c.id, c.interval_number, c.interval_type, c.nextcall, c.active, c.write_date
  FROM ir_cron c
  JOIN ir_model_data d ON d.model = 'ir.cron' AND d.res_id = c.id
 WHERE d.module = 'peak_governance' AND d.name = 'ir_cron_peak_access_grant_digest'
"""
STATE = """
SELECT (SELECT count(*) FROM res_partner), (SELECT max(write_date) FROM res_partner),
       (SELECT count(*) FROM res_users), (SELECT count(*) FROM peak_period),
       (SELECT count(*) FROM peak_change_exception),
       (SELECT count(*) FROM peak_change_exception_log)
"""


def test_governance_guard_smoke(tmp_path):
    cron_before, state_before = sql(CRON), sql(STATE)
    assert len(cron_before) == 1
    result = run_smoke_on_test_db("governance_guard", tmp_path)

    assert result["smoke"] is True
    assert result["rounds"] == 2 and result["blocks"] == 2
    assert result["cron"]["id"] == cron_before[0][0]
    per_block = {"partner_create_100": result["create_blocks"]}
    for name in SCENARIOS:
        scenario = result["scenarios"][name]
        expected = per_block.get(name, result["blocks"] * result["block_size"])
        for mode in ("guard", "bypass"):
            stats = scenario[mode]
            assert stats["samples"] == expected * result["rounds"], (name, mode)
            assert 0 < stats["p50_us"] <= stats["p95_us"] <= stats["max_us"]
            assert len(result["round_p50_us"][name][mode]) == result["rounds"]
        assert scenario["ratio_p50"] > 0 and scenario["ratio_p95"] > 0
        assert scenario["paired_ratio_median"] > 0
        assert scenario["guard_calls_per_op"] >= 1, name
    calls = result["scenarios"]["cron_write"]["guard_calls_by_model"]
    assert calls.get("ir.cron", 0) >= 1
    assert result["lookup_us"]["guard"] > 0
    # Each round (warm-up included) saw the freeze refuse a change first.
    assert (
        result["refused_without_exception"]
        == result["rounds"] + result["warmup_rounds"]
    )
    assert result["conclusion"].startswith("Guard cost")
    for key in ("cpus", "memory_gb", "postgresql", "python", "odoo"):
        assert result["machine"][key]

    # Nothing written: the cron's schedule, partners, users, periods,
    # exceptions and their audit log are as before.
    assert sql(CRON) == cron_before
    assert sql(STATE) == state_before
    marker = result["marker"] + "%"
    assert sql("SELECT count(*) FROM res_partner WHERE name LIKE %s", (marker,)) == [
        (0,)
    ]
