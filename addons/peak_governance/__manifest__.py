# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
{
    "name": "Peak Change Governance",
    "summary": "Change freeze, time-bound access, GitOps sync windows",
    "version": "18.0.1.1.0",
    "category": "Peak Operations",
    "website": "https://github.com/odoo-peak/odoo-peak",
    "author": "Odoo Peak",
    "license": "LGPL-3",
    "installable": True,
    "depends": ["peak_base", "mail"],
    "external_dependencies": {"python": ["PyYAML"]},
    # Loaded server-wide (--load=...,peak_governance) it guards odoo-bin -i/-u.
    "post_load": "post_load",
    "data": [
        "security/peak_governance_security.xml",
        "security/peak_access_grant_security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron.xml",
        "data/peak_frozen_setting_data.xml",
        "views/peak_change_exception_views.xml",
        "views/peak_change_exception_log_views.xml",
        "views/peak_frozen_setting_views.xml",
        "views/peak_period_views.xml",
        "views/res_config_settings_views.xml",
        "views/peak_access_grant_views.xml",
        "views/peak_governance_menus.xml",
        "views/peak_sync_window_export_views.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "peak_governance/static/src/tours/*.js",
        ],
    },
}
