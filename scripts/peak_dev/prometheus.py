"""A local Prometheus (Debian package ``prometheus``) for ``make run`` and tests.

It scrapes Odoo's ``/metrics`` with the bearer token (read from a 0600 file,
never written into the config) and the governor's ``/metrics``, and loads the
alert rules of ``monitoring/prometheus``.
"""

import json
import os
import secrets
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from .processes import Child, wait_for_http
from .settings import ROOT

RULES_DIR = ROOT / "monitoring" / "prometheus"
PROMETHEUS_BIN = "prometheus"


class PrometheusError(RuntimeError):
    """Prometheus is missing or did not start."""


def ensure_token_file(path: Path, token: str = "") -> str:
    """The metrics token: ``token`` if given, else the one in ``path``, else a
    new random one; written to ``path`` with mode 0600. Returns the token."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not token and path.exists():
        token = path.read_text().strip()
    token = token or secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token)
    path.chmod(0o600)
    return token


def render_config(
    odoo_target: str,
    token_file: Path,
    governor_target: str | None,
    rules_dir: Path = RULES_DIR,
    scrape_interval_s: int = 15,
) -> str:
    """prometheus.yml as JSON (YAML is a superset of JSON)."""
    jobs = [
        {
            "job_name": "odoo",
            "metrics_path": "/metrics",
            "authorization": {"type": "Bearer", "credentials_file": str(token_file)},
            "static_configs": [{"targets": [odoo_target]}],
        }
    ]
    if governor_target:
        jobs.append(
            {
                "job_name": "peak-governor",
                "metrics_path": "/metrics",
                "static_configs": [{"targets": [governor_target]}],
            }
        )
    config = {
        "global": {
            "scrape_interval": f"{scrape_interval_s}s",
            "evaluation_interval": f"{scrape_interval_s}s",
        },
        "rule_files": [str(rules_dir / "*.rules.yml")],
        "scrape_configs": jobs,
    }
    return json.dumps(config, indent=2) + "\n"


class Prometheus(Child):
    """Prometheus on 127.0.0.1:``port`` with its data and config in ``workdir``."""

    def __init__(
        self,
        workdir: Path,
        port: int,
        odoo_target: str,
        token_file: Path,
        governor_target: str | None = None,
        scrape_interval_s: int = 15,
        rules_dir: Path = RULES_DIR,
    ):
        binary = shutil.which(PROMETHEUS_BIN)
        if binary is None:
            raise PrometheusError(
                "prometheus is not installed (Debian package `prometheus`: "
                "apt-get install prometheus)"
            )
        self.workdir = workdir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.config_path = workdir / "prometheus.yml"
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(
            render_config(
                odoo_target, token_file, governor_target, rules_dir, scrape_interval_s
            )
        )
        super().__init__(
            "prometheus",
            [
                binary,
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={workdir / 'data'}",
                "--storage.tsdb.retention.time=7d",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle",
            ],
            workdir / "prometheus.log",
        )

    def start(self, timeout_s: float = 30) -> "Prometheus":
        super().start()
        try:
            wait_for_http(f"{self.url}/-/ready", timeout_s, self.proc)
        except (RuntimeError, TimeoutError) as exc:
            self.stop()
            raise PrometheusError(f"prometheus did not start: {exc}") from exc
        return self

    def targets_page(self) -> str:
        """The targets page this Prometheus serves: ``/targets`` in the web UI
        of upstream builds, ``/classic/targets`` in Debian's (which ships
        only the classic UI; ``/targets`` is a 404 there)."""
        for path in ("/targets", "/classic/targets"):
            try:
                with urllib.request.urlopen(self.url + path, timeout=5):
                    return self.url + path
            except (urllib.error.URLError, OSError):
                continue
        return self.url

    def api(self, path: str, **params) -> dict:
        query = urllib.parse.urlencode(params)
        with urllib.request.urlopen(
            f"{self.url}/api/v1/{path}?{query}", timeout=10
        ) as response:
            body = json.load(response)
        if body.get("status") != "success":
            raise PrometheusError(f"prometheus API {path}: {body}")
        return body["data"]

    def query(self, expr: str) -> list:
        return self.api("query", query=expr)["result"]

    def targets(self) -> list:
        return self.api("targets")["activeTargets"]
