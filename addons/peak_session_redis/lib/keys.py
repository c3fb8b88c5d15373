# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Session ids never reach Redis: keys and values hold keyed hashes of them.

Whoever reads the keyspace (a shared Redis, an RDB backup, a replica) must not
find working cookies. A key is ``HMAC-SHA256(secret, identifier)`` (the
identifier is ``sid[:42]``, what device revoke names), and a value proves the
full sid with ``HMAC-SHA256(secret, sid)``. The secret is not in Redis:
``PEAK_REDIS_KEY_SECRET``, or else a file this host generates once in Odoo's
data_dir (enough for one host; several hosts sharing a Redis must share the
secret, so they set it).
"""

import hashlib
import hmac
import logging
import os
import secrets

from .config import MIN_KEY_SECRET_CHARS

_logger = logging.getLogger(__name__)

SECRET_FILE = "peak_session_redis.key"


def digest(secret: bytes, value: str) -> str:
    return hmac.new(secret, value.encode(), hashlib.sha256).hexdigest()


def secret_from_file(directory: str) -> str:
    """The host's generated secret (created on first use, mode 0600; when
    several workers start at once, the first one's file wins)."""
    path = os.path.join(directory, SECRET_FILE)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
        _logger.warning(
            "peak_session_redis: PEAK_REDIS_KEY_SECRET is not set; session keys "
            "are hashed with a secret generated in %s. Every Odoo host sharing "
            "this Redis needs the same secret: set PEAK_REDIS_KEY_SECRET.",
            path,
        )
    with open(path, encoding="ascii") as handle:
        secret = handle.read().strip()
    if len(secret) < MIN_KEY_SECRET_CHARS:  # a half-written file of a dead worker
        raise ValueError(f"{path} holds no usable secret: delete it and restart")
    return secret
