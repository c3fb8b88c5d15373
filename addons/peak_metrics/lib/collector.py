# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Database-derived metrics: one collection per scrape, read-only, bounded.

Every query is an aggregate over an index (see ``models/queue_job.py`` for the
partial index on open jobs), so a collection stays fast with millions of
finished jobs. The caller runs it under a ``statement_timeout`` and caches
the rendered text (``ScrapeCache``), so a scrape storm costs at most one
collection per process and cache period.
"""

import threading
import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .governance import collect_governance
from .labels import MAX_CHANNELS, OTHER

OPEN_JOB_STATES = ("wait_dependencies", "pending", "enqueued", "started", "failed")
WAITING_JOB_STATES = ("pending", "enqueued")
PICKING_GROUPS = {"assigned": "ready", "confirmed": "waiting", "waiting": "waiting"}
PENDING_MOVE_STATES = ("confirmed", "waiting", "partially_available", "assigned")
INVOICE_TYPES = ("out_invoice", "out_refund", "in_invoice", "in_refund")
DEFAULT_CLASS = "operational"
KPI_APPS = ("sale", "stock", "account")

# The query the partial index peak_metrics_queue_job_open_idx answers alone.
OPEN_JOBS_SQL = """
    SELECT channel, state, count(*),
           EXTRACT(EPOCH FROM (now() AT TIME ZONE 'utc')
                   - min(GREATEST(date_created, eta)))
      FROM queue_job
     WHERE state IN %s
     GROUP BY channel, state
"""


@dataclass
class Families:
    """Metric families of one collection, rendered in exposition format."""

    items: list = field(default_factory=list)

    def gauge(self, name, doc, labels=()):
        family = GaugeMetricFamily(name, doc, labels=list(labels))
        self.items.append(family)
        return family

    def counter(self, name, doc, labels=()):
        family = CounterMetricFamily(name, doc, labels=list(labels))
        self.items.append(family)
        return family

    def render(self) -> bytes:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(_Static(self.items))
        return generate_latest(registry)


class _Static:
    def __init__(self, items):
        self._items = items

    def collect(self):
        return iter(self._items)


def installed_apps(cr) -> set:
    cr.execute(
        "SELECT name FROM ir_module_module WHERE state = 'installed' AND name IN %s",
        (KPI_APPS,),
    )
    return {row[0] for row in cr.fetchall()}


def channel_classes(rows) -> dict:
    """{complete_name: class} from (id, complete_name, parent_id, class) rows,
    a class inherited from the closest ancestor (root: operational)."""
    by_id = {row[0]: row for row in rows}
    result = {}
    for channel_id, name, _parent, _cls in rows:
        current, seen = by_id.get(channel_id), set()
        found = None
        while current is not None and current[0] not in seen:
            seen.add(current[0])
            if current[3]:
                found = current[3]
                break
            current = by_id.get(current[2])
        result[name] = found or DEFAULT_CLASS
    return result


def effective_capacities(rows, root_capacity: int) -> dict:
    """{complete_name: jobs it may run at once} from (id, complete_name,
    parent_id, capacity) rows, as queue_job computes ``effective_capacity``:
    a channel's own capacity (0: none) within its parent's; root's parent is
    the job runner's max capacity."""
    by_id = {row[0]: row for row in rows}
    result: dict[int, int] = {}

    def effective(channel_id, seen=()) -> int:
        if channel_id in result:
            return result[channel_id]
        _id, _name, parent, own = by_id[channel_id]
        if parent in by_id and parent not in seen:
            ceiling = effective(parent, (*seen, channel_id))
        else:
            ceiling = root_capacity
        result[channel_id] = min(own, ceiling) if own else ceiling
        return result[channel_id]

    return {row[1]: effective(row[0]) for row in rows}


def class_of(channel: str, classes: dict) -> str:
    """A job's class: its channel's, else the closest existing ancestor's."""
    name = channel or "root"
    while name:
        if name in classes:
            return classes[name]
        name = name.rpartition(".")[0]
    return DEFAULT_CLASS


