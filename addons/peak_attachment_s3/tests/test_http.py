# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Downloads over HTTP: in memory, streamed, presigned; the health check."""

import io
import os

import requests
from PIL import Image

from odoo.tests import tagged

from .common import S3HttpCase


@tagged("post_install", "-at_install")
class TestS3Http(S3HttpCase):
    def setUp(self):
        super().setUp()
        self.authenticate("admin", "admin")
        self.raw = os.urandom(300_000)
        self.attachment = self.env["ir.attachment"].create(
            {"name": "big label.pdf", "raw": self.raw, "mimetype": "application/pdf"}
        )
        self.assertTrue(self.attachment.store_fname.startswith("s3://"))

    def tearDown(self):
        self.set_s3_env()
        super().tearDown()

    def _download(self, **kwargs):
        return self.url_open(
            f"/web/content/{self.attachment.id}?download=true", **kwargs
        )

    def test_downloads_bring_back_a_quarantined_object(self):
        for stream_min_bytes in (1, 10_000_000):  # streamed, then in memory
            self.set_s3_env(stream_min_bytes=stream_min_bytes)
            key = self.quarantine(self.attachment.checksum)
            with self.assertLogs("odoo.addons.peak_attachment_s3", "WARNING"):
                response = self._download()
            self.assertEqual(response.status_code, 200)
            self.assertEqual(response.content, self.raw)
            self.client.head_object(Bucket=self.bucket, Key=key)  # put back

    def test_small_download_in_memory(self):
        self.set_s3_env(stream_min_bytes=10_000_000)
        response = self._download()
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, self.raw)

    def test_large_download_is_streamed(self):
        self.set_s3_env(stream_min_bytes=1)
        response = self._download()
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.content, self.raw)
        self.assertEqual(int(response.headers["Content-Length"]), len(self.raw))
        self.assertIn("attachment", response.headers["Content-Disposition"])
        etag = response.headers["ETag"]
        cached = self._download(headers={"If-None-Match": etag})
        self.assertEqual(cached.status_code, 304)

    def test_streamed_download_keeps_the_requested_filename(self):
        self.set_s3_env(stream_min_bytes=1)
        response = self.url_open(
            f"/web/content/{self.attachment.id}?download=true&filename=renamed.pdf"
        )
        self.assertEqual(response.content, self.raw)
        self.assertIn("renamed.pdf", response.headers["Content-Disposition"])

    def test_large_image_in_s3_is_resized(self):
        self.set_s3_env(stream_min_bytes=1, presign_min_bytes=1)
        buffer = io.BytesIO()
        Image.frombytes("RGB", (160, 160), os.urandom(160 * 160 * 3)).save(
            buffer, "PNG"
        )
        image = self.env["ir.attachment"].create(
            {"name": "photo.png", "raw": buffer.getvalue(), "mimetype": "image/png"}
        )
        self.assertTrue(image.store_fname.startswith("s3://"))
        response = self.url_open(f"/web/image/{image.id}/64x64")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(Image.open(io.BytesIO(response.content)).size, (64, 64))
        full = self.url_open(f"/web/image/{image.id}")
        self.assertEqual(full.content, buffer.getvalue())

    def test_presigned_redirect(self):
        self.set_s3_env(presign_min_bytes=100_000, presign_expiry_seconds=60)
        response = self._download(allow_redirects=False)
        self.assertEqual(response.status_code, 302)
        location = response.headers["Location"]
        self.assertTrue(location.startswith(self.server.credentials.endpoint_url))
        self.assertIn("X-Amz-Signature", location)
        self.assertNotIn(self.server.credentials.secret_key, location)
        direct = requests.get(location, timeout=10)
        self.assertEqual(direct.status_code, 200)
        self.assertEqual(direct.content, self.raw)
        # download=true: the browser saves the file under its name.
        disposition = direct.headers["Content-Disposition"]
        self.assertTrue(disposition.startswith("attachment;"), disposition)
        self.assertIn("big%20label.pdf", disposition)
        # Without it the document opens in the browser.
        shown = self.url_open(
            f"/web/content/{self.attachment.id}", allow_redirects=False
        )
        self.assertEqual(shown.status_code, 302)
        inline = requests.get(shown.headers["Location"], timeout=10)
        self.assertTrue(inline.headers["Content-Disposition"].startswith("inline;"))

    def test_health_check(self):
        response = self.url_open("/peak/health/s3")
        self.assertEqual(response.status_code, 200)
        body = response.json()
        self.assertEqual(body["status"], "ok")
        self.assertEqual(body["storage"], "s3")
        self.assertEqual(set(body), {"status", "storage"})  # nothing to leak

    def test_misconfigured_s3_odoo_still_serves(self):
        self.set_s3_env(key_prefix="odoo/{dbname}/")
        self.assertEqual(self.url_open("/web/health").status_code, 200)
        response = self.url_open("/peak/health/s3")
        self.assertEqual(response.status_code, 503)
        self.assertEqual(response.json()["status"], "misconfigured")
        self.assertEqual(response.json()["storage"], "file")
