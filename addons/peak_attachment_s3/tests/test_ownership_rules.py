# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Plain pytest tests for ``lib/ownership.py`` (no Odoo needed)."""

import importlib.util
import pathlib

import pytest


def _load():
    """By path: ``odoo.addons.peak_attachment_s3`` needs Odoo."""
    path = pathlib.Path(__file__).resolve().parent.parent / "lib" / "ownership.py"
    spec = importlib.util.spec_from_file_location("peak_s3_ownership", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ownership = _load()
Owner = ownership.Owner
LIVE = Owner("prod", "uuid-1", 7)


def test_the_database_named_in_the_marker_owns_the_prefix():
    assert ownership.verdict(LIVE, LIVE)[0] == ownership.OWNER
    # A crash between the database's commit and the marker's write.
    assert ownership.verdict(LIVE, Owner("prod", "uuid-1", 8))[0] == ownership.OWNER


def test_a_prefix_with_no_marker_is_unclaimed():
    assert ownership.verdict(None, LIVE)[0] == ownership.UNCLAIMED


@pytest.mark.parametrize(
    "me",
    [Owner("staging", "uuid-1", 7), Owner("prod", "uuid-2", 7)],
    ids=["copy under another name", "duplicate (new uuid)"],
)
def test_copies_are_not_owners(me):
    status, why = ownership.verdict(LIVE, me)
    assert status == ownership.OTHER_DATABASE
    assert "belongs to database 'prod'" in why


def test_a_restore_older_than_the_last_heartbeat_is_stale():
    status, why = ownership.verdict(LIVE, Owner("prod", "uuid-1", 6))
    assert status == ownership.STALE_RESTORE
    assert "generation 6" in why and "says 7" in why


def test_claiming_raises_the_generation_above_both():
    assert ownership.next_owner(LIVE, Owner("prod", "uuid-1", 3)).generation == 8
    assert ownership.next_owner(None, Owner("prod", "uuid-1", 3)).generation == 4


def test_a_marker_round_trips_and_bad_ones_are_refused():
    assert Owner.from_json(LIVE.to_json()) == LIVE
    for raw in (b"[]", b'{"database": "prod"}', b'{"database": "p", '
                b'"database_uuid": "u", "generation": "x"}'):  # fmt: skip
        with pytest.raises(ValueError):
            Owner.from_json(raw)
    with pytest.raises(ValueError):
        Owner.from_json(b"not json")
