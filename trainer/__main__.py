"""Allow `python -m homeiq_trainer`."""

from .cli import main

raise SystemExit(main())
