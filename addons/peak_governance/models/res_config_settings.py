# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
from odoo import fields, models

from .peak_change_freeze import PARAM_SCOPE


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    peak_freeze_scope = fields.Selection(
        [
            ("periods", "Peak periods only"),
            ("peak_mode", "Peak periods and while Peak mode is on"),
        ],
        string="Freeze module changes during",
        default="periods",
        required=True,
        config_parameter=PARAM_SCOPE,
        help="Installing, upgrading or removing modules is refused during a "
        "peak period, unless an approved change exception covers them. Choose "
        "whether Peak mode switched on by hand freezes them as well.",
    )