def _bound(names, limit=MAX_CHANNELS):
    keep = sorted(names)[:limit]
    return {name: (name if name in keep else OTHER) for name in names}


def collect_queue(cr, out: Families, integration_channels=(), root_capacity=1):
    cr.execute(
        "SELECT id, complete_name, parent_id, priority_class, capacity, paused, "
        "pinned FROM queue_job_channel"
    )
    channels = cr.fetchall()
    classes = channel_classes([row[:4] for row in channels])
    capacities = effective_capacities(
        [(row[0], row[1], row[2], row[4] or 0) for row in channels], root_capacity
    )
    cr.execute(
        "SELECT channel, remaining_seconds, trickle FROM peak_queue_active_leases()"
    )
    leases = {row[0]: (row[1], row[2]) for row in cr.fetchall()}

    capacity = out.gauge(
        "peak_queue_channel_capacity",
        "Jobs a channel may run at once: its own capacity within its parent's, "
        "root's being the job runner's max capacity (queue_job's effective "
        "capacity, the Capacity column of Peak Operations > Channels).",
        ["channel", "priority_class"],
    )
    paused = out.gauge(
        "peak_queue_channel_paused",
        "1 when the channel is paused by hand (queue_job's paused flag).",
        ["channel", "priority_class"],
    )
    pinned = out.gauge(
        "peak_queue_channel_pinned",
        "1 when the channel is pinned (never paused by the governor).",
        ["channel", "priority_class"],
    )
    leased = out.gauge(
        "peak_queue_channel_leased",
        "1 when a governor lease pauses the channel now (trickle: 1 job at a time).",
        ["channel", "priority_class", "mode"],
    )
    lease_left = out.gauge(
        "peak_queue_channel_lease_remaining_seconds",
        "Seconds until the channel's active lease expires by itself (0: none).",
        ["channel", "priority_class"],
    )
    bounded = _bound([row[1] for row in channels])
    for _id, name, _parent, _cls, _cap, is_paused, is_pinned in channels:
        labels = [bounded[name], classes[name]]
        capacity.add_metric(labels, float(capacities[name]))
        paused.add_metric(labels, 1.0 if is_paused else 0.0)
        pinned.add_metric(labels, 1.0 if is_pinned else 0.0)
        remaining, trickle = leases.get(name, (0.0, False))
        for mode in ("pause", "trickle"):
            active = name in leases and (mode == "trickle") == bool(trickle)
            leased.add_metric([*labels, mode], 1.0 if active else 0.0)
        lease_left.add_metric(labels, max(0.0, float(remaining or 0.0)))

    cr.execute("SELECT priority_class, conflicts FROM peak_queue_conflicts()")
    conflicts = out.counter(
        "peak_queue_conflicts",
        "Times protected work lost its transaction to a concurrent one "
        "(serialization failure, deadlock, lock timeout: Odoo retries it after a "
        "random sleep), by class: interactive requests, critical and operational "
        "jobs.",
        ["priority_class"],
    )
    for priority_class, total in cr.fetchall():
        conflicts.add_metric([priority_class], float(total))

    cr.execute(OPEN_JOBS_SQL, (OPEN_JOB_STATES,))
    job_rows = cr.fetchall()
    job_channels = _bound(
        {row[0] or "root" for row in job_rows} | {row[1] for row in channels}
    )
    counts, oldest = {}, {}
    for channel, state, count, age in job_rows:
        channel = channel or "root"
        key = (job_channels[channel], class_of(channel, classes))
        counts[(*key, state)] = counts.get((*key, state), 0) + count
        if state in WAITING_JOB_STATES and age is not None:
            oldest[key] = max(oldest.get(key, 0.0), float(age))
    jobs = out.gauge(
        "peak_queue_jobs",
        "Jobs not finished yet, by channel, class and state (done and cancelled "
        "jobs are not counted: see peak_queue_job_run_duration_seconds).",
        ["channel", "priority_class", "state"],
    )
    for name in sorted({row[1] for row in channels}):
        key = (job_channels[name], classes[name])
        for state in OPEN_JOB_STATES:
            counts.setdefault((*key, state), 0)
        oldest.setdefault(key, 0.0)
    for (channel, cls, state), count in sorted(counts.items()):
        jobs.add_metric([channel, cls, state], float(count))
    age = out.gauge(
        "peak_queue_oldest_pending_job_age_seconds",
        "Age of the oldest job waiting to run (pending or enqueued), counted from "
        "its creation or its eta if later; 0 when none waits.",
        ["channel", "priority_class"],
    )
    for (channel, cls), seconds in sorted(oldest.items()):
        age.add_metric([channel, cls], max(0.0, seconds))

    failed = out.gauge(
        "peak_integration_jobs_failed",
        "Failed jobs in integration channels (EDI, marketplaces; the configured "
        "channels and the channels below them; a configured channel that neither "
        "exists nor has jobs is not reported).",
        ["channel"],
    )
    known = {row[1] for row in channels}
    for prefix in integration_channels:
        rows = [
            (state, count)
            for channel, state, count, _age in job_rows
            if (channel or "root") == prefix or (channel or "").startswith(prefix + ".")
        ]
        if prefix not in known and not rows:
            continue
        total = sum(count for state, count in rows if state == "failed")
        failed.add_metric([prefix], float(total))


