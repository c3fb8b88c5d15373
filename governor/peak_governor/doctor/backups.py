"""Point-in-time recovery: WAL archiving runs (``archive_mode``,
``pg_stat_archiver``) and the newest pgBackRest backup is younger than the
target (``pgbackrest info``).
"""

import json
import shutil
import subprocess
import time

from .config import DoctorConfig
from .db import _one
from .report import FAIL, PASS, WARN, Finding


def check_wal_archiving(cur, cfg: DoctorConfig) -> list[Finding]:
    mode = _one(cur, "SELECT current_setting('archive_mode')")[0]
    name = "WAL archiving"
    if mode == "off":
        return [
            Finding(
                name,
                FAIL,
                "archive_mode is off: no point-in-time recovery",
                "configure pgBackRest (docs/runbook-pre-peak.md): archive_mode = on, "
                "archive_command = 'pgbackrest --stanza=... archive-push %p' (restart)",
            )
        ]
    archived, last_archived, failed, last_failed, failed_wal = _one(
        cur,
        "SELECT archived_count, last_archived_time, failed_count, last_failed_time,"
        " last_failed_wal FROM pg_stat_archiver",
    )
    if last_failed and (last_archived is None or last_failed > last_archived):
        return [
            Finding(
                name,
                FAIL,
                f"failing: {failed} failure(s), last on {failed_wal} at "
                f"{last_failed:%Y-%m-%d %H:%M:%S} UTC, nothing archived since",
                "read the PostgreSQL log for archive_command's error; `pgbackrest "
                "--stanza=... check`",
            )
        ]
    if not archived:
        return [
            Finding(
                name,
                WARN,
                "archive_mode on but nothing archived yet",
                "SELECT pg_switch_wal(); then run the doctor again",
            )
        ]
    return [
        Finding(
            name,
            PASS,
            f"{archived} WAL files archived, last at "
            f"{last_archived:%Y-%m-%d %H:%M:%S} UTC",
        )
    ]


def pgbackrest_info(stanza: str, config_path: str = "", timeout: float = 60) -> dict:
    """``pgbackrest info --output=json`` for one stanza."""
    binary = shutil.which("pgbackrest")
    if not binary:
        raise RuntimeError("pgbackrest is not installed (apt-get install pgbackrest)")
    argv = [binary, f"--stanza={stanza}", "--output=json"]
    if config_path:
        argv.insert(1, f"--config={config_path}")
    done = subprocess.run(
        [*argv, "info"], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode:
        raise RuntimeError((done.stderr or done.stdout).strip()[-500:])
    data = json.loads(done.stdout)
    return data[0] if data else {}


def check_backup_age(cur, cfg: DoctorConfig, now: float | None = None) -> list[Finding]:
    name = "newest backup"
    if not cfg.pgbackrest_stanza:
        return [
            Finding(
                name,
                WARN,
                "not checked: no pgBackRest stanza given",
                cfg.advice(
                    "pass --pgbackrest-stanza (PEAK_DOCTOR_PGBACKREST_STANZA), or "
                    "check your backup tool (CloudNativePG: kubectl cnpg status)",
                    "backups run outside Odoo: set PEAK_DOCTOR_PGBACKREST_STANZA in "
                    "Odoo's environment where pgBackRest is installed, or check your "
                    "backup tool (CloudNativePG: kubectl cnpg status)",
                ),
            )
        ]
    try:
        info = pgbackrest_info(
            cfg.pgbackrest_stanza, cfg.pgbackrest_config, timeout=cfg.probe_timeout * 20
        )
    except (RuntimeError, OSError, subprocess.TimeoutExpired, ValueError) as exc:
        return [
            Finding(
                name,
                FAIL,
                f"pgbackrest info failed: {exc}",
                "`pgbackrest --stanza=... check` and its log",
            )
        ]
    backups = info.get("backup") or []
    fix = "pgbackrest --stanza=... --type=full backup, and schedule it"
    status = info.get("status") or {}
    if status.get("code") not in (0, None) and not backups:
        return [
            Finding(
                name,
                FAIL,
                f"stanza {cfg.pgbackrest_stanza}: {status.get('message', 'error')}",
                "pgbackrest --stanza=... stanza-create, then a full backup",
            )
        ]
    if not backups:
        return [Finding(name, FAIL, "no backup in the repository", fix)]
    newest = max(b["timestamp"]["stop"] for b in backups)
    age_h = ((now or time.time()) - newest) / 3600
    label = max(backups, key=lambda b: b["timestamp"]["stop"])["label"]
    detail = f"{label}, {age_h:.1f} h old (target {cfg.max_backup_age_hours:g} h)"
    if age_h > cfg.max_backup_age_hours:
        return [Finding(name, FAIL, detail, fix)]
    return [Finding(name, PASS, detail)]
