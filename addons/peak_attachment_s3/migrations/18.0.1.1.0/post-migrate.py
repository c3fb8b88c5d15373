# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Pin the home prefix of a database that already stores in S3: its objects
are under its current name, which copies and restores must keep reading."""

from odoo.addons.peak_attachment_s3.lib.ownership import HOME_PARAM


def migrate(cr, version):
    cr.execute("SELECT 1 FROM ir_attachment WHERE store_fname LIKE 's3://%%' LIMIT 1")
    if cr.fetchone() is None:
        return
    cr.execute(
        "INSERT INTO ir_config_parameter (key, value, create_date, write_date) "
        "VALUES (%s, current_database(), now() at time zone 'utc', "
        "now() at time zone 'utc') ON CONFLICT (key) DO NOTHING",
        [HOME_PARAM],
    )
