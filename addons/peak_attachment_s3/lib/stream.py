# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""An HTTP stream of an S3 object: loaded only when someone reads it, and
sent in chunks (never whole in memory) when it is large."""

from odoo.http import Response, Stream, request
from odoo.tools._vendor.send_file import send_file as _send_file

from .store import S3Error


class S3Stream(Stream):
    """A ``data`` stream whose ``data`` is fetched from S3 on first access.

    ``ir.binary`` may read ``data`` (mimetype sniffing, image resizing) or
    replace it; either works. If nobody touched it and the object is at least
    ``PEAK_S3_STREAM_MIN_BYTES`` (``chunked``), ``get_response`` pipes the
    object body through werkzeug's file wrapper instead.
    """

    store = None
    key = None
    sha1 = None  # checked on read (``etag`` may be changed by ir.binary)
    chunked = False
    presigned = False  # a redirect to S3, signed when the response is made
    #: ``recover(exc)`` after a failed read: the bytes brought back from the
    #: GC's quarantine, or None (``ir.attachment._peak_s3_recover``)
    recover = None
    _data = None

    @property
    def data(self):
        if self._data is None and self.store is not None:
            from ..models.ir_attachment import S3StorageError

            try:
                self._data = self.store.get_cached(self.key, self.sha1)
            except S3Error as exc:
                self._data = self._recovered(exc)
                if self._data is None:
                    raise S3StorageError(str(exc)) from exc
        return self._data

    def _recovered(self, exc):
        return self.recover(exc) if self.recover is not None else None

    @data.setter
    def data(self, value):
        self._data = value
        if value is not None:
            self.store = None  # replaced (e.g. a resized image): serve that

    def get_response(
        self,
        as_attachment=None,
        immutable=None,
        content_security_policy="default-src 'none'",
        **send_file_kwargs,
    ):
        if self.type == "url" and self.presigned:
            # Odoo's ``download=true`` asks for an attachment disposition.
            self.url = self._presign(
                self.as_attachment if as_attachment is None else as_attachment
            )
        if not (self.type == "data" and self.chunked and self._data is None):
            return super().get_response(
                as_attachment, immutable, content_security_policy, **send_file_kwargs
            )
        from ..models.ir_attachment import S3StorageError

        try:
            body, length = self.store.open(self.key)
        except S3Error as exc:
            self._data = self._recovered(exc)
            if self._data is None:
                raise S3StorageError(str(exc)) from exc
            return super().get_response(
                as_attachment, immutable, content_security_policy, **send_file_kwargs
            )
        if as_attachment is None:
            as_attachment = self.as_attachment
        if immutable is None:
            immutable = self.immutable
        res = _send_file(
            body,
            environ=request.httprequest.environ,
            mimetype=self.mimetype,
            as_attachment=as_attachment,
            download_name=self.download_name,
            conditional=self.conditional,
            etag=self.etag,
            last_modified=self.last_modified,
            max_age=31536000 if immutable else self.max_age,
            response_class=Response,
            **send_file_kwargs,
        )
        if res.status_code == 200 and length is not None:
            res.content_length = length
        elif res.status_code == 304:
            body.close()  # not sent: give the connection back to the pool
        # As Stream.get_response does for files and data.
        res.headers["X-Content-Type-Options"] = "nosniff"
        if content_security_policy:
            res.headers["Content-Security-Policy"] = content_security_policy
        if self.public:
            if (res.cache_control.max_age or 0) > 0:
                res.cache_control.public = True
        else:
            res.cache_control.pop("public", "")
            res.cache_control.private = True
        if immutable:
            res.cache_control["immutable"] = None
        return res

    def _presign(self, as_attachment) -> str:
        from ..models.ir_attachment import S3StorageError

        try:
            return self.store.presign(
                self.key, self.download_name, self.mimetype, bool(as_attachment)
            )
        except S3Error as exc:
            raise S3StorageError(str(exc)) from exc
