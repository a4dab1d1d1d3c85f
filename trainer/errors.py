"""Errors the trainer's commands report to the user.

Kept apart from `cli` so that subcommand modules import it without importing the
command line that imports them: the CLI depends on its commands one way only.
"""


class CommandError(Exception):
    """A failure to report to the user as one line, with exit code 1."""
