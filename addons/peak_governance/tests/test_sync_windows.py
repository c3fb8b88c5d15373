"""Argo CD sync windows exported from a real calendar: by the model method,
the download route, and ``odoo-bin peak_sync_windows`` on the test database;
validated against Argo CD's vendored AppProject CRD."""

import configparser
import importlib.util
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from freezegun import freeze_time

import odoo
from odoo.exceptions import AccessError, UserError
from odoo.tests import HttpCase, new_test_user, tagged

from .common import GovernanceCase

ROOT = Path(__file__).resolve().parents[3]
NOW = "2026-03-01 12:00:00"


def _validator():
    path = ROOT / "scripts" / "validate_custom_resources.py"
    spec = importlib.util.spec_from_file_location("validate_custom_resources", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


validator = _validator()
_schemas = {}


def crd_errors(doc):
    """Errors of ``doc`` against the vendored Argo CD CRDs (loaded once)."""
    if not _schemas:
        _schemas.update(validator.load_crd_schemas())
    checked, errors = validator.validate_documents([doc], _schemas)
    assert checked == 1, "an argoproj.io resource"
    return errors


@tagged("post_install", "-at_install")
class TestSyncWindowExport(GovernanceCase, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["peak.fulfillment.window"].search([]).action_archive()
        cls.manager = new_test_user(
            cls.env,
            "peak_sync_manager",
            groups="base.group_user,peak_base.group_peak_manager",
        )
        Period = cls.env["peak.period"]
        cls.black_friday = Period.create(
            {
                "name": "Black Friday",
                "date_start": "2026-11-27 05:00:00",
                "date_end": "2026-12-01 23:00:00",
            }
        )
        Period.create(
            {
                "name": "Archived",
                "date_start": "2026-10-01 00:00:00",
                "date_end": "2026-10-02 00:00:00",
                "active": False,
            }
        )
        if "change_freeze" in Period._fields:  # periods that freeze nothing
            Period.create(
                {
                    "name": "Promo without freeze",
                    "date_start": "2026-06-01 00:00:00",
                    "date_end": "2026-06-02 00:00:00",
                    "change_freeze": False,
                }
            )
        days = dict.fromkeys(("mon", "tue", "wed", "thu", "fri"), True)
        Window = cls.env["peak.fulfillment.window"]
        Window.create(
            {"name": "Day shift", "start_hour": 6, "end_hour": 22}
            | days
            | {"tz": "Europe/Paris"}
        )
        # Sundays 01:00-02:30 Paris end in the 2026-03-29 gap: a dated rule.
        Window.create(
            {
                "name": "Sunday night",
                "sun": True,
                "start_hour": 1,
                "end_hour": 2.5,
                "tz": "Europe/Paris",
            }
        )

    def export(self, user=None, **kwargs):
        with freeze_time(NOW):
            Export = self.env["peak.sync.window.export"].with_user(user or self.manager)
            return yaml.safe_load(Export.export_yaml(**kwargs))

    def test_the_windows_match_the_calendar(self):
        doc = self.export()
        assert doc["kind"] == "AppProject"
        assert doc["metadata"]["name"] == "odoo-peak"
        assert doc["metadata"]["namespace"] == "argocd"
        annotations = doc["metadata"]["annotations"]
        assert annotations["peak.odoo-peak.io/sync-windows-valid-until"] == (
            "2027-03-01T00:00:00+00:00"
        )
        windows = doc["spec"]["syncWindows"]
        assert [
            (w["schedule"], w["duration"], w["timeZone"], w["kind"], w["manualSync"])
            for w in windows
        ] == [
            # Periods, weekly rules (by zone, start time), DST corrections.
            ("0 5 27 11 *", "114h", "UTC", "deny", True),
            ("0 1 * * 0", "1h30m", "Europe/Paris", "deny", True),
            ("0 6 * * 1,2,3,4,5", "16h", "Europe/Paris", "deny", True),
            ("0 1 29 3 *", "2h30m", "Europe/Paris", "deny", True),
        ]
        assert {tuple(w["applications"]) for w in windows} == {("*",)}
        assert "Black Friday" in windows[0]["description"]
        assert crd_errors(doc) == []

    def test_the_export_follows_the_calendar(self):
        self.black_friday.date_end = "2026-12-02 23:00:00"
        self.env["peak.fulfillment.window"].search(
            [("name", "=", "Sunday night")]
        ).active = False
        windows = self.export()["spec"]["syncWindows"]
        assert [(w["schedule"], w["duration"]) for w in windows] == [
            ("0 5 27 11 *", "138h"),
            ("0 6 * * 1,2,3,4,5", "16h"),
        ]

    def test_selectors_and_project(self):
        doc = self.export(
            project="peak-acme",
            namespace="gitops",
            applications=["odoo-peak-acme"],
            namespaces=["peak-acme"],
            days=30,
        )
        assert doc["metadata"] | {"annotations": None} == {
            "name": "peak-acme",
            "namespace": "gitops",
            "annotations": None,
        }
        window = doc["spec"]["syncWindows"][0]
        assert window["applications"] == ["odoo-peak-acme"]
        assert window["namespaces"] == ["peak-acme"]
        assert "clusters" not in window
        # Valid 30 days: Black Friday (November) is left for a later export.
        assert [w["schedule"] for w in doc["spec"]["syncWindows"]] == [
            "0 1 * * 0",
            "0 6 * * 1,2,3,4,5",
            "0 1 29 3 *",
        ]

    def test_a_typo_fails_the_crd_validation(self):
        doc = self.export()
        doc["spec"]["syncWindows"][0]["timezone"] = "UTC"
        (error,) = crd_errors(doc)
        assert "('timezone' was unexpected)" in error

    def test_bad_input_and_access(self):
        with self.assertRaisesRegex(UserError, "1 to 365 days"):
            self.export(days=400)
        with self.assertRaisesRegex(UserError, "number of days"):
            self.export(days="soon")
        with self.assertRaisesRegex(UserError, "applications, namespaces or clusters"):
            self.export(applications=[])
        with self.assertRaisesRegex(AccessError, "Only Peak managers"):
            self.export(user=self.peak_user)

    def test_the_menu_downloads_the_same_yaml(self):
        action = self.env.ref("peak_governance.action_peak_sync_window_export")
        self.authenticate(self.manager.login, self.manager.login)
        response = self.url_open(action.url)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/yaml")
        assert "sync-windows.yaml" in response.headers["Content-Disposition"]
        Export = self.env["peak.sync.window.export"].with_user(self.manager)
        assert response.text == Export.export_yaml()
        self.authenticate(self.peak_user.login, self.peak_user.login)
        assert self.url_open(action.url).status_code == 403


# --- odoo-bin peak_sync_windows on the `make test` database ------------------

DB = os.environ.get("PEAK_TEST_DB")
CONFIG = os.environ.get("PEAK_TEST_ODOO_CONFIG")
needs_db = pytest.mark.skipif(
    not (DB and CONFIG), reason="needs `make test` (PEAK_TEST_DB)"
)


def sql(query, params=()):
    with odoo.sql_db.db_connect(DB).cursor() as cr:
        cr.execute(query, params)
        return cr.fetchall() if cr.description else None


def odoo_bin(*args):
    parser = configparser.ConfigParser()
    parser.read(CONFIG)
    addons_path = parser["options"]["addons_path"]
    odoo_bin = Path(odoo.__file__).resolve().parents[1] / "odoo-bin"
    return subprocess.run(
        [sys.executable, str(odoo_bin), f"--addons-path={addons_path}", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture
def cli_calendar():
    freeze = sql(
        "SELECT 1 FROM information_schema.columns "
        "WHERE table_name = 'peak_period' AND column_name = 'change_freeze'"
    )
    columns = ", change_freeze" if freeze else ""
    (period_id,) = sql(
        f"""INSERT INTO peak_period (name, active, date_start, date_end{columns})
            VALUES ('CLI Black Friday', true, now() at time zone 'UTC' + interval
                    '10 days', now() at time zone 'UTC' + interval '14 days'
                    {", true" if freeze else ""})
            RETURNING id"""
    )[0]
    (window_id,) = sql(
        """INSERT INTO peak_fulfillment_window
               (name, active, sequence, sat, start_hour, end_hour, tz)
           VALUES ('CLI night', true, 10, true, 22.0, 4.0, 'America/New_York')
           RETURNING id"""
    )[0]
    try:
        yield period_id
    finally:
        sql("DELETE FROM peak_period WHERE id = %s", (period_id,))
        sql("DELETE FROM peak_fulfillment_window WHERE id = %s", (window_id,))


@needs_db
def test_the_command_exports_what_the_menu_does(cli_calendar, tmp_path):
    out = tmp_path / "sync-windows.yaml"
    args = ["peak_sync_windows", "-c", CONFIG, "-d", DB, "--log-level=warn"]
    registry = odoo.modules.registry.Registry(DB)
    with registry.cursor() as cr:
        sequences = registry.get_sequences(cr)
    done = odoo_bin(*args, "--output", str(out), "--applications", "odoo-peak,x")
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    with registry.cursor() as cr:
        # Read-only: no registry or cache invalidation for this process.
        assert registry.get_sequences(cr) == sequences
    text = out.read_text()
    assert text.startswith("# Argo CD sync windows of AppProject odoo-peak")
    doc = yaml.safe_load(text)
    assert crd_errors(doc) == []
    windows = doc["spec"]["syncWindows"]
    assert any("CLI Black Friday" in w["description"] for w in windows)
    night = [w for w in windows if w["schedule"] == "0 22 * * 6"]
    assert night and night[0]["timeZone"] == "America/New_York"
    assert night[0]["duration"] == "6h"
    assert {tuple(w["applications"]) for w in windows} == {("odoo-peak", "x")}

    with registry.cursor() as cr:
        env = odoo.api.Environment(cr, odoo.SUPERUSER_ID, {})
        expected = env["peak.sync.window.export"].export_yaml(
            applications=["odoo-peak", "x"]
        )
    if datetime.now(UTC).date().isoformat() in text:  # not across midnight
        assert text == expected

    printed = odoo_bin(*args, "--valid-days", "0")
    assert printed.returncode != 0
    assert "1 to 365 days" in printed.stderr
    assert "Traceback" not in printed.stderr
