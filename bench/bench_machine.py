"""What every benchmark of bench/ records about the host it ran on."""

import os
import platform


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
