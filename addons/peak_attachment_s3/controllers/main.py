# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
import json

from odoo import http
from odoo.http import request


class PeakS3Health(http.Controller):
    @http.route("/peak/health/s3", type="http", auth="none", save_session=False)
    def s3_health(self):
        """200 when attachments can be stored (S3 healthy, or S3 not in use);
        503 when S3 is degraded or misconfigured."""
        info = request.env["ir.attachment"].sudo()._peak_s3_health()
        status = 503 if info["status"] in ("degraded", "misconfigured") else 200
        # Anonymous callers learn the state, not the bucket, endpoint or error
        # (Settings > Peak Operations shows those to administrators).
        public = {"status": info["status"], "storage": info["storage"]}
        return request.make_response(
            json.dumps(public),
            headers=[
                ("Content-Type", "application/json"),
                ("Cache-Control", "no-store"),
            ],
            status=status,
        )
