"""The report's plots: inline SVG from matplotlib's Figure API (no pyplot:
no GUI backend, no global state), waves shaded and governor leases drawn."""

import html
import io
import math
import re
from typing import Any

from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogFormatter

from .stats import buckets

BUCKET_S = 10
CLASS_ORDER = ("critical", "operational", "background", "bulk")
# Wave names run down from the top so overlapping waves stay readable.
WAVE_TEXT = {"va": "top", "ha": "left", "rotation": 90, "fontsize": 7}


def _svg(fig: Figure, index: int) -> str:
    """The figure as SVG fit for inlining: no prolog, URLs, or shared ids."""
    buf = io.StringIO()
    no_metadata = dict.fromkeys(("Creator", "Date", "Format", "Type"))
    fig.savefig(buf, format="svg", metadata=no_metadata, bbox_inches="tight")
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)  # texts, drawn as paths anyway
    svg = re.sub(r'\sxmlns(:xlink)?="[^"]*"', "", svg)  # implied in HTML
    # Several figures share ids like "figure_1": prefix them per figure.
    prefix = f"plot{index}-"
    svg = svg.replace(' id="', f' id="{prefix}').replace('href="#', f'href="#{prefix}')
    return svg.replace("url(#", f"url(#{prefix}")


def _label(text: Any) -> str:
    # "$" would start matplotlib mathtext; a leading "_" hides a legend entry.
    return str(text).replace("$", r"\$").lstrip("_")[:60]


def _mark_time(ax, results: dict, leases: bool = True) -> None:
    """Shade warmup and waves; draw governor leases as thin bars at the bottom."""
    axis = ax.get_xaxis_transform()  # x in seconds, y as a fraction of the axes
    warmup = (results.get("profile") or {}).get("warmup") or 0
    if warmup:
        ax.axvspan(0, warmup, color="#999", alpha=0.15, lw=0)
        ax.text(0, 0.98, "warmup", transform=axis, **WAVE_TEXT)
    for wave in results.get("waves") or []:
        start, end = wave.get("start_s", 0), wave.get("end_s", 0)
        ax.axvspan(start, end, color="tab:orange", alpha=0.12, lw=0)
        ax.text(start, 0.98, _label(wave.get("name", "")), transform=axis, **WAVE_TEXT)
    channels: list[str] = []
    for lease in (results.get("leases") or []) if leases else []:
        channel = str(lease.get("channel", ""))
        first = channel not in channels
        channels += [channel] if first else []
        row = channels.index(channel) % 4
        ax.axvspan(
            lease.get("start_s", 0),
            lease.get("end_s", 0),
            ymin=0.01 + row * 0.04,
            ymax=0.04 + row * 0.04,
            color=f"C{(row + 5) % 10}",
            label=_label(f"lease {channel}") if first else None,
        )


def _series_plot(index, results, title, ylabel, lines, log=False, leases=True):
    """One plot of (label, xs, ys, style) lines over time, or a note when empty."""
    header = f"<h2>{html.escape(title)}</h2>"
    lines = [line for line in lines if line[1]]
    if not lines:
        return f'{header}<p class="empty">No data recorded.</p>'
    with rc_context({"svg.fonttype": "path", "svg.hashsalt": "peak-rehearsal"}):
        fig = Figure(figsize=(10, 4), layout="constrained")
        ax = fig.add_subplot()
        for label, xs, ys, style in lines:
            ax.plot(xs, ys, style, label=_label(label), lw=1.2, ms=3)
        values = [y for line in lines for y in line[2] if not math.isnan(y)]
        if log and values and min(values) > 0:
            ax.set_yscale("log")
            # Plain 2000 rather than 2x10^3; minor labels only where they fit.
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(LogFormatter(minor_thresholds=(1, 0.4)))
        else:
            ax.set_ylim(bottom=0)
        _mark_time(ax, results, leases)
        ax.set(xlim=(0, None), xlabel="seconds since start", ylabel=ylabel)
        ax.grid(alpha=0.3)
        fig.legend(fontsize=7, loc="outside right upper")
        return header + _svg(fig, index)


def _nan(value: Any) -> float:
    return math.nan if value is None else float(value)


def plots(results: dict) -> list[str]:
    series = buckets(results.get("samples") or [], BUCKET_S)
    mids = [r["start_s"] + BUCKET_S / 2 for r in next(iter(series.values()), [])]
    latency = [
        (step, mids, [_nan(r["p95_ms"]) for r in rows], ".-")
        for step, rows in series.items()
    ]
    throughput = [
        (step, mids, [float(r["per_min"]) for r in rows], "-")
        for step, rows in series.items()
    ]
    throughput += _per_class(results.get("jobs_done") or [], per_min=True)
    backlog = _per_class(results.get("backlog") or [], per_min=False)
    return [
        _series_plot(1, results, "Latency over time per step", "p95 ms", latency, True),
        _series_plot(2, results, "Queue backlog per class", "pending jobs", backlog),
        _series_plot(3, results, "Throughput", "per minute", throughput, leases=False),
    ]


def _per_class(rows: list, per_min: bool) -> list[tuple]:
    """Lines per queue class of [t_s, class, count, ...] rows.

    With per_min, counts are jobs done since the previous sample, summed
    into BUCKET_S buckets and shown as jobs per minute.
    """
    by_class: dict[str, list] = {}
    for t_s, cls, count, *_ in rows:
        by_class.setdefault(str(cls), []).append((float(t_s), _nan(count)))
    lines = []
    for cls, points in sorted(by_class.items(), key=class_key):
        points.sort()
        if per_min:
            done: dict[float, float] = {}
            for t, n in points:
                start = (t // BUCKET_S) * BUCKET_S + BUCKET_S / 2
                done[start] = done.get(start, 0.0) + n
            times = sorted(done)
            rates = [done[t] * 60 / BUCKET_S for t in times]
            lines.append((f"jobs {cls}", times, rates, "--"))
        else:
            lines.append((cls, [t for t, _ in points], [n for _, n in points], "-"))
    return lines


def class_key(item: tuple[str, Any]) -> tuple[int, str]:
    name = item[0]
    return (CLASS_ORDER.index(name) if name in CLASS_ORDER else 99, name)
