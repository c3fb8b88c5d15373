"""Figures of ``rehearsal_real.py``: ratios per run, spreads, the table, the plot.

Pure over the rehearsal's results JSON (one per mode and run), plus the
three small calls the bench makes on each database through peak-rehearsal's
own JSON-RPC client.
"""

import re
import threading

import bench_stats  # beside this module; puts rehearsal/ on the path
from bench_machine import ROOT  # and scripts/
from peak_dev import odoo as peak_odoo
from peak_rehearsal.observe import query_shape
from peak_rehearsal.rpc import OdooRPC

STEPS = ("order.confirm", "pick.validate", "invoice.post", "stock.lookup")
HEADLINE_STEPS = ("order.confirm", "pick.validate")
TARGETS = {
    "ungoverned_vs_baseline_min": 2.0,
    "governed_vs_baseline_max": 1.3,
    "unannounced_vs_baseline_max": 1.5,
    "bulk_governed_vs_ungoverned_min": 0.7,
}


def admin_rpc(url, db, password):
    return OdooRPC(url, db, "admin", password).authenticate()


def open_window_all_day(rpc):
    """Fulfillment windows over every hour of every day (one window cannot
    last 24 h: two of 12 h), so the whole run is announced."""
    days = dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), True)
    rpc.call(
        "peak.fulfillment.window",
        "create",
        [
            {
                "name": "bench 00-12",
                "start_hour": 0.0,
                "end_hour": 12.0,
                "tz": "UTC",
                **days,
            },
            {
                "name": "bench 12-24",
                "start_hour": 12.0,
                "end_hour": 0.0,
                "tz": "UTC",
                **days,
            },
        ],
    )


