"""Developer tooling behind ``make run`` and ``make test``.

Plain Python, run with the project's virtualenv; nothing here is imported by
Odoo or by the governor at run time.
"""
