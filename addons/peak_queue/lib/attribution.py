"""DB-session attribution tags, contract ``pk1``, free of any ORM.

Every PostgreSQL session that runs Odoo work says *what* it is running in its
``application_name``, so that an observer of ``pg_stat_activity`` (the
``peak-governor`` daemon, a DBA in ``psql``) can tell a queue job of class
``bulk`` from an interactive request or a cron run.  The format is a versioned
contract, documented in ``docs/attribution.md``; the governor parses it with
its own copy of the rules (``governor/peak_governor/attribution.py``) and the
contract test in ``tests/test_attribution_format.py`` keeps both in step.

Format (every tag is ASCII and at most :data:`MAX_BYTES` bytes)::

    pk1|job|<class>|<uuid: 32 lowercase hex digits>|<channel>
    pk1|http|<label>
    pk1|cron|<cron id>|<cron name>

Free-text fields (channel, label, cron name) are *sanitised*: every character
outside ``[A-Za-z0-9._-]`` becomes ``_`` (one ``_`` per character, non-ASCII
included), so a field never contains the ``|`` separator.  When the whole tag
would exceed 63 bytes the field is *cut from the left*: its last bytes are
kept and prefixed with ``~``.  ``~`` is never produced by sanitising, so a
leading ``~`` always means "truncated".

This module is pure stdlib so that it can be imported by file path (tests,
tools) without an Odoo registry.  The two cursor helpers at the bottom only
need a DB-API cursor; they recognise Odoo's cursors by duck typing.
"""

import re
import uuid
from contextlib import contextmanager
from dataclasses import dataclass

VERSION = "pk1"
#: PostgreSQL keeps NAMEDATALEN - 1 = 63 bytes of ``application_name``.
MAX_BYTES = 63
#: Priority classes, most important first.
CLASSES = ("critical", "operational", "background", "bulk")
#: Class of a job whose channel has none (documented default).
DEFAULT_CLASS = "operational"

KIND_JOB = "job"
KIND_HTTP = "http"
KIND_CRON = "cron"
KINDS = (KIND_JOB, KIND_HTTP, KIND_CRON)

SEPARATOR = "|"
TRUNCATED_MARK = "~"

_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]")
_FIELD = re.compile(r"~?[A-Za-z0-9._-]+")
_UUID_HEX = re.compile(r"[0-9a-f]{32}")
_CRON_ID = re.compile(r"[1-9][0-9]{0,18}")
_MAX_CRON_ID = 2**63 - 1  # a bigint; keeps the id field within 19 digits
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

_SQL_GET = "SELECT current_setting('application_name')"
_SQL_SET = "SELECT set_config('application_name', %s, false)"
# libpq's PGTransactionStatusType (same values in psycopg2 and psycopg 3).
_PQTRANS_INERROR = 3
_PQTRANS_UNKNOWN = 4


@dataclass(frozen=True)
class Attribution:
    """What a tagged PostgreSQL session is running (see :func:`parse_tag`)."""

    kind: str
    priority_class: str | None = None
    job_uuid: str | None = None
    channel: str | None = None
    channel_truncated: bool = False
    label: str | None = None
    cron_id: int | None = None


def sanitise(text: str) -> str:
    """Replace every character outside ``[A-Za-z0-9._-]`` by ``_``."""
    return _UNSAFE_CHARS.sub("_", text)


def _fit(field: str, budget: int) -> str:
    """``field`` (already sanitised, so ASCII) cut to ``budget`` bytes.

    A field that does not fit keeps its last ``budget - 1`` bytes after a
    leading ``~``.
    """
    if len(field) <= budget:
        return field
    return TRUNCATED_MARK + field[len(field) - budget + 1 :]


