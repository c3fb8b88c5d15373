# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
import os
import secrets
from unittest import mock

from odoo.tests.common import HttpCase, TransactionCase

from ..lib import runtime
from .s3_server import s3_environ, shared_seaweed


class S3Mixin:
    """ir.attachment with S3 turned on (PEAK_S3_ENABLED) against a real
    SeaweedFS; each class gets its own key prefix, so counts are exact."""

    s3_settings: dict = {}

    @classmethod
    def s3_server(cls):
        return shared_seaweed()

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.server = cls.s3_server()
        cls.prefix_root = f"test-{secrets.token_hex(4)}/"
        cls.set_s3_env(**cls.s3_settings)
        cls.Attachment = cls.env["ir.attachment"]
        cls.client = cls.server.client()
        cls.bucket = cls.server.credentials.bucket

    @classmethod
    def set_s3_env(cls, **settings):
        """(Re)configure the store as a deployment would, then forget the
        cached state so it is read, validated and probed again."""
        if getattr(cls, "_env_patch", None):
            cls._env_patch.stop()
        # Tests read what S3 holds now (a damaged or collected object): the
        # local read cache is off unless a test turns it on (test_cache.py).
        settings = {"cache_max_bytes": 0, **settings}
        env = s3_environ(cls.server, cls.prefix_root + "{db}/", **settings)
        cls._env_patch = mock.patch.dict(os.environ, env)
        cls._env_patch.start()  # restores the whole environment when stopped
        for key in list(os.environ):
            if key.startswith("PEAK_S3_") and key not in env:
                del os.environ[key]
        runtime.reset()

    @classmethod
    def tearDownClass(cls):
        if getattr(cls, "_env_patch", None):
            cls._env_patch.stop()
            cls._env_patch = None
        runtime.reset()
        super().tearDownClass()

    @property
    def prefix(self):
        return f"{self.prefix_root}{self.env.cr.dbname}/"

    def keys(self):
        found = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        ):
            found += [item["Key"] for item in page.get("Contents", [])]
        return found

    def quarantine(self, checksum):
        """Move an object where the GC of a database that no longer used it
        leaves it; its key."""
        key = f"{self.prefix}{checksum[:2]}/{checksum}"
        self.client.copy_object(
            Bucket=self.bucket,
            Key="quarantine/" + key,
            CopySource={"Bucket": self.bucket, "Key": key},
        )
        self.client.delete_object(Bucket=self.bucket, Key=key)
        return key

    def object_bytes(self, checksum):
        key = f"{self.prefix}{checksum[:2]}/{checksum}"
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()


class S3Case(S3Mixin, TransactionCase):
    pass


class S3HttpCase(S3Mixin, HttpCase):
    pass
