"""`homeiq-trainer validate`: check a dataset and summarise it in one paragraph."""

import argparse

from homeiq_core.dataset import DatasetError

from .dataset import validate_dataset
from .errors import CommandError


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the `validate` subcommand."""
    parser = subparsers.add_parser(
        "validate",
        help="check a dataset and summarise it",
        description=(
            "Read every file of a dataset, check it against the format "
            "(docs/data-format.md) and print a summary; exit 1 with the first "
            "problem otherwise."
        ),
    )
    parser.add_argument("directory", help="the dataset directory")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Validate the dataset and print its summary."""
    try:
        summary = validate_dataset(args.directory)
    except DatasetError as error:
        raise CommandError(str(error)) from None
    print(summary.describe())
    return 0
