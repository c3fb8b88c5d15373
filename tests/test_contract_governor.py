"""The governor's SQL and tag parser against docs/db-contract.md."""

import re

import psycopg
from contract_doc import load_contract
from pg import connect, needs_db

from peak_governor import attribution, contract

CONTRACT = load_contract()
CALL = re.compile(r"\b(peak_queue_\w+)\((.*?)\)")


def _governor_statements():
    return {
        name: value
        for name, value in vars(contract).items()
        if name.endswith("_SQL") and isinstance(value, str)
    }


def test_versions_agree():
    assert contract.CONTRACT_VERSION == CONTRACT["version"]
    assert attribution.VERSION == CONTRACT["attribution"]
    assert contract.LEASE_NOTIFY_CHANNEL == CONTRACT["notify"]["lease"]


def test_every_function_the_governor_calls_is_in_the_contract():
    calls = [
        (name, args)
        for sql in _governor_statements().values()
        for name, args in CALL.findall(sql)
    ]
    assert calls, "the governor calls no contract function?"
    for name, args in calls:
        assert name in CONTRACT["functions"], f"{name} is not in the contract"
        expected = len(CONTRACT["functions"][name]["args"])
        given = len([a for a in args.split(",") if a.strip()])
        assert (
            given == expected
        ), f"{name} takes {expected} arguments, governor passes {given}"


@needs_db
def test_every_statement_of_the_governor_parses_against_the_database():
    """PREPARE checks tables, columns, functions and argument types of each
    statement in a database built by peak_queue, without running it."""
    with connect() as conn:
        for name, statement in _governor_statements().items():
            numbered = statement
            for index in range(1, statement.count("%s") + 1):
                numbered = numbered.replace("%s", f"${index}", 1)
            numbered = numbered.replace("%%", "%")
            try:
                conn.execute(f"PREPARE peak_check AS {numbered}", prepare=False)
            except psycopg.Error as exc:
                raise AssertionError(
                    f"{name} drifted from the database: {exc}"
                ) from exc
            conn.execute("DEALLOCATE peak_check")
