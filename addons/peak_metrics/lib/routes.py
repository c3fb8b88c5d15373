# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Bounded labels for HTTP requests: a route group and a status class.

Never the raw path (record ids, slugs and tokens would explode the series).
"""

ROUTE_GROUPS = (
    "web_client",
    "json_rpc",
    "external_rpc",
    "assets",
    "queue_job_runjob",
    "metrics",
    "health",
    "websocket",
    "session",
    "report",
    "other",
)
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")

# (prefix, group), first match wins; exact paths end with "$".
_RULES = (
    ("/metrics$", "metrics"),
    ("/web/health$", "health"),
    ("/queue_job/runjob", "queue_job_runjob"),
    ("/websocket", "websocket"),
    ("/web/assets/", "assets"),
    ("/web/static/", "assets"),
    ("/web/image", "assets"),
    ("/web/content", "assets"),
    ("/web/dataset/", "json_rpc"),
    ("/web/action/", "json_rpc"),
    ("/json/", "json_rpc"),
    ("/mail/", "json_rpc"),
    ("/jsonrpc", "external_rpc"),
    ("/xmlrpc", "external_rpc"),
    ("/web/session/", "session"),
    ("/web/login", "session"),
    ("/report/", "report"),
    ("/odoo", "web_client"),
    ("/web", "web_client"),
)


def route_group(path: str) -> str:
    path = path or "/"
    for prefix, group in _RULES:
        if prefix.endswith("$"):
            if path.rstrip("/") == prefix[:-1]:
                return group
        elif path.startswith(prefix):
            return group
    # /<module>/static/... served by Odoo's static handler
    parts = path.split("/", 3)
    if len(parts) > 2 and parts[2] == "static":
        return "assets"
    return "other"


def status_class(status) -> str:
    """'200 OK' or 200 -> '2xx'; anything odd -> '5xx' (it is a server bug)."""
    try:
        code = int(str(status).split(" ", 1)[0])
    except ValueError:
        return "5xx"
    if not 100 <= code <= 599:
        return "5xx"
    return f"{code // 100}xx"
