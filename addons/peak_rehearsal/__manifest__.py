# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
{
    "name": "Peak Rehearsal",
    "summary": "Pre-peak load rehearsal on a staging copy: target marker and real "
    "background jobs",
    "version": "18.0.1.1.0",
    "category": "Peak Operations",
    "website": "https://github.com/odoo-peak/odoo-peak",
    "author": "Odoo Peak",
    "license": "LGPL-3",
    "installable": True,
    # Staging only: it creates and confirms orders, posts invoices and runs the
    # scheduler on demand. Never install it on a production database.
    "depends": ["sale_stock", "queue_job", "peak_queue"],
    "external_dependencies": {"python": []},
    "data": [
        "data/queue_job_function_data.xml",
    ],
}
