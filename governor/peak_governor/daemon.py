"""The governor's loop: per database, sample → decide → act, every interval.

Each database has its own connection, sensor, policy and actuator, so one
process can govern several databases of a shared server independently. A
database that cannot be reached is marked not ready and retried every cycle
with a bounded connect timeout; nothing is decided from a failed sample.
"""

import dataclasses
import logging
import random
import threading
import time

import psycopg

from . import contract, handover
from .actuator import Actuator, ContractError
from .config import Config
from .model import CALM, Decision, LeaseState, Sample
from .policy import Policy
from .schedule import peak_state
from .sensor import Sensor

_logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 3
STATEMENT_TIMEOUT_MS = 2000
CHANNELS_REFRESH_S = 10.0
JOB_DURATIONS_REFRESH_S = 300.0


class SuperuserRefused(RuntimeError):
    """Connected as a superuser without --allow-superuser."""


def conninfo(dsn: str, database: str) -> str:
    return psycopg.conninfo.make_conninfo(
        dsn,
        dbname=database,
        connect_timeout=CONNECT_TIMEOUT_S,
        application_name="peak-governor",
        options=f"-c statement_timeout={STATEMENT_TIMEOUT_MS} -c lock_timeout=1000",
    )


class DatabaseGovernor:
    def __init__(self, config: Config, database: str, metrics=None, health=None):
        self.config = config
        self.database = database
        self.metrics = metrics
        self.health = health
        self.sensor = Sensor(database)
        self.policy = Policy(config.policy, random.Random())
        self.actuator = Actuator(
            database,
            config.instance_id,
            config.lease_ttl,
            config.leader_ttl,
            dry_run=config.dry_run,
            profile=config.policy.profile,
        )
        self.conn: psycopg.Connection | None = None
        self.level = CALM
        self.is_leader = False
        self._channels = {}
        self._channels_at = 0.0
        self.job_p95: float | None = None  # recent bulk/background job runs
        self._job_p95_at = -JOB_DURATIONS_REFRESH_S
        self.last_sample: Sample | None = None
        self.last_decision: Decision | None = None
        # Dry run writes nothing: remember what would be held, so the policy
        # renews and releases exactly as it would for real.
        self._dry_leases: dict[str, LeaseState] = {}
        self._holding = False
        self._took_over = False  # resumed a predecessor's episode (handover.py)

    # --- connection ----------------------------------------------------------

    def connect(self) -> None:
        conn = psycopg.connect(
            conninfo(self.config.dsn, self.database), autocommit=True
        )
        try:
            with conn.cursor() as cur:
                cur.execute(contract.SUPERUSER_SQL)
                if cur.fetchone()[0] and not self.config.allow_superuser:
                    raise SuperuserRefused(
                        f"refusing to run as a PostgreSQL superuser on {self.database}"
                        " (use a least-privilege role, see docs/db-contract.md, or "
                        "--allow-superuser)"
                    )
            self.actuator.check_contract(conn)
        except BaseException:
            conn.close()
            raise
        self.conn = conn
        self._channels_at = 0.0
        _logger.info(
            "connected to %s",
            self.database,
            extra={"event": "connected", "database": self.database},
        )

    def _drop_connection(self, exc: Exception) -> None:
        _logger.warning(
            "database %s unavailable: %s",
            self.database,
            exc,
            extra={"event": "db_unavailable", "database": self.database},
        )
        if self.conn is not None:
            try:
                self.conn.close()
            except psycopg.Error:
                pass
        self.conn = None
        self.is_leader = False
        self.actuator.forget()
        if self.metrics:
            self.metrics.observe_sample_error(self.database)
            self.metrics.set_leader(self.database, False)
        if self.health:
            self.health.set_ready(self.database, False)

    # --- one cycle -------------------------------------------------------------

    def cycle(self, now: float | None = None) -> Decision | None:
        """Sample, decide, act. Returns the decision, None when the database
        could not be reached (nothing was decided, nothing changes)."""
        try:
            if self.conn is None or self.conn.closed:
                self.connect()
            return self._cycle(now if now is not None else time.time())
        except (SuperuserRefused, ContractError):
            raise
        except psycopg.Error as exc:
            self._drop_connection(exc)
            return None

    def _cycle(self, now: float) -> Decision:
        conn = self.conn
        sample = self.sensor.sample(conn)
        if self.metrics:
            self.metrics.observe_sample(sample)
        with conn.cursor() as cur:
            cur.execute(contract.PROTECTED_INTERVALS_SQL)
            row = cur.fetchone()
        state = peak_state(row[0] if row else None, now)
        if now - self._channels_at > CHANNELS_REFRESH_S:
            self._channels = self.actuator.channels(conn)
            self._channels_at = now
        if now - self._job_p95_at > JOB_DURATIONS_REFRESH_S:
            self._job_p95_at = now
            self.job_p95 = self.actuator.job_p95(conn, self.job_p95)
        if not self._took_over and not self.config.dry_run:
            # At its first cycle as leader: adopt what a predecessor holds.
            if self.actuator.heartbeat(conn, self.level):
                handover.take_over(conn, self.actuator, self.policy, now)
                self._took_over = True
        held = self._held(conn)
        decision = self.policy.decide(
            sample,
            self._channels,
            held,
            now,
            state.protected,
            state.peak_mode,
            next_window_at=state.next_window_at,
            job_p95_seconds=self.job_p95,
        )
        due = self.actuator.due(decision.actions, held) if decision.acting else ()
        # Leadership right before writing: a governor that stalled past its
        # leadership TTL finds out here, before it writes anything.
        self.is_leader = self.actuator.heartbeat(conn, decision.level, force=bool(due))
        done = ()
        if self.is_leader and due:
            done = tuple(self.actuator.apply(conn, due))
            if self.config.dry_run:
                self._remember_dry_run(done, now)
        self._log(decision, done, sample)
        self.level = decision.level
        self.last_sample, self.last_decision = sample, decision
        if self.metrics:
            leased = len(self._held(conn))
            # Count what was carried out, not what a standby only decided.
            applied = dataclasses.replace(decision, actions=done)
            self.metrics.observe_decision(self.database, applied, leased)
            self.metrics.set_leader(self.database, self.is_leader)
        if self.health:
            self.health.set_ready(self.database, True)
        return decision

    def _held(self, conn) -> dict[str, LeaseState]:
        if self.config.dry_run:
            return dict(self._dry_leases)
        return self.actuator.held(conn)

    def _remember_dry_run(self, actions, now: float) -> None:
        for action in actions:
            if action.kind == "lease":
                previous = self._dry_leases.get(action.channel)
                self._dry_leases[action.channel] = LeaseState(
                    action.channel, previous.since if previous else now, action.trickle
                )
            elif action.kind == "release":
                self._dry_leases.pop(action.channel, None)

    def _log(self, decision: Decision, done, sample: Sample) -> None:
        changed = decision.level != self.level
        # Renewals are routine (and written only now and then: Actuator.due);
        # a hold is news when it starts.
        holding = self.is_leader and any(a.reason == "hold" for a in decision.actions)
        hold_started = holding and not self._holding
        self._holding = holding
        new_or_released = [a for a in done if a.reason not in ("renew", "hold")]
        if not (changed or new_or_released or hold_started):
            return
        _logger.info(
            "%s: %s",
            self.database,
            decision.explanation,
            extra={
                "event": "decision",
                "database": self.database,
                "level": decision.level,
                "previous_level": decision.previous_level,
                "protected": decision.protected,
                "acting": decision.acting,
                "leader": self.is_leader,
                "dry_run": self.config.dry_run,
                "actions": [
                    {
                        "kind": a.kind,
                        "channel": a.channel,
                        "reason": a.reason,
                        "trickle": a.trickle,
                        "evidence": a.evidence,
                    }
                    for a in done
                ],
                "waiters": len(sample.waiters),
            },
        )

    def hand_over(self) -> int:
        """Resign and keep the leases for the next leader (handover.py);
        returns how many are left. Bounded by the statement timeout."""
        if self.conn is None or self.conn.closed:
            return 0
        try:
            left = len(self._held(self.conn))
            self.actuator.resign(self.conn)
        except psycopg.Error as exc:
            _logger.warning(
                "could not resign on %s: %s (leadership expires by itself)",
                self.database,
                exc,
            )
            left = 0
        finally:
            self.conn.close()
        return left

    def shutdown(self, reason: str = "governor stopping") -> int:
        """Release this governor's leases and resign; bounded by the statement
        timeout. Returns how many leases were released."""
        if self.conn is None or self.conn.closed:
            return 0
        try:
            released = self.actuator.release_all(self.conn, reason)
        except psycopg.Error as exc:
            _logger.warning(
                "could not release leases on %s: %s (they expire by " "themselves)",
                self.database,
                exc,
            )
            released = 0
        finally:
            self.conn.close()
        return released


def run(config: Config, stop: threading.Event, metrics=None, health=None) -> int:
    """Govern every configured database until ``stop`` is set (or one cycle
    with ``config.once``). Returns the process exit code."""
    governors = [
        DatabaseGovernor(config, db, metrics, health) for db in config.databases
    ]
    try:
        while True:
            started = time.monotonic()
            for governor in governors:
                governor.cycle()
            if health:
                health.beat()
            if config.once or stop.wait(
                max(0.0, config.interval - (time.monotonic() - started))
            ):
                break
    finally:
        if not config.once:
            for governor in governors:
                left = governor.hand_over()
                if left:
                    _logger.info(
                        "leaving %s lease(s) on %s to the next governor (they "
                        "expire within %s s unless it adopts them)",
                        left,
                        governor.database,
                        config.lease_ttl,
                        extra={
                            "event": "handed_over",
                            "database": governor.database,
                        },
                    )
    return 0
