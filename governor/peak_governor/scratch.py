"""Scratch PostgreSQL instances: initdb + pg_ctl under a directory.

The restore drill restores into one; the tests (through
scripts/peak_dev/pginstance.py) use the same class for private servers.

Used by tests that must change server settings or restart the server (the
shared server of a test run cannot), by the backup tests (WAL archiving needs
``archive_mode``, a restart-only setting) and by the restore drill (a scratch
instance to restore into). Listens on a Unix socket in its own directory and
on no TCP address; the port only names the socket.
"""

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

PG_BIN = Path(os.environ.get("PEAK_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def as_postgres(argv: list[str], check: bool = True, timeout: float | None = None):
    """PostgreSQL refuses to run as root: drop to the postgres user then."""
    if os.geteuid() == 0:
        argv = ["runuser", "-u", "postgres", "--", *argv]
    done = subprocess.run(
        argv, capture_output=True, text=True, check=False, timeout=timeout
    )
    if check and done.returncode:
        raise RuntimeError(
            f"{Path(argv[-1]).name if '/' in argv[-1] else argv[-1]} failed "
            f"({done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}"
        )
    return done


def make_root(prefix: str = "peak-pg-") -> Path:
    """A directory the postgres user can reach (pytest's tmp_path is private)."""
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    return root


class PrivatePostgres:
    """One PostgreSQL cluster in ``root/data``; socket and log in ``root``."""

    def __init__(self, root: Path, port: int | None = None, data: Path | None = None):
        self.root = root
        self.data = data or root / "data"
        self.port = port or free_port()
        self.log = root / "log"
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")

    def dsn(self, user: str = "postgres", dbname: str = "postgres") -> str:
        return f"host={self.root} port={self.port} user={user} dbname={dbname}"

    def initdb(self, *extra: str) -> "PrivatePostgres":
        as_postgres(
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(self.data),
                "-A",
                "trust",
                "-U",
                "postgres",
                *extra,
            ]
        )
        return self

    def configure(self, file: str = "postgresql.auto.conf", **settings) -> None:
        """Append settings to a configuration file of the cluster (read at start
        or reload). postgresql.auto.conf wins over everything (a restored copy
        must not archive, whatever the backup said); postgresql.conf keeps
        ALTER SYSTEM ... RESET meaningful."""
        lines = []
        for name, value in settings.items():
            quoted = str(value).replace("'", "''")
            lines.append(f"{name} = '{quoted}'\n")
        path = self.data / file
        text = path.read_text() if path.exists() else ""
        path.write_text(text + "".join(lines))

    def pg_ctl(self, *args: str, check: bool = True):
        return as_postgres(
            [
                str(PG_BIN / "pg_ctl"),
                "-D",
                str(self.data),
                "-l",
                str(self.log),
                "-o",
                f"-p {self.port} -k {self.root} -c listen_addresses=''",
                "-w",
                "-t",
                "60",
                *args,
            ],
            check=check,
        )

    def start(self) -> "PrivatePostgres":
        self.pg_ctl("start")
        return self

    def wait_promoted(self, timeout: float = 300) -> None:
        """A restored cluster accepts read-only connections while it still
        replays WAL: wait until recovery has ended (pg_controldata says so)."""
        deadline = time.monotonic() + timeout
        while True:
            state = as_postgres(
                [str(PG_BIN / "pg_controldata"), "-D", str(self.data)], check=False
            ).stdout
            if "in production" in state:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"recovery did not end within {timeout:.0f}s; see {self.log}"
                )
            time.sleep(0.3)

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("stop", "-m", mode, check=False)

    def running(self) -> bool:
        return self.pg_ctl("status", check=False).returncode == 0

    def destroy(self) -> None:
        if self.running():
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
