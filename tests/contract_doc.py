"""Read the machine-readable block of docs/db-contract.md."""

import json
import re
from pathlib import Path

CONTRACT_DOC = Path(__file__).resolve().parents[1] / "docs" / "db-contract.md"


def load_contract() -> dict:
    text = CONTRACT_DOC.read_text()
    match = re.search(r"```json contract\n(.*?)\n```", text, re.S)
    if match is None:
        raise AssertionError(f"no ```json contract block in {CONTRACT_DOC}")
    return json.loads(match.group(1))
