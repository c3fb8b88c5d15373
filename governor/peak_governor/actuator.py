"""Leases and leadership through the DB contract (docs/db-contract.md).

The actuator is the only part that writes. In dry-run mode it logs what it
would do and writes nothing, leadership included (a dry-run governor never
keeps a real one from leading).
"""

import json
import logging
import time

import psycopg

from . import contract
from .model import Action, ChannelInfo, LeaseState

_logger = logging.getLogger(__name__)

#: A lease this governor holds is written again (renewed, with a row in the
#: activity table and a NOTIFY the jobrunner wakes up for) once this share of
#: its TTL has passed, or at once when it changes (trickle).  The policy asks
#: to keep it every cycle; writing it every cycle (5 times a second at
#: --interval 0.2) flooded the activity table with renewals and competed for
#: commits with the very work the lease protects.
RENEW_AFTER_TTL_FRACTION = 1 / 3
#: Leadership is written this often (a share of its TTL) while nothing else is
#: written; at once when the level changes or before any lease write.
HEARTBEAT_AFTER_TTL_FRACTION = 1 / 6


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
        profile: str | None = None,
    ):
        self.database = database
        self.holder = holder
        self.profile = profile  # reported with the heartbeat, for Settings
        self.lease_ttl = lease_ttl
        self.leader_ttl = leader_ttl
        self.dry_run = dry_run
        self._written: dict[str, float] = {}  # channel -> when this wrote it
        self._heartbeat: tuple[float, str | None, bool] | None = None

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
            cur.execute(contract.EXCESS_PRIVILEGES_SQL)
            excess = [row[0] for row in cur.fetchall()]
        if excess:
            _logger.warning(
                "the governor's role has more than it needs on %s: %s "
                "(revoke them, see docs/security.md)",
                self.database,
                ", ".join(excess),
            )
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

    def due(
        self, actions: tuple[Action, ...], held: dict[str, LeaseState]
    ) -> tuple[Action, ...]:
        """The actions that need a write now: a lease ``held`` (as the
        database says) and unchanged is renewed only once
        RENEW_AFTER_TTL_FRACTION of its TTL has passed since this actuator
        wrote it."""
        now = time.monotonic()
        renew_after = self.lease_ttl * RENEW_AFTER_TTL_FRACTION
        due = []
        for action in actions:
            written_at = self._written.get(action.channel)
            lease = held.get(action.channel)
            if (
                action.kind == "lease"
                and written_at is not None
                and lease is not None
                and lease.trickle == action.trickle
                and now - written_at < renew_after
            ):
                continue
            due.append(action)
        return tuple(due)

    def heartbeat(self, conn, level: str | None, force: bool = False) -> bool:
        """Keep or take leadership; True when this governor may act.  Written
        when ``force`` (about to write leases), when the level changed, or
        once HEARTBEAT_AFTER_TTL_FRACTION of the leadership TTL has passed;
        otherwise the last answer stands (it cannot have expired yet)."""
        if self.dry_run:
            return True
        now = time.monotonic()
        last = self._heartbeat
        if (
            not force
            and last is not None
            and last[1] == level
            and now - last[0] < self.leader_ttl * HEARTBEAT_AFTER_TTL_FRACTION
        ):
            return last[2]
        with conn.cursor() as cur:
            cur.execute(
                contract.HEARTBEAT_SQL,
                (self.holder, self.leader_ttl, level, self.profile),
            )
            is_leader, leader, _expires = cur.fetchone()
        if not is_leader:
            _logger.debug("database %s is led by %s", self.database, leader)
        self._heartbeat = (now, level, bool(is_leader))
        return bool(is_leader)

    def forget(self) -> None:
        """Forget what was written (a new connection: write again)."""
        self._written.clear()
        self._heartbeat = None

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
        self._written.pop(action.channel, None)
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
        self._written[action.channel] = time.monotonic()

    def _preempt(self, conn, action: Action) -> bool:
        """Free the job's locks through the contract, which checks the backend
        still runs that job and picks the signal: cancel its running statement,
        or terminate its session when it is idle in its transaction (a cancel
        would not reach it). True when signalled."""
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
            signal, sent = cur.fetchone()
        _logger.warning(
            "preempted job %s of %s (backend %s, %s)%s",
            action.job_uuid,
            action.channel,
            action.pid,
            signal,
            "" if sent else f": the {signal} could not be signalled",
            extra={"event": "preempt", "database": self.database, "signal": signal},
        )
        return bool(sent)

    def _release(self, conn, channel: str | None, reason: str) -> int:
        if channel is None:
            self._written.clear()
        else:
            self._written.pop(channel, None)
        with conn.cursor() as cur:
            cur.execute(contract.RELEASE_SQL, (channel, self.holder, reason))
            return cur.fetchone()[0]

    def adopt(self, conn, lease) -> None:
        """Take over a predecessor's lease: ours first, then release theirs,
        so that the channel never runs in between (handover.py)."""
        evidence = dict(lease.evidence, adopted_from=lease.holder)
        self._lease(
            conn,
            Action("lease", lease.channel, "adopted", evidence, trickle=lease.trickle),
        )
        with conn.cursor() as cur:
            cur.execute(
                contract.RELEASE_SQL,
                (lease.channel, lease.holder, f"adopted by {self.holder}"[:512]),
            )

    def resign(self, conn) -> None:
        """Give up leadership, keep the leases (a successor adopts them, or
        they expire within the lease TTL)."""
        if self.dry_run:
            return
        with conn.cursor() as cur:
            cur.execute(contract.RESIGN_SQL, (self.holder,))
        self._heartbeat = None

    def release_all(self, conn, reason: str) -> int:
        """Release every lease of this governor and resign leadership."""
        if self.dry_run:
            return 0
        released = self._release(conn, None, reason)
        with conn.cursor() as cur:
            cur.execute(contract.RESIGN_SQL, (self.holder,))
        self._heartbeat = None
        return released
