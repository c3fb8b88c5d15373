# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Real SeaweedFS S3 servers for the addon tests (no pytest fixtures here:
Odoo TransactionCases cannot use them).

``shared_seaweed()`` starts one server lazily per test process and stops it at
exit; tests that stop S3 on purpose start their own with ``private_seaweed()``.
"""

import atexit
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))

from peak_dev.seaweed import SeaweedS3  # noqa: E402

BUCKET = "peak-attachments"
_shared: SeaweedS3 | None = None


def _cleanup(server: SeaweedS3, data_dir: Path) -> None:
    server.stop(grace_s=3)
    shutil.rmtree(data_dir, ignore_errors=True)


def private_seaweed(bucket: str = BUCKET) -> SeaweedS3:
    """A started server of one's own; stopped and removed at exit at the latest."""
    data_dir = Path(tempfile.mkdtemp(prefix="peak-s3-test-"))
    try:
        server = SeaweedS3(data_dir, bucket=bucket)
    except BaseException:
        shutil.rmtree(data_dir, ignore_errors=True)
        raise
    atexit.register(_cleanup, server, data_dir)
    return server.start()


def shared_seaweed() -> SeaweedS3:
    global _shared
    if _shared is None or not _shared.alive():
        _shared = private_seaweed()
    return _shared


def s3_environ(server: SeaweedS3, prefix: str, **extra) -> dict:
    """PEAK_S3_* for ``server``; credentials through boto3's env chain."""
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
