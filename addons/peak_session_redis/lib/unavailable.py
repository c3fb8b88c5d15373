# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""What a request gets while Redis is unreachable: a 503 it can read."""

import json

import redis
from werkzeug.exceptions import ServiceUnavailable

from . import metrics

JSON_MIMETYPES = ("application/json", "application/json-rpc")
MESSAGE = "session store unavailable"


def _unavailable_app(retry_after: int):
    """WSGI app answering 503: JSON-RPC error for JSON requests, else a page."""

    def app(environ, start_response):
        metrics.FALLBACKS.labels("unavailable_503").inc()
        if environ.get("CONTENT_TYPE", "").split(";")[0].strip() in JSON_MIMETYPES:
            body = json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": None,
                    "error": {
                        "code": 503,
                        "message": MESSAGE,
                        "data": {
                            "name": "peak_session_redis.SessionStoreUnavailable",
                            "message": f"{MESSAGE}, retry in {retry_after} s",
                        },
                    },
                }
            ).encode()
            content_type = "application/json; charset=utf-8"
        else:
            body = (
                "<!DOCTYPE html><html><head><meta charset='utf-8'>"
                "<title>503 Service Unavailable</title></head><body>"
                "<h1>503 Service Unavailable</h1>"
                f"<p>The {MESSAGE}. Please retry in a few seconds; "
                "your work is not lost.</p></body></html>"
            ).encode()
            content_type = "text/html; charset=utf-8"
        start_response(
            "503 SERVICE UNAVAILABLE",
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
                ("Retry-After", str(retry_after)),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]

    return app


class SessionStoreUnavailable(ServiceUnavailable):
    """Redis is unreachable. An HTTPException, so Odoo neither logs a
    traceback nor wraps it: ``error_response`` is served as is."""

    description = MESSAGE

    def __init__(self, retry_after: float):
        super().__init__(description=MESSAGE)
        self.error_response = _unavailable_app(max(1, round(retry_after)))


def reason_of(exc: Exception) -> str:
    if isinstance(exc, redis.exceptions.TimeoutError):
        return "timeout"
    if isinstance(exc, redis.exceptions.ConnectionError):
        return "connection"
    return "other"
