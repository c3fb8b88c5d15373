"""A private PostgreSQL 15 instance for tests: initdb + pg_ctl under a directory.

Tests that must change server settings or restart the server (the shared
server of a test run cannot), the backup tests (``archive_mode`` needs a
restart) and the restore drill share this class; it lives in the governor
package (``peak_governor.scratch``) because the drill ships with it.
"""

from peak_governor.scratch import PG_BIN, PrivatePostgres, as_postgres, make_root

__all__ = ["PG_BIN", "PrivatePostgres", "as_postgres", "make_root"]
