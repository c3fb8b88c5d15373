# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
{
    "name": "Peak Queue",
    "summary": "Priority classes, fail-safe pause leases and DB-session attribution "
    "for OCA queue_job channels",
    "version": "18.0.1.3.0",
    "category": "Peak Operations",
    "website": "https://github.com/odoo-peak/odoo-peak",
    "author": "Odoo Peak",
    "license": "LGPL-3",
    "installable": True,
    "depends": ["peak_base", "queue_job"],
    "external_dependencies": {"python": []},
    "data": [
        "security/ir.model.access.csv",
        "data/queue_job_channel_data.xml",
        "data/peak_queue_function_rule_data.xml",
        "data/ir_cron.xml",
        "data/ir_cron_housekeeping.xml",
        "views/queue_job_channel_views.xml",
        "views/peak_queue_lease_views.xml",
        "views/peak_queue_function_rule_views.xml",
        "views/res_config_settings_views.xml",
        "views/peak_queue_menus.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "peak_queue/static/src/channel_list/channel_list.js",
            "peak_queue/static/src/channel_list/channel_list.xml",
        ],
        "web.assets_tests": [
            "peak_queue/static/src/tours/channels_banner_tour.js",
            "peak_queue/static/src/tours/governor_profile_tour.js",
        ],
    },
    # Patches queue_job's jobrunner so leases hold and expire inside it: load
    # server-wide (server_wide_modules = base,web,queue_job,peak_queue).
    "post_load": "post_load",
}
