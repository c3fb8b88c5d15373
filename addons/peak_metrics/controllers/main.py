# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
import logging
import time

from prometheus_client import CONTENT_TYPE_LATEST

from odoo import SUPERUSER_ID, api, http
from odoo.http import request

from ..hooks import get_config
from ..lib import access, collector, exposition
from ..lib.config import MetricsConfigError

_logger = logging.getLogger(__name__)
CACHE = collector.ScrapeCache()


def _collect_db(cr, config) -> tuple[bytes, bool, float]:
    """Render the database families; on a timeout or error, none (db_up 0)."""
    started = time.perf_counter()
    try:
        with cr.savepoint(flush=False):
            # SET LOCAL: only this transaction, undone with the savepoint.
            cr.execute(
                "SET LOCAL statement_timeout = %s", (int(config.statement_timeout_ms),)
            )
            env = api.Environment(cr, SUPERUSER_ID, {})
            status = now = None
            if "peak.mode" in env:
                now = env["peak.mode"]._now()
                status = env["peak.mode"].get_status(now)
            # queue_job's own reading of its server-wide max capacity.
            root_capacity = env["queue.job.channel"]._root_max_capacity()
            families = collector.collect(cr, config, status, root_capacity, now)
        return families.render(), True, time.perf_counter() - started
    except Exception as exc:
        _logger.warning(
            "peak_metrics: database collection failed after %.0f ms: %s",
            (time.perf_counter() - started) * 1000,
            exc,
        )
        return b"", False, time.perf_counter() - started


class MetricsController(http.Controller):
    @http.route(
        "/metrics",
        type="http",
        auth="none",
        methods=["GET"],
        save_session=False,
        readonly=True,
        csrf=False,
    )
    def metrics(self):
        try:
            config = get_config()
        except MetricsConfigError as exc:
            return request.make_response(
                f"metrics misconfigured: {exc}\n",
                headers=[("Content-Type", "text/plain; charset=utf-8")],
                status=500,
            )
        decision = access.check(
            config,
            request.httprequest.headers.get("Authorization"),
            access.peer_address(request.httprequest.environ),
        )
        if decision.status != 200:
            headers = [("Content-Type", "text/plain; charset=utf-8")]
            if decision.status == 401:
                headers.append(("WWW-Authenticate", 'Bearer realm="peak-metrics"'))
            return request.make_response(
                decision.message + "\n", headers=headers, status=decision.status
            )
        body = exposition.process_metrics()
        if request.db:
            cr = request.env.cr
            (text, db_up, duration), age, _fresh = CACHE.get(
                request.db,
                config.cache_seconds,
                lambda: _collect_db(cr, config),
            )
            body += text + exposition.scrape_meta(db_up, duration, age)
        return request.make_response(
            body,
            headers=[
                ("Content-Type", CONTENT_TYPE_LATEST),
                ("Cache-Control", "no-store"),
            ],
        )
