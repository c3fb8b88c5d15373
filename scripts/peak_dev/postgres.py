"""PostgreSQL chores of the local stack: the Odoo role and throw-away databases."""

import logging

import psycopg2
from psycopg2 import sql

from .settings import Settings

_logger = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 5


class PostgresError(RuntimeError):
    """PostgreSQL could not be reached or refused a chore."""


def _connect(settings: Settings, user: str, dbname: str = "postgres"):
    kwargs = {"dbname": dbname, "user": user, "connect_timeout": CONNECT_TIMEOUT_S}
    if settings.db_host:
        kwargs.update(host=settings.db_host, port=settings.db_port)
    else:
        kwargs.update(port=settings.db_port)
    if user == settings.db_user and settings.db_password:
        kwargs["password"] = settings.db_password
    try:
        conn = psycopg2.connect(**kwargs)
    except psycopg2.OperationalError as exc:
        where = settings.db_host or "local socket"
        raise PostgresError(
            f"cannot connect to PostgreSQL at {where}:{settings.db_port} as "
            f"{user!r}: {str(exc).strip()}"
        ) from exc
    conn.autocommit = True
    return conn


def ensure_role(settings: Settings) -> None:
    """Create the Odoo role (LOGIN CREATEDB, not superuser) when it is missing."""
    try:
        conn = _connect(settings, settings.db_user)
    except PostgresError:
        pass
    else:
        conn.close()
        return
    try:
        admin = _connect(settings, settings.pg_superuser)
    except PostgresError as exc:
        raise PostgresError(
            f"role {settings.db_user!r} cannot log in and {exc}; create it with "
            f"`createuser --createdb {settings.db_user}`"
        ) from exc
    with admin, admin.cursor() as cr:
        cr.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [settings.db_user])
        statement = (
            "ALTER ROLE {} LOGIN CREATEDB"
            if cr.fetchone()
            else ("CREATE ROLE {} LOGIN CREATEDB")
        )
        query = sql.SQL(statement).format(sql.Identifier(settings.db_user))
        if settings.db_password:
            query += sql.SQL(" PASSWORD {}").format(sql.Literal(settings.db_password))
        cr.execute(query)
    admin.close()
    _logger.info("created PostgreSQL role %s", settings.db_user)


def database_exists(settings: Settings, name: str) -> bool:
    conn = _connect(settings, settings.db_user)
    with conn.cursor() as cr:
        cr.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name])
        found = cr.fetchone() is not None
    conn.close()
    return found


def drop_database(settings: Settings, name: str) -> None:
    conn = _connect(settings, settings.db_user)
    with conn.cursor() as cr:
        cr.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            [name],
        )
        cr.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
    conn.close()


def ensure_governor_role(settings: Settings, role: str) -> bool:
    """Create the governor's login role (no predefined role: contract v5)
    when missing, and take back pg_monitor, which earlier releases gave it.

    Needs the superuser once; peak_queue then grants the rest itself at
    install and upgrade. Returns False (and logs why) when it cannot.
    """
    try:
        admin = _connect(settings, settings.pg_superuser)
    except PostgresError as exc:
        _logger.warning("no governor role %s: %s", role, exc)
        return False
    with admin, admin.cursor() as cr:
        cr.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role])
        if not cr.fetchone():
            cr.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
            _logger.info("created PostgreSQL role %s", role)
        cr.execute(
            "SELECT 1 FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid"
            " JOIN pg_roles u ON u.oid = m.member"
            " WHERE r.rolname = 'pg_monitor' AND u.rolname = %s",
            [role],
        )
        if cr.fetchone():
            cr.execute(
                sql.SQL("REVOKE pg_monitor FROM {}").format(sql.Identifier(role))
            )
            _logger.info("took pg_monitor back from role %s (not needed)", role)
    admin.close()
    return True
