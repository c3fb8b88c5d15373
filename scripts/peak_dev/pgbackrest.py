"""pgBackRest against a local S3 (SeaweedFS over HTTPS), for tests and drills.

pgBackRest only speaks HTTPS to S3 repositories, so the local SeaweedFS also
serves its S3 API with a self-signed certificate on a second port
(``-s3.port.https``; the plain HTTP port stays for boto3 and readiness) and
pgBackRest trusts that certificate through ``repo1-storage-ca-file``.

Every pgBackRest command runs as the ``postgres`` user (when we are root), as
``archive_command`` does inside the server.
"""

import atexit
import json
import os
import shutil
import subprocess
from pathlib import Path

from .pginstance import PrivatePostgres, as_postgres, make_root
from .processes import free_port, self_signed_certificate
from .seaweed import SeaweedS3

STANZA = "peak"


class TlsSeaweedS3(SeaweedS3):
    """SeaweedFS S3 on HTTP (``s3_port``) and HTTPS (``https_port``)."""

    def __init__(self, data_dir: Path, bucket: str = "peak-backups"):
        super().__init__(data_dir, bucket=bucket)
        # pgBackRest reads the certificate as postgres: self_signed_certificate
        # leaves it world-readable.
        self.cert, self.key = self_signed_certificate(
            data_dir / "s3-tls.crt", data_dir / "s3-tls.key"
        )
        self.https_port = free_port()
        tls = [
            f"cert.file={self.cert}",
            f"key.file={self.key}",
            f"port.https={self.https_port}",
        ]
        gateway = getattr(self, "gateway", None)
        if gateway is not None:  # S3 as its own `weed s3` process
            gateway.argv += [f"-{flag}" for flag in tls]
        else:  # S3 inside `weed server`
            self.argv += [f"-s3.{flag}" for flag in tls]


