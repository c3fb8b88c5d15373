"""The host side of `make image-test`: PostgreSQL roles and database, a
private Redis and SeaweedFS, the containers of one run (`Stack`), and a
JSON-RPC client that logs in as a browser does (`Client`). Everything
`Stack` makes, `Stack.close` removes, whatever failed before.
"""

import json
import secrets
import sys
import urllib.request
from pathlib import Path

import psycopg
from image_harness import ODOO_WRITABLE, ROOT, Buildah, Container, load_images
from psycopg import sql

sys.path.insert(0, str(ROOT / "scripts"))
from peak_dev.redis import RedisServer
from peak_dev.seaweed import SeaweedS3, s3_environ
from peak_dev.settings import load


class Stack:
    """Host services and names of one run; `odoo_env` is what the Odoo
    containers get (as compose gives it, loopback addresses instead)."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.images = load_images()
        self.bh = Buildah(self.images)
        self.settings = load()
        suffix = secrets.token_hex(4)
        self.db = self.role = f"peak_img_{suffix}"
        self.gov_role = f"peak_img_gov_{suffix}"
        self.password = secrets.token_urlsafe(18)
        self.gov_password = secrets.token_urlsafe(18)
        self.admin_password = secrets.token_urlsafe(18)
        self.metrics_token = secrets.token_urlsafe(24)
        self.key_secret = secrets.token_urlsafe(32)
        self.redis_password = secrets.token_urlsafe(18)
        self.containers: list[Container] = []

    def superuser(self):
        return psycopg.connect(
            host=self.settings.db_host or "/var/run/postgresql",
            port=self.settings.db_port,
            user=self.settings.pg_superuser,
            dbname="postgres",
            autocommit=True,
        )

    def sql(self, query, params=()):
        with psycopg.connect(
            host=self.settings.db_host or "/var/run/postgresql",
            port=self.settings.db_port,
            user=self.settings.pg_superuser,
            dbname=self.db,
            autocommit=True,
        ) as conn:
            return conn.execute(query, params).fetchall()

    def create_roles(self):
        with self.superuser() as su:
            su.execute(
                sql.SQL("CREATE ROLE {} LOGIN CREATEDB PASSWORD {}").format(
                    sql.Identifier(self.role), sql.Literal(self.password)
                )
            )
            # The governor's role exists before `init`, with no privilege:
            # peak_queue grants it the contract's functions at install.
            su.execute(
                sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                    sql.Identifier(self.gov_role), sql.Literal(self.gov_password)
                )
            )

    def drop(self):
        with self.superuser() as su:
            su.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                    sql.Identifier(self.db)
                )
            )
            for role in (self.gov_role, self.role):
                drop = sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role))
                su.execute(drop)

    def start_services(self):
        self.redis = RedisServer(self.tmp / "redis", password=self.redis_password)
        self.redis.start()
        self.s3 = SeaweedS3(self.tmp / "s3").start()
        self.s3_prefix = f"{self.db}/"
        self.odoo_env = {
            "PEAK_DB_HOST": "127.0.0.1",
            "PEAK_DB_PORT": str(self.settings.db_port),
            "PEAK_DB_USER": self.role,
            "PEAK_DB_PASSWORD": self.password,
            "PEAK_DB_NAME": self.db,
            "PEAK_DB_SSLMODE": "disable",
            "PEAK_GOVERNOR_ROLE": self.gov_role,
            "PEAK_REDIS_URL": self.redis.url,
            "PEAK_REDIS_PASSWORD": self.redis_password,
            "PEAK_REDIS_KEY_SECRET": self.key_secret,
            "PEAK_METRICS_TOKEN": self.metrics_token,
            "PROMETHEUS_MULTIPROC_DIR": "/var/run/peak-metrics",
            **s3_environ(self.s3, self.s3_prefix),
        }

    def container(self, image, writable=None) -> Container:
        """A container of ``image``; by default the Odoo pod's writable
        paths, Odoo's data_dir shared by every Odoo container as compose's
        volume is (in k8s each pod has its own emptyDir)."""
        if writable is None:
            data = ("/var/lib/odoo", self.tmp / "odoo-data")
            writable = [data if p == data[0] else p for p in ODOO_WRITABLE]
        workdir = self.tmp / f"ctr{len(self.containers)}"
        container = Container(self.bh, image, workdir, writable)
        self.containers.append(container)
        return container

    def close(self):
        errors = []
        for step in [c.remove for c in self.containers] + [
            getattr(self, "s3", None) and self.s3.stop,
            getattr(self, "redis", None) and self.redis.stop,
            self.drop,
        ]:
            if step:
                try:
                    step()
                except Exception as exc:  # go on: stop everything
                    errors.append(repr(exc))
        assert not errors, errors


class Client:
    """JSON-RPC as a browser does it: one session cookie."""

    def __init__(self, url: str):
        self.url = url
        self.session_id = None

    def post(self, path, params):
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "params": params})
        request = urllib.request.Request(
            self.url + path, body.encode(), {"Content-Type": "application/json"}
        )
        if self.session_id:
            request.add_header("Cookie", f"session_id={self.session_id}")
        with urllib.request.urlopen(request, timeout=60) as response:
            for header in response.headers.get_all("Set-Cookie") or []:
                if header.startswith("session_id="):
                    self.session_id = header.split(";", 1)[0].split("=", 1)[1]
            reply = json.loads(response.read())
        assert "error" not in reply, reply["error"]
        return reply["result"]

    def call(self, model, method, *args, **kwargs):
        params = {"model": model, "method": method, "args": args, "kwargs": kwargs}
        return self.post("/web/dataset/call_kw", params)
