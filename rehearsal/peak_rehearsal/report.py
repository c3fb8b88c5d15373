"""Write a run's results as JSON, one self-contained HTML page, and Markdown.

The HTML page references nothing outside itself, so it can be mailed or
attached to a ticket: CSS is inline, plots are inline SVG drawn with
matplotlib's Figure API (no pyplot: no GUI backend, no global state), and
every text from the results is HTML-escaped.
"""

import html
import json
import math
import re
from pathlib import Path
from typing import Any

from .errors import InputError
from .plots import class_key, plots

OPS = {"<=": "≤", ">=": "≥"}
CONTENTION_ORDER = ("waiter", "blocker", "blocker_state", "relation", "samples")
CONTENTION_ORDER += ("max_wait_s", "waiting_query", "blocking_query")
CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em auto;max-width:1100px;
 padding:0 1em;color:#222}
h2{margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top;
 max-width:40em;overflow-wrap:anywhere}
th{background:#f3f3f3} td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{background:#dff5df;color:#145214}.fail{background:#fbdcdc;color:#8a1111}
.banner{font-size:1.4em;font-weight:bold;padding:.5em .8em;border-radius:4px}
.meta{color:#555} .empty{color:#777;font-style:italic}
pre{background:#f7f7f7;padding:.6em;overflow:auto;font-size:12px}
svg{max-width:100%;height:auto}
"""


def write_report(
    results: dict[str, Any], out_dir: Path, stem: str
) -> tuple[Path, Path, Path]:
    """Write <stem>.json, <stem>.html and <stem>.md into out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, html_path, md_path = (
        out_dir / f"{stem}.{ext}" for ext in ("json", "html", "md")
    )
    json_path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    html_path.write_text(render_html(results), encoding="utf-8")
    md_path.write_text(render_markdown(results), encoding="utf-8")
    return json_path, html_path, md_path


def render_from_json(json_path: Path, out_dir: Path) -> tuple[Path, Path, Path]:
    """Re-render the report of a saved results JSON (same stem) into out_dir."""
    json_path = Path(json_path)
    try:
        results = json.loads(json_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"results {json_path}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise InputError(f"results {json_path}: not valid JSON ({exc})") from None
    if not isinstance(results, dict):
        raise InputError(f"results {json_path}: must be a JSON object")
    return write_report(results, out_dir, json_path.stem)


def _verdict(results: dict) -> tuple[bool, int, int]:
    checks = results.get("slo_results") or []
    failed = sum(1 for check in checks if not check.get("passed"))
    return bool(results.get("passed", checks and not failed)), failed, len(checks)


def _fmt(value: Any, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if unit == "ratio":
        return f"{value * 100:.2f} %"
    text = f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"
    return f"{text} {unit}".strip()


def _slo_rows(results: dict) -> list[list[str]]:
    return [
        [
            str(check.get("name", "")),
            f"{OPS.get(check.get('op'), '')} {_fmt(check.get('threshold'), unit)}",
            _fmt(check.get("value"), unit),
            "PASS" if check.get("passed") else "FAIL",
            str(check.get("note", "")),
        ]
        for check in results.get("slo_results") or []
        for unit in [str(check.get("unit") or "")]
    ]


def _step_rows(results: dict) -> list[list[str]]:
    warmup = (results.get("profile") or {}).get("warmup") or 0
    scored_min = max((results.get("duration_s") or 0) - warmup, 0) / 60
    rows = []
    for step, summary in (results.get("steps") or {}).items():
        count = summary.get("count") or 0
        kinds = summary.get("errors_by_kind") or {}
        rows.append(
            [step, _fmt(count)]
            + [_fmt(count / scored_min if scored_min else None)]
            + [_fmt(summary.get(k)) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")]
            + [_fmt(summary.get("errors") or 0)]
            + [", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items()))]
        )
    return rows


STEP_HEADERS = ["step", "count", "rate/min", "p50 ms", "p95 ms", "p99 ms", "max ms"]
STEP_HEADERS += ["errors", "errors by kind"]
SLO_HEADERS = ["check", "threshold", "value", "result", "note"]
BACKGROUND_HEADERS = ["class", "jobs done", "failed", "jobs/min", "run twice"]
BACKGROUND_HEADERS += ["max backlog age"]


def _table(headers: list[str], rows: list[list[Any]], empty: str) -> str:
    if not rows:
        return f'<p class="empty">{html.escape(empty)}</p>'
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for cell in row:
            text = str(cell)
            if text in ("PASS", "FAIL"):
                cells.append(f'<td class="{text.lower()}">{text}</td>')
            elif re.fullmatch(r"[-\d.,]+( (ms|s|%|jobs/min))?|—", text):
                cells.append(f'<td class="num">{html.escape(text)}</td>')
            else:
                cells.append(f"<td>{html.escape(text)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _background_rows(results: dict) -> list[list[str]]:
    queue = results.get("queue") or {}
    return [
        [cls]
        + [_fmt(q.get(k)) for k in ("jobs_done", "jobs_failed", "jobs_per_min")]
        + [_fmt(q.get("run_twice")), _fmt(q.get("max_backlog_age_s"), "s")]
        for cls, q in sorted(queue.items(), key=class_key)
    ]


def _contention(results: dict) -> str:
    contention = results.get("contention") or {}
    top = [row for row in contention.get("top") or [] if isinstance(row, dict)]
    keys = [k for k in CONTENTION_ORDER if any(k in row for row in top)]
    for row in top:  # then whatever other keys the sampler reported
        keys += [k for k in row if k not in keys]
    rows = [[_cell(row.get(k)) for k in keys] for row in top]
    note = contention.get("note") or (
        f"{contention.get('samples', 0)} lock-wait samples, "
        f"{contention.get('waits_seen', 0)} waits seen; "
        f"{contention.get('rollbacks', '-')} transactions rolled back and "
        f"{contention.get('deadlocks', '-')} deadlocks in the database during the "
        "run. A serialization failure that Odoo retries is a rollback, not a "
        "wait; Odoo also ends read-only requests with a rollback, so compare "
        "runs, not the number alone."
    )
    table = _table(keys, rows, "No lock wait seen.")
    return f'<p class="meta">{html.escape(_conflicts(contention) + note)}</p>{table}'


def _conflicts(contention: dict) -> str:
    """The contention real flows mostly have: lost transactions, no wait."""
    conflicts = contention.get("conflicts")
    if not isinstance(conflicts, dict):
        return ""
    counts = ", ".join(f"{cls} {_fmt(n)}" for cls, n in conflicts.items())
    return (
        f"Conflicts (protected work that lost its transaction to a concurrent "
        f"one; Odoo rolled it back, slept and retried it): {counts or 'none'}. "
    )


def _cell(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value)
    return "" if value is None else _fmt(value)


def render_html(results: dict[str, Any]) -> str:
    """The whole report as one HTML page that references nothing outside it."""
    passed, failed, total = _verdict(results)
    profile = results.get("profile") or {}
    title = f"Peak rehearsal: {profile.get('name', '?')} on {results.get('db', '?')}"
    verdict = "PASS" if passed else "FAIL"
    detail = f"{failed} of {total} thresholds failed" if total else "no thresholds"
    meta = {
        "started": results.get("started_at"),
        "duration": _fmt(results.get("duration_s"), "s"),
        "Odoo": results.get("url"),
        "mode": results.get("mode"),
    }
    meta = " · ".join(f"{k} {v}" for k, v in meta.items() if v not in (None, "—"))
    settings = {k: results.get(k) for k in ("tool", "version", "command")}
    settings |= {"profile": profile, "slo": results.get("slo")}
    e = html.escape
    return "\n".join(
        [
            '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
            f"<title>{e(title)}</title><style>{CSS}</style></head><body>",
            f"<h1>{e(title)}</h1>",
            f'<div class="banner {verdict.lower()}">{verdict}: {e(detail)}</div>',
            f'<p class="meta">{e(meta)}</p>',
            "<h2>Thresholds</h2>",
            _table(SLO_HEADERS, _slo_rows(results), "No thresholds evaluated."),
            "<h2>Steps</h2>",
            _table(STEP_HEADERS, _step_rows(results), "No step was measured."),
            *plots(results),
            "<h2>Background jobs</h2>",
            _table(BACKGROUND_HEADERS, _background_rows(results), "No queue data."),
            "<h2>Lock contention</h2>",
            _contention(results),
            "<h2>Settings</h2>",
            f"<pre>{e(json.dumps(settings, indent=2, default=str))}</pre>",
            "</body></html>",
        ]
    )


def _md_row(cells: list[Any]) -> str:
    # Escaped like HTML so a Markdown renderer shows markup as text.
    text = (html.escape(str(c)).replace("|", "\\|").replace("\n", " ") for c in cells)
    return "| " + " | ".join(text) + " |"


def render_markdown(results: dict[str, Any]) -> str:
    """A short summary: header, thresholds, steps."""
    passed, failed, total = _verdict(results)
    profile = results.get("profile") or {}
    lines = [
        f"# Peak rehearsal: {html.escape(str(profile.get('name', '?')))}",
        "",
        f"- verdict: **{'PASS' if passed else 'FAIL'}**, "
        f"{failed} of {total} thresholds failed",
        f"- database: {html.escape(str(results.get('db', '?')))} at "
        f"{html.escape(str(results.get('url', '?')))}",
        f"- duration: {_fmt(results.get('duration_s'), 's')}, "
        f"started {html.escape(str(results.get('started_at', '?')))}",
    ]
    for title, headers, rows in (
        ("Thresholds", SLO_HEADERS, _slo_rows(results)),
        ("Steps", STEP_HEADERS, _step_rows(results)),
    ):
        lines += ["", f"## {title}", ""]
        if rows:
            lines += [_md_row(headers), _md_row(["---"] * len(headers))]
            lines += [_md_row(row) for row in rows]
        else:
            lines.append("None.")
    return "\n".join(lines) + "\n"
