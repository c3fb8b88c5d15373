# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
{
    "name": "Peak Attachment S3",
    "summary": "Attachments in S3 object storage, safe under rollback and outage",
    "version": "18.0.1.2.0",
    "category": "Peak Operations",
    "website": "https://github.com/odoo-peak/odoo-peak",
    "author": "Odoo Peak",
    "license": "LGPL-3",
    "installable": True,
    # peak_queue: migration jobs in the bulk class, GC deferred in windows.
    "depends": ["peak_base", "peak_queue", "queue_job"],
    "external_dependencies": {
        "python": ["boto3", "peak_settings", "prometheus_client"]
    },
    "data": [
        "security/ir.model.access.csv",
        "data/peak_queue_function_rule_data.xml",
        "data/ir_cron.xml",
        "views/res_config_settings_views.xml",
    ],
}
