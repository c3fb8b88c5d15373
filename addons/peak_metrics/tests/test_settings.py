# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
import os
from unittest import mock

from odoo.tests import HttpCase, tagged
from odoo.tests.common import TransactionCase

from odoo.addons.peak_metrics import hooks
from odoo.addons.peak_metrics.lib.config import MetricsConfigError

TOKEN = "settings-token-0123456789abcdef"


def _reload_quietly():
    try:
        hooks.get_config(reload=True)
    except MetricsConfigError:
        pass


class TestSettings(TransactionCase):
    def _settings(self, **env):
        with mock.patch.dict(os.environ, env):
            try:
                hooks.get_config(reload=True)
            except MetricsConfigError:
                pass  # kept: the settings show it
        try:
            return self.env["res.config.settings"].create({})
        finally:
            self.addCleanup(_reload_quietly)

    def test_scrape_url_and_token_state_never_the_token(self):
        self.env["ir.config_parameter"].set_param(
            "web.base.url", "https://erp.example.com/"
        )
        with mock.patch.dict(os.environ, {}, clear=False):
            os.environ.pop("PEAK_METRICS_TOKEN", None)
            settings = self._settings()
        self.assertEqual(settings.peak_metrics_url, "https://erp.example.com/metrics")
        self.assertFalse(settings.peak_metrics_token_set)
        self.assertIn("disabled: set PEAK_METRICS_TOKEN", settings.peak_metrics_status)

        settings = self._settings(
            PEAK_METRICS_TOKEN=TOKEN, PEAK_METRICS_ALLOW="10.0.0.0/8"
        )
        self.assertTrue(settings.peak_metrics_token_set)
        self.assertIn("10.0.0.0/8", settings.peak_metrics_status)
        values = settings.read()[0]
        self.assertNotIn(TOKEN, repr(values))

    def test_a_bad_setting_is_shown_not_raised(self):
        settings = self._settings(PEAK_METRICS_CACHE_SECONDS="soon")
        self.assertFalse(settings.peak_metrics_token_set)
        self.assertIn("misconfigured", settings.peak_metrics_status)

    def test_settings_form_shows_the_monitoring_block(self):
        arch = self.env["res.config.settings"].get_views([(False, "form")])["views"][
            "form"
        ]["arch"]
        self.assertIn('name="peak_metrics_block"', arch)
        for field in ("peak_metrics_url", "peak_metrics_token_set"):
            self.assertIn(f'name="{field}"', arch)


@tagged("post_install", "-at_install")
class TestSettingsTour(HttpCase):
    def test_monitoring_block_is_filled_on_first_load(self):
        patch = mock.patch.dict(os.environ, {"PEAK_METRICS_TOKEN": TOKEN})
        patch.start()
        self.addCleanup(_reload_quietly)
        self.addCleanup(patch.stop)
        hooks.get_config(reload=True)
        self.start_tour("/odoo/settings", "peak_metrics_settings_tour", login="admin")
