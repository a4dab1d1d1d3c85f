"""Command line of the HomeIQ trainer."""

import argparse
from collections.abc import Sequence

from . import __version__

DESCRIPTION = """\
Train HomeIQ's models (home type, device health) on synthetic homes and on data
collected by the HomeIQ integration, evaluate them on homes they never saw, export
them as ONNX and deliver them to Home Assistant.
"""


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of `homeiq-trainer`."""
    parser = argparse.ArgumentParser(
        prog="homeiq-trainer",
        description=DESCRIPTION,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the trainer with `argv` (default: the process arguments)."""
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 0
