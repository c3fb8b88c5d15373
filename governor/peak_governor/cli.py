"""``peak-governor``: run the governor, or ask it what it is doing.

    peak-governor [--once] [--dry-run] [--interval S] [...]   run (default)
    peak-governor status                                       leader, level, leases
    peak-governor explain CHANNEL                              why it is/was paused
    peak-governor doctor [--json] [...]                        pre-peak readiness
    peak-governor drill restore|failover [...]                 recovery drills

Exit codes: 0 done, 1 runtime failure (PostgreSQL unreachable with --once),
2 bad configuration or a superuser DSN without --allow-superuser (one line on
stderr).
"""

import argparse
import dataclasses
import json
import logging
import os
import signal
import sys
import threading
import time
from datetime import UTC, datetime

import psycopg

from peak_settings import is_empty, read_options

from . import __version__, contract
from .actuator import ContractError
from .config import (
    Config,
    ConfigError,
    apply_policy_settings,
    env_settings,
    odoo_settings,
    policy_fields,
)
from .daemon import DatabaseGovernor, SuperuserRefused, conninfo, run
from .policy import PolicyConfig, drain_lead
from .schedule import peak_state

_logger = logging.getLogger("peak_governor")

# (flag, env suffix, Config field, type): the everyday options...
RUN_OPTIONS = [
    ("--dsn", "DSN", "dsn", str),
    ("--http-host", "HTTP_HOST", "http_host", str),
    ("--http-port", "HTTP_PORT", "http_port", int),
    ("--log-level", "LOG_LEVEL", "log_level", str),
    ("--log-format", "LOG_FORMAT", "log_format", str),
    ("--dry-run", "DRY_RUN", "dry_run", bool),
    ("--once", "ONCE", "once", bool),
]
# ...and the ones with defaults that rarely need changing (the expert group).
EXPERT_OPTIONS = [
    ("--interval", "INTERVAL", "interval", float),
    ("--lease-ttl", "LEASE_TTL", "lease_ttl", int),
    ("--leader-ttl", "LEADER_TTL", "leader_ttl", int),
    ("--instance-id", "INSTANCE_ID", "instance_id", str),
    ("--allow-superuser", "ALLOW_SUPERUSER", "allow_superuser", bool),
]
#: Policy settings an operator picks (in the main group); every other policy
#: threshold is an expert setting. Names the policy does not have are skipped.
MAIN_POLICY_SETTINGS = ("profile", "drain")
#: What the main policy settings take, before their env variable.
MAIN_POLICY_HELP = {
    "profile": "balanced (default): lease for waves of waiting work; "
    "pickers_first: also preempt the job a lone picker waits on; "
    "observe: never act.",
    "drain": "before fulfillment windows: auto (default), off, or a lead in "
    "seconds.",
}
EXPERT_TITLE = "expert settings (the defaults fit most sites; see governor/README.md)"


def _add_options(group, options) -> None:
    for flag, env, _field, kind in options:
        if kind is bool:
            group.add_argument(
                flag,
                action="store_true",
                default=None,
                help=f"env PEAK_GOVERNOR_{env}=1",
            )
        else:
            group.add_argument(flag, default=None, help=f"env PEAK_GOVERNOR_{env}")


def _add_policy_option(group, name: str) -> None:
    what = MAIN_POLICY_HELP.get(name)
    env = f"env PEAK_GOVERNOR_{name.upper()}"
    group.add_argument(
        f"--{name.replace('_', '-')}",
        dest=f"policy__{name}",
        default=None,
        metavar="VALUE",
        help=f"{what} {env}" if what else env,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="peak-governor",
        usage="%(prog)s [run | status | explain CHANNEL] [options]",
        description="Pause low-priority Odoo job channels when fulfillment work "
        "waits on PostgreSQL locks. Settings: flags > env PEAK_GOVERNOR_* > Odoo "
        "system parameters peak_governor.* > defaults.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    parser.add_argument(
        "command", nargs="?", default="run", choices=("run", "status", "explain")
    )
    parser.add_argument("channel", nargs="?", help="channel, for `explain`")
    parser.add_argument(
        "--database",
        action="append",
        default=None,
        help="database to govern (repeat for several; default: the DSN's dbname; "
        "env PEAK_GOVERNOR_DATABASES, comma-separated)",
    )
    _add_options(parser, RUN_OPTIONS)
    policy = policy_fields()
    for name in MAIN_POLICY_SETTINGS:
        if name in policy:
            _add_policy_option(parser, name)
    expert = parser.add_argument_group(EXPERT_TITLE)
    _add_options(expert, EXPERT_OPTIONS)
    for name in policy:
        if name not in MAIN_POLICY_SETTINGS:
            _add_policy_option(expert, name)
    return parser


