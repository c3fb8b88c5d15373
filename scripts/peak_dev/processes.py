"""Child processes of the local stack: start, wait until ready, stop in time."""

import logging
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

_logger = logging.getLogger(__name__)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    """True unless something listens on ``port``. Binds as the servers do,
    with SO_REUSEADDR, so connections left in TIME_WAIT by a stack stopped a
    moment ago do not count as in use; a listener still does."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def self_signed_certificate(cert: Path, key: Path) -> tuple[Path, Path]:
    """A certificate for ``localhost`` / 127.0.0.1 and its key, made once with
    openssl (test and local TLS servers: SeaweedFS for pgBackRest, Redis)."""
    if not cert.exists():
        cert.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "openssl",
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "825",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-keyout",
                str(key),
                "-out",
                str(cert),
            ],
            check=True,
            capture_output=True,
        )
        cert.chmod(0o644)  # readable by servers running as another user
        key.chmod(0o600)
    return cert, key


def wait_for_port(port: int, timeout_s: float, proc: subprocess.Popen | None = None):
    """Wait until something accepts TCP connections on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"process exited with {proc.returncode} before port {port} listened"
            )
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listened on port {port} within {timeout_s:.0f}s")


def wait_for_http(url: str, timeout_s: float, proc: subprocess.Popen | None = None):
    """Poll ``url`` until it answers any HTTP status; raise if it never does."""
    deadline = time.monotonic() + timeout_s
    last_error = "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"process exited with {proc.returncode} before {url} answered"
            )
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # any status proves the server is up
        except OSError as exc:
            last_error = str(exc)
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout_s:.0f}s ({last_error})")


class Child:
    """A named child process in its own process group, logging to a file."""

    def __init__(self, name: str, argv: list[str], log_path: Path, env=None, cwd=None):
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Child":
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            cwd=self.cwd,
            start_new_session=True,  # Ctrl-C reaches us, not the children
        )
        log.close()
        _logger.info(
            "started %s (pid %s), log %s", self.name, self.proc.pid, self.log_path
        )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # Logged when a child outlives its grace period; a child whose slow
    # SIGTERM is known and harmless lowers it to INFO.
    slow_stop_level = logging.WARNING

    def stop(self, grace_s: float = 6.0) -> None:
        """SIGTERM the whole group, SIGKILL what is left after ``grace_s``."""
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            self.proc.wait(grace_s)
        except subprocess.TimeoutExpired:
            _logger.log(
                self.slow_stop_level,
                "%s ignored SIGTERM for %.1fs, killing it",
                self.name,
                grace_s,
            )
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(2)
        _logger.info("stopped %s", self.name)
