# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Settings > Peak Operations: the governor's profile and drain, stored where
the governor reads them (real registry, the governor's own settings code)."""

from odoo.exceptions import ValidationError
from odoo.tests import HttpCase, TransactionCase, tagged

from odoo.addons.peak_queue.lib import governor_settings as gs

from peak_governor.config import apply_policy_settings, odoo_settings
from peak_governor.policy import SUMMARIES, PolicyConfig


def _clear(env):
    params = env["ir.config_parameter"].sudo()
    params.set_param(gs.PROFILE_PARAM, False)
    params.set_param(gs.DRAIN_PARAM, False)
    return params


def _governor_policy(env) -> PolicyConfig:
    """What the governor makes of the stored parameters at its start."""
    env.cr.execute(
        "SELECT key, value FROM ir_config_parameter WHERE key LIKE %s",
        (gs.PARAM_PREFIX + "%",),
    )
    return apply_policy_settings(PolicyConfig(), odoo_settings(env.cr.fetchall()))


@tagged("post_install", "-at_install")
class TestGovernorProfile(TransactionCase):
    def setUp(self):
        super().setUp()
        self.params = _clear(self.env)

    def test_unset_reads_balanced_and_automatic_with_the_explanation(self):
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.peak_governor_profile, "balanced")
        self.assertEqual(settings.peak_governor_drain_mode, "auto")
        self.assertEqual(settings.peak_governor_profile_note, SUMMARIES["balanced"])

    def test_choices_are_stored_where_the_governor_reads_them(self):
        self.env["res.config.settings"].create(
            {
                "peak_governor_profile": "pickers_first",
                "peak_governor_drain_mode": "fixed",
                "peak_governor_drain_seconds": 45.0,
            }
        ).execute()
        self.assertEqual(self.params.get_param(gs.PROFILE_PARAM), "pickers_first")
        self.assertEqual(self.params.get_param(gs.DRAIN_PARAM), "45")
        policy = _governor_policy(self.env)
        self.assertEqual(
            (policy.profile, policy.drain, policy.preempt_after),
            ("pickers_first", "45", 0.1),
        )
        reopened = self.env["res.config.settings"].create({})
        self.assertEqual(reopened.peak_governor_drain_mode, "fixed")
        self.assertEqual(reopened.peak_governor_drain_seconds, 45.0)

    def test_defaults_are_stored_as_unset_and_off_is_kept(self):
        self.params.set_param(gs.PROFILE_PARAM, "observe")
        self.env["res.config.settings"].create(
            {"peak_governor_profile": "balanced", "peak_governor_drain_mode": "off"}
        ).execute()
        self.assertFalse(self.params.get_param(gs.PROFILE_PARAM))
        self.assertEqual(self.params.get_param(gs.DRAIN_PARAM), "off")
        self.assertEqual(_governor_policy(self.env).drain, "off")

    def test_a_lead_the_governor_refuses_is_refused_and_nothing_stored(self):
        with self.assertRaisesRegex(
            ValidationError, "governor would refuse to start: drain must be auto"
        ):
            self.env["res.config.settings"].create(
                {"peak_governor_drain_mode": "fixed", "peak_governor_drain_seconds": 0}
            )
        self.assertFalse(self.params.get_param(gs.DRAIN_PARAM))

    def test_a_stored_value_the_governor_does_not_know_reads_as_the_default(self):
        # Written by hand: Settings shows the default, the governor refuses it
        # at start with its own message.
        self.params.set_param(gs.PROFILE_PARAM, "fastest")
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.peak_governor_profile, "balanced")
        self.assertIn(
            "is not one of balanced, pickers_first, observe",
            gs.refusal({"profile": "fastest"}),
        )


@tagged("post_install", "-at_install")
class TestGovernorProfileTour(HttpCase):
    def test_settings_show_the_profile_on_first_load_and_save_a_choice(self):
        params = _clear(self.env)
        self.start_tour(
            "/odoo/settings", "peak_queue_governor_profile_tour", login="admin"
        )
        self.assertEqual(params.get_param(gs.PROFILE_PARAM), "pickers_first")
        self.assertEqual(params.get_param(gs.DRAIN_PARAM), "45")