def load_config(args, environ=os.environ) -> Config:
    """Flags > env > (policy only) Odoo parameters > defaults; validated."""
    options = RUN_OPTIONS + EXPERT_OPTIONS
    values = read_options(options, args, environ, "PEAK_GOVERNOR_")
    if not values.get("dsn"):
        raise ConfigError(
            "no DSN: set --dsn or PEAK_GOVERNOR_DSN (libpq conninfo or URI)"
        )
    try:
        dsn_db = psycopg.conninfo.conninfo_to_dict(values["dsn"]).get("dbname")
    except psycopg.ProgrammingError as exc:
        raise ConfigError(f"DSN is not a valid libpq conninfo: {exc}") from None
    databases = (
        args.database
        or [
            name.strip()
            for name in environ.get("PEAK_GOVERNOR_DATABASES", "").split(",")
            if name.strip()
        ]
        or ([dsn_db] if dsn_db else [])
    )
    overrides = env_settings(environ)
    for name in policy_fields():
        raw = getattr(args, f"policy__{name}", None)
        if not is_empty(raw):
            overrides[name] = (f"flag --{name.replace('_', '-')}", raw)
    # Validate flags and env before touching any database.
    config = Config(databases=tuple(databases), **values)
    config = dataclasses.replace(
        config, policy=apply_policy_settings(config.policy, overrides)
    ).validate()
    if not config.databases or getattr(args, "skip_odoo_settings", False):
        return config
    # Policy: Odoo parameters of the first database, below env and flags.
    # One merge, then one application: the profile first, whatever its source.
    merged = {**_odoo_policy_settings(config), **overrides}
    policy = apply_policy_settings(PolicyConfig(), merged)
    return dataclasses.replace(config, policy=policy).validate()


def _odoo_policy_settings(config: Config) -> dict:
    try:
        with psycopg.connect(conninfo(config.dsn, config.databases[0])) as conn:
            with conn.cursor() as cur:
                cur.execute(contract.SETTINGS_SQL)
                return odoo_settings(cur.fetchall())
    except psycopg.errors.UndefinedTable:
        return {}
    except psycopg.OperationalError as exc:
        # Not a configuration error: the loop retries the database anyway.
        _logger.warning(
            "cannot read Odoo settings from %s: %s",
            config.databases[0],
            str(exc).strip(),
        )
        return {}


def _print_once(governor: DatabaseGovernor) -> None:
    sample, decision = governor.last_sample, governor.last_decision
    out = {"database": governor.database, "leader": governor.is_leader}
    if sample is not None:
        out["sample"] = {
            "duration_ms": round(sample.duration_seconds * 1000, 3),
            "deadlocks_delta": sample.deadlocks_delta,
            "waiters": [
                {
                    "pid": w.backend.pid,
                    "role": w.backend.role_label,
                    "wait_s": round(w.wait_seconds, 3),
                    "blockers": list(w.blocker_pids),
                }
                for w in sample.waiters
            ],
            "blockers": {
                str(pid): {"role": b.role_label, "channel": b.role.channel}
                for pid, b in sample.blockers.items()
            },
        }
    if decision is not None:
        out["decision"] = {
            "level": decision.level,
            "protected": decision.protected,
            "acting": decision.acting,
            "explanation": decision.explanation,
            "actions": [
                {
                    "kind": a.kind,
                    "channel": a.channel,
                    "reason": a.reason,
                    "trickle": a.trickle,
                }
                for a in decision.actions
            ],
        }
    else:
        out["error"] = "database unreachable"
    print(json.dumps(out, indent=2, default=str))


def preflight(config: Config) -> None:
    """Refuse a superuser, a missing contract or missing grants before the
    first log line: exit 2 with one line. An unreachable database is not a
    configuration error; the loop retries it."""
    for database in config.databases:
        governor = DatabaseGovernor(config, database)
        try:
            governor.connect()
        except psycopg.OperationalError:
            continue
        governor.conn.close()


