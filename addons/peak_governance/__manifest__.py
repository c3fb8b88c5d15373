# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
{
    "name": "Peak Change Governance",
    "summary": "Change freeze during peak periods, with approved, expiring exceptions",
    "version": "18.0.1.0.0",
    "category": "Peak Operations",
    "website": "https://github.com/odoo-peak/odoo-peak",
    "author": "Odoo Peak",
    "license": "LGPL-3",
    "installable": True,
    "depends": ["peak_base"],
    "external_dependencies": {"python": []},
    # Loaded server-wide (--load=...,peak_governance) it guards odoo-bin -i/-u.
    "post_load": "post_load",
    "data": [
        "security/peak_governance_security.xml",
        "security/ir.model.access.csv",
        "data/ir_cron.xml",
        "views/peak_change_exception_views.xml",
        "views/peak_change_exception_log_views.xml",
        "views/res_config_settings_views.xml",
        "views/peak_governance_menus.xml",
    ],
}
