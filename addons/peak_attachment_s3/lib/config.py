# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""Configuration of the S3 attachment store (pure Python, no Odoo import).

The settings themselves (``S3Config``, ``load``, ``validate``) live in the
shared ``peak_settings.s3``, so ``peak-governor doctor`` reads a deployment
with this very code; the content-addressed key scheme is this addon's own.
"""

import re

from peak_settings.s3 import (  # noqa: F401 - this addon's settings API
    ADDRESSING_STYLES,
    ENV_PREFIX,
    PREFIX_PLACEHOLDERS,
    SECTION,
    ConfigError,
    S3Config,
    load,
    validate,
)

# Content-addressed keys --------------------------------------------------

SCHEME = "s3://"
_FNAME_RE = re.compile(r"^[0-9a-f]{2}/[0-9a-f]{40}$")
#: first key of the two-int advisory locks shared by writers and the GC
LOCK_NAMESPACE = 0x50453353  # "PES3"


def fname_for(checksum: str) -> str:
    """``store_fname`` of an object: the filestore layout behind ``s3://``."""
    return f"{SCHEME}{checksum[:2]}/{checksum}"


def is_s3(fname) -> bool:
    return bool(fname) and fname.startswith(SCHEME)


def relative(fname: str) -> str:
    """``ab/abcdef...`` from ``s3://ab/abcdef...`` or from a filestore name."""
    rel = fname[len(SCHEME) :] if is_s3(fname) else fname
    return rel


def checksum_of(fname: str) -> str:
    """The sha1 a storage name is made of."""
    return relative(fname).rsplit("/", 1)[-1]


def key_for(prefix: str, fname: str) -> str:
    return prefix + relative(fname)


def fname_from_key(prefix: str, key: str) -> str | None:
    """The store_fname of an object key, or None for a foreign object."""
    if not key.startswith(prefix):
        return None
    rel = key[len(prefix) :]
    return SCHEME + rel if _FNAME_RE.match(rel) else None


def lock_id(fname: str) -> int:
    """Second key of the advisory lock of a content checksum: its first byte,
    the filestore's directory (256 locks at most per transaction, so a large
    import cannot fill PostgreSQL's lock table).  Sharing a lock only makes a
    writer wait for the GC's short delete, or the GC skip an object for a run.
    """
    return int(checksum_of(fname)[:2], 16)
