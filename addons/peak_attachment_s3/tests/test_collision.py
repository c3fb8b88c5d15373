# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Two files with the same SHA-1 never overwrite each other, and what is read
back is what was written (real SeaweedFS, the public SHAttered pair)."""

import hashlib
import os

from odoo.exceptions import UserError
from odoo.tests import tagged

from ..lib.store import SHA256_META, S3Error
from .common import S3Case
from .shattered import pair


@tagged("post_install", "-at_install")
class TestCollision(S3Case):
    def _create(self, raw, name="shattered.pdf"):
        return self.Attachment.create(
            {"name": name, "raw": raw, "mimetype": "application/pdf"}
        )

    def _key(self, raw):
        sha = hashlib.sha1(raw).hexdigest()
        return f"{self.prefix}{sha[:2]}/{sha}"

    def test_a_colliding_file_is_refused_and_the_first_kept(self):
        first, second = pair(b"\n%% delivery note " + os.urandom(32))
        kept = self._create(first)
        with self.assertRaisesRegex(UserError, "collides with an existing file"):
            with self.env.cr.savepoint():
                self._create(second, name="forged.pdf")
        self.assertEqual(self.object_bytes(kept.checksum), first)
        self.assertFalse(self.Attachment.search([("name", "=", "forged.pdf")]))
        kept.invalidate_recordset()
        self.assertEqual(kept.raw, first)

    def test_the_same_content_twice_shares_one_object(self):
        raw = b"%PDF-1.4 invoice " + os.urandom(64)
        one, two = self._create(raw), self._create(raw, name="again.pdf")
        self.assertEqual(one.store_fname, two.store_fname)
        head = self.client.head_object(Bucket=self.bucket, Key=self._key(raw))
        self.assertEqual(head["Metadata"][SHA256_META], hashlib.sha256(raw).hexdigest())

    def test_objects_written_without_a_digest_are_compared_byte_for_byte(self):
        # As an earlier version of the addon (or a copy tool) left them.
        first, second = pair(b"\n%% legacy " + os.urandom(32))
        self.client.put_object(Bucket=self.bucket, Key=self._key(first), Body=first)
        self._create(first)  # the same bytes: accepted, nothing rewritten
        with self.assertRaisesRegex(UserError, "collides with an existing file"):
            with self.env.cr.savepoint():
                self._create(second)
        self.assertEqual(self.object_bytes(hashlib.sha1(first).hexdigest()), first)

    def test_a_changed_object_is_refused_on_read(self):
        raw = b"%PDF-1.4 label " + os.urandom(64)
        attachment = self._create(raw)
        self.client.put_object(
            Bucket=self.bucket, Key=self._key(raw), Body=b"%PDF-1.4 tampered"
        )
        attachment.invalidate_recordset()
        with self.assertRaisesRegex(UserError, "does not match its checksum"):
            attachment.raw  # noqa: B018 - the read is the test

    def test_a_conditional_put_never_replaces_an_object(self):
        store = self.Attachment._peak_s3_store()
        key = f"{self.prefix}conditional-put"
        store.put(key, b"first", if_absent=True)
        with self.assertRaises(S3Error) as caught:
            store.put(key, b"second", if_absent=True)
        self.assertEqual(caught.exception.reason, "precondition")
        self.assertEqual(store.get(key), b"first")

    def test_a_colliding_filestore_file_is_not_moved_to_s3(self):
        first, second = pair(b"\n%% archived " + os.urandom(32))
        kept = self._create(first)
        self.set_s3_env(enabled="0")
        try:
            local = self._create(second, name="local.pdf")  # the filestore
        finally:
            self.set_s3_env()
        result = self.Attachment._peak_s3_migrate_batch(local.ids, "s3")
        self.assertEqual((result["collided"], result["moved"]), (1, 0))
        local.invalidate_recordset()
        self.assertFalse(local.store_fname.startswith("s3://"))
        self.assertEqual(local.raw, second)
        self.assertEqual(self.object_bytes(kept.checksum), first)