def collect_sale(cr, out: Families):
    cr.execute("SELECT count(*) FROM sale_order WHERE state = 'sale'")
    confirmed = out.counter(
        "peak_sale_orders_confirmed",
        "Sales orders in the confirmed state (use rate() for orders per minute; "
        "cancelling a confirmed order lowers it).",
    )
    confirmed.add_metric([], float(cr.fetchone()[0]))
    cr.execute(
        """
        SELECT count(*),
               percentile_cont(0.5) WITHIN GROUP (ORDER BY d),
               percentile_cont(0.95) WITHIN GROUP (ORDER BY d),
               max(d)
          FROM (SELECT GREATEST(0, EXTRACT(EPOCH FROM date_order - create_date)) AS d
                  FROM sale_order
                 WHERE state = 'sale'
                   AND date_order >= (now() AT TIME ZONE 'utc') - interval '1 hour'
               ) recent
        """
    )
    count, p50, p95, worst = cr.fetchone()
    delay = out.gauge(
        "peak_sale_order_confirmation_delay_seconds",
        "Time from an order's creation to its confirmation, over the orders "
        "confirmed in the last hour (quantile 0.5, 0.95 and 1 = slowest).",
        ["quantile"],
    )
    for quantile, value in (("0.5", p50), ("0.95", p95), ("1", worst)):
        delay.add_metric([quantile], float(value or 0.0))
    recent = out.gauge(
        "peak_sale_orders_confirmed_last_hour",
        "Orders confirmed in the last hour (the population of the delay quantiles).",
    )
    recent.add_metric([], float(count or 0))


