"""``peak-rehearsal run``: the profile's people and background, in parallel.

Locust (as a library, headless) runs the users of ``flows.py``; greenlets
beside it enqueue the waves' real queue_job jobs and sample the queue and
the database's lock waits. Everything is bounded by the profile's duration
(at most an hour) and targets only the given URL (and, for lock samples,
the given DSN).
"""

import itertools
import logging
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime

import gevent
import gevent.event
from locust.env import Environment

from . import __version__, dataset, stats
from .errors import RehearsalError
from .flows import build_user_classes
from .observe import LockWatch, QueueWatch, lease_intervals
from .rpc import OdooRPC, RPCError
from .slo import evaluate

_logger = logging.getLogger(__name__)
QUEUE_SAMPLE_S = 1.0
LOCK_SAMPLE_S = 0.5
PROGRESS_S = 10.0
GRACE_S = 30.0  # users still in a step at the end get this long to finish
HELPERS_STOP_S = 10.0  # enqueuer and samplers end their call in progress
MAX_MESSAGES = 5  # error messages kept per step and kind


class RunContext:
    """What the users of one run share: data, clock, recorder."""

    def __init__(self, profile, db, login, password, products, customers):
        self.profile = profile
        self.db = db
        self.login = login
        self.password = password
        self.products = products
        self.customers = customers
        self.catalogue = dataset.Catalogue(len(products))
        self.samples = []
        self.messages = defaultdict(list)
        self.fatal_error = None
        self.started = time.monotonic()
        self._indexes = Counter()

    def elapsed(self):
        return time.monotonic() - self.started

    def next_index(self, flow):
        self._indexes[flow] += 1
        return self._indexes[flow] - 1

    def record(self, step, latency_ms, kind, message):
        self.samples.append(
            [round(self.elapsed(), 3), step, round(latency_ms, 1), kind is None, kind]
        )
        if kind and len(self.messages[(step, kind)]) < MAX_MESSAGES:
            self.messages[(step, kind)].append((message or "")[:300])

    def fatal(self, message):
        self.fatal_error = self.fatal_error or message


def check_target(rpc, override):
    """Refuse a database that ``seed`` did not mark, unless overridden."""
    try:
        status = rpc.call("peak.rehearsal", "target_status")
    except RPCError as exc:
        status = {"marked": False, "reason": f"peak_rehearsal is not installed ({exc})"}
    if status.get("marked"):
        return status
    if override:
        _logger.warning(
            "not a rehearsal target (%s): going on as told", status.get("reason")
        )
        return status
    raise RehearsalError(
        f"database {rpc.db!r} is not a rehearsal target: {status.get('reason')}. "
        "Run `peak-rehearsal seed` on a staging copy first; never rehearse on "
        "production (--i-know-this-is-not-production overrides this check)"
    )


def _fixtures(rpc):
    products = rpc.call(
        "product.product",
        "search_read",
        [("default_code", "=like", f"{dataset.PRODUCT_PREFIX}%")],
        fields=["default_code"],
        order="default_code",
    )
    customers = rpc.call(
        "res.partner", "search", [("ref", "=like", f"{dataset.CUSTOMER_PREFIX}%")]
    )
    if not products or not customers:
        raise RehearsalError(
            f"database {rpc.db!r} has no rehearsal data: run seed first"
        )
    return [row["id"] for row in products], customers


def _conflicts(rpc):
    """peak_queue's conflict totals per class, None if this Odoo has none."""
    try:
        return rpc.call("peak.rehearsal", "conflicts")
    except RPCError as exc:
        _logger.warning("no conflict counters (%s): not reported", exc)
        return None


def _odoo_now():
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


