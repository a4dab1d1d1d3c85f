"""`homeiq-trainer train`, `evaluate`, `models list` and `models prune`."""

import argparse
import os
from pathlib import Path
import shutil
import sys
import time

from homeiq_core.dataset import DatasetError
from homeiq_trainer.errors import CommandError
from homeiq_trainer.generate import generate_dataset
from homeiq_trainer.synth.options import GeneratorOptions

from .extract import Bar, extract, with_closed_days
from .pipeline import (
    MODEL_NAMES,
    SanityError,
    evaluate_registry,
    train_models,
)
from .plans import plan_rows
from .registry import RegistryError, current, entries, prune
from .report import write_report

DEFAULT_HOMES = 400
DEFAULT_DAYS = 30
DEFAULT_SEED = 1
DEFAULT_FAILURE_RATE = 0.05
DEFAULT_PLAN_HOMES = 3000
DEFAULT_CHECK_PLANS = 2000
STAGES = (
    "home_type",
    "device_failure",
    "battery_days_left",
    "device_anomaly",
    "sanity checks",
    "export",
)


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `train`, `evaluate` and `models`."""
    _add_train(subparsers)
    _add_evaluate(subparsers)
    _add_models(subparsers)


def _jobs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (default: CPU count)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="do not read or write per-home feature caches",
    )


def _add_train(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train, evaluate and register the four models",
        description=(
            "Train home_type, device_failure, battery_days_left (q10/q50/q90) and "
            "device_anomaly on --data datasets, or on synthetic homes generated "
            "first when no --data is given; evaluate them on held-out homes, check "
            "them, export ONNX and register them."
        ),
    )
    parser.add_argument(
        "--data",
        action="append",
        type=Path,
        default=[],
        help="dataset directory (repeatable)",
    )
    parser.add_argument(
        "--homes",
        type=int,
        default=DEFAULT_HOMES,
        help="synthetic homes without --data (default %(default)s)",
    )
    parser.add_argument(
        "--days",
        type=int,
        default=DEFAULT_DAYS,
        help="days per synthetic home (default %(default)s)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=DEFAULT_SEED,
        help="seed of generation, split and models (default %(default)s)",
    )
    parser.add_argument(
        "--failure-rate",
        type=float,
        default=DEFAULT_FAILURE_RATE,
        help="synthetic failure rate (default %(default)s)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=Path("data"),
        help="where synthetic homes are written (default %(default)s)",
    )
    _registry_option(parser)
    parser.add_argument(
        "--report",
        type=Path,
        default=Path("reports/train"),
        help="report directory (default %(default)s)",
    )
    parser.add_argument(
        "--plan-homes",
        type=int,
        default=None,
        help="extra synthetic inventories for the home-type model (default: "
        f"{DEFAULT_PLAN_HOMES} without --data, 0 with it)",
    )
    parser.add_argument(
        "--check-plans",
        type=int,
        default=DEFAULT_CHECK_PLANS,
        help="held-out home plans to check home-type calibration on, when plans "
        "are used (default %(default)s)",
    )
    parser.add_argument(
        "--ship",
        type=Path,
        default=None,
        help="also copy the models here as <name>.onnx",
    )
    _jobs(parser)
    parser.set_defaults(func=run_train)


def _add_evaluate(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate",
        help="evaluate registered models on homes they never saw",
        description=(
            "Score the registry's current models on every home of --data that none "
            "of them trained on, with bootstrap intervals, naive baselines and "
            "sanity checks; write metrics.json and report.html."
        ),
    )
    parser.add_argument("--models", type=Path, required=True, help="registry")
    parser.add_argument(
        "--data",
        action="append",
        type=Path,
        required=True,
        help="dataset directory (repeatable)",
    )
    parser.add_argument("--report", type=Path, required=True, help="report directory")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="bootstrap seed")
    _jobs(parser)
    parser.set_defaults(func=run_evaluate)


def _registry_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--registry",
        type=Path,
        default=Path("registry"),
        help="model registry directory (default %(default)s)",
    )


def _add_models(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("models", help="list or prune registered models")
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list every model version")
    _registry_option(listing)
    listing.set_defaults(func=run_list)
    pruning = actions.add_parser(
        "prune",
        help="delete old model versions (never the current ones)",
        description="Delete all but each model's newest --keep versions. The "
        "current version of each model is always kept.",
    )
    _registry_option(pruning)
    pruning.add_argument(
        "--keep",
        type=int,
        default=10,
        help="versions to keep per model, newest first (default %(default)s)",
    )
    pruning.set_defaults(func=run_prune)


def _synthetic(args: argparse.Namespace) -> Path:
    """Generate (or reuse) the synthetic dataset the options describe."""
    name = f"synthetic-{args.homes}x{args.days}-seed{args.seed}-f{args.failure_rate}"
    out = args.work / name
    if (out / "manifest.json").exists():
        print(f"reusing {out}", file=sys.stderr)
        return out
    try:
        options = GeneratorOptions(
            homes=args.homes,
            days=args.days,
            seed=args.seed,
            failure_rate=args.failure_rate,
        )
        generate_dataset(
            options,
            out,
            jobs=max(args.jobs, 1),
            overwrite=True,
            progress=not args.quiet,
        )
    except (ValueError, DatasetError) as error:
        raise CommandError(str(error)) from None
    return out


def _rows(args: argparse.Namespace, roots: list[Path]):
    """Return the feature rows of every home with at least one closed day."""
    try:
        homes = extract(
            roots,
            jobs=max(args.jobs, 1),
            cache=not args.no_cache,
            progress=not args.quiet,
        )
    except DatasetError as error:
        raise CommandError(str(error)) from None
    kept, empty = with_closed_days(homes)
    if empty:
        print(
            f"left out {len(empty)} home(s) without a closed day: {', '.join(empty)}",
            file=sys.stderr,
        )
    return kept


def run_train(args: argparse.Namespace) -> int:
    """Train and register; print one line per model and where everything is."""
    began = time.perf_counter()
    roots = list(args.data) or [_synthetic(args)]
    homes = _rows(args, roots)
    count = args.plan_homes
    if count is None:
        count = 0 if args.data else DEFAULT_PLAN_HOMES
    plans = plan_rows(count, seed=args.seed, progress=not args.quiet)
    check = plan_rows(
        args.check_plans if count else 0,
        seed=args.seed,
        progress=not args.quiet,
        held_out=True,
    )
    bar = Bar(total=len(STAGES), desc="training", unit="stage", disable=args.quiet)

    def stage(name: str) -> None:
        bar.set_postfix_str(name)
        if name != STAGES[0]:
            bar.update()

    try:
        with bar:
            outcome = train_models(
                homes,
                args.registry,
                seed=args.seed,
                progress=stage,
                plans=plans,
                check_plans=check,
            )
            bar.update()
    except (SanityError, RegistryError, ValueError) as error:
        raise CommandError(str(error)) from None
    outcome.metrics["data"] = [str(r) for r in roots]
    outcome.metrics["summary"] = outcome.summary
    outcome.metrics["seconds"] = time.perf_counter() - began
    page = write_report(
        args.report, outcome.metrics, outcome.plots, "HomeIQ: training report"
    )
    for line in outcome.summary:
        print(line)
    if args.ship is not None:
        ship(args.registry, args.ship)
        print(f"shipped models: {args.ship}")
    print(f"registry: {args.registry}")
    print(f"report: {page}  ({outcome.metrics['seconds']:.0f} s)")
    return 0


def ship(registry: Path, directory: Path) -> None:
    """Copy the current version of every model to `directory`/<name>.onnx."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in MODEL_NAMES:
        source = current(registry, name) / "model.onnx"
        temporary = directory / f".{name}.onnx.tmp"
        shutil.copyfile(source, temporary)
        os.replace(temporary, directory / f"{name}.onnx")


