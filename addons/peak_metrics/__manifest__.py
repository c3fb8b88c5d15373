# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
{
    "name": "Peak Metrics",
    "summary": "Prometheus /metrics: business KPIs, per-channel queues and platform "
    "metrics, correct under prefork workers and protected by a token",
    "version": "18.0.1.0.1",
    "category": "Peak Operations",
    "website": "https://github.com/odoo-peak/odoo-peak",
    "author": "Odoo Peak",
    "license": "LGPL-3",
    "installable": True,
    "depends": ["peak_base", "peak_queue"],
    "external_dependencies": {"python": ["peak_settings", "prometheus_client"]},
    "data": [
        "security/ir.model.access.csv",
        "views/res_config_settings_views.xml",
    ],
    "assets": {
        "web.assets_tests": [
            "peak_metrics/static/src/tours/metrics_settings_tour.js",
        ],
    },
    # Hooks the WSGI application (request histogram), the prefork master
    # (dead workers, recycles) and queue_job's job runs: load server-wide
    # (server_wide_modules = base,web,queue_job,peak_queue,peak_metrics).
    "post_load": "post_load",
}
