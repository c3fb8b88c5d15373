# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""The S3 object store behind ``ir.attachment`` (boto3; no Odoo import).

Every call is timed and classified for the metrics, and bounded in total;
timeouts and connection errors put the store in the *degraded* state, where
calls fail fast (:mod:`.circuit`); any success takes it out.  Bucket
reachability is checked by :meth:`S3Store.probe` (at start and by the health
check), never before each call.
"""

import base64
import copy
import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from . import metrics
from .cache import ReadCache, namespace
from .circuit import BACKGROUND_DEADLINE_S, Circuit
from .config import S3Config
from .errors import ContentCollision, S3Error, classify

__all__ = ["SHA256_META", "ContentCollision", "S3Error", "S3Store", "classify"]

_logger = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 3.0  # start-up and health check: never hold a worker long
#: User metadata holding the SHA-256 of an object's content: SHA-1, the key,
#: has public collisions; SHA-256 tells such a pair apart.
SHA256_META = "sha256"


@dataclass
class Health:
    degraded: bool = False
    last_error: str = ""
    last_error_at: float = 0.0
    last_ok_at: float = 0.0
    last_probe_at: float = 0.0


class S3Store:
    """One bucket and key prefix; thread-safe (boto3 clients are)."""

    #: the local read cache in front of verified reads (:mod:`.cache`), or None
    cache: ReadCache | None = None

    def __init__(self, cfg: S3Config, prefix: str):
        self.cfg = cfg
        self.prefix = prefix
        self.health = Health()
        self._lock = threading.Lock()
        self.circuit = Circuit(
            cfg.call_timeout_seconds,
            cfg.retry_interval_seconds,
            cfg.max_pool_connections,
        )
        client_config = Config(
            connect_timeout=cfg.connect_timeout,
            read_timeout=cfg.read_timeout,
            # total_max_attempts counts the first call; max_attempts would not
            retries={"mode": "adaptive", "total_max_attempts": cfg.max_attempts},
            s3={"addressing_style": cfg.addressing_style},
            max_pool_connections=cfg.max_pool_connections,
            signature_version="s3v4",  # also for presigned URLs (not SigV2)
        )
        # Credentials: boto3's chain only (env, profile, web identity, IMDS).
        session = boto3.session.Session()
        self.client = session.client(
            "s3",
            endpoint_url=cfg.endpoint_url or None,
            region_name=cfg.region or None,
            config=client_config,
        )
        # The start-up probe and the health check must answer quickly.
        self._probe_client = session.client(
            "s3",
            endpoint_url=cfg.endpoint_url or None,
            region_name=cfg.region or None,
            config=client_config.merge(
                Config(
                    retries={"mode": "adaptive", "total_max_attempts": 1},
                    connect_timeout=min(cfg.connect_timeout, PROBE_TIMEOUT_S),
                    read_timeout=min(cfg.read_timeout, PROBE_TIMEOUT_S),
                )
            ),
        )

    # -- bookkeeping ------------------------------------------------------

    def _ok(self) -> None:
        with self._lock:
            self.health.last_ok_at = time.time()
            if self.health.degraded:
                self.health.degraded = False
                metrics.S3_DEGRADED.set(0)
                _logger.warning(
                    "S3 attachment store is reachable again (bucket %s)",
                    self.cfg.bucket,
                )

    def _failed(self, operation: str, reason: str, detail: str) -> None:
        metrics.S3_OPERATION_ERRORS.labels(operation, reason).inc()
        if reason not in ("timeout", "connection"):
            return
        self.circuit.failed()
        with self._lock:
            self.health.last_error = detail
            self.health.last_error_at = time.time()
            if not self.health.degraded:
                self.health.degraded = True
                metrics.S3_DEGRADED.set(1)
                _logger.error(
                    "S3 attachment store DEGRADED (bucket %s, endpoint %s): %s",
                    self.cfg.bucket,
                    self.cfg.endpoint_url or "AWS",
                    detail,
                )

    def _call(self, operation: str, func, *args, deadline=None, admit=True, **kwargs):
        """``func`` within its deadline (:mod:`.circuit`); ``admit=False``
        tries S3 even while it is failing fast (the probe, local signing)."""
        wait = self.circuit.admit(self.health.degraded) if admit else 0.0
        if wait:
            detail = (
                f"S3 did not answer lately ({self.health.last_error}); "
                f"next try in {wait:.0f} s"
            )
            metrics.S3_OPERATION_ERRORS.labels(operation, "unavailable").inc()
            raise S3Error(operation, "unavailable", detail)
        start = time.perf_counter()
        try:
            seconds = deadline or self.circuit.deadline()
            result = self.circuit.run(seconds, func, *args, **kwargs)
        except (BotoCoreError, ClientError, OSError) as exc:
            metrics.S3_OPERATION_DURATION.labels(operation).observe(
                time.perf_counter() - start
            )
            reason = classify(exc)
            detail = str(exc)
            self._failed(operation, reason, detail)
            raise S3Error(operation, reason, detail) from exc
        metrics.S3_OPERATION_DURATION.labels(operation).observe(
            time.perf_counter() - start
        )
        self._ok()
        return result

    def key(self, relative_name: str) -> str:
        return self.prefix + relative_name

    def at(self, prefix: str) -> "S3Store":
        """The same bucket, client and health under another key prefix."""
        if prefix == self.prefix:
            return self
        view = copy.copy(self)
        view.prefix = prefix
        return view

    # -- operations -------------------------------------------------------

    def probe(self) -> None:
        """HEAD the bucket once, without retries: raises S3Error."""
        self.health.last_probe_at = time.time()
        self._call(
            "head",
            self._probe_client.head_bucket,
            Bucket=self.cfg.bucket,
            deadline=PROBE_TIMEOUT_S,
            admit=False,
        )

    def put_content(self, key: str, data: bytes) -> bool:
        """Store content-addressed ``data`` under ``key`` unless it is there:
        True when written, False when the same content already was.  Raises
        :class:`ContentCollision` when ``key`` holds other bytes, and never
        overwrites them (a conditional put covers a concurrent writer)."""
        digest = hashlib.sha256(data).hexdigest()
        head = self.head(key)
        if head is None:
            try:
                self.put(key, data, sha256=digest, if_absent=True)
                return True
            except S3Error as exc:
                if exc.reason != "precondition":
                    raise
                head = self.head(key)  # another writer got there first
                if head is None:
                    raise
        self._same_content(key, head, data, digest)
        return False

    def _same_content(self, key: str, head: dict, data: bytes, digest: str) -> None:
        if head.get("ContentLength") == len(data):
            stored = (head.get("Metadata") or {}).get(SHA256_META)
            if stored == digest:
                return
            # Written without the digest (before it was kept, or by another
            # tool): compare the bytes, as Odoo's filestore does.
            if stored is None and self.get(key) == data:
                return
        raise ContentCollision(key)

    def put(
        self,
        key: str,
        data: bytes,
        mimetype: str | None = None,
        sha256: str | None = None,
        if_absent: bool = False,
    ) -> None:
        """Upload with Content-MD5 (the server rejects corrupted bodies), then
        check the returned ETag (MD5 of a single-part object).  ``if_absent``:
        refused (reason ``precondition``) when the key exists."""
        md5 = hashlib.md5(data, usedforsecurity=False)
        extra = {"ContentType": mimetype} if mimetype else {}
        if sha256:
            extra["Metadata"] = {SHA256_META: sha256}
        if if_absent:
            extra["IfNoneMatch"] = "*"
        response = self._call(
            "put",
            self.client.put_object,
            Bucket=self.cfg.bucket,
            Key=key,
            Body=data,
            ContentMD5=base64.b64encode(md5.digest()).decode(),
            deadline=self.circuit.deadline(len(data)),
            **extra,
        )
        etag = str(response.get("ETag", "")).strip('"')
        if etag and "-" not in etag and etag != md5.hexdigest():
            detail = f"ETag {etag} of {key} is not the MD5 of the data sent"
            self._failed("put", "other", detail)
            raise S3Error("put", "other", detail)

    def get(self, key: str, sha1: str | None = None) -> bytes:
        """The object's bytes; with ``sha1``, checked against it and against
        the SHA-256 kept at write time (reason ``corrupt`` when they differ)."""

        response = self._call(
            "get", self.client.get_object, Bucket=self.cfg.bucket, Key=key
        )
        meta = response.get("Metadata") or {}
        try:  # the body: past the deadline, botocore's read timeout bounds it
            data = response["Body"].read()
        except (BotoCoreError, OSError) as exc:
            reason, detail = classify(exc), str(exc)
            self._failed("get", reason, detail)
            raise S3Error("get", reason, detail) from exc
        if sha1 is not None:
            stored = meta.get(SHA256_META)
            if hashlib.sha1(data, usedforsecurity=False).hexdigest() != sha1 or (
                stored and hashlib.sha256(data).hexdigest() != stored
            ):
                detail = f"{key}: content does not match its checksum"
                self._failed("get", "corrupt", detail)
                raise S3Error("get", "corrupt", detail)
        return data

    def get_cached(self, key: str, sha1: str) -> bytes:
        """``get`` checked against ``sha1``, through the local read cache."""
        if self.cache is None:
            return self.get(key, sha1=sha1)
        space = namespace(self.cfg.endpoint_url, self.cfg.bucket, self.prefix)
        data = self.cache.get(space, sha1)
        if data is None:
            data = self.get(key, sha1=sha1)
            self.cache.put_later(space, sha1, data)
        return data

    def get_if_exists(self, key: str) -> bytes | None:
        try:
            return self.get(key)
        except S3Error as exc:
            if exc.reason == "not_found":
                return None
            raise

    def copy(self, source: str, target: str) -> None:
        """Server-side copy, metadata included."""
        self._call(
            "copy",
            self.client.copy_object,
            deadline=BACKGROUND_DEADLINE_S,
            Bucket=self.cfg.bucket,
            Key=target,
            CopySource={"Bucket": self.cfg.bucket, "Key": source},
            MetadataDirective="COPY",
        )

    def open(self, key: str):
        """A streaming body (file-like ``read(n)``) and its length."""
        response = self._call(
            "get", self.client.get_object, Bucket=self.cfg.bucket, Key=key
        )
        return response["Body"], response.get("ContentLength")

    def head(self, key: str) -> dict | None:
        try:
            return self._call(
                "head", self.client.head_object, Bucket=self.cfg.bucket, Key=key
            )
        except S3Error as exc:
            if exc.reason == "not_found":
                return None
            raise

    def delete_many(self, keys: list[str]) -> int:
        deleted = 0
        for start in range(0, len(keys), 1000):
            chunk = keys[start : start + 1000]
            response = self._call(
                "delete",
                self.client.delete_objects,
                deadline=BACKGROUND_DEADLINE_S,
                Bucket=self.cfg.bucket,
                Delete={"Objects": [{"Key": k} for k in chunk], "Quiet": True},
            )
            errors = response.get("Errors") or []
            for error in errors:
                _logger.warning(
                    "S3 GC could not delete %s: %s",
                    error.get("Key"),
                    error.get("Message"),
                )
            deleted += len(chunk) - len(errors)
        return deleted

    def list_pages(self, prefix: str | None = None):
        """Pages of ``(key, last_modified_epoch)`` under the prefix."""
        token = None
        while True:
            kwargs = {"Bucket": self.cfg.bucket, "Prefix": prefix or self.prefix}
            if token:
                kwargs["ContinuationToken"] = token
            response = self._call("list", self.client.list_objects_v2, **kwargs)
            yield [
                (item["Key"], item["LastModified"].timestamp())
                for item in response.get("Contents", [])
            ]
            if not response.get("IsTruncated"):
                return
            token = response.get("NextContinuationToken")

    def presign(
        self,
        key: str,
        download_name: str | None,
        mimetype: str | None,
        as_attachment: bool = False,
    ):
        params = {"Bucket": self.cfg.bucket, "Key": key}
        disposition = "attachment" if as_attachment else "inline"
        if download_name:
            disposition += f"; filename*=UTF-8''{quote(download_name)}"
        if download_name or as_attachment:
            params["ResponseContentDisposition"] = disposition
        if mimetype:
            params["ResponseContentType"] = mimetype
        return self._call(
            "presign",
            self.client.generate_presigned_url,
            "get_object",
            Params=params,
            ExpiresIn=self.cfg.presign_expiry_seconds,
            admit=False,  # local signing
        )
