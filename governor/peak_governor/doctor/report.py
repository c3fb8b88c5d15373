"""What a doctor check returns and how the findings are reported.

A :class:`Finding` is ``pass``, ``warn`` or ``fail`` with a message and the
fix, or ``skip`` when the check does not apply. The report's status is the
worst finding; the exit code follows it (0 pass or skip, 1 warn, 2 fail), and
the findings print as text (one line each, the fix under warnings and
failures) or as JSON.
"""

import dataclasses
import json
from dataclasses import dataclass

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
EXIT_CODES = {PASS: 0, SKIP: 0, WARN: 1, FAIL: 2}


@dataclass(frozen=True)
class Finding:
    check: str
    status: str
    message: str
    fix: str = ""

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def overall(findings: list[Finding]) -> str:
    statuses = {f.status for f in findings}
    for status in (FAIL, WARN):
        if status in statuses:
            return status
    return PASS


def exit_code(findings: list[Finding]) -> int:
    return EXIT_CODES[overall(findings)]


def render_text(findings: list[Finding]) -> str:
    lines = []
    for finding in findings:
        lines.append(f"{finding.status.upper():<4}  {finding.check}: {finding.message}")
        if finding.fix and finding.status in (WARN, FAIL):
            lines.append(f"      fix: {finding.fix}")
    counts = {s: sum(f.status == s for f in findings) for s in (PASS, WARN, FAIL, SKIP)}
    lines.append(
        f"{overall(findings).upper()}: {counts[PASS]} pass, {counts[WARN]} warn, "
        f"{counts[FAIL]} fail, {counts[SKIP]} skipped"
    )
    return "\n".join(lines)


def render_json(findings: list[Finding]) -> str:
    return json.dumps(
        {
            "status": overall(findings),
            "exit_code": exit_code(findings),
            "checks": [f.as_dict() for f in findings],
        },
        indent=2,
    )
