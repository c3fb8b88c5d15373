# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
{
    "name": "Peak Session Redis",
    "summary": "HTTP sessions in Redis for Odoo 18: complete store API, bounded "
    "timeouts, 503 instead of hangs, no forced logout on switch-over",
    "version": "18.0.1.1.0",
    "category": "Peak Operations",
    "website": "https://github.com/odoo-peak/odoo-peak",
    "author": "Odoo Peak",
    "license": "LGPL-3",
    "installable": True,
    "depends": ["peak_base"],
    "external_dependencies": {
        "python": ["peak_settings", "redis", "prometheus_client"]
    },
    "data": [
        "security/ir.model.access.csv",
        "views/res_config_settings_views.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "peak_session_redis/static/src/tours/session_settings_tour.js",
        ],
    },
    # Replaces odoo.http.root.session_store: load server-wide
    # (server_wide_modules = base,web,...,peak_session_redis). Installing it
    # in a database only adds the Settings block.
    "post_load": "post_load",
}
