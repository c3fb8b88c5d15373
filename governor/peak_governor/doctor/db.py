"""Cursor helpers shared by the checks: one row, all rows, whether a table
exists, the installed Odoo modules. Only ``%s`` parameters, so psycopg 3 (the
CLI) and Odoo's psycopg2 cursor (the Readiness report) run the same SQL.
"""


def _one(cur, query, params=()):
    cur.execute(query, params)
    return cur.fetchone()


def _all(cur, query, params=()):
    cur.execute(query, params)
    return cur.fetchall()


def _table_exists(cur, table: str) -> bool:
    return _one(cur, "SELECT to_regclass(%s) IS NOT NULL", (table,))[0]


def installed_modules(cur) -> set[str]:
    if not _table_exists(cur, "ir_module_module"):
        return set()
    return {
        row[0]
        for row in _all(
            cur,
            "SELECT name FROM ir_module_module "
            "WHERE state IN ('installed', 'to upgrade')",
        )
    }
