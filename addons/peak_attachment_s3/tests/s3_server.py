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

from peak_dev.seaweed import SeaweedS3, s3_environ  # noqa: E402,F401

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
