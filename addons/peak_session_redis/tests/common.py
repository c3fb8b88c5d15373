# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""A private redis-server for this addon's tests, started once per process
(lazily) and stopped at exit. Never the machine's shared Redis on 6379."""

import atexit
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT / "scripts") not in sys.path:
    sys.path.insert(0, str(ROOT / "scripts"))

from peak_dev.redis import RedisSentinel, RedisServer  # noqa: E402, F401

_servers = {}


def private_redis(name="main") -> RedisServer:
    """The running private Redis called ``name`` (started on first use)."""
    server = _servers.get(name)
    if server is None:
        data_dir = Path(tempfile.mkdtemp(prefix=f"peak-redis-{name}-"))
        server = _servers[name] = RedisServer(data_dir)
        atexit.register(server.stop)
    if not server.alive():
        server.start()
    return server


def command_calls(client) -> dict:
    """Commands Redis has executed so far, by name (INFO commandstats)."""
    stats = client.info("commandstats")
    return {
        name.removeprefix("cmdstat_"): v["calls"]
        for name, v in stats.items()
        if name != "cmdstat_info"  # this very call
    }
