"""Odoo's own HTTP, session and attachment suites pass with
peak_session_redis and peak_attachment_s3 active (real Redis, real SeaweedFS).

They run in a pytest-odoo subprocess on the database of ``make test`` (which
installs ``test_http`` for them), with its own HTTP port. What they check of
Odoo's filesystem stores themselves is deselected, each with its reason
(the addons' readmes say the same).
"""

import configparser
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from peak_dev.processes import free_port
from peak_dev.redis import RedisServer
from peak_dev.seaweed import s3_environ

ROOT = Path(__file__).resolve().parents[1]
CONFIG = os.environ.get("PEAK_TEST_ODOO_CONFIG")
DB = os.environ.get("PEAK_TEST_DB")
ODOO = Path(os.environ.get("ODOO_SRC", "/opt/odoo")) / "odoo" / "addons"
SUITES = [
    "test_http/tests",
    "base/tests/test_ir_attachment.py",
    "base/tests/test_ir_http.py",
]
#: node id (relative to odoo/addons) -> why it cannot hold with the addons on
_SESSION_TTL = (
    "Redis expires sessions by its own clock, which freezegun does not move "
    "(the session outlives the frozen week); the TTL itself is "
    "peak_session_redis' test_store"
)
_FILESTORE = (
    "reads the filestore directory; in S3 the object is in the bucket "
    "(peak_attachment_s3's test_storage and test_gc check the same behaviour "
    "there)"
)
_SHARED_OBJECT = (
    "checks the session object the test holds after a request changed it on "
    "the server (or changes it without saving): test_http's in-memory store "
    "hands both the same Python object; a store outside the process, Odoo's "
    "filesystem store included, cannot"
)
DESELECTED = {
    "test_http/tests/test_registry.py": "copies and drops the database under "
    "test, which the outer `make test` run holds open; about registry loading, "
    "which neither addon touches",
    "test_http/tests/test_web_server.py": "needs a web server (nginx) on port 80 "
    "in front of Odoo; tagged -standard, Odoo's own runner skips it too",
    **{
        f"test_http/tests/test_session.py::TestSessionStore::{name}": _SESSION_TTL
        for name in (
            "test02_session_lifetime_1week",
            "test03_session_lifetime_1min",
            "test04_session_lifetime_nodb",
        )
    },
    **{
        f"test_http/tests/test_device.py::TestDevice::test_detection_device_{name}": (
            _SHARED_OBJECT
        )
        for name in (
            "according_to_ipaddress",
            "according_to_time",
            "according_to_useragent",
            "no_readonly",
            "readonly",
            "readonly_then_no_readonly",
        )
    },
    **{
        f"test_http/tests/test_session.py::TestHttpSession::{name}": _SHARED_OBJECT
        for name in (
            "test_session0_debug_mode",
            "test_session3_logout_15_0_geoip",
            "test_session10_explicit_session",
        )
    },
    "test_http/tests/test_static.py::TestHttpStatic::test_static01_debug_assets": (
        _SHARED_OBJECT
    ),
    **{
        f"test_http/tests/test_static.py::TestHttpStatic::{name}": "web assets "
        "stay in the database with peak_attachment_s3, the test looks for their "
        "file in the filestore"
        for name in ("test_static20_web_assets", "test_static21_web_assets")
    },
    "test_http/tests/test_webjson.py::TestHttpWebJson_1::test_webjson_list_args": (
        "expects [ and ] unescaped in the redirect URL; since 3.0.3 Werkzeug "
        "percent-encodes them on Python < 3.12 too (pallets/werkzeug#2828), and "
        "the test's own check of the redirected request's result still passes"
    ),
    "base/tests/test_ir_attachment.py::TestIrAttachment::test_01_store_in_db": (
        "PEAK_S3_ENABLED decides the storage, over the ir_attachment.location "
        "parameter the test sets"
    ),
    **{
        f"base/tests/test_ir_attachment.py::TestIrAttachment::{name}": _FILESTORE
        for name in (
            "test_02_store_on_disk",
            "test_04_keep_file",
            "test_05_change_data_change_file",
            "test_11_copy",
            "test_12_gc",
            "test_13_rollback",
        )
    },
}
#: skip reason -> why it is fine (any other skip fails, as in `make test`)
ALLOWED_SKIPS = {
    "crm is not installed": "test_webjson's CRM case needs the CRM app, which "
    "neither addon touches",
}
MIN_PASSED = 130  # the suites shrinking (a collection error) must not pass


@pytest.mark.skipif(not (CONFIG and DB), reason="needs `make test`")
def test_odoo_suites_pass_with_redis_sessions_and_s3_attachments(seaweed_s3, tmp_path):
    redis_server = RedisServer(tmp_path / "redis").start()
    try:
        # The same Odoo configuration on ports of its own: the HTTP server of
        # `make test` itself is up.
        parser = configparser.ConfigParser(interpolation=None)
        parser.read(CONFIG)
        parser["options"]["http_port"] = str(free_port())
        parser["options"]["gevent_port"] = str(free_port())
        config = tmp_path / "odoo.conf"
        with open(config, "w") as handle:
            parser.write(handle)
        prefix = f"odoo-suites-{secrets.token_hex(4)}/{{db}}/"
        env = dict(
            os.environ,
            **s3_environ(seaweed_s3, prefix),
            PEAK_REDIS_URL=redis_server.url,
            PEAK_REDIS_PREFIX="suites:",
            PEAK_REDIS_KEY_SECRET=secrets.token_hex(32),
            PYTHONPATH=os.pathsep.join(
                [str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]
            ),
        )
        argv = [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "odoo_suites_plugin",
            f"--odoo-config={config}",
            f"--odoo-database={DB}",
            "--odoo-http",
            "--odoo-log-level=critical",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            *[str(ODOO / suite) for suite in SUITES],
        ]
        # Whole files are ignored; tests are deselected by class and name
        # (pytest's --deselect does not match the node ids of files outside
        # the rootdir).
        tests = [node.split("::")[1:] for node in DESELECTED if "::" in node]
        argv += [f"--ignore={ODOO / node}" for node in DESELECTED if "::" not in node]
        argv += ["-k", " and ".join(f"not ({c} and {n})" for c, n in tests)]
        done = subprocess.run(
            argv,
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        output = done.stdout + done.stderr
        (tmp_path / "odoo-suites.log").write_text(output)
        assert done.returncode == 0, output[-6000:]
        passed = int(re.search(r"(\d+) passed", output).group(1))
        assert passed >= MIN_PASSED, output[-2000:]
        found = re.search(r"(\d+) skipped", output)
        skips = re.findall(r"(?m)^SKIPPED \[(\d+)\] [^ ]+: (.*)$", output)
        assert sum(int(n) for n, _ in skips) == (int(found.group(1)) if found else 0)
        assert {reason for _, reason in skips} <= set(ALLOWED_SKIPS), skips
        # -k matches substrings: exactly the listed tests, no neighbour.
        deselected = int(re.search(r"(\d+) deselected", output).group(1))
        assert deselected == len(tests), output[-2000:]
        # The stores were really in use: sessions in Redis, files in S3.
        calls = redis_server.client().info("commandstats")
        assert calls.get("cmdstat_evalsha", {}).get("calls", 0) > 100, calls
        objects = seaweed_s3.client().list_objects_v2(
            Bucket=seaweed_s3.credentials.bucket, Prefix=prefix.split("{")[0]
        )
        assert objects.get("KeyCount", 0) > 0
    finally:
        redis_server.stop()