class Rehearsal:
    def __init__(self, args, profile, slo, password, progress=print):
        self.args = args
        self.profile = profile
        self.slo = slo
        self.password = password
        self.progress = progress
        self.background_errors = Counter()
        self.jobs_enqueued = Counter()

    def run(self):
        args, profile = self.args, self.profile
        rpc = OdooRPC(args.url, args.db, args.login, self.password).authenticate()
        target = check_target(rpc, args.i_know_this_is_not_production)
        products, customers = _fixtures(rpc)
        since = _odoo_now()
        conflicts_before = _conflicts(rpc)
        queue = QueueWatch(rpc, since)
        locks = LockWatch(args.dsn) if args.dsn else None
        context = RunContext(
            profile, args.db, args.login, self.password, products, customers
        )
        environment = Environment(
            user_classes=build_user_classes(context),
            host=args.url,
            stop_timeout=GRACE_S,
        )
        runner = environment.create_local_runner()
        users = sum(flow.users for flow in profile.flows.values())
        start_wall = time.time()
        context.started = time.monotonic()
        runner.start(users, spawn_rate=max(1, users))
        stop = gevent.event.Event()
        helpers = [
            gevent.spawn(self._background, rpc, context, stop),
            gevent.spawn(self._watch, queue, locks, context, stop),
        ]
        try:
            self._wait(context, queue)
        finally:
            runner.quit()  # users finish their step, GRACE_S at most
            # Let the helpers end between two calls: one killed in the middle
            # of a query would leave its connection busy for the summary.
            stop.set()
            gevent.joinall(helpers, timeout=HELPERS_STOP_S)
            gevent.killall(helpers, timeout=5)
        end_wall = time.time()
        final = queue.sample(context.elapsed())
        leases, lease_events = lease_intervals(rpc, since, start_wall, end_wall)
        contention = {"samples": 0, "top": [], "note": "no --dsn: not sampled"}
        if locks:
            contention = locks.summary()
            locks.close()
        conflicts_after = _conflicts(rpc) if conflicts_before is not None else None
        if conflicts_after is not None:
            contention["conflicts"] = {
                cls: total - conflicts_before.get(cls, 0)
                for cls, total in sorted(conflicts_after.items())
            }
        if context.fatal_error:
            raise RehearsalError(context.fatal_error)
        observed = {
            "leases": leases,
            "lease_events": lease_events[:200],
            "contention": contention,
        }
        return self.results(context, queue, final, observed, target)

    def _wait(self, context, queue):
        duration = self.profile.duration
        next_progress = PROGRESS_S
        while context.elapsed() < duration and not context.fatal_error:
            gevent.sleep(0.5)
            if context.elapsed() >= next_progress:
                next_progress += PROGRESS_S
                self.progress(self._progress_line(context, queue))

    def _progress_line(self, context, queue):
        t = context.elapsed()
        recent = [s for s in context.samples if s[0] >= t - PROGRESS_S]
        errors = sum(1 for s in context.samples if not s[3])
        p95 = stats.percentile([s[2] for s in recent if s[3]], 95)
        backlog = sum(
            row[2]
            for row in queue.series
            if row[0] == (queue.series or [[None]])[-1][0]
        )
        waves = ", ".join(w.name for w in self.profile.waves if w.active(t)) or "-"
        return (
            f"[{t:6.0f}/{self.profile.duration:.0f} s] {len(context.samples):6} steps "
            f"({len(recent) / PROGRESS_S:5.1f}/s, p95 {p95 or 0:7.0f} ms), "
            f"{errors} errors, {sum(self.jobs_enqueued.values())} jobs enqueued, "
            f"backlog {backlog}, waves: {waves}"
        )

    def _background(self, rpc, context, stop):
        """Enqueue each wave's jobs at their instants, through the addon."""
        schedule = [] if self.args.no_background else self.profile.job_schedule()
        for index, (at, kind) in enumerate(schedule):
            if stop.wait(max(0.0, at - context.elapsed())):
                return
            if context.elapsed() >= self.profile.duration:
                return
            job = self.profile.background[kind]
            options = dict(job.options, seed=self.profile.seed * 100000 + index)
            options = {
                k: list(v) if isinstance(v, tuple) else v for k, v in options.items()
            }
            try:
                rpc.call("peak.rehearsal", "enqueue", kind, 1, options, job.channel)
                self.jobs_enqueued[kind] += 1
            except RPCError as exc:
                self.background_errors[kind] += 1
                if self.background_errors[kind] == 1:
                    self.progress(f"background: enqueuing {kind} failed: {exc}")

    def _watch(self, queue, locks, context, stop):
        for tick in itertools.count():
            t = context.elapsed()
            try:
                if tick % round(QUEUE_SAMPLE_S / LOCK_SAMPLE_S) == 0:
                    queue.sample(t)
                if locks:
                    locks.sample()
            except Exception as exc:  # a sample lost is not a run lost
                _logger.warning("sampling failed: %s", exc)
            if stop.wait(max(0.0, (tick + 1) * LOCK_SAMPLE_S - context.elapsed())):
                return

    def results(self, context, queue, final, observed, target):
        profile = self.profile
        steps = stats.summarize_steps(context.samples, since_s=profile.warmup)
        minutes = (profile.duration - profile.warmup) / 60.0
        for summary in steps.values():
            summary["rate_per_min"] = (
                round(summary["count"] / minutes, 1) if minutes else 0
            )
        results = {
            "tool": "peak-rehearsal",
            "version": __version__,
            "started_at": datetime.fromtimestamp(
                time.time() - context.elapsed(), UTC
            ).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration_s": round(context.elapsed(), 1),
            "url": self.args.url,
            "db": self.args.db,
            "mode": self.args.label,
            "command": self.args.command_line,
            "target": target,
            "profile": profile.to_dict(),
            "slo": self.slo.to_dict(),
            "samples": context.samples,
            "waves": [
                {"name": w.name, "start_s": w.at, "end_s": w.end} for w in profile.waves
            ],
            "backlog": queue.series,
            "jobs_done": queue.done_series,
            "steps": steps,
            "error_rate": round(stats.overall_error_rate(steps) or 0.0, 4),
            "error_messages": {
                f"{step} {kind}": messages
                for (step, kind), messages in context.messages.items()
            },
            "queue": queue.per_class(final, profile.duration / 60.0),
            "background": {
                "enqueued": dict(self.jobs_enqueued),
                "enqueue_errors": dict(self.background_errors),
                "duplicates": final.get("duplicates", 0),
            },
            **observed,
        }
        results["slo_results"] = evaluate(self.slo, results)
        results["passed"] = all(check["passed"] for check in results["slo_results"])
        return results
