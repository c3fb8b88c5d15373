"""What every benchmark of bench/ records about the host it ran on."""

import json
import os
import platform
from pathlib import Path


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            return next(
                (
                    line.split(":", 1)[1].strip()
                    for line in handle
                    if line.startswith("model name")
                ),
                "",
            )
    except OSError:
        return ""


def host() -> dict:
    """CPUs, memory and Python of this machine (the database adds its own)."""
    mem_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": round(mem_bytes / 2**30, 1),
        "python": platform.python_version(),
    }


def write_results(
    result: dict, output: Path, stem: str, title: str, table: str, smoke: bool
) -> tuple[Path, Path]:
    """``<stem>.json`` and ``<stem>.md`` (``<stem>.smoke.*`` in smoke mode,
    so a smoke run never overwrites the committed results)."""
    output.mkdir(parents=True, exist_ok=True)
    stem = f"{stem}.smoke" if smoke else stem
    json_path, md_path = output / f"{stem}.json", output / f"{stem}.md"
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    md_path.write_text(f"# {title}\n\n{table}")
    return json_path, md_path
