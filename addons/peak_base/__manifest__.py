# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
{
    "name": "Peak Operations",
    "summary": "Peak mode, fulfillment windows and peak periods, with an audit trail",
    "version": "18.0.1.1.0",
    "category": "Peak Operations",
    "website": "https://github.com/odoo-peak/odoo-peak",
    "author": "Odoo Peak",
    "license": "LGPL-3",
    "application": True,
    "installable": True,
    "depends": ["base_setup", "web"],
    "external_dependencies": {"python": []},
    "data": [
        "security/peak_security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron.xml",
        "views/peak_fulfillment_window_views.xml",
        "views/peak_period_views.xml",
        "views/peak_mode_log_views.xml",
        "views/peak_readiness_report_views.xml",
        "views/res_config_settings_views.xml",
        "views/peak_base_menus.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "peak_base/static/src/tours/*.js",
        ],
    },
}
