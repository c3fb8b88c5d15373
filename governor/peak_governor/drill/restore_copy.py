"""Making the scratch copy the restore drill checks, and dropping it:
from pgBackRest (a private PostgreSQL instance on a Unix socket, WAL
archiving off), from a ``pg_dump`` archive (a scratch database), or by the
operator's own restore and cleanup commands.
"""

import dataclasses
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass

import psycopg

from ..scratch import PrivatePostgres, as_postgres, make_root
from .restore_options import DrillOptions, _parse_time


@dataclass
class RestoredCopy:
    dsn: str  # libpq conninfo of the restored Odoo database
    database: str
    cleanup: list = dataclasses.field(default_factory=list)  # callables

    def drop(self) -> None:
        for action in reversed(self.cleanup):
            action()


def restore_pgbackrest(opts: DrillOptions) -> RestoredCopy:
    root = make_root("peak-drill-")
    data = root / "data"
    data.mkdir(mode=0o700)
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    argv = ["pgbackrest", f"--stanza={opts.pgbackrest_stanza}"]
    if opts.pgbackrest_config:
        argv.append(f"--config={opts.pgbackrest_config}")
    argv.append(f"--pg1-path={data}")
    if opts.target_time:
        argv += [
            "--type=time",
            f"--target={_parse_time(opts.target_time).isoformat(sep=' ')}",
            "--target-action=promote",
        ]
    instance = PrivatePostgres(root, data=data)
    copy = RestoredCopy(
        dsn=instance.dsn(opts.db_user, opts.database), database=opts.database
    )
    copy.cleanup.append(instance.destroy)
    try:
        as_postgres([*argv, "restore"], timeout=opts.timeout)
        # Never archive into the production stanza, never listen on TCP.
        instance.configure(archive_mode="off", archive_command="")
        instance.start()
        instance.wait_promoted(timeout=opts.timeout)
    except BaseException:
        copy.drop()
        raise
    return copy


def restore_dump(opts: DrillOptions) -> RestoredCopy:
    name = f"peak_drill_{secrets.token_hex(4)}"
    with psycopg.connect(opts.scratch_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" OWNER "{opts.db_user}"')

    def drop():
        with psycopg.connect(opts.scratch_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    target = psycopg.conninfo.make_conninfo(
        opts.scratch_dsn, dbname=name, user=opts.db_user
    )
    copy = RestoredCopy(dsn=target, database=name, cleanup=[drop])
    done = subprocess.run(
        [
            "pg_restore",
            "--no-owner",
            "--no-privileges",  # grants name roles the scratch server may lack
            "--no-comments",  # COMMENT ON EXTENSION needs its owner
            "--exit-on-error",
            f"--role={opts.db_user}",
            "-d",
            target,
            opts.dump,
        ],
        capture_output=True,
        text=True,
        timeout=opts.timeout,
        check=False,
    )
    if done.returncode:
        copy.drop()
        raise RuntimeError(f"pg_restore failed: {done.stderr.strip()[-500:]}")
    return copy


def restore_command(opts: DrillOptions) -> RestoredCopy:
    env = {
        **os.environ,
        "PEAK_DRILL_TARGET_TIME": opts.target_time,
        "PEAK_DRILL_DATABASE": opts.database,
    }
    done = subprocess.run(
        opts.restore_command,
        shell=True,  # the operator's own command line
        capture_output=True,
        text=True,
        timeout=opts.timeout,
        env=env,
        check=False,
    )
    copy = RestoredCopy(dsn=opts.restored_dsn, database=opts.database)
    if opts.cleanup_command:

        def cleanup():
            subprocess.run(
                opts.cleanup_command,
                shell=True,  # the operator's own command line
                timeout=opts.timeout,
                env=env,
                check=False,
            )

        copy.cleanup.append(cleanup)
    if done.returncode:
        copy.drop()
        raise RuntimeError(
            f"restore command exited {done.returncode}: "
            f"{(done.stderr or done.stdout).strip()[-500:]}"
        )
    return copy
