"""Logging of the daemon: one JSON object per line on stderr.

Call :func:`configure_logging` once at start-up, then log with the standard
library; structured data goes in ``extra``, whose keys become top-level keys
of the JSON line::

    log = logging.getLogger("peak_governor.policy")
    log.info(
        "leasing %s: %s", channel, decision.explanation,
        extra={"event": "lease", "database": "odoo", "evidence": {...}},
    )

gives::

    {"ts":"2025-01-31T12:00:00.123Z","level":"INFO","logger":"peak_governor.policy",
     "msg":"leasing root.bulk: ...","event":"lease","database":"odoo",
     "evidence":{...}}

Keys: ``ts`` (UTC, ISO 8601, milliseconds), ``level``, ``logger``, ``msg``
(the formatted message), the extras (pass nested data as one key, e.g.
``extra={"evidence": {...}}``; an extra named like a core key gets a ``_``
suffix), ``exc`` (the traceback) with ``exc_info``, ``stack`` with
``stack_info``.  A value JSON cannot encode is written as its ``repr``: a log
call never raises because of its extras.

Never log a secret as is: :func:`mask` hides passwords, alone or inside a
libpq DSN / URI.
"""

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import TextIO

CORE_KEYS = ("ts", "level", "logger", "msg")

# Attributes every LogRecord has: anything else on a record came from extra.
_RECORD_ATTRS = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}

_HANDLER_MARK = "_peak_governor_handler"


def _safe_repr(value) -> str:
    try:
        return repr(value)
    except Exception:
        return f"<unrepresentable {type(value).__name__}>"


def _dumps(value) -> str:
    return json.dumps(value, default=_safe_repr, ensure_ascii=False, allow_nan=False)


def _encodable(value):
    """``value`` if JSON can encode it, else its repr."""
    try:
        _dumps(value)
    except (TypeError, ValueError, RecursionError):
        return _safe_repr(value)
    return value


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # bad %-args: keep what we have rather than lose the line
        return f"{_safe_repr(record.msg)} % {_safe_repr(record.args)}"


def _extras(record: logging.LogRecord) -> dict:
    extras = {}
    for key, value in record.__dict__.items():
        if key in _RECORD_ATTRS or key.startswith("_"):
            continue
        extras[key + "_" if key in CORE_KEYS else key] = value
    return extras


def _timestamp(created: float) -> str:
    stamp = datetime.fromtimestamp(created, tz=UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": _message(record),
        }
        out.update(_extras(record))
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        try:
            return _dumps(out)
        except (TypeError, ValueError, RecursionError):
            # A circular structure, a non-string dict key, NaN...: repr only
            # the values that cannot be encoded.
            return _dumps({key: _encodable(value) for key, value in out.items()})


class TextFormatter(logging.Formatter):
    """For a human at a terminal: time, level, logger, message, extras."""

    def format(self, record: logging.LogRecord) -> str:
        line = (
            f"{_timestamp(record.created)} {record.levelname:<7} "
            f"{record.name}: {_message(record)}"
        )
        extras = _extras(record)
        if extras:
            line += " " + " ".join(
                f"{key}={_dumps(_encodable(value))}" for key, value in extras.items()
            )
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


LEVELS = {
    "DEBUG": logging.DEBUG,
    "INFO": logging.INFO,
    "WARNING": logging.WARNING,
    "WARN": logging.WARNING,
    "ERROR": logging.ERROR,
    "CRITICAL": logging.CRITICAL,
}


def configure_logging(
    level: str, json_format: bool = True, *, stream: TextIO | None = None
) -> logging.Handler:
    """Send every log record at ``level`` or above to stderr (or ``stream``).

    ``level`` is a level name (``debug``, ``INFO``, ...; :class:`ValueError`
    otherwise).  JSON lines by default, human text with ``json_format``
    False.  Calling again replaces the handler installed before; handlers
    installed by others (pytest's, for instance) are left alone.
    """
    name = str(level).strip().upper()
    # Not logging.getLevelName: a host may rename levels (Odoo registers its
    # level 25 as "INFO"), which would silently drop real INFO records.
    numeric = LEVELS.get(name)
    if numeric is None:
        raise ValueError(f"unknown log level {level!r}")
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
            handler.close()
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(JsonFormatter() if json_format else TextFormatter())
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    root.setLevel(numeric)
    logging.captureWarnings(True)
    return handler


# -- secrets -------------------------------------------------------------

MASK = "***"

#: Keywords of a libpq ``key=value`` connection string (PostgreSQL 17).
LIBPQ_KEYWORDS = frozenset(
    """
    host hostaddr port dbname user password passfile require_auth
    channel_binding connect_timeout client_encoding options application_name
    fallback_application_name keepalives keepalives_idle keepalives_interval
    keepalives_count tcp_user_timeout replication gssencmode sslmode
    sslnegotiation requiressl sslcompression sslcert sslkey sslpassword
    sslcertmode sslrootcert sslcrl sslcrldir sslsni requirepeer
    ssl_min_protocol_version ssl_max_protocol_version krbsrvname gsslib
    gssdelegation service target_session_attrs load_balance_hosts
    """.split()
)
_SECRET_KEYWORDS = frozenset({"password", "sslpassword"})

_URI = re.compile(r"(?P<scheme>\s*postgres(?:ql)?://)(?P<rest>.*)", re.I | re.S)
_URI_SECRET_PARAM = re.compile(r"(?P<key>[?&](?:ssl)?password=)(?P<value>[^&#]*)")
# One ``key = value`` pair: a value is quoted (backslash escapes) or a run
# of non-blank characters (backslash escapes too).
_KV_PAIR = re.compile(
    r"\s*(?P<key>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*"
    r"(?P<value>'(?:\\.|[^'\\])*'|(?:\\.|[^\s'\\])*)"
    r"(?=\s|$)",
    re.S,
)


def _mask_uri(scheme: str, rest: str) -> str:
    # The user info ends at the last "@" (a password may hold a raw "@",
    # "/" or "?"): masking too much beats leaking.
    at = rest.rfind("@")
    if at >= 0:
        user, colon, _password = rest[:at].partition(":")
        if colon:
            rest = f"{user}:{MASK}{rest[at:]}"
    return scheme + _URI_SECRET_PARAM.sub(lambda m: m["key"] + MASK, rest)


def _mask_keywords(value: str) -> str | None:
    """``value`` with its passwords masked, None unless a libpq DSN."""
    out, pos = [], 0
    while pos < len(value) and not value[pos:].isspace():
        match = _KV_PAIR.match(value, pos)
        if match is None or match["key"] not in LIBPQ_KEYWORDS:
            return None
        if match["key"] in _SECRET_KEYWORDS:
            out.append(value[pos : match.start("value")] + MASK)
        else:
            out.append(match[0])
        pos = match.end()
    return "".join(out) + value[pos:] if out else None


def mask(value: str | None) -> str:
    """``value`` safe to log: a password becomes ``***`` entirely.

    In a libpq URI (``postgresql://user:secret@host/db?sslpassword=x``) or
    ``key=value`` connection string (``host=db password='s e' user=u``)
    only the passwords are masked.  Anything else is taken for a secret: a
    string that merely looks like a DSN but holds an unknown keyword or an
    unterminated quote is masked whole.  An empty or None value stays empty
    (nothing to hide, and "not set" helps).
    """
    if not value:
        return ""
    value = str(value)
    uri = _URI.fullmatch(value)
    if uri:
        return _mask_uri(uri["scheme"], uri["rest"])
    masked = _mask_keywords(value)
    return MASK if masked is None else masked