class PgBackRest:
    """One stanza: a PostgreSQL cluster and its repository in S3."""

    def __init__(
        self,
        workdir: Path,
        s3: TlsSeaweedS3,
        pg: PrivatePostgres,
        stanza: str = STANZA,
        repo_path: str = "/pgbackrest",
    ):
        self.workdir = workdir
        self.s3 = s3
        self.pg = pg
        self.stanza = stanza
        self.config = workdir / "pgbackrest.conf"
        for sub in ("lock", "log", "spool"):
            (workdir / sub).mkdir(parents=True, exist_ok=True)
        # The repository's keys sit in a 0600 file the postgres user owns, as
        # pgBackRest documents; in production prefer PGBACKREST_REPO1_S3_KEY*.
        creds = s3.credentials
        self.config.write_text(
            "[global]\n"
            "repo1-type=s3\n"
            "repo1-s3-endpoint=localhost\n"  # pgBackRest matches DNS names only
            f"repo1-storage-port={s3.https_port}\n"
            f"repo1-storage-ca-file={s3.cert}\n"
            "repo1-s3-uri-style=path\n"
            "repo1-s3-region=us-east-1\n"
            f"repo1-s3-bucket={creds.bucket}\n"
            f"repo1-s3-key={creds.access_key}\n"
            f"repo1-s3-key-secret={creds.secret_key}\n"
            f"repo1-path={repo_path}\n"
            "repo1-retention-full=2\n"
            "start-fast=y\n"
            "archive-timeout=60\n"
            "io-timeout=30\n"
            f"lock-path={workdir / 'lock'}\n"
            f"log-path={workdir / 'log'}\n"
            f"spool-path={workdir / 'spool'}\n"
            "log-level-console=warn\n"
            "log-level-file=info\n"
            f"\n[{stanza}]\n"
            f"pg1-path={pg.data}\n"
            f"pg1-socket-path={pg.root}\n"
            f"pg1-port={pg.port}\n"
            "pg1-user=postgres\n"
        )
        self.config.chmod(0o600)
        if os.geteuid() == 0:
            for path in [workdir, *workdir.rglob("*")]:
                shutil.chown(path, "postgres")

    @property
    def archive_command(self) -> str:
        return (
            f"pgbackrest --config={self.config} --stanza={self.stanza} "
            "archive-push %p"
        )

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
        return as_postgres(
            [
                "pgbackrest",
                f"--config={self.config}",
                f"--stanza={self.stanza}",
                *args,
            ],
            timeout=timeout,
        )

    def enable_archiving(self) -> None:
        """archive_mode needs a restart: call before the cluster starts."""
        self.pg.configure(
            "postgresql.conf",
            archive_mode="on",
            archive_command=self.archive_command,
            wal_level="replica",
            archive_timeout="60",
        )

    def info(self) -> dict:
        data = json.loads(self.run("--output=json", "info").stdout)
        return data[0] if data else {}

    def restore(
        self, target_data: Path, target_time: str | None = None, port: int | None = None
    ) -> PrivatePostgres:
        """Restore into a new data directory (to ``target_time`` when given)
        and return the instance, configured not to archive into this stanza."""
        target_root = target_data.parent
        target_data.mkdir(mode=0o700, parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(target_data, "postgres")
        args = [f"--pg1-path={target_data}"]
        if target_time:
            args += [
                "--type=time",
                f"--target={target_time}",
                "--target-action=promote",
            ]
        self.run(*args, "restore")
        restored = PrivatePostgres(target_root, port=port, data=target_data)
        # A drill copy must never push its WAL into the production stanza.
        restored.configure(archive_mode="off")
        return restored

    def start_restored(self, restored: PrivatePostgres) -> PrivatePostgres:
        restored.start()
        restored.wait_promoted()
        return restored


class BackupLab:
    """TLS SeaweedFS + a private PostgreSQL archiving to it through pgBackRest.

    Tests share one (``shared_lab()``): starting it takes a few seconds.
    """

    def __init__(self):
        self.root = make_root("peak-dr-")
        self.s3 = TlsSeaweedS3(self.root / "seaweedfs")
        self.pg = PrivatePostgres(make_root("peak-dr-pg-"))
        self.backrest: PgBackRest | None = None

    def start(self) -> "BackupLab":
        self.s3.start()
        self.pg.initdb()
        self.backrest = PgBackRest(self.root / "pgbackrest", self.s3, self.pg)
        self.backrest.enable_archiving()
        self.pg.start()
        self.backrest.run("stanza-create")
        self.backrest.run("check")
        return self

    def stop(self) -> None:
        self.pg.destroy()
        self.s3.stop(grace_s=2)
        shutil.rmtree(self.root, ignore_errors=True)


_LAB: BackupLab | None = None


def shared_lab() -> BackupLab:
    """The one lab of this process, started on first use, stopped at exit."""
    global _LAB
    if _LAB is None:
        lab = BackupLab()
        try:
            lab.start()
        except BaseException:
            lab.stop()
            raise
        _LAB = lab
        atexit.register(lab.stop)
    return _LAB


class LocalArchivingPostgres:
    """``make run`` with PEAK_PG_ARCHIVE=1: a private PostgreSQL under
    ``.state/pg-archive`` (initdb once, kept between runs) whose WAL
    pgBackRest archives into a SeaweedFS of its own (the backup repository
    apart from the attachments), served over HTTPS for pgBackRest.

    Behaves like a Child for run.py: ``start``, ``alive``, ``stop``, ``name``.
    It listens on a Unix socket in its directory only; ``port`` names it.
    """

    name = "postgres-archiving"

    def __init__(self, state_dir: Path, port: int = 5433):
        self.root = state_dir / "pg-archive"
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        self.s3 = TlsSeaweedS3(self.root / "seaweedfs", bucket="peak-backups")
        cluster = self.root / "cluster"
        cluster.mkdir(exist_ok=True)
        cluster.chmod(0o755)
        self.pg = PrivatePostgres(cluster, port=port)
        self.backrest: PgBackRest | None = None

    @property
    def host(self) -> str:
        return str(self.pg.root)

    def start(self) -> "LocalArchivingPostgres":
        self.s3.start()
        fresh = not (self.pg.data / "PG_VERSION").exists()
        if fresh:
            self.pg.initdb()
        self.backrest = PgBackRest(self.root / "pgbackrest", self.s3, self.pg)
        if fresh:
            self.backrest.enable_archiving()
        if not self.pg.running():
            self.pg.start()
        self.backrest.run("stanza-create")
        if not self.backrest.info().get("backup"):
            self.backrest.run("--type=full", "backup")
        return self

    def alive(self) -> bool:
        # Only the backup S3: PostgreSQL may be stopped and restarted on
        # purpose (`peak-governor drill failover --component postgres`); Odoo
        # and the governor report it meanwhile, and the stack goes on.
        return self.s3.alive()

    def stop(self, grace_s: float = 6.0) -> None:
        self.pg.stop("fast")
        self.s3.stop(grace_s)
