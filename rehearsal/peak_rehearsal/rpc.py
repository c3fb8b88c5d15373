"""Odoo's JSON-RPC as a browser speaks it: a session cookie, then call_kw.

One client for the seeder, the background scheduler and the samplers, and the
same payloads and error classes for the Locust users (``flows.py``), so an
error a user saw is classified the same way everywhere.
"""

import itertools
import logging

import requests

from .errors import RehearsalError

_logger = logging.getLogger(__name__)
TIMEOUT_S = 60.0
_ids = itertools.count(1)


class RPCError(RehearsalError):
    """An error Odoo returned for a call: ``kind`` says which family."""

    def __init__(self, kind, message):
        super().__init__(message)
        self.kind = kind


def classify(message):
    """The family of an Odoo error message: what the user would have seen.

    Odoo retries serialization failures and deadlocks itself (five times);
    one that reaches the caller is a user-visible error of kind
    ``serialization``. A lock or statement timeout is ``lock_timeout``.
    """
    text = (message or "").lower()
    if any(
        marker in text
        for marker in (
            "could not serialize",
            "concurrent update",
            "deadlock detected",
            "serializationfailure",
            "transactionrollbackerror",
        )
    ):
        return "serialization"
    if "lock timeout" in text or "lock_timeout" in text or "statement timeout" in text:
        return "lock_timeout"
    return "odoo"


def payload(model, method, args=(), kwargs=None):
    return {
        "jsonrpc": "2.0",
        "method": "call",
        "id": next(_ids),
        "params": {
            "model": model,
            "method": method,
            "args": list(args),
            "kwargs": kwargs or {},
        },
    }


def error_of(body):
    """``(kind, message)`` of a JSON-RPC answer, or None when it succeeded."""
    if not isinstance(body, dict):
        return "odoo", "the answer is not a JSON-RPC object"
    error = body.get("error")
    if not error:
        return None
    data = error.get("data") or {}
    message = data.get("message") or error.get("message") or "unknown error"
    name = data.get("name") or ""
    return classify(f"{name} {message}"), f"{name}: {message}" if name else message


class OdooRPC:
    """A logged-in JSON-RPC session on one database."""

    def __init__(self, url, db, login, password, timeout=TIMEOUT_S, session=None):
        self.url = url.rstrip("/")
        self.db = db
        self.login = login
        self.timeout = timeout
        self.session = session or requests.Session()
        self.uid = None
        self._password = password

    def authenticate(self):
        body = self._post(
            "/web/session/authenticate",
            {
                "jsonrpc": "2.0",
                "method": "call",
                "id": next(_ids),
                "params": {
                    "db": self.db,
                    "login": self.login,
                    "password": self._password,
                },
            },
        )
        failure = error_of(body)
        if failure:
            raise RehearsalError(
                f"login as {self.login!r} on database {self.db!r} failed: {failure[1]}"
            )
        self.uid = (body.get("result") or {}).get("uid")
        if not self.uid:
            raise RehearsalError(
                f"login as {self.login!r} on database {self.db!r} refused "
                "(wrong login or password: PEAK_REHEARSAL_PASSWORD)"
            )
        return self

    def call(self, model, method, *args, **kwargs):
        body = self._post("/web/dataset/call_kw", payload(model, method, args, kwargs))
        failure = error_of(body)
        if failure:
            raise RPCError(*failure)
        return body.get("result")

    def _post(self, path, data):
        try:
            response = self.session.post(
                self.url + path, json=data, timeout=self.timeout
            )
        except requests.Timeout as exc:
            raise RPCError(
                "timeout", f"{self.url}{path}: no answer in " f"{self.timeout:.0f} s"
            ) from exc
        except requests.ConnectionError as exc:
            raise RehearsalError(f"cannot reach Odoo at {self.url}: {exc}") from exc
        if response.status_code >= 400:
            raise RPCError("http", f"{self.url}{path}: HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise RPCError("http", f"{self.url}{path}: not JSON") from exc
