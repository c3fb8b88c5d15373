# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Tag the PostgreSQL session of every HTTP request (see docs/attribution.md).

The hook is ``ir.http._dispatch``: Odoo only calls it for requests served
with a database (``Request._serve_db`` -> ``_serve_ir_http``, inside the
request's transaction), after authentication and once the parameters are
parsed (``request.params``, including a JSON-RPC body), right before the
endpoint runs.  Database-less requests (``_serve_nodb``) never reach it, so an
``auth='none'`` route is tagged only when it has a cursor.

No restore: the cursor is closed (back to Odoo's pool) at the end of the
request, and the pool resets a connection (``DISCARD ALL``, which resets
``application_name``) before lending it again, so the next user of that
session never inherits the tag; the next request sets its own.  A request
retried by ``_transactioning`` (read-only then read/write cursor) goes
through ``_dispatch`` again and tags its new cursor.

The same hook counts the request's conflicts (lib/conflicts.py): a
serialization failure, deadlock or lock timeout raised here reaches Odoo's
``retrying`` next, which sleeps and runs the request again; the governor
learns of it from the counter, once per request however often it is retried.
"""

import logging

from odoo import models
from odoo.http import request

from odoo.addons.queue_job.controllers.main import RunJobController

from ..lib import attribution, conflicts

_logger = logging.getLogger(__name__)

# Routes whose label is the model and method they call, read from the params.
_CALL_KW_ROUTES = frozenset(("/web/dataset/call_kw", "/web/dataset/call_button"))
_EXTERNAL_RPC_ROUTE = "/jsonrpc"
# Set on a request whose conflict was counted.
_COUNTED = "_peak_conflict_counted"


def _registry_model(model):
    return model if isinstance(model, str) and model in request.registry else None


def request_label(endpoint, params):
    """Bounded label of a request: ``<model>.<method>`` for an RPC call on a
    registry model, the endpoint's ``<addon>.<Class>.<method>`` otherwise.
    Never the URL: paths carry ids and slugs."""
    routes = endpoint.routing.get("routes") or ()
    label = None
    if _CALL_KW_ROUTES.intersection(routes):
        label = attribution.call_label(
            _registry_model(params.get("model")), params.get("method")
        )
    elif _EXTERNAL_RPC_ROUTE in routes:
        # {"service": "object", "method": "execute_kw",
        #  "args": [db, uid, password, model, method, ...]}
        args = params.get("args")
        if (
            params.get("service") == "object"
            and params.get("method") in ("execute", "execute_kw")
            and isinstance(args, list)
            and len(args) >= 5
        ):
            label = attribution.call_label(_registry_model(args[3]), args[4])
    return label or attribution.endpoint_label(
        endpoint.__module__, endpoint.__qualname__
    )


def _is_runjob(endpoint):
    controller = getattr(getattr(endpoint, "func", None), "__self__", None)
    return isinstance(controller, RunJobController)


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _dispatch(cls, endpoint):
        if not cls._peak_tag_request(endpoint):
            return super()._dispatch(endpoint)
        cr = request.env.cr
        try:
            response = super()._dispatch(endpoint)
            # Odoo flushes the ORM's last writes after this returns: flush
            # here so that a conflict they raise is counted too.
            if not getattr(cr, "_closed", False):
                cr.flush()
            return response
        except Exception as exc:
            # Once per request: Odoo runs the same request object again, and
            # a request retried four times is one user kept waiting, as one
            # lock waiter is (the governor's wave counts requests).
            if conflicts.is_conflict(exc) and not getattr(request, _COUNTED, False):
                setattr(request, _COUNTED, True)
                conflicts.record(cr, "interactive")
            raise

    @classmethod
    def _peak_tag_request(cls, endpoint):
        """Tag the request's session; whether it is interactive work."""
        env = getattr(request, "env", None)
        cr = env.cr if env is not None else None
        if cr is None or not attribution.cursor_usable(cr) or _is_runjob(endpoint):
            return False
        try:
            tag = attribution.format_http_tag(request_label(endpoint, request.params))
        except (AttributeError, TypeError, ValueError):
            # Attribution must never cost a request its answer.
            _logger.debug("untagged request to %s", endpoint, exc_info=True)
            return True
        attribution.set_application_name(cr, tag)
        return True