def collect_stock(cr, out: Families):
    cr.execute(
        """
        SELECT t.code, p.state, count(*),
               EXTRACT(EPOCH FROM (now() AT TIME ZONE 'utc') - min(p.create_date))
          FROM stock_picking p
          JOIN stock_picking_type t ON t.id = p.picking_type_id
         WHERE p.state IN ('assigned', 'confirmed', 'waiting')
         GROUP BY t.code, p.state
        """
    )
    counts, oldest = {}, {}
    for code, state, count, age in cr.fetchall():
        key = (code or "other", PICKING_GROUPS[state])
        counts[key] = counts.get(key, 0) + count
        oldest[key] = max(oldest.get(key, 0.0), float(age or 0.0))
    for code in ("incoming", "outgoing", "internal"):
        for group in ("ready", "waiting"):
            counts.setdefault((code, group), 0)
            oldest.setdefault((code, group), 0.0)
    pickings = out.gauge(
        "peak_stock_pickings",
        "Open transfers by operation type: ready (reserved, can be picked) or "
        "waiting (for stock or another operation).",
        ["picking_type", "state"],
    )
    ages = out.gauge(
        "peak_stock_picking_oldest_age_seconds",
        "Age since creation of the oldest open transfer, by operation type and "
        "readiness (outgoing/waiting: the shipment release delay).",
        ["picking_type", "state"],
    )
    for key in sorted(counts):
        pickings.add_metric(list(key), float(counts[key]))
        ages.add_metric(list(key), max(0.0, oldest[key]))
    cr.execute(
        "SELECT count(*) FROM stock_move WHERE state IN %s", (PENDING_MOVE_STATES,)
    )
    moves = out.gauge(
        "peak_stock_moves_pending",
        "Stock moves confirmed but not done (waiting, partially or fully reserved).",
    )
    moves.add_metric([], float(cr.fetchone()[0]))


def collect_account(cr, out: Families):
    cr.execute(
        "SELECT move_type, count(*) FROM account_move "
        "WHERE state = 'posted' AND move_type IN %s GROUP BY move_type",
        (INVOICE_TYPES,),
    )
    counts = dict(cr.fetchall())
    posted = out.counter(
        "peak_account_invoices_posted",
        "Posted invoices and credit notes by type (resetting one to draft lowers it).",
        ["move_type"],
    )
    for move_type in INVOICE_TYPES:
        posted.add_metric([move_type], float(counts.get(move_type, 0)))


def collect_peak(status: dict, out: Families):
    for name, key, doc in (
        (
            "peak_mode_on",
            "peak_mode",
            "1 while Peak mode is on (switched or by a period).",
        ),
        (
            "peak_fulfillment_window_active",
            "in_window",
            "1 while a fulfillment window is open.",
        ),
        (
            "peak_fulfillment_protected",
            "fulfillment_protected",
            "1 while Peak mode is on inside a fulfillment window (the governor "
            "protects fulfillment).",
        ),
    ):
        out.gauge(name, doc).add_metric([], 1.0 if status.get(key) else 0.0)


def collect(cr, config, peak_status=None, root_capacity=1, now=None) -> Families:
    """Every database-derived family; KPIs only for installed apps, change
    governance only with peak_governance. ``root_capacity``: the job runner's
    max capacity for this database; ``now``: Peak mode's clock (aware UTC)."""
    out = Families()
    apps = installed_apps(cr)
    collect_queue(cr, out, config.integration_channels, root_capacity)
    if "sale" in apps:
        collect_sale(cr, out)
    if "stock" in apps:
        collect_stock(cr, out)
    if "account" in apps:
        collect_account(cr, out)
    if peak_status is not None:
        collect_peak(peak_status, out)
    collect_governance(cr, out, now, bool((peak_status or {}).get("peak_mode")))
    apps_gauge = out.gauge(
        "peak_metrics_app_installed",
        "1 when the Odoo app behind a KPI group is installed (its KPIs are served).",
        ["app"],
    )
    for app in KPI_APPS:
        apps_gauge.add_metric([app], 1.0 if app in apps else 0.0)
    return out


class ScrapeCache:
    """Rendered database metrics per database, reused for ``ttl`` seconds.

    One lock: concurrent scrapes in one process wait for a single collection
    instead of each running the queries.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: dict = {}

    def get(self, key, ttl: float, produce):
        """(text, age_seconds, fresh) where produce() -> bytes on a miss."""
        with self._lock:
            now = time.monotonic()
            entry = self._entries.get(key)
            if entry is not None and now - entry[0] < ttl:
                return entry[1], now - entry[0], False
            text = produce()
            self._entries[key] = (time.monotonic(), text)
            return text, 0.0, True

    def clear(self):
        with self._lock:
            self._entries.clear()