def warm(url, db, password, calls):
    """Load the registry in every web worker before anything is measured."""

    def one():
        rpc = admin_rpc(url, db, password)
        rpc.call(
            "product.product", "search_read", [], fields=["qty_available"], limit=20
        )
        rpc.call("sale.order", "search_read", [], fields=["name"], limit=20)

    threads = [threading.Thread(target=one) for _ in range(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)


def mode_figures(result):
    """What one mode of one run says, without its samples."""
    steps = {
        step: {
            k: result["steps"].get(step, {}).get(k)
            for k in ("count", "errors", "p50_ms", "p95_ms", "p99_ms")
        }
        for step in STEPS
    }
    bulk = result["queue"].get("bulk", {})
    enqueued = sum(result["background"]["enqueued"].values())
    accounted = (
        bulk.get("jobs_done", 0)
        + bulk.get("jobs_failed", 0)
        + bulk.get("jobs_pending_at_end", 0)
    )
    leased = sum(lease["end_s"] - lease["start_s"] for lease in result["leases"])
    return {
        "steps": steps,
        "user_errors": sum(s.get("errors", 0) for s in result["steps"].values()),
        "error_kinds": _error_kinds(result),
        "bulk_jobs_per_min": bulk.get("jobs_per_min"),
        "jobs_enqueued": enqueued,
        "jobs_done": bulk.get("jobs_done", 0),
        "jobs_failed": bulk.get("jobs_failed", 0),
        "jobs_retried": bulk.get("jobs_retried", 0),
        "jobs_pending_at_end": bulk.get("jobs_pending_at_end", 0),
        "jobs_lost": enqueued - accounted if enqueued else 0,
        "jobs_run_twice": result["background"].get("duplicates", 0),
        "leases": len(result["leases"]),
        "leased_s": round(leased, 1),
        "lock_waits_seen": result["contention"].get("waits_seen", 0),
        "rollbacks": result["contention"].get("rollbacks"),
        "odoo_conflicts": result.get("odoo_conflicts", {}),
        "contention_top": result["contention"].get("top", [])[:6],
        "governor_alive": result.get("governor_alive"),
    }


def _error_kinds(result):
    kinds = {}
    for summary in result["steps"].values():
        for kind, n in (summary.get("errors_by_kind") or {}).items():
            kinds[kind] = kinds.get(kind, 0) + n
    return kinds


def run_ratios(modes):
    """Ratios of one run, each mode against that run's baseline."""
    out = {}
    base = modes.get("baseline")
    for mode in ("ungoverned", "governed", "unannounced"):
        if mode not in modes or not base:
            continue
        for step in HEADLINE_STEPS:
            out[f"{mode}_vs_baseline_p95.{step}"] = bench_stats.ratio(
                modes[mode]["steps"][step]["p95_ms"], base["steps"][step]["p95_ms"]
            )
    ungoverned = modes.get("ungoverned")
    for mode in ("governed", "unannounced"):
        if mode in modes and ungoverned:
            out[f"bulk_{mode}_vs_ungoverned"] = bench_stats.ratio(
                modes[mode]["bulk_jobs_per_min"], ungoverned["bulk_jobs_per_min"]
            )
    return out


def build_result(runs, args, machine, seconds):
    per_run = [{mode: mode_figures(r) for mode, r in run.items()} for run in runs]
    ratios = [run_ratios(modes) for modes in per_run]
    keys = sorted({key for r in ratios for key in r})
    return {
        "bench": "rehearsal_real",
        "profile": str(args.profile.relative_to(ROOT))
        if args.profile.is_relative_to(ROOT)
        else str(args.profile),
        "scale": args.scale,
        "repeats": args.repeats,
        "modes": args.modes,
        "seconds": round(seconds),
        "machine": machine,
        "targets": TARGETS,
        "ratios": {
            key: bench_stats.spread([r.get(key) for r in ratios]) for key in keys
        },
        "ratios_per_run": ratios,
        "runs": per_run,
    }


def _fmt(value, digits=2):
    return bench_stats.fmt(value, digits)


def table(result):
    lines = [
        f"Profile `{result['profile']}`, scale {result['scale']}, "
        f"{result['repeats']} run(s), {result['seconds']} s; "
        f"{result['machine']['cpus']} CPUs, load at end "
        f"{result['machine']['loadavg_1m_at_end']}.",
        "",
        "| ratio (median, range over runs) | value | target |",
        "|---|---:|---:|",
    ]
    targets = {
        "ungoverned": f"≥ {TARGETS['ungoverned_vs_baseline_min']}",
        "governed": f"≤ {TARGETS['governed_vs_baseline_max']}",
        "unannounced": f"≤ {TARGETS['unannounced_vs_baseline_max']}",
        "bulk": f"≥ {TARGETS['bulk_governed_vs_ungoverned_min']}",
    }
    for key, spread in result["ratios"].items():
        target = targets.get(key.split("_")[0], "")
        lines.append(
            f"| {key} | {_fmt(spread['median'])} ({_fmt(spread['min'])}-"
            f"{_fmt(spread['max'])}) | {target} |"
        )
    first = result["runs"][0]
    lines += [
        "",
        "First run, per mode:",
        "",
        "| mode | "
        + " | ".join(f"{s} p95 ms" for s in STEPS)
        + " | user errors | bulk jobs/min | done/enqueued | lost | run twice"
        " | jobs retried | leases (s) | lock waits | users' retries (sleep s) |",
        "|---" * (len(STEPS) + 10) + "|",
    ]
    for mode, fig in first.items():
        p95 = " | ".join(_fmt(fig["steps"][s]["p95_ms"], 0) for s in STEPS)
        cells = [
            mode,
            p95,
            f"{fig['user_errors']} {fig['error_kinds'] or ''}",
            _fmt(fig["bulk_jobs_per_min"]),
            f"{fig['jobs_done']}/{fig['jobs_enqueued']}",
            fig["jobs_lost"],
            fig["jobs_run_twice"],
            fig["jobs_retried"],
            f"{fig['leases']} ({fig['leased_s']})",
            fig["lock_waits_seen"],
            "{retried} ({retry_sleep_s})".format(
                **fig["odoo_conflicts"].get(
                    "web", {"retried": "-", "retry_sleep_s": "-"}
                )
            ),
        ]
        lines.append("| " + " | ".join(str(cell) for cell in cells) + " |")
    lines += [
        "",
        "Where they contend, first run: statements that failed with a "
        "serialization failure or a deadlock, by table (users' server; job "
        "server):",
        "",
    ]
    for mode, fig in first.items():
        conflicts = fig["odoo_conflicts"]
        lines.append(
            f"- {mode}: {_tables(conflicts.get('web'))}; "
            f"{_tables(conflicts.get('jobs'))}"
        )
    return "\n".join(lines) + "\n"


def _tables(conflicts):
    by_table = (conflicts or {}).get("conflicts_by_table") or {}
    return ", ".join(f"{t} {n}" for t, n in by_table.items()) or "none"


def plot(result, first_run, path):
    """p95 per step and mode, and pick validation over time per mode."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 5))
    bars, timeline = figure.subplots(1, 2)
    modes = list(first_run)
    width = 0.8 / max(1, len(modes))
    for index, mode in enumerate(modes):
        steps = result["runs"][0][mode]["steps"]
        values = [steps[s]["p95_ms"] or 0 for s in STEPS]
        bars.bar(
            [i + index * width for i in range(len(STEPS))], values, width, label=mode
        )
        samples = [s for s in first_run[mode]["samples"] if s[1] == "pick.validate"]
        timeline.plot(
            [s[0] for s in samples], [s[2] for s in samples], ".", ms=3, label=mode
        )
    bars.set_xticks([i + 0.4 - width / 2 for i in range(len(STEPS))], STEPS)
    bars.set_ylabel("p95 ms (first run)")
    bars.legend()
    timeline.set_yscale("log")
    timeline.set_xlabel("seconds since start")
    timeline.set_ylabel("pick.validate ms")
    timeline.legend()
    for wave in next(iter(first_run.values()))["waves"]:
        timeline.axvspan(wave["start_s"], wave["end_s"], alpha=0.08, color="orange")
    figure.tight_layout()
    figure.savefig(path, dpi=90)


RETRY = re.compile(
    r"odoo\.service\.model: \w+, \d+ tries left, try again in ([\d.]+) sec"
)
BAD_QUERY = re.compile(r"odoo\.sql_db: bad query: b['\"](.*)['\"]\s*$")
CONFLICTS = ("could not serialize", "deadlock detected")
TABLE = re.compile(r'(?:UPDATE|FROM|INTO)\s+"?(\w+)"?', re.IGNORECASE)


def odoo_conflicts(log_path, offset):
    """What an Odoo server logged about concurrency after byte ``offset``:
    the serialization failures it retried (and the seconds it slept before
    retrying, Odoo's backoff of up to 2^n s), those it gave up on, and the
    statements that failed, by table. This is where real Odoo flows contend:
    under REPEATABLE READ most conflicts end in a rollback and a retry, not
    in a long lock wait."""
    lines = peak_odoo.log_lines_since(log_path, offset) if log_path.exists() else []
    retries, sleep_s, gave_up = 0, 0.0, 0
    by_table, statements = {}, {}
    for line, following in zip(lines, lines[1:] + [""], strict=True):
        if match := RETRY.search(line):
            retries += 1
            sleep_s += float(match.group(1))
        elif "maximum number of tries reached" in line:
            gave_up += 1
        elif (match := BAD_QUERY.search(line)) and any(
            c in following for c in CONFLICTS
        ):
            statement = query_shape(match.group(1).replace("\\n", " "))
            table = (TABLE.search(statement) or [None, "?"])[1]
            by_table[table] = by_table.get(table, 0) + 1
            statements[statement] = statements.get(statement, 0) + 1
    top = sorted(statements.items(), key=lambda item: -item[1])[:5]
    return {
        "retried": retries,
        "retry_sleep_s": round(sleep_s, 1),
        "gave_up": gave_up,
        "conflicts_by_table": dict(sorted(by_table.items(), key=lambda i: -i[1])),
        "top_statements": [{"statement": s, "count": n} for s, n in top],
    }
