"""Command line of the HomeIQ trainer.

Each subcommand lives in a module of its own that exposes `add_parser(subparsers)`
(which registers the subcommand and sets `func` to its runner) and is listed in
`COMMANDS`; the runner receives the parsed arguments and returns the exit code.
"""

import argparse
from collections.abc import Callable, Sequence
from types import ModuleType

from . import (
    __version__,
    daemon,
    demo,
    generate,
    ha_client,
    infer,
    pull,
    recorder_import,
    validate,
)
from .errors import CommandError
from .models import commands as model_commands

DESCRIPTION = """\
Train HomeIQ's models (home type, device health) on synthetic homes and on data
collected by the HomeIQ integration, evaluate them on homes they never saw, export
them as ONNX and deliver them to Home Assistant.
"""

# Subcommand modules, in the order `--help` lists them.
COMMANDS: tuple[ModuleType, ...] = (
    generate,
    validate,
    model_commands,
    infer,
    recorder_import,
    ha_client,
    pull,
    daemon,
    demo,
)

type Runner = Callable[[argparse.Namespace], int]

__all__ = ["COMMANDS", "CommandError", "build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of `homeiq-trainer`."""
    parser = argparse.ArgumentParser(
        prog="homeiq-trainer",
        description=DESCRIPTION,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the trainer with `argv` (default: the process arguments)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    runner: Runner | None = getattr(args, "func", None)
    if runner is None:
        parser.print_help()
        return 0
    try:
        return runner(args)
    except CommandError as error:
        parser.exit(1, f"homeiq-trainer: error: {error}\n")
