"""Accounts: Odoo's administrator must not still accept the password its base
data gives it (``admin``). Checked in the database, against the stored hash,
so the doctor adds no failed login (and no login cooldown) to Odoo's logs.

Odoo 18 stores passwords with passlib's ``pbkdf2_sha512`` (plain text in very
old databases); both are verified here with the standard library only.
"""

import base64
import hashlib
import hmac

from .db import _all
from .report import FAIL, PASS, Finding

DEFAULT_PASSWORD = "admin"
NAME = "administrator password"
_ADMINS_SQL = """
SELECT u.login, COALESCE(u.password, '')
  FROM res_users u
 WHERE u.active AND (u.login = 'admin' OR u.id IN (
       SELECT res_id FROM ir_model_data
        WHERE module = 'base' AND name = 'user_admin' AND model = 'res.users'))
"""


def _ab64_decode(text: str) -> bytes:
    """passlib's "adapted base64": ``.`` for ``+``, no padding."""
    text = text.replace(".", "+")
    return base64.b64decode(text + "=" * (-len(text) % 4))


def accepts(stored: str, candidate: str) -> bool:
    """Whether Odoo would accept ``candidate`` for this stored password."""
    if not stored:
        return False
    if stored.startswith("$pbkdf2-sha512$"):
        try:
            _, _, rounds, salt, checksum = stored.split("$")
            expected = _ab64_decode(checksum)
            derived = hashlib.pbkdf2_hmac(
                "sha512",
                candidate.encode(),
                _ab64_decode(salt),
                int(rounds),
                len(expected),
            )
        except ValueError:
            return False
        return hmac.compare_digest(derived, expected)
    if stored.startswith("$"):
        return False  # another scheme: not one Odoo writes
    return hmac.compare_digest(stored.encode(), candidate.encode())


def check_admin_password(cur) -> list[Finding]:
    fix = (
        "set the administrator's password (Preferences > Account Security, or "
        "PEAK_ADMIN_PASSWORD at `entrypoint.sh init`, see docs/security.md)"
    )
    # Run as Odoo's role (the doctor's documented DSN): it owns res_users.
    rows = _all(cur, _ADMINS_SQL)
    weak = sorted(login for login, stored in rows if accepts(stored, DEFAULT_PASSWORD))
    if weak:
        return [
            Finding(
                NAME,
                FAIL,
                f"login {', '.join(weak)} still accepts the password "
                f"'{DEFAULT_PASSWORD}'",
                fix,
            )
        ]
    return [Finding(NAME, PASS, f"{len(rows)} administrator account(s) checked")]
