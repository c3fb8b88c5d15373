"""Plain pytest tests of the ``pk1`` attribution tag (no Odoo needed).

``lib/attribution.py`` writes the tag, ``governor/peak_governor/attribution.py``
reads it in another process; they share no code, so the contract tests below
format with the addon and parse with both.  Expected tags are written out by
hand, never rebuilt with the module under test.
"""

import importlib.util
import pathlib
import uuid

import pytest

HERE = pathlib.Path(__file__).resolve()


def _load(name, path):
    """Load a module by path: the addon needs Odoo, the governor is not
    necessarily installed in the interpreter running these tests."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


attribution = _load("peak_attribution", HERE.parents[1] / "lib" / "attribution.py")
governor = _load(
    "peak_governor_attribution",
    HERE.parents[3] / "governor" / "peak_governor" / "attribution.py",
)

UUID = "0b5f2a8e-6a51-4c8e-9f3e-2d1c7a9b4e60"
HEX = "0b5f2a8e6a514c8e9f3e2d1c7a9b4e60"
LONG_CHANNEL = "root." + ".".join(["warehouse_imports"] * 11)  # 5 + 11*18 - 1
assert len(LONG_CHANNEL) == 202


# --- formatting -------------------------------------------------------------


def test_job_tag_exact_format():
    assert (
        attribution.format_job_tag("bulk", UUID, "root.bulk")
        == f"pk1|job|bulk|{HEX}|root.bulk"
    )


def test_job_tag_accepts_uuid_objects_and_upper_case():
    expected = f"pk1|job|critical|{HEX}|root"
    assert attribution.format_job_tag("critical", uuid.UUID(UUID), "root") == expected
    assert attribution.format_job_tag("critical", UUID.upper(), "root") == expected
    assert attribution.format_job_tag("critical", HEX, "root") == expected


def test_http_and_cron_tags_exact_format():
    assert (
        attribution.format_http_tag("sale.order.action_confirm")
        == "pk1|http|sale.order.action_confirm"
    )
    assert (
        attribution.format_cron_tag(42, "Mail: Email Queue Manager")
        == "pk1|cron|42|Mail__Email_Queue_Manager"
    )
    assert attribution.format_cron_tag(7, "") == "pk1|cron|7|"


def test_long_channel_is_cut_to_its_tail_with_marker():
    tag = attribution.format_job_tag("operational", UUID, LONG_CHANNEL)
    # "pk1|job|operational|" (20) + 32 hex + "|" = 53 bytes: 10 left for
    # "~" + the channel's last 9 bytes.
    assert tag == f"pk1|job|operational|{HEX}|~e_imports"
    assert len(tag.encode()) == 63
    tag = attribution.format_job_tag("bulk", UUID, LONG_CHANNEL)
    # "pk1|job|bulk|" (13) + 33 = 46: "~" + last 16 bytes.
    assert tag == f"pk1|job|bulk|{HEX}|~arehouse_imports"
    assert len(tag.encode()) == 63


def test_channel_exactly_at_budget_is_not_marked():
    channel = "root.bulk.a.bcd"  # 15 bytes, bulk leaves 17
    assert attribution.format_job_tag("bulk", UUID, channel).endswith(
        "|root.bulk.a.bcd"
    )
    channel = "root.bulk.a.cdefg"  # 17 bytes: fits exactly
    tag = attribution.format_job_tag("bulk", UUID, channel)
    assert tag.endswith("|root.bulk.a.cdefg") and len(tag) == 63
    tag = attribution.format_job_tag("bulk", UUID, channel + "h")  # one too many
    assert tag.endswith("|~ot.bulk.a.cdefgh") and len(tag) == 63


@pytest.mark.parametrize(
    "priority_class", ["critical", "operational", "background", "bulk"]
)
@pytest.mark.parametrize(
    "channel",
    [
        "root",
        LONG_CHANNEL,
        "root.Entrepôt.Île-de-France." * 8,
        "root." + "日本語" * 70,
        "root.with spaces|pipes~tildes",
    ],
)
def test_every_job_tag_fits_63_ascii_bytes(priority_class, channel):
    tag = attribution.format_job_tag(priority_class, UUID, channel)
    assert tag.isascii()
    assert len(tag.encode("utf-8")) <= attribution.MAX_BYTES == 63
    assert tag.count("|") == 4


def test_sanitising_replaces_each_unsafe_character_by_one_underscore():
    assert (
        attribution.format_job_tag("bulk", UUID, "root.Dépôt|x~y z")
        == f"pk1|job|bulk|{HEX}|root.D_p_t_x_y_z"
    )
    assert attribution.format_http_tag("café/menu") == "pk1|http|caf__menu"
    assert (
        attribution.format_cron_tag(3, "Réindexer ~ tout")
        == "pk1|cron|3|R_indexer___tout"
    )


def test_long_http_label_and_cron_name_are_cut_the_same_way():
    label = "x" * 100
    tag = attribution.format_http_tag(label)
    assert tag == "pk1|http|~" + "x" * 53 and len(tag) == 63
    tag = attribution.format_cron_tag(123456, "Nom très long " * 10)
    assert len(tag) == 63 and tag.startswith("pk1|cron|123456|~")
    tag = attribution.format_cron_tag(2**63 - 1, "n" * 80)
    assert len(tag) == 63 and tag.startswith(f"pk1|cron|{2**63 - 1}|~n")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: attribution.format_job_tag("urgent", UUID, "root"), "priority class"),
        (lambda: attribution.format_job_tag(None, UUID, "root"), "priority class"),
        (
            lambda: attribution.format_job_tag("bulk", "not-a-uuid", "root"),
            "not a UUID",
        ),
        (lambda: attribution.format_job_tag("bulk", 12345, "root"), "not a UUID"),
        (lambda: attribution.format_job_tag("bulk", None, "root"), "not a UUID"),
        (lambda: attribution.format_job_tag("bulk", UUID, ""), "channel"),
        (lambda: attribution.format_job_tag("bulk", UUID, None), "channel"),
        (lambda: attribution.format_http_tag(""), "label"),
        (lambda: attribution.format_http_tag(b"web"), "label"),
        (lambda: attribution.format_cron_tag(0, "x"), "cron_id"),
        (lambda: attribution.format_cron_tag(-1, "x"), "cron_id"),
        (lambda: attribution.format_cron_tag(True, "x"), "cron_id"),
        (lambda: attribution.format_cron_tag("42", "x"), "cron_id"),
        (lambda: attribution.format_cron_tag(2**63, "x"), "cron_id"),
        (lambda: attribution.format_cron_tag(42, None), "cron name"),
    ],
)
def test_bad_input_raises_value_error_with_a_clear_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- parsing ----------------------------------------------------------------


def test_job_round_trip():
    # "background" leaves 11 bytes for the channel.
    tag = attribution.format_job_tag("background", UUID, "root.backgr")
    assert attribution.parse_tag(tag) == attribution.Attribution(
        kind="job",
        priority_class="background",
        job_uuid=UUID,
        channel="root.backgr",
        channel_truncated=False,
    )


def test_truncated_job_round_trip_reports_the_marker():
    parsed = attribution.parse_tag(
        attribution.format_job_tag("operational", UUID, LONG_CHANNEL)
    )
    assert parsed.channel_truncated is True
    assert parsed.channel == "e_imports"
    assert LONG_CHANNEL.endswith(parsed.channel)
    assert parsed.job_uuid == UUID


def test_http_round_trip():
    parsed = attribution.parse_tag(attribution.format_http_tag("res.partner.web_read"))
    assert parsed == attribution.Attribution(kind="http", label="res.partner.web_read")


def test_cron_round_trip():
    parsed = attribution.parse_tag(
        attribution.format_cron_tag(42, "Peak: housekeeping")
    )
    assert parsed == attribution.Attribution(
        kind="cron", cron_id=42, label="Peak__housekeeping"
    )
    empty = attribution.parse_tag("pk1|cron|42|")
    assert empty == attribution.Attribution(kind="cron", cron_id=42, label=None)


GARBLED = [
    None,
    42,
    b"pk1|http|web",
    "",
    "odoo-1234",
    "psql",
    "pk1",
    "pk1|",
    "pk1|http",
    "pk1|http|",
    "pk1|http|a|b",
    "pk1|http|with space",
    "pk1|http|~",
    "pk1|http|é",
    "pk2|http|web.Home.web_client",
    "PK1|http|web",
    "pk1|rpc|web",
    f"pk1|job|urgent|{HEX}|root",
    f"pk1|job|Bulk|{HEX}|root",
    f"pk1|job|bulk|{HEX.upper()}|root",
    f"pk1|job|bulk|{UUID}|root",
    f"pk1|job|bulk|{HEX[:-1]}|root",
    f"pk1|job|bulk|{HEX}|",
    f"pk1|job|bulk|{HEX}|~",
    f"pk1|job|bulk|{HEX}|root|extra",
    f"pk1|job|bulk|{HEX}",
    f"pk1|job|bulk|{HEX}|root.bulk.much_too_long_for_63",
    "pk1|cron||name",
    "pk1|cron|0|name",
    "pk1|cron|042|name",
    "pk1|cron|-3|name",
    "pk1|cron|x|name",
    "pk1|cron|42",
    "pk1|cron|42|a|b",
    "pk1|cron|99999999999999999999|x",
    "pk1|cron|9223372036854775808|x",
    "pk1|http|" + "x" * 60,
]


@pytest.mark.parametrize("value", GARBLED)
def test_garbled_input_parses_to_none(value):
    assert attribution.parse_tag(value) is None


@pytest.mark.parametrize("value", GARBLED)
def test_governor_calls_garbled_input_other(value):
    role = governor.parse_application_name(value)
    assert role.kind == "other"
    assert governor.role_label(role) == "other"


# --- class fallback ---------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ("root", "operational"),
        ("root.sale", "operational"),
        ("root.bulk", "bulk"),
        ("root.bulk.imports", "bulk"),
        ("root.critical.bulk", "bulk"),
        ("root.bulk.critical", "critical"),
        ("root.background.x.operational.y", "operational"),
        ("root.bulky", "operational"),
        ("root.Bulk", "operational"),
        ("", "operational"),
        (None, "operational"),
        (False, "operational"),
    ],
)
def test_class_from_channel_name(channel, expected):
    assert attribution.class_from_channel_name(channel) == expected


# --- labels -----------------------------------------------------------------


def test_call_and_endpoint_labels():
    assert attribution.call_label("res.partner", "web_read") == "res.partner.web_read"
    assert attribution.call_label("res.partner", "web read") is None
    assert attribution.call_label("res.partner", "") is None
    assert attribution.call_label(None, "read") is None
    assert attribution.call_label("res.partner", ["read"]) is None
    assert (
        attribution.endpoint_label(
            "odoo.addons.web.controllers.home", "Home.web_client"
        )
        == "web.Home.web_client"
    )
    assert attribution.endpoint_label("odoo.http", "Thing.route") == "http.Thing.route"
    assert attribution.endpoint_label("", "route") == "route"


# --- the contract: governor agrees with the addon ---------------------------

JOB_EXAMPLES = [
    (priority_class, channel)
    for priority_class in attribution.CLASSES
    for channel in (
        "root",
        "root.bulk",
        f"root.{priority_class}.exports",
        LONG_CHANNEL,
        "root.Entrepôt Île-de-France",
    )
]


@pytest.mark.parametrize(("priority_class", "channel"), JOB_EXAMPLES)
def test_governor_agrees_on_job_tags(priority_class, channel):
    tag = attribution.format_job_tag(priority_class, UUID, channel)
    mine, theirs = attribution.parse_tag(tag), governor.parse_application_name(tag)
    assert theirs == governor.Role(
        kind="job",
        priority_class=mine.priority_class,
        channel=mine.channel,
        channel_truncated=mine.channel_truncated,
        job_uuid=mine.job_uuid,
    )
    assert (theirs.priority_class, theirs.job_uuid) == (priority_class, UUID)
    assert governor.role_label(theirs) == priority_class


@pytest.mark.parametrize(
    "label",
    ["res.partner.web_search_read", "web.Home.web_client", "x" * 100, "Pöint/of/säle"],
)
def test_governor_agrees_on_http_tags(label):
    tag = attribution.format_http_tag(label)
    role = governor.parse_application_name(tag)
    assert role == governor.Role(
        kind="interactive", label=attribution.parse_tag(tag).label
    )
    assert governor.role_label(role) == "interactive"


@pytest.mark.parametrize(
    ("cron_id", "name"),
    [(1, "Base: Auto-vacuum internal data"), (42, ""), (2**63 - 1, "é" * 90)],
)
def test_governor_agrees_on_cron_tags(cron_id, name):
    tag = attribution.format_cron_tag(cron_id, name)
    mine = attribution.parse_tag(tag)
    role = governor.parse_application_name(tag)
    assert role == governor.Role(kind="cron", cron_id=cron_id, label=mine.label)
    assert mine.cron_id == cron_id
    assert governor.role_label(role) == "cron"


def test_governor_and_addon_share_the_vocabulary():
    assert governor.CLASSES == attribution.CLASSES
    assert governor.VERSION == attribution.VERSION
    assert governor.MAX_BYTES == attribution.MAX_BYTES


def test_role_label_is_a_bounded_set():
    labels = {
        governor.role_label(governor.parse_application_name(name))
        for name in [
            *(attribution.format_job_tag(c, UUID, "root") for c in attribution.CLASSES),
            attribution.format_http_tag("web.Home.web_client"),
            attribution.format_cron_tag(1, "x"),
            *GARBLED,
        ]
    }
    assert (
        labels
        == set(governor.ROLE_LABELS)
        == {
            "interactive",
            "cron",
            "critical",
            "operational",
            "background",
            "bulk",
            "other",
        }
    )
    # Even a hand-made Role with nonsense in it stays in the set.
    assert governor.role_label(governor.Role(kind="job", priority_class="x")) == "other"
    assert governor.role_label(governor.Role(kind="weird")) == "other"


# --- cursor helpers (with a fake DB-API cursor) -----------------------------


class FakeConnection:
    def __init__(self, status=0, closed=0):
        self.closed = closed
        self.info = type("Info", (), {"transaction_status": status})()


class FakeCursor:
    def __init__(self, app="odoo-1", **cnx):
        self.app = app
        self.closed = False
        self.connection = FakeConnection(**cnx)
        self.queries = []

    def execute(self, query, params=None):
        self.queries.append(query)
        if "set_config" in query:
            self.app = params[0]
            self._row = (self.app,)
        else:
            self._row = (self.app,)

    def fetchone(self):
        return self._row


def test_tagged_session_restores_the_previous_value():
    cr = FakeCursor(app="before")
    with attribution.tagged_session(cr, "pk1|http|x") as previous:
        assert (previous, cr.app) == ("before", "pk1|http|x")
    assert cr.app == "before"


def test_tagged_session_restores_after_an_exception():
    cr = FakeCursor(app="before")
    with pytest.raises(RuntimeError), attribution.tagged_session(cr, "pk1|http|x"):
        raise RuntimeError("boom")
    assert cr.app == "before"


@pytest.mark.parametrize("cnx", [{"status": 3}, {"status": 4}, {"closed": 1}])
def test_restore_skips_aborted_or_closed_sessions(cnx):
    cr = FakeCursor(**cnx)
    assert attribution.restore_application_name(cr, "before") is False
    assert cr.queries == []
    cr = FakeCursor()
    cr.closed = True
    assert attribution.restore_application_name(cr, "before") is False
    assert attribution.cursor_usable(FakeCursor(status=2)) is True  # in transaction
