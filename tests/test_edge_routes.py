"""The edge (real Traefik, the compose stack's rules) refuses Odoo's internal
endpoints however the path is spelled, and passes everything else."""

import http.client
import http.server
import threading
import time

import pytest
from peak_dev.edge import Edge
from peak_dev.processes import free_port

#: Any client but the host itself: the internal routes allow 127.0.0.1 only.
OUTSIDE = "127.0.0.2"


class _Odoo(http.server.BaseHTTPRequestHandler):
    """Answers every path, as Odoo's routes with strict_slashes=False do."""

    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"odoo")

    def log_message(self, *args):
        pass


def _get(edge, path):
    connection = http.client.HTTPConnection(
        "127.0.0.1", edge.port, source_address=(OUTSIDE, 0), timeout=10
    )
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        connection.close()


@pytest.fixture(scope="module")
def edge(tmp_path_factory):
    backend = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Odoo)
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    port = backend.server_address[1]
    proxy = Edge(tmp_path_factory.mktemp("edge"), free_port(), port, port).start()
    deadline = time.monotonic() + 15
    while _get(proxy, "/web/login")[0] != 200:  # routes load after /ping answers
        assert time.monotonic() < deadline, "the edge never routed to Odoo"
        time.sleep(0.2)
    yield proxy
    proxy.stop()
    backend.shutdown()


@pytest.mark.parametrize(
    "path",
    ["/metrics", "/metrics/", "/metrics?debug=1", "/queue_job/runjob", "/queue_job"],
)
def test_internal_endpoints_are_refused(edge, path):
    status, body, _headers = _get(edge, path)
    assert (status, body) != (200, b"odoo")
    assert status == 403, path


def test_the_rest_reaches_odoo_with_browser_hardening(edge):
    status, body, headers = _get(edge, "/web/login")
    assert (status, body) == (200, b"odoo")
    assert headers["Strict-Transport-Security"] == "max-age=31536000"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert headers["X-Frame-Options"] == "SAMEORIGIN"


def _logged(edge, path_start, timeout_s=10.0):
    """The access-log entry of the request whose path starts so."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for entry in edge.requests():
            if entry.get("RequestPath", "").startswith(path_start):
                return entry
        time.sleep(0.1)
    raise AssertionError(f"no access-log entry for {path_start}")


@pytest.mark.parametrize(
    "path",
    [
        "/my/orders/7?access_token={secret}",
        "/web/reset_password?db=peak&token={secret}",
        "/web/signup?token={secret}&redirect=%2Fodoo",
        "/mail/view?model=sale.order&res_id=7&access_token={secret}",
    ],
)
def test_the_access_log_keeps_no_token_from_the_query(edge, path):
    """Portal access tokens, password-reset and signup tokens ride in the
    query string: the request is logged (path, status, route), never them."""
    secret = f"SECRET{time.monotonic_ns()}"
    status, _body, _headers = _get(edge, path.format(secret=secret))
    assert status == 200
    entry = _logged(edge, path.split("?", 1)[0])
    assert entry["RequestPath"] == path.split("?", 1)[0]
    assert entry["DownstreamStatus"] == 200 and entry["RouterName"]
    assert secret not in edge.access_log.read_text()
