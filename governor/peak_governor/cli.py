"""Command line entry point of ``peak-governor``."""

import argparse
import sys

from . import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="peak-governor",
        description="Pause low-priority Odoo job channels when fulfillment "
        "work waits on PostgreSQL locks.",
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    build_parser().parse_args(argv)
    print(
        "peak-governor: the sensor/policy loop is not implemented yet", file=sys.stderr
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
