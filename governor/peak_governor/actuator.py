"""Leases and leadership through the DB contract (docs/db-contract.md).

The actuator is the only part that writes. In dry-run mode it logs what it
would do and writes nothing, leadership included (a dry-run governor never
keeps a real one from leading).
"""

import json
import logging

import psycopg

from . import contract
from .model import Action, ChannelInfo, LeaseState

_logger = logging.getLogger(__name__)


class ContractError(RuntimeError):
    """The database does not offer the contract version this governor speaks."""


class Actuator:
    def __init__(
        self,
        database: str,
        holder: str,
        lease_ttl: int,
        leader_ttl: int,
        dry_run: bool = False,
    ):
        self.database = database
        self.holder = holder
        self.lease_ttl = lease_ttl
        self.leader_ttl = leader_ttl
        self.dry_run = dry_run

    # --- reading -----------------------------------------------------------

    def check_contract(self, conn) -> None:
        try:
            with conn.cursor() as cur:
                cur.execute(contract.CONTRACT_VERSION_SQL)
                version = cur.fetchone()[0]
        except psycopg.errors.UndefinedFunction as exc:
            raise ContractError(
                f"database {self.database} has no Odoo Peak contract: "
                "install the peak_queue addon"
            ) from exc
        if version != contract.CONTRACT_VERSION:
            raise ContractError(
                f"database {self.database} speaks contract v{version}, this "
                f"governor v{contract.CONTRACT_VERSION}"
            )
        if self.dry_run:
            return
        with conn.cursor() as cur:
            cur.execute(contract.MISSING_PRIVILEGES_SQL)
            missing = [row[0] for row in cur.fetchall()]
        if missing:
            raise ContractError(
                f"the governor's role lacks {', '.join(missing)} on {self.database} "
                "(grants: docs/db-contract.md, least privilege)"
            )

    def channels(self, conn) -> dict[str, ChannelInfo]:
        with conn.cursor() as cur:
            cur.execute(contract.CHANNELS_SQL)
            return {
                name: ChannelInfo(name, priority_class, bool(pinned), bool(paused))
                for name, priority_class, pinned, paused in cur.fetchall()
            }

    def held(self, conn) -> dict[str, LeaseState]:
        """The leases this governor holds now, as the database says."""
        with conn.cursor() as cur:
            cur.execute(contract.HELD_LEASES_SQL, (self.holder,))
            return {
                channel: LeaseState(channel, float(since), bool(trickle))
                for channel, since, trickle in cur.fetchall()
            }

    def job_p95(self, conn, previous: float | None) -> float | None:
        """p95 run time of recent background and bulk jobs (None: no job);
        the previous value when the query fails (a huge queue_job table
        hitting the statement timeout, say): it only sizes the drain lead."""
        try:
            with conn.cursor() as cur:
                cur.execute(contract.JOB_DURATIONS_SQL)
                p95, count = cur.fetchone()
        except psycopg.errors.QueryCanceled as exc:
            _logger.warning("job durations unavailable on %s: %s", self.database, exc)
            return previous
        return float(p95) if count else None

    # --- writing -----------------------------------------------------------

    def heartbeat(self, conn, level: str | None) -> bool:
        """Keep or take leadership; True when this governor may act."""
        if self.dry_run:
            return True
        with conn.cursor() as cur:
            cur.execute(contract.HEARTBEAT_SQL, (self.holder, self.leader_ttl, level))
            is_leader, leader, _expires = cur.fetchone()
        if not is_leader:
            _logger.debug("database %s is led by %s", self.database, leader)
        return bool(is_leader)

    def apply(self, conn, actions: tuple[Action, ...]) -> list[Action]:
        """Carry out the actions; return those that took effect. A refused lease
        (the channel became pinned, say) is logged and skipped."""
        done = []
        for action in actions:
            if self.dry_run:
                _logger.info(
                    "dry run: would %s %s (%s)",
                    action.kind,
                    action.channel,
                    action.reason,
                )
                done.append(action)
                continue
            try:
                if action.kind == "lease":
                    self._lease(conn, action)
                elif action.kind == "release":
                    self._release(conn, action.channel, action.reason)
                elif action.kind == "preempt":
                    if not self._preempt(conn, action):
                        continue
                else:
                    raise ValueError(f"unknown action {action.kind!r}")
            except psycopg.errors.InvalidParameterValue as exc:
                _logger.warning(
                    "%s on %s refused: %s",
                    action.kind,
                    action.channel,
                    exc.diag.message_primary or exc,
                    extra={
                        "event": f"{action.kind}_refused",
                        "database": self.database,
                    },
                )
                continue
            done.append(action)
        return done

    def _lease(self, conn, action: Action) -> None:
        with conn.cursor() as cur:
            cur.execute(
                contract.ACQUIRE_SQL,
                (
                    action.channel,
                    self.holder,
                    action.reason[:512],
                    json.dumps(action.evidence, default=str),
                    self.lease_ttl,
                    action.trickle,
                ),
            )

    def _preempt(self, conn, action: Action) -> bool:
        """Cancel the job's running statement through the contract (which
        checks the backend still runs that job); True when signalled."""
        with conn.cursor() as cur:
            cur.execute(
                contract.PREEMPT_SQL,
                (
                    action.pid,
                    action.job_uuid,
                    self.holder,
                    action.reason[:512],
                    json.dumps(action.evidence, default=str),
                ),
            )
            sent = bool(cur.fetchone()[0])
        _logger.warning(
            "preempted job %s of %s (backend %s)%s",
            action.job_uuid,
            action.channel,
            action.pid,
            "" if sent else ": the cancel could not be signalled",
            extra={"event": "preempt", "database": self.database},
        )
        return sent

    def _release(self, conn, channel: str | None, reason: str) -> int:
        with conn.cursor() as cur:
            cur.execute(contract.RELEASE_SQL, (channel, self.holder, reason))
            return cur.fetchone()[0]

    def release_all(self, conn, reason: str) -> int:
        """Release every lease of this governor and resign leadership."""
        if self.dry_run:
            return 0
        released = self._release(conn, None, reason)
        with conn.cursor() as cur:
            cur.execute(contract.RESIGN_SQL, (self.holder,))
        return released
