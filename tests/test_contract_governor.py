"""The governor's SQL and tag parser against docs/db-contract.md."""

import re

from contract_doc import load_contract

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


def test_every_column_the_governor_reads_is_in_the_contract():
    tables = CONTRACT["tables"]
    for name, sql in _governor_statements().items():
        match = re.search(r"SELECT (.*?) FROM (\w+)(\s|$)", sql)
        if not match or match.group(2) not in tables:
            continue
        for column in re.findall(r"\b([a-z_]+)\b(?!\()", match.group(1)):
            assert column in tables[match.group(2)], f"{name}: {column} not in contract"
