"""peak-rehearsal's report: JSON, self-contained HTML with inline SVG, Markdown."""

import json
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "rehearsal"))

from peak_rehearsal.profile import load_profile, shipped  # noqa: E402
from peak_rehearsal.report import render_from_json, write_report  # noqa: E402
from peak_rehearsal.slo import evaluate, load_slo  # noqa: E402
from peak_rehearsal.stats import overall_error_rate, summarize_steps  # noqa: E402

STEPS = ("order.confirm", "pick.validate", "stock.lookup", "invoice.post")


def make_results() -> dict:
    """A governed 300 s distributor run, shaped as the runner writes it."""
    profile = load_profile(shipped("distributor.yaml"))
    slo = load_slo(shipped("slo.yaml"))
    rng = random.Random(7)
    samples = []
    for i in range(1500):
        t = i * 0.2
        step = STEPS[i % len(STEPS)]
        slow = 8 if 60 <= t < 150 and step == "pick.validate" else 1
        ok = rng.random() > 0.02
        kind = None if ok else rng.choice(["lock_timeout", "serialization", "http"])
        samples.append([t, step, rng.lognormvariate(5, 0.5) * slow, ok, kind])
    steps = summarize_steps(samples, since_s=profile.warmup)
    queue = {
        "critical": {"jobs_done": 12, "jobs_failed": 0, "jobs_per_min": 2.6,
                     "run_twice": 0, "max_backlog_age_s": 4.0},
        "bulk": {"jobs_done": 66, "jobs_failed": 1, "jobs_per_min": 14.3,
                 "run_twice": 0, "max_backlog_age_s": 95.5},
    }  # fmt: skip
    results = {
        "tool": "peak-rehearsal",
        "version": "0.1.0",
        "started_at": "2026-12-04T20:00:00Z",
        "duration_s": 300.0,
        "url": "http://127.0.0.1:8069",
        "db": "peak",
        "command": "peak-rehearsal run --profile distributor",
        "mode": "governed",
        "profile": profile.to_dict(),
        "slo": slo.to_dict(),
        "samples": samples,
        "waves": [
            {"name": w.name, "start_s": w.at, "end_s": w.end} for w in profile.waves
        ],
        "leases": [
            {"channel": "root.bulk", "start_s": 70.0, "end_s": 130.0},
            {"channel": "root.bulk", "start_s": 140.0, "end_s": 160.0},
        ],
        "backlog": [
            [float(t), cls, max(0, 40 - abs(t - 100) // 3) if cls == "bulk" else 1, 3]
            for t in range(0, 300, 5)
            for cls in ("critical", "bulk")
        ],
        "jobs_done": [[float(t), "bulk", 2] for t in range(0, 300, 15)],
        "steps": steps,
        "error_rate": overall_error_rate(steps),
        "queue": queue,
        "contention": {
            "samples": 42,
            "conflicts": {"interactive": 37, "critical": 0, "operational": 2},
            "top": [
                {
                    "blocked_step": "pick.validate",
                    "blocker": "queue_job edi import",
                    "relation": "stock_quant",
                    "query": "UPDATE stock_quant SET quantity = ... WHERE id IN (...)",
                    "samples": 31,
                    "max_wait_s": 7.5,
                }
            ],
        },
    }
    results["slo_results"] = evaluate(slo, results)
    results["passed"] = all(check["passed"] for check in results["slo_results"])
    return results


def test_full_report(tmp_path):
    results = make_results()
    results["slo_results"][0]["note"] = "<script>alert(1)</script>"
    json_path, html_path, md_path = write_report(results, tmp_path / "out", "run1")
    assert [p.name for p in (json_path, html_path, md_path)] == [
        "run1.json",
        "run1.html",
        "run1.md",
    ]
    assert json.loads(json_path.read_text())["db"] == "peak"
    page = html_path.read_text()
    assert 'src="http' not in page and 'href="http' not in page
    # Not even SVG namespaces: the only URL is the Odoo the run targeted.
    assert set(re.findall(r"https?://[^\s\"<&]+", page)) == {"http://127.0.0.1:8069"}
    assert "<link" not in page and "<img" not in page
    assert page.count("<svg") >= 3
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # pick.validate is 8x slower during the wave: its p95 threshold fails.
    assert '<div class="banner fail">FAIL' in page
    row = page.split("<td>pick.validate p95</td>")[1].split("</tr>")[0]
    assert '<td class="fail">FAIL</td>' in row
    assert '<td class="pass">PASS</td>' in page
    assert "slept and retried it): interactive 37, critical 0, operational 2" in page
    for text in ("EDI burst", "stock_quant", "root.bulk", "lock_timeout"):
        assert text in page
    order = [page.index(f"<h2>{title}</h2>") for title in (
        "Thresholds", "Steps", "Latency over time per step", "Queue backlog per class",
        "Throughput", "Background jobs", "Lock contention", "Settings",
    )]  # fmt: skip
    assert order == sorted(order)
    markdown = md_path.read_text()
    assert "**FAIL**" in markdown
    assert "| check | threshold | value | result | note |" in markdown
    assert "| pick.validate p95 | ≤ 1,500 ms | " in markdown
    assert "| step | count | rate/min |" in markdown
    assert "&lt;script&gt;" in markdown


def test_report_without_optional_sections(tmp_path):
    results = make_results()
    for key in ("leases", "backlog", "jobs_done", "contention", "waves", "mode"):
        del results[key]
    results["samples"] = []
    results["steps"]["order.create"] = {"count": 0, "errors": 0}
    results["queue"] = {}
    _, html_path, md_path = write_report(results, tmp_path, "bare")
    page = html_path.read_text()
    assert "<svg" not in page
    assert page.count("No data recorded.") == 3
    assert "No lock wait seen." in page and "No queue data." in page
    assert "order.create" in md_path.read_text()
    minimal = {"slo_results": [], "passed": True}
    _, html_path, md_path = write_report(minimal, tmp_path, "minimal")
    assert "No thresholds evaluated." in html_path.read_text()
    assert "None." in md_path.read_text()


def test_render_from_json(tmp_path):
    json_path, html_path, _ = write_report(make_results(), tmp_path / "a", "run")
    again = render_from_json(json_path, tmp_path / "b")
    assert [p.name for p in again] == ["run.json", "run.html", "run.md"]
    assert again[1].read_text() == html_path.read_text()  # deterministic output
