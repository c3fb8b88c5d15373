"""A private redis-server (Debian package) for the local stack and tests.

Bound to 127.0.0.1 on a free port, never the machine's shared 6379. With
``persist`` its data survives restarts (append-only file under ``data_dir``);
``tls`` serves TLS only, with a self-signed certificate made by ``openssl``
(``ca_file``); ``password`` sets ``requirepass``.
"""

import shutil
import time
from pathlib import Path

from .processes import Child, free_port, self_signed_certificate

READY_TIMEOUT_S = 15


class RedisServer(Child):
    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        persist=False,
        tls=False,
        password: str | None = None,
    ):
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not Path(binary).exists():
            raise RuntimeError(
                "`redis-server` not found: apt-get install redis-server "
                "(or set PEAK_REDIS_URL to a Redis you run)"
            )
        self.data_dir = data_dir
        self.port = port or free_port()
        self.tls = tls
        self.password = password
        self.ca_file = data_dir / "tls" / "cert.pem"
        data_dir.mkdir(parents=True, exist_ok=True)
        if tls:
            self_signed_certificate(self.ca_file, data_dir / "tls" / "key.pem")
        argv = [
            binary,
            "--bind",
            "127.0.0.1",
            *(
                [
                    "--port",
                    "0",
                    "--tls-port",
                    str(self.port),
                    "--tls-cert-file",
                    str(self.ca_file),
                    "--tls-key-file",
                    str(data_dir / "tls" / "key.pem"),
                    "--tls-ca-cert-file",
                    str(self.ca_file),
                    "--tls-auth-clients",
                    "no",
                ]
                if tls
                else ["--port", str(self.port)]
            ),
            *(["--requirepass", password] if password else []),
            "--dir",
            str(data_dir),
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
            "--save",
            "",
            "--appendonly",
            "yes" if persist else "no",
        ]
        super().__init__("redis", argv, data_dir / "redis.log", cwd=str(data_dir))

    @property
    def url(self) -> str:
        """Without the password (give it apart, as PEAK_REDIS_PASSWORD)."""
        if self.tls:
            return (
                f"rediss://127.0.0.1:{self.port}/0?ssl_cert_reqs=required"
                f"&ssl_ca_certs={self.ca_file}"
            )
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self):
        import redis

        return redis.Redis.from_url(
            self.url,
            password=self.password,
            socket_timeout=2,
            socket_connect_timeout=2,
        )

    def start(self) -> "RedisServer":
        import redis

        super().start()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if not self.alive():
                raise RuntimeError(f"redis-server exited, see {self.log_path}")
            try:
                if self.client().ping():
                    return self
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server not ready, see {self.log_path}")
            time.sleep(0.1)


class RedisSentinel(Child):
    """One Sentinel (``redis-server --sentinel``) watching ``master``."""

    def __init__(self, data_dir: Path, master: RedisServer, name="peak-sessions"):
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.port = free_port()
        self.master_name = name
        data_dir.mkdir(parents=True, exist_ok=True)
        config = data_dir / "sentinel.conf"  # Sentinel rewrites it: its own copy
        config.write_text(
            f"bind 127.0.0.1\nport {self.port}\ndir {data_dir}\n"
            f"sentinel monitor {name} 127.0.0.1 {master.port} 1\n"
            f"sentinel down-after-milliseconds {name} 1000\n"
        )
        super().__init__(
            "redis-sentinel",
            [binary, str(config), "--sentinel"],
            data_dir / "sentinel.log",
            cwd=str(data_dir),
        )

    def start(self) -> "RedisSentinel":
        import redis

        super().start()
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            if not self.alive():
                raise RuntimeError(f"redis sentinel exited, see {self.log_path}")
            try:
                if client.sentinel_get_master_addr_by_name(self.master_name):
                    return self
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis sentinel not ready, see {self.log_path}")
            time.sleep(0.1)
