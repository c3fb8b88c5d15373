# License LGPL-3.0 or later (https://www.gnu.org/licenses/lgpl.html)
"""The database peak_queue builds against docs/db-contract.md."""

import json
import re
from pathlib import Path

from odoo.tests import TransactionCase, tagged

from odoo.addons.peak_queue.lib import attribution, leases

CONTRACT_DOC = Path(__file__).resolve().parents[3] / "docs" / "db-contract.md"


def _contract():
    text = CONTRACT_DOC.read_text()
    return json.loads(re.search(r"```json contract\n(.*?)\n```", text, re.S).group(1))


@tagged("post_install", "-at_install")
class TestDbContract(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.contract = _contract()

    def test_version(self):
        self.env.cr.execute("SELECT peak_queue_contract_version()")
        self.assertEqual(self.env.cr.fetchone()[0], self.contract["version"])
        self.assertEqual(attribution.VERSION, self.contract["attribution"])
        self.assertEqual(leases.NOTIFY_CHANNEL, self.contract["notify"]["lease"])

    def test_functions_match(self):
        for name, spec in self.contract["functions"].items():
            self.env.cr.execute(
                "SELECT oidvectortypes(proargtypes), pg_get_function_result(oid) "
                "FROM pg_proc WHERE proname = %s",
                [name],
            )
            rows = self.env.cr.fetchall()
            self.assertEqual(len(rows), 1, f"{name}: expected exactly one function")
            args, returns = rows[0]
            found = [a.strip() for a in args.split(",") if a.strip()]
            self.assertEqual(found, spec["args"], f"{name} arguments drifted")
            self.assertEqual(returns, spec["returns"], f"{name} result drifted")

    def test_tables_match(self):
        for table, columns in self.contract["tables"].items():
            self.env.cr.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_name = %s",
                [table],
            )
            found = dict(self.env.cr.fetchall())
            for column, data_type in columns.items():
                self.assertEqual(
                    found.get(column), data_type, f"{table}.{column} drifted"
                )

    def test_no_undocumented_contract_function(self):
        self.env.cr.execute(
            "SELECT proname FROM pg_proc WHERE proname LIKE 'peak\\_queue\\_%%'"
        )
        names = {row[0] for row in self.env.cr.fetchall()}
        self.assertEqual(names, set(self.contract["functions"]))
