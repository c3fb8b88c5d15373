# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""The RPC surface ``peak-rehearsal`` drives on a staging copy.

Every public method is for system administrators only, and ``enqueue`` only
works on a database marked as a rehearsal target by ``mark_target`` (what
``peak-rehearsal seed`` calls): a production database, or a copy restored
under another name, never gets rehearsal jobs.
"""

import json
import logging
from datetime import UTC, datetime

from odoo import _, api, models
from odoo.exceptions import AccessError, UserError

from odoo.addons.peak_queue.lib import conflicts as peak_conflicts

_logger = logging.getLogger(__name__)

TARGET_PARAM = "peak_rehearsal.target"
KINDS = ("edi", "invoicing", "scheduler", "export")
# queue_job runs lower numbers first; EDI orders stand for customer demand.
PRIORITIES = {"edi": 10, "invoicing": 20, "scheduler": 20, "export": 30}
DEFAULT_CHANNEL = "root.bulk"
MAX_COUNT = 1000
PENDING_STATES = ("wait_dependencies", "pending", "enqueued", "started")


class PeakRehearsal(models.AbstractModel):
    _name = "peak.rehearsal"
    _description = "Peak load rehearsal (staging only)"

    def _check_system(self):
        # The user's groups, not env.su: a sudo() environment must not open it.
        if not self.env.user.has_group("base.group_system"):
            raise AccessError(
                _(
                    "Peak Rehearsal is restricted to system administrators "
                    "(Settings group): %s is not one.",
                    self.env.user.login,
                )
            )

    # Target marker ------------------------------------------------------

    @api.model
    def mark_target(self):
        """Mark this database as a rehearsal target; returns target_status()."""
        self._check_system()
        params = self.env["ir.config_parameter"]
        db_uuid = params.get_param("database.uuid")
        if not db_uuid:
            raise UserError(_("This database has no database.uuid: cannot mark it."))
        marker = {
            "db": self.env.cr.dbname,
            "uuid": db_uuid,
            "marked_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "by": self.env.user.login,
        }
        params.set_param(TARGET_PARAM, json.dumps(marker))
        _logger.info(
            "peak_rehearsal: database %s marked as a rehearsal target by %s",
            marker["db"],
            marker["by"],
        )
        return self._target_status()

    @api.model
    def target_status(self):
        """{"marked": bool, "db": str, "marked_at": str|None, "reason": str}"""
        self._check_system()
        return self._target_status()

    def _target_status(self):
        dbname = self.env.cr.dbname
        params = self.env["ir.config_parameter"]
        raw = params.get_param(TARGET_PARAM)
        status = {"marked": False, "db": dbname, "marked_at": None, "reason": ""}
        if not raw:
            status["reason"] = (
                f"Database {dbname} was never marked: run `peak-rehearsal seed` on it."
            )
            return status
        try:
            marker = json.loads(raw)
        except ValueError:
            marker = None
        if not isinstance(marker, dict):
            status["reason"] = f"The system parameter {TARGET_PARAM} is not valid JSON."
            return status
        status["marked_at"] = marker.get("marked_at")
        db_uuid = params.get_param("database.uuid")
        if marker.get("db") != dbname:
            status["reason"] = (
                f"The marker names database {marker.get('db')}, not {dbname}: a copy "
                "restored under another name is not a target until seeded again."
            )
        elif not db_uuid or marker.get("uuid") != db_uuid:
            status["reason"] = (
                "The marker was written for another database.uuid: this database "
                "is not the one that was seeded."
            )
        else:
            status["marked"] = True
            status["reason"] = (
                f"Database {dbname} was marked as a rehearsal target by "
                f"{marker.get('by')}."
            )
        return status

    # Jobs ------------------------------------------------------------------

    @api.model
    def enqueue(self, kind, count=1, options=None, channel=None):
        """Enqueue ``count`` real queue_job jobs of ``kind``; returns their uuids."""
        self._check_system()
        if not self._target_status()["marked"]:
            raise UserError(
                _(
                    "This database is not a rehearsal target: run "
                    "`peak-rehearsal seed` on it first."
                )
            )
        if kind not in KINDS:
            raise UserError(
                _(
                    "Unknown rehearsal job kind %(kind)r: use one of %(kinds)s.",
                    kind=kind,
                    kinds=", ".join(KINDS),
                )
            )
        if isinstance(count, bool) or not isinstance(count, int):
            raise UserError(_("count must be an integer, not %r.", count))
        if not 1 <= count <= MAX_COUNT:
            raise UserError(
                _(
                    "count must be between 1 and %(max)s, not %(count)s.",
                    max=MAX_COUNT,
                    count=count,
                )
            )
        options = {} if options is None else options
        if not isinstance(options, dict):
            raise UserError(_("options must be a JSON object (a dict)."))
        channel = channel or DEFAULT_CHANNEL
        self._check_channel(channel)
        calls = getattr(self, f"_job_args_{kind}")(count, options)
        uuids = []
        for index, args in enumerate(calls, start=1):
            delayable = self.with_delay(
                channel=channel,
                priority=PRIORITIES[kind],
                description=f"Peak rehearsal: {kind} {index}/{count}",
            )
            uuids.append(getattr(delayable, f"_job_{kind}")(*args).uuid)
        _logger.info(
            "peak_rehearsal: %s %s job(s) enqueued in %s by %s",
            count,
            kind,
            channel,
            self.env.user.login,
        )
        return uuids

    def _check_channel(self, channel):
        # Reading the channel list needs queue_job's manager group, which a
        # system administrator may lack; the caller was checked above.
        names = self.env["queue.job.channel"].sudo().search([]).mapped("complete_name")
        if channel not in names:
            raise UserError(
                _(
                    "No job channel %(channel)s: use one of %(names)s.",
                    channel=channel,
                    names=", ".join(sorted(names)),
                )
            )

    @api.model
    def conflicts(self):
        """Times protected work lost its transaction to a concurrent one and
        Odoo retried it, per class, since install (peak_queue's counters)."""
        self._check_system()
        return peak_conflicts.totals(self.env.cr)

    @api.model
    def job_stats(self, since):
        """Rehearsal jobs created at or after ``since`` (ISO, UTC), per channel.

        {channel: {"done", "failed", "pending", "retried", "oldest_pending_age_s"},
        ..., "duplicates": n}
        """
        self._check_system()
        since_dt = self._parse_since(since)
        self.env["queue.job"].flush_model()
        self.env["sale.order"].flush_model(["client_order_ref", "create_date"])
        # Job creation dates come from the Python clock of the enqueuing
        # process; clock_timestamp() (not now()) is the time of this query.
        self.env.cr.execute(
            """
            SELECT channel,
                   count(*) FILTER (WHERE state = 'done'),
                   count(*) FILTER (WHERE state = 'failed'),
                   count(*) FILTER (WHERE state IN %(pending)s),
                   count(*) FILTER (WHERE state = 'done' AND retry > 1),
                   GREATEST(0, EXTRACT(EPOCH FROM
                       (clock_timestamp() AT TIME ZONE 'UTC')
                       - min(date_created) FILTER (WHERE state IN %(pending)s)))
              FROM queue_job
             WHERE model_name = %(model)s AND date_created >= %(since)s
             GROUP BY channel
            """,
            {"pending": PENDING_STATES, "model": self._name, "since": since_dt},
        )
        stats = {
            channel: {
                "done": done,
                "failed": failed,
                "pending": pending,
                "retried": retried,
                "oldest_pending_age_s": float(age or 0.0),
            }
            for channel, done, failed, pending, retried, age in self.env.cr.fetchall()
        }
        # A ref on two orders means an EDI job ran twice (the job does not
        # deduplicate on purpose).
        self.env.cr.execute(
            """
            SELECT count(*) FROM (
                SELECT client_order_ref
                  FROM sale_order
                 WHERE client_order_ref LIKE 'EDI-%%' AND create_date >= %s
                 GROUP BY client_order_ref
                HAVING count(*) > 1
            ) AS refs
            """,
            [since_dt],
        )
        stats["duplicates"] = self.env.cr.fetchone()[0]
        return stats

    def _parse_since(self, since):
        """An ISO datetime string to a naive UTC datetime, as Odoo stores them."""
        try:
            moment = datetime.fromisoformat(since)
        except (TypeError, ValueError) as exc:
            raise UserError(
                _("since must be an ISO datetime string (UTC), not %r.", since)
            ) from exc
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC).replace(tzinfo=None)
        return moment
