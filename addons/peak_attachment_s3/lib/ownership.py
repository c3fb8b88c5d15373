# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Who may delete objects under a key prefix (pure Python, no Odoo import).

A database's objects live under the prefix of its *home* name: the name it had
when it first stored a file in S3, kept in the database itself
(``peak_attachment_s3.home_database``), so a copy or a restore under any name
reads every attachment it has.  Several databases may then read one prefix;
only its **owner** may collect garbage there, because an object one database
no longer references may be one another still needs.

The owner is written in the bucket, beside the objects (:data:`MARKER`):
the database's name and ``database.uuid``, and a *generation* the owner
raises every 30 minutes (a heartbeat cron) and at every GC run, in the
database first and then in the marker.  So:

- a database copied under another name (Odoo's duplicate, a restore drill,
  a staging copy) is not the owner: other name, and a duplicate has another
  uuid too;
- a backup restored under the *same* name has the owner's name and uuid but
  an older generation once the live database has had a heartbeat since the
  backup was taken: a stale restore.

A same-name restore of a backup younger than one heartbeat cannot be told
apart; the GC's minimum age (one hour) covers that window: nothing the live
database wrote since the backup is old enough to be collected by the copy's
first run.  What a GC collects goes to a quarantine first, and a row whose
object is there reads it back.  Promotion makes a copy the owner (of the home
prefix, or of a prefix of its own after copying its objects there).
"""

import json
from dataclasses import asdict, dataclass

#: Parameters of the database (they travel with it): the name whose prefix
#: holds its objects, and the generation it last wrote as the owner.
HOME_PARAM = "peak_attachment_s3.home_database"
GENERATION_PARAM = "peak_attachment_s3.owner_generation"

#: The owner marker's key, under the prefix (not an ``ab/<sha1>`` key, so the
#: GC never lists it as an object).
MARKER = ".peak-owner.json"

OWNER = "owner"
UNCLAIMED = "unclaimed"  # no marker yet: the first GC run claims the prefix
OTHER_DATABASE = "other_database"
STALE_RESTORE = "stale_restore"
#: reasons the GC refuses, the ``reason`` label of its metric
REFUSALS = (OTHER_DATABASE, STALE_RESTORE)


@dataclass(frozen=True)
class Owner:
    database: str
    database_uuid: str
    generation: int = 0

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> "Owner":
        """The marker's owner; ValueError when it is not one."""
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("the owner marker is not a JSON object")
        try:
            return cls(
                str(data["database"]),
                str(data["database_uuid"]),
                int(data.get("generation") or 0),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"the owner marker is incomplete: {exc}") from None


def verdict(marker: Owner | None, me: Owner) -> tuple[str, str]:
    """(status, explanation) of ``me`` (with the generation it recorded)
    against the prefix's ``marker``."""
    if marker is None:
        return UNCLAIMED, "no owner recorded yet"
    if (marker.database, marker.database_uuid) != (me.database, me.database_uuid):
        return OTHER_DATABASE, (
            f"the prefix belongs to database {marker.database!r} "
            f"(uuid {marker.database_uuid}); this one is {me.database!r} "
            f"(uuid {me.database_uuid}), a copy"
        )
    if me.generation < marker.generation:
        return STALE_RESTORE, (
            f"this database recorded GC generation {me.generation}, the bucket "
            f"says {marker.generation}: it was restored from a backup older "
            "than the live database's last collection"
        )
    return OWNER, "owner"


def next_owner(marker: Owner | None, me: Owner) -> Owner:
    """What ``me`` writes to take (or keep) the prefix: a generation above
    both its own and the marker's."""
    generation = max(me.generation, marker.generation if marker else 0) + 1
    return Owner(me.database, me.database_uuid, generation)
