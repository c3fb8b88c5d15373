"""Who is this PostgreSQL backend working for? (``application_name`` parser)

Odoo Peak tags every session that runs Odoo work (contract ``pk1``, written
by ``addons/peak_queue/lib/attribution.py`` and documented in
``docs/attribution.md``)::

    pk1|job|<class>|<uuid: 32 lowercase hex>|<channel, or ~ + its tail>
    pk1|http|<label>
    pk1|cron|<cron id>|<cron name>

The governor cannot import the addon, so the parsing rules are repeated here;
the addon's contract test formats tags with the addon and parses them with
this module.  Anything that is not a well-formed ``pk1`` tag (another
version, ``odoo-1234``, ``psql``, garbage) is ``other``; this never raises.

Only read ``application_name`` of *active* backends: a pooled connection that
went idle keeps the tag of the last work it did until Odoo borrows it again
(the pool resets it on borrow).
"""

import re
import uuid
from dataclasses import dataclass

VERSION = "pk1"
MAX_BYTES = 63
CLASSES = ("critical", "operational", "background", "bulk")

KIND_INTERACTIVE = "interactive"
KIND_CRON = "cron"
KIND_JOB = "job"
KIND_OTHER = "other"

#: Every value :func:`role_label` can return (a bounded Prometheus label).
ROLE_LABELS = (KIND_INTERACTIVE, KIND_CRON, *CLASSES, KIND_OTHER)

_FIELD = re.compile(r"~?[A-Za-z0-9._-]+")
_UUID_HEX = re.compile(r"[0-9a-f]{32}")
_CRON_ID = re.compile(r"[1-9][0-9]{0,18}")
_MAX_CRON_ID = 2**63 - 1


@dataclass(frozen=True)
class Role:
    """What a backend runs.  ``priority_class`` is set for jobs only."""

    kind: str
    priority_class: str | None = None
    channel: str | None = None
    channel_truncated: bool = False
    job_uuid: str | None = None
    label: str | None = None
    cron_id: int | None = None


OTHER = Role(kind=KIND_OTHER)


def parse_application_name(name) -> Role:
    """The :class:`Role` announced by an ``application_name``.

    A truncated channel (``~`` + its last bytes) comes back without the
    ``~`` and with ``channel_truncated``; resolve the full name from
    ``queue_job`` by ``job_uuid`` (dashed form).  ``label`` is the route
    label of a request or the name of a cron, verbatim.
    """
    if not isinstance(name, str) or not name.isascii() or len(name) > MAX_BYTES:
        return OTHER
    parts = name.split("|")
    if len(parts) < 3 or parts[0] != VERSION:
        return OTHER
    kind, fields = parts[1], parts[2:]
    if kind == "job" and len(fields) == 3:
        priority_class, uuid_hex, channel = fields
        if (
            priority_class in CLASSES
            and _UUID_HEX.fullmatch(uuid_hex)
            and _FIELD.fullmatch(channel)
        ):
            truncated = channel.startswith("~")
            return Role(
                kind=KIND_JOB,
                priority_class=priority_class,
                channel=channel[1:] if truncated else channel,
                channel_truncated=truncated,
                job_uuid=str(uuid.UUID(uuid_hex)),
            )
    elif kind == "http" and len(fields) == 1:
        if _FIELD.fullmatch(fields[0]):
            return Role(kind=KIND_INTERACTIVE, label=fields[0])
    elif kind == "cron" and len(fields) == 2:
        cron_id, cron_name = fields
        if (
            _CRON_ID.fullmatch(cron_id)
            and int(cron_id) <= _MAX_CRON_ID
            and (not cron_name or _FIELD.fullmatch(cron_name))
        ):
            return Role(kind=KIND_CRON, cron_id=int(cron_id), label=cron_name or None)
    return OTHER


def role_label(role: Role) -> str:
    """One of :data:`ROLE_LABELS`: the job's class for a job, else its kind."""
    if role.kind == KIND_JOB and role.priority_class in CLASSES:
        return role.priority_class
    if role.kind in (KIND_INTERACTIVE, KIND_CRON):
        return role.kind
    return KIND_OTHER