def _text(value, what: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{what} must be a string, got {value!r}")
    if not value and not allow_empty:
        raise ValueError(f"{what} must not be empty")
    return value


def _uuid_hex(job_uuid) -> str:
    if isinstance(job_uuid, uuid.UUID):
        return job_uuid.hex
    if isinstance(job_uuid, str):
        try:
            return uuid.UUID(job_uuid).hex
        except ValueError:
            pass
    raise ValueError(f"job_uuid {job_uuid!r} is not a UUID")


def format_job_tag(priority_class: str, job_uuid, channel: str) -> str:
    """``pk1|job|<class>|<uuid hex>|<channel>``, at most 63 bytes.

    ``job_uuid`` is a :class:`uuid.UUID` or any string :class:`uuid.UUID`
    accepts (queue_job stores the dashed form); ``channel`` is the complete
    channel name (``root.bulk.import``).  Raises :class:`ValueError` on an
    unknown class, a non-UUID or an empty channel.
    """
    if not isinstance(priority_class, str) or priority_class not in CLASSES:
        raise ValueError(
            f"unknown priority class {priority_class!r}, "
            f"expected one of {', '.join(CLASSES)}"
        )
    head = SEPARATOR.join((VERSION, KIND_JOB, priority_class, _uuid_hex(job_uuid), ""))
    channel = sanitise(_text(channel, "channel"))
    return head + _fit(channel, MAX_BYTES - len(head))


def format_http_tag(label: str) -> str:
    """``pk1|http|<label>``, at most 63 bytes (see :func:`call_label`)."""
    head = SEPARATOR.join((VERSION, KIND_HTTP, ""))
    label = sanitise(_text(label, "label"))
    return head + _fit(label, MAX_BYTES - len(head))


def format_cron_tag(cron_id: int, name: str) -> str:
    """``pk1|cron|<cron id>|<cron name>``, at most 63 bytes.

    ``cron_id`` is the ``ir.cron`` id (a positive int, at most 2**63 - 1),
    ``name`` its name, possibly empty.
    """
    if (
        isinstance(cron_id, bool)
        or not isinstance(cron_id, int)
        or not 1 <= cron_id <= _MAX_CRON_ID
    ):
        raise ValueError(f"cron_id must be a positive integer, got {cron_id!r}")
    head = SEPARATOR.join((VERSION, KIND_CRON, str(cron_id), ""))
    name = sanitise(_text(name, "cron name", allow_empty=True))
    return head + _fit(name, MAX_BYTES - len(head))


def _field(text: str) -> bool:
    return _FIELD.fullmatch(text) is not None


def parse_tag(application_name) -> Attribution | None:
    """The :class:`Attribution` of a ``pk1`` tag, ``None`` for anything else.

    Strict: an unknown version, kind or class, a malformed field, a
    non-ASCII or over-long value all give ``None``; it never raises.  The
    channel comes back without its ``~`` (``channel_truncated`` tells); the
    label (route label or cron name) comes back verbatim, ``~`` included.
    """
    if (
        not isinstance(application_name, str)
        or not application_name.isascii()
        or len(application_name) > MAX_BYTES
    ):
        return None
    parts = application_name.split(SEPARATOR)
    if len(parts) < 3 or parts[0] != VERSION:
        return None
    kind = parts[1]
    if kind == KIND_JOB and len(parts) == 5:
        priority_class, uuid_hex, channel = parts[2:]
        if (
            priority_class not in CLASSES
            or not _UUID_HEX.fullmatch(uuid_hex)
            or not _field(channel)
        ):
            return None
        truncated = channel.startswith(TRUNCATED_MARK)
        return Attribution(
            kind=KIND_JOB,
            priority_class=priority_class,
            job_uuid=str(uuid.UUID(uuid_hex)),
            channel=channel[1:] if truncated else channel,
            channel_truncated=truncated,
        )
    if kind == KIND_HTTP and len(parts) == 3:
        label = parts[2]
        return Attribution(kind=KIND_HTTP, label=label) if _field(label) else None
    if kind == KIND_CRON and len(parts) == 4:
        cron_id, name = parts[2:]
        if not _CRON_ID.fullmatch(cron_id) or (name and not _field(name)):
            return None
        if int(cron_id) > _MAX_CRON_ID:
            return None
        return Attribution(kind=KIND_CRON, cron_id=int(cron_id), label=name or None)
    return None


def class_from_channel_name(name) -> str:
    """Priority class read from a channel name alone.

    The last dot-separated segment that is a class name wins
    (``root.bulk.critical_things.background`` -> ``background``); a name
    without any gives :data:`DEFAULT_CLASS`.  Used when the channel records
    cannot be consulted (the governor; the addon before ``_peak_class_of``).
    """
    if not isinstance(name, str):
        return DEFAULT_CLASS
    found = [segment for segment in name.split(".") if segment in CLASSES]
    return found[-1] if found else DEFAULT_CLASS


def call_label(model, method) -> str | None:
    """``<model>.<method>`` of an RPC call, ``None`` unless both look sane.

    ``method`` must be a Python identifier; the caller checks that ``model``
    is in the registry, which bounds the set of labels.
    """
    if (
        isinstance(model, str)
        and model
        and isinstance(method, str)
        and _IDENTIFIER.fullmatch(method)
    ):
        return f"{model}.{method}"
    return None


def endpoint_label(module: str, qualname: str) -> str:
    """Short, bounded name of a controller endpoint.

    ``odoo.addons.web.controllers.home`` + ``Home.web_client`` gives
    ``web.Home.web_client`` (addon, class, method); a module outside
    ``odoo.addons`` contributes its last component.
    """
    parts = (module or "").split(".")
    if len(parts) > 2 and parts[:2] == ["odoo", "addons"]:
        owner = parts[2]
    else:
        owner = parts[-1]
    return f"{owner}.{qualname}" if owner else qualname


# --- cursor helpers -------------------------------------------------------


def cursor_usable(cr) -> bool:
    """Whether ``cr`` can still run a query: not closed, not aborted.

    Works with Odoo's cursors (``Cursor``, ``TestCursor``: ``_closed``,
    ``closed``, ``_cnx``) and plain psycopg2 / psycopg cursors
    (``closed``, ``connection``).
    """
    if getattr(cr, "_closed", False) or getattr(cr, "closed", False):
        return False
    cnx = getattr(cr, "_cnx", None) or getattr(cr, "connection", None)
    if cnx is None:
        return True
    if getattr(cnx, "closed", False):
        return False
    info = getattr(cnx, "info", None)
    status = getattr(info, "transaction_status", None)
    return status not in (_PQTRANS_INERROR, _PQTRANS_UNKNOWN)


def current_application_name(cr) -> str:
    """The session's ``application_name``."""
    cr.execute(_SQL_GET)
    return cr.fetchone()[0]


def set_application_name(cr, tag: str) -> None:
    """Set the session's ``application_name`` to ``tag`` (one round trip).

    ``set_config(..., false)`` is session-wide, but like ``SET`` it is undone
    if the current transaction (or savepoint) rolls back.
    """
    cr.execute(_SQL_SET, (tag,))


def restore_application_name(cr, previous: str) -> bool:
    """Put ``previous`` back; skip quietly on a closed or aborted cursor.

    On an aborted transaction the pending rollback undoes the tag anyway
    (it was set inside that transaction).  Returns whether it restored.
    """
    if previous is None or not cursor_usable(cr):
        return False
    cr.execute(_SQL_SET, (previous,))
    return True


@contextmanager
def tagged_session(cr, tag: str):
    """Run the body with ``application_name`` = ``tag``, restored afterwards."""
    previous = current_application_name(cr)
    set_application_name(cr, tag)
    try:
        yield previous
    finally:
        restore_application_name(cr, previous)
