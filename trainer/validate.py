"""`homeiq-trainer validate`: check a dataset and summarise it in one paragraph.

With `--stats`, also print per device kind the statistics a device-health model reads
(one row per device and day, computed by the core exactly as the integration would),
so a real dataset and a synthetic one can be put side by side.
"""

import argparse
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import islice

import numpy as np

from homeiq_core.aggregator import rollups_from_columns
from homeiq_core.dataset import DatasetError
from homeiq_core.features import (
    DEVICE_KINDS,
    DEVICE_SCHEMA,
    device_feature_rows,
    device_kind,
)

from .dataset import Home, read_dataset, validate_dataset
from .errors import CommandError

# What decides "is this device failing?": liveness, rhythm, stuck and flapping
# detectors, availability, battery and its quality.
STAT_FEATURES = (
    "silence_h",
    "silence_ratio_p95",
    "interval_p50_h",
    "heartbeat_visible_14d",
    "reports_1d",
    "changes_1d",
    "unchanged_h",
    "flaps_1d",
    "binary_flaps_1d",
    "unavailable_frac_7d",
    "battery_level",
    "battery_stale_h",
    "battery_step",
    "battery_reports_7d",
)
WARM_UP_DAYS = 7  # the first week of a window is left out: its 7-day rates are short


@dataclass(frozen=True)
class FeatureStats:
    """Distribution of one feature over (device, day) rows: NaN share, quantiles."""

    rows: int
    missing: float
    p10: float
    p50: float
    p90: float


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
    parser.add_argument(
        "--stats",
        action="store_true",
        help="also print per device kind the statistics a device-health model reads",
    )
    parser.add_argument(
        "--homes",
        type=_positive,
        default=50,
        help="homes read for --stats, the first ones of the manifest (default 50)",
    )
    parser.set_defaults(func=run)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def run(args: argparse.Namespace) -> int:
    """Validate the dataset and print its summary (and statistics)."""
    try:
        summary = validate_dataset(args.directory)
        print(summary.describe())
        if args.stats:
            homes = islice(read_dataset(args.directory), args.homes)
            print(describe_statistics(kind_statistics(homes)))
    except DatasetError as error:
        raise CommandError(str(error)) from None
    return 0


def kind_statistics(homes: Iterable[Home]) -> dict[str, dict[str, FeatureStats]]:
    """Return {kind: {feature: stats}} over the (device, day) rows of `homes`.

    Each home is replayed with its re-reports and gaps (a home that carries its
    daily rollups is read from them); rows of a window's first `WARM_UP_DAYS` days
    are left out. Kinds without any row are absent.
    """
    columns = [DEVICE_SCHEMA.index(name) for name in STAT_FEATURES]
    parts: dict[str, list[np.ndarray]] = {kind: [] for kind in DEVICE_KINDS}
    for home in homes:
        rollups = home.rollups
        if rollups is None:
            rollups = tuple(
                rollups_from_columns(
                    home.inventory,
                    home.events,
                    start=home.entry.start,
                    end=home.entry.end,
                    reports=home.reports,
                    gaps=home.gaps,
                )
            )
        rows = device_feature_rows(home.inventory, rollups)[WARM_UP_DAYS:]
        for i, device in enumerate(home.inventory.devices):
            parts[device_kind(device)].append(rows[:, i][:, columns])
    out = {}
    for kind, chunks in parts.items():
        matrix = np.concatenate(chunks) if chunks else np.empty((0, len(columns)))
        if len(matrix):
            out[kind] = {
                name: _stats(matrix[:, j]) for j, name in enumerate(STAT_FEATURES)
            }
    return out


def _stats(values: np.ndarray) -> FeatureStats:
    known = values[~np.isnan(values)]
    if not len(known):
        return FeatureStats(len(values), 1.0, np.nan, np.nan, np.nan)
    p10, p50, p90 = np.quantile(known, (0.1, 0.5, 0.9))
    return FeatureStats(
        len(values), 1 - len(known) / len(values), float(p10), float(p50), float(p90)
    )


def describe_statistics(stats: dict[str, dict[str, FeatureStats]]) -> str:
    """Return the statistics as text: one block per kind, one line per feature."""
    if not stats:
        return "No device rows to describe (windows shorter than a week?)."
    lines = [
        f"Per device kind, over (device, day) rows after the first {WARM_UP_DAYS} "
        "days: share missing (NaN), 10th percentile, median, 90th percentile."
    ]
    for kind, features in stats.items():
        rows = next(iter(features.values())).rows
        lines += ["", f"{kind} ({rows:,} rows)"]
        lines += [
            f"  {name:<24}{s.missing:>7.0%}{s.p10:>11.3g}{s.p50:>11.3g}{s.p90:>11.3g}"
            for name, s in features.items()
        ]
    return "\n".join(lines)
