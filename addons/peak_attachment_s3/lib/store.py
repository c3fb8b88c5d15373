# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""The S3 object store behind ``ir.attachment`` (boto3; no Odoo import).

Every call is timed and classified for the metrics; timeouts and connection
errors put the store in the *degraded* state, any success takes it out.  Bucket
reachability is checked by :meth:`S3Store.probe` (at start and by the health
check), never before each call.
"""

import base64
import hashlib
import logging
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.exceptions import (
    ConnectionError as BotoConnectionError,
)

from . import metrics
from .config import S3Config

_logger = logging.getLogger(__name__)

PROBE_TIMEOUT_S = 3.0  # start-up and health check: never hold a worker long
_NOT_FOUND = {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}
_DENIED = {
    "403",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AllAccessDisabled",
}


class S3Error(Exception):
    """An S3 operation failed after its retries."""

    def __init__(self, operation: str, reason: str, detail: str):
        super().__init__(f"S3 {operation} failed ({reason}): {detail}")
        self.operation = operation
        self.reason = reason
        self.detail = detail


def classify(exc: Exception) -> str:
    if isinstance(exc, ConnectTimeoutError | ReadTimeoutError):
        return "timeout"
    if isinstance(
        exc, EndpointConnectionError | ConnectionClosedError | BotoConnectionError
    ):
        return "connection"
    if isinstance(exc, TimeoutError):  # the body's socket, outside botocore
        return "timeout"
    if isinstance(exc, OSError):
        return "connection"
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        if code in _NOT_FOUND or status == "404":
            return "not_found"
        if code in _DENIED or status == "403":
            return "denied"
    return "other"


@dataclass
class Health:
    degraded: bool = False
    last_error: str = ""
    last_error_at: float = 0.0
    last_ok_at: float = 0.0
    last_probe_at: float = 0.0


class S3Store:
    """One bucket and key prefix; thread-safe (boto3 clients are)."""

    def __init__(self, cfg: S3Config, prefix: str):
        self.cfg = cfg
        self.prefix = prefix
        self.health = Health()
        self._lock = threading.Lock()
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

    def _call(self, operation: str, func, *args, **kwargs):
        start = time.perf_counter()
        try:
            result = func(*args, **kwargs)
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

    # -- operations -------------------------------------------------------

    def probe(self) -> None:
        """HEAD the bucket once, without retries: raises S3Error."""
        self.health.last_probe_at = time.time()
        self._call("head", self._probe_client.head_bucket, Bucket=self.cfg.bucket)

    def put(self, key: str, data: bytes, mimetype: str | None = None) -> None:
        """Upload with Content-MD5 (the server rejects corrupted bodies), then
        check the returned ETag (MD5 of a single-part object)."""
        md5 = hashlib.md5(data, usedforsecurity=False)
        extra = {"ContentType": mimetype} if mimetype else {}
        response = self._call(
            "put",
            self.client.put_object,
            Bucket=self.cfg.bucket,
            Key=key,
            Body=data,
            ContentMD5=base64.b64encode(md5.digest()).decode(),
            **extra,
        )
        etag = str(response.get("ETag", "")).strip('"')
        if etag and "-" not in etag and etag != md5.hexdigest():
            detail = f"ETag {etag} of {key} is not the MD5 of the data sent"
            self._failed("put", "other", detail)
            raise S3Error("put", "other", detail)

    def get(self, key: str) -> bytes:
        def fetch():
            response = self.client.get_object(Bucket=self.cfg.bucket, Key=key)
            return response["Body"].read()

        return self._call("get", fetch)

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

    def presign(self, key: str, download_name: str | None, mimetype: str | None):
        params = {"Bucket": self.cfg.bucket, "Key": key}
        if download_name:
            params["ResponseContentDisposition"] = (
                f"inline; filename*=UTF-8''{quote(download_name)}"
            )
        if mimetype:
            params["ResponseContentType"] = mimetype
        return self._call(
            "presign",
            self.client.generate_presigned_url,
            "get_object",
            Params=params,
            ExpiresIn=self.cfg.presign_expiry_seconds,
        )