def run_evaluate(args: argparse.Namespace) -> int:
    """Evaluate the registry's models; exit 1 when a sanity check fails."""
    homes = _rows(args, list(args.data))
    try:
        outcome = evaluate_registry(homes, args.models, seed=args.seed)
    except (SanityError, RegistryError, ValueError) as error:
        raise CommandError(str(error)) from None
    outcome.metrics["summary"] = outcome.summary
    page = write_report(
        args.report, outcome.metrics, outcome.plots, "HomeIQ: evaluation report"
    )
    for line in outcome.summary:
        print(line)
    print(f"report: {page}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    """Print every registered version, the current ones marked with '*'."""
    try:
        found = entries(args.registry)
    except RegistryError as error:
        raise CommandError(str(error)) from None
    for entry in found:
        mark = "*" if entry.current else " "
        headline = _headline(entry.metrics)
        print(
            f"{mark} {entry.name:24} {entry.version}  {entry.size / 1024:7.0f} KiB  "
            f"{headline}"
        )
    if not found:
        print(f"{args.registry}: no models")
    return 0


def run_prune(args: argparse.Namespace) -> int:
    """Delete old versions; print each one deleted and the space freed."""
    try:
        pruned = prune(args.registry, args.keep)
    except RegistryError as error:
        raise CommandError(str(error)) from None
    for path in pruned.paths:
        print(f"deleted {path}")
    print(
        f"{len(pruned.paths)} deleted, {pruned.bytes / 1e6:.1f} MB freed; "
        f"kept the newest {args.keep} versions of each model and the current ones"
    )
    return 0


def _headline(metrics: dict) -> str:
    for key in ("pr_auc", "mae_days", "roc_auc"):
        if isinstance(metrics.get(key), float):
            return f"{key} {metrics[key]:.3f}"
    overall = metrics.get("all_lengths")
    if isinstance(overall, dict) and "macro_f1" in overall:
        return f"macro_f1 {overall['macro_f1']:.3f}"
    return ""
