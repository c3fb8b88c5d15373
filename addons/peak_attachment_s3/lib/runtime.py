# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Per-process, per-database state of the store: configuration, client, health.

Built once per database and process (at registry load or first use), so the
configuration is validated and the bucket probed once, not before every call.
"""

import contextlib
import logging
import os
import threading

from . import config as s3config
from .cache import ReadCache
from .store import S3Error, S3Store

_logger = logging.getLogger(__name__)


class Runtime:
    def __init__(self, db_name: str, environ, section, cache_dir: str = ""):
        self.db_name = db_name
        #: where the read cache lives unless PEAK_S3_CACHE_DIR says
        self.default_cache_dir = cache_dir
        self.pid = os.getpid()
        self.config: s3config.S3Config | None = None
        self.store: S3Store | None = None
        #: why the store cannot be used (bad configuration), or None
        self.error: str | None = None
        self.started = False
        self._lock = threading.Lock()
        self._enabled = None
        try:
            self.config = s3config.load(environ, section)
            self._enabled = self.config.enabled
        except s3config.ConfigError as exc:
            self.error = str(exc)
            # Another setting is bad: still honour the on/off switch alone.
            switch = {k: v for k, v in (section or {}).items() if "enabled" in k}
            key = s3config.ENV_PREFIX + "ENABLED"
            with contextlib.suppress(s3config.ConfigError):
                self._enabled = s3config.load(
                    {key: environ[key]} if key in environ else {}, switch
                ).enabled

    def wanted(self, location: str) -> bool:
        """Turned on by PEAK_S3_ENABLED / s3_enabled, else by the parameter."""
        if self._enabled is not None:
            return self._enabled
        return location == "s3"

    def start(self) -> None:
        """Validate, build the client, probe the bucket: once."""
        with self._lock:
            if self.started:
                return
            self.started = True
            if self.error is None:
                try:
                    s3config.validate(self.config)
                except s3config.ConfigError as exc:
                    self.error = str(exc)
            if self.error is not None:
                _logger.error(
                    "peak_attachment_s3: bad configuration for database %s: %s. "
                    "Attachments stay in the filestore until it is fixed.",
                    self.db_name,
                    self.error,
                )
                return
            prefix = self.config.prefix_for(self.db_name)
            _logger.info(
                "peak_attachment_s3: database %s stores attachments in s3://%s/%s "
                "(effective config %s; credentials from boto3's chain)",
                self.db_name,
                self.config.bucket,
                prefix,
                self.config.masked(),
            )
            try:
                self.store = S3Store(self.config, prefix)
            except Exception as exc:  # boto3 rejects e.g. an unknown region
                self.error = f"cannot build the S3 client: {exc}"
                _logger.error("peak_attachment_s3: %s", self.error)
                return
            self.store.cache = self._read_cache()
            try:
                self.store.probe()
            except S3Error as exc:
                if exc.reason in ("not_found", "denied"):
                    self.error = (
                        f"bucket {self.config.bucket!r} is not usable ({exc.reason}): "
                        f"{exc.detail}"
                    )
                    self.store = None
                    _logger.error(
                        "peak_attachment_s3: %s. Attachments stay in the filestore.",
                        self.error,
                    )
                # timeout/connection: degraded (logged by the store); uploads
                # fail clearly until S3 answers again, no restart needed.

    def _read_cache(self) -> ReadCache | None:
        directory = self.config.cache_dir or self.default_cache_dir
        if not self.config.cache_max_bytes or not directory:
            return None
        _logger.info(
            "peak_attachment_s3: read cache in %s, at most %d bytes",
            directory,
            self.config.cache_max_bytes,
        )
        return ReadCache(directory, self.config.cache_max_bytes)

    @property
    def usable(self) -> bool:
        return self.started and self.error is None and self.store is not None


_RUNTIMES: dict[str, Runtime] = {}
_LOCK = threading.Lock()


def get(db_name: str, environ, section, cache_dir: str = "") -> Runtime:
    with _LOCK:
        runtime = _RUNTIMES.get(db_name)
        # Prefork: the master loads the registry before forking; a child must
        # not share the master's pooled S3 connections.
        if runtime is None or runtime.pid != os.getpid():
            runtime = _RUNTIMES[db_name] = Runtime(db_name, environ, section, cache_dir)
        return runtime


def reset(db_name: str | None = None) -> None:
    """Forget the state (tests, or after a configuration change)."""
    with _LOCK:
        if db_name is None:
            _RUNTIMES.clear()
        else:
            _RUNTIMES.pop(db_name, None)