def cmd_run(config: Config) -> int:
    from .logs import configure_logging, mask
    from .metrics import GovernorMetrics, Health, serve

    preflight(config)

    configure_logging(config.log_level, json_format=config.log_format == "json")
    effective = {k: v for k, v in dataclasses.asdict(config).items() if k != "policy"}
    effective["dsn"] = mask(config.dsn)
    _logger.info(
        "starting peak-governor %s",
        __version__,
        extra={
            "event": "start",
            "config": effective,
            "policy": dataclasses.asdict(config.policy),
        },
    )
    stop = threading.Event()

    def _stop(signum, _frame):
        _logger.info("%s received, stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if config.once:
        governors = [DatabaseGovernor(config, db) for db in config.databases]
        for governor in governors:
            governor.cycle()
            _print_once(governor)
        return 0 if all(g.last_decision for g in governors) else 1
    metrics = GovernorMetrics(config.databases, dry_run=config.dry_run)
    health = Health(config.databases, interval=config.interval)
    server = None
    if config.http_port:
        server = serve(config.http_host, config.http_port, metrics, health)
        _logger.info(
            "serving /metrics /healthz /readyz on %s:%s",
            config.http_host,
            server.server_port,
        )
    try:
        return run(config, stop, metrics, health)
    finally:
        if server:
            server.shutdown()


def _connect_for_reading(config: Config, database: str):
    return psycopg.connect(conninfo(config.dsn, database), autocommit=True)


def _next_drain(config: Config, cur) -> str:
    """When the next protected window opens and its pre-window drain starts."""
    cur.execute(contract.PROTECTED_INTERVALS_SQL)
    row = cur.fetchone()
    now = time.time()
    state = peak_state(row[0] if row else None, now)
    if state.next_window_at is None:
        return "no protected window ahead (Peak mode off or none scheduled)"
    cur.execute(contract.JOB_DURATIONS_SQL)
    p95, count = cur.fetchone()
    lead, source = drain_lead(config.policy, float(p95) if count else None)
    opens = datetime.fromtimestamp(state.next_window_at, UTC)
    wait = state.next_window_at - now
    text = f"window opens {opens:%Y-%m-%d %H:%M:%S} UTC (in {wait:.0f}s)"
    if not lead:
        return text + "; pre-window drain off"
    drain_at = datetime.fromtimestamp(state.next_window_at - lead, UTC)
    return (
        text + f"; bulk and background drained from {drain_at:%H:%M:%S} UTC "
        f"(lead {lead:.0f}s: {source})"
    )


def cmd_status(config: Config) -> int:
    for database in config.databases:
        with _connect_for_reading(config, database) as conn, conn.cursor() as cur:
            cur.execute(contract.LEADER_SQL)
            leader = cur.fetchone()
            cur.execute(contract.ACTIVE_LEASES_SQL)
            leases = cur.fetchall()
            drain = _next_drain(config, cur)
        print(f"database {database}")
        if leader and leader[2] > 0:
            print(
                f"  leader   {leader[0]} (level {leader[1] or 'unknown'}, "
                f"profile {leader[3] or 'unknown'}, "
                f"leadership for {leader[2]:.0f}s more)"
            )
        else:
            print("  leader   none (no governor running, or its leadership expired)")
        if not leases:
            print("  leases   none")
        for channel, remaining, trickle in leases:
            mode = "trickle" if trickle else "paused"
            print(f"  lease    {channel}: {mode}, {remaining:.0f}s left")
        print(f"  next     {drain}")
    return 0


def cmd_explain(config: Config, channel: str | None) -> int:
    if not channel:
        raise ConfigError(
            "explain needs a channel, e.g. `peak-governor explain root.bulk`"
        )
    database = config.databases[0]
    with _connect_for_reading(config, database) as conn, conn.cursor() as cur:
        cur.execute(contract.CHANNELS_SQL)
        channels = {row[0]: row for row in cur.fetchall()}
        if channel not in channels:
            raise ConfigError(f"unknown channel {channel!r} in {database}")
        cur.execute(contract.EVENTS_SQL, (channel, 10))
        events = cur.fetchall()
        cur.execute(contract.LAST_RENEWAL_SQL, (channel,))
        renewal = cur.fetchall()
        cur.execute(contract.ACTIVE_LEASES_SQL)
        active = {row[0]: row for row in cur.fetchall()}
        drain = _next_drain(config, cur)
    _name, klass, pinned, paused = channels[channel]
    print(
        f"{channel}: class {klass}"
        + (", pinned (never paused)" if pinned else "")
        + (", paused by hand" if paused else "")
    )
    if channel in active:
        _c, remaining, trickle = active[channel]
        print(
            f"  now: {'trickling' if trickle else 'paused'} by a lease, "
            f"{remaining:.0f}s left"
        )
        if renewal and (not events or renewal[0][0] >= events[0][0]):
            # The latest renewal says why it is still held (hold: demand).
            events = renewal + events
    else:
        print("  now: not leased")
    if klass in ("background", "bulk") and not pinned:
        print(f"  next: {drain}")
    if not events:
        print("  history: the governor never paused it")
    for when, action, holder, reason, evidence in events:
        print(f"  {when:%Y-%m-%d %H:%M:%S} UTC  {action:<8} by {holder}: {reason}")
        if action in ("created", "renewed") and evidence:
            waiters = (evidence or {}).get("waiters")
            if waiters:
                print(f"      evidence: {json.dumps(waiters, default=str)[:300]}")
            for key in ("drain", "hold", "preempted"):
                if evidence.get(key):
                    detail = json.dumps(evidence[key], default=str)[:300]
                    print(f"      {key}: {detail}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Readiness and recovery commands have their own options (doctor/, drill/).
    if argv and argv[0] == "doctor":
        from .doctor import main as doctor_main

        return doctor_main(argv[1:])
    if argv and argv[0] == "drill":
        from .drill import main as drill_main

        return drill_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        if args.command != "run":
            args.skip_odoo_settings = True
        config = load_config(args)
        if args.command == "status":
            return cmd_status(config)
        if args.command == "explain":
            return cmd_explain(config, args.channel)
        return cmd_run(config)
    except (ConfigError, SuperuserRefused, ContractError) as exc:
        print(f"peak-governor: {exc}", file=sys.stderr)
        return 2
    except psycopg.OperationalError as exc:
        print(
            f"peak-governor: cannot reach PostgreSQL: {str(exc).strip()}",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
