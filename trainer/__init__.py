"""HomeIQ trainer: builds, evaluates and delivers HomeIQ's models.

Installed as the `homeiq_trainer` package with the `homeiq-trainer` command. It
computes features with `homeiq_core`, the same code the integration runs.
"""

from importlib.metadata import version

__version__ = version("homeiq")
