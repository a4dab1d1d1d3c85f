"""`homeiq-trainer generate`: write a dataset of synthetic homes.

Homes are generated in parallel worker processes, each writing its own home's
files as soon as it is done, so memory is bounded by one home per process, not by
the dataset. The manifest is written last. A home depends only on the seed, its
index and the options, so the bytes are the same for any number of jobs; the
manifest's `created` is the end of the simulated window for the same reason.
"""

import argparse
import ctypes
from dataclasses import dataclass
from datetime import date
import multiprocessing
import os
from pathlib import Path
import platform
import resource
import sys
import time

import pyarrow as pa
from tqdm import tqdm

from homeiq_core.aggregator import rollups_from_columns
from homeiq_core.dataset import DatasetError, HomeEntry, format_time, parse_time
from homeiq_core.rollups import DayRollup

from . import __version__
from .dataset import (
    FORMATS,
    DatasetWriter,
    reports_table,
    table_to_events,
    table_to_reports,
    write_home_files,
)
from .errors import CommandError
from .synth.home import SyntheticHome, generate_home
from .synth.options import DEFAULT_START, GeneratorOptions, parse_mix


class _Bar(tqdm):
    """A progress bar without tqdm's monitor thread (nothing left running)."""

    monitor_interval = 0


@dataclass(frozen=True, slots=True)
class GenerationStats:
    """What a generation run produced and what it cost."""

    homes: int
    events: int
    seconds: float
    peak_rss: int  # bytes: the high-water mark of the largest generating process

    @property
    def events_per_second(self) -> float:
        """Return the throughput."""
        return self.events / self.seconds if self.seconds > 0 else 0.0


def _peak_rss() -> int:
    """Return this process's resident-set high-water mark in bytes."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


# glibc's mallopt parameters, and how much freed memory a worker may keep.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_KEEP_FREED = 512 << 20


def setup_worker() -> None:
    """Tune a worker process that generates one home at a time.

    pyarrow's thread pools would only compete with the other workers. glibc
    returns a home's large arrays to the kernel when they are freed and the next
    home faults them in again, page by page (a tenth of the run, measured);
    letting it keep freed memory for reuse removes that, and a worker's peak is
    still that of one home.
    """
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    if platform.libc_ver()[0] == "glibc":
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_MMAP_THRESHOLD, _KEEP_FREED)
        libc.mallopt(_M_TRIM_THRESHOLD, _KEEP_FREED)


def _one_home(
    task: tuple[GeneratorOptions, int, str, str, bool],
) -> tuple[HomeEntry, int]:
    """Generate and write one home (in a worker); return its entry and peak RSS."""
    options, index, root, fmt, rollups = task
    entry = write_home(root, generate_home(options, index), fmt, rollups=rollups)
    return entry, _peak_rss()


def _as_written(moment: float) -> float:
    """Return a time as the dataset reads it back (whole microseconds)."""
    return parse_time(format_time(moment), "time")


def home_rollups(home: SyntheticHome) -> list[DayRollup]:
    """Return the daily rollups that replaying the home's written files gives.

    The columns go through the dataset's own conversions first (times in whole
    microseconds, as a reader gets them back), so these are, to the bit, the
    rollups `rollups_from_columns` makes from the home once read.
    """
    reports = None
    if home.reports is not None:
        reports = table_to_reports(reports_table(home.reports))
    return rollups_from_columns(
        home.inventory,
        table_to_events(home.events),
        start=_as_written(home.start),
        end=_as_written(home.end),
        reports=reports,
        gaps=tuple((_as_written(a), _as_written(b)) for a, b in home.gaps),
    )


def write_home(
    root: str | os.PathLike[str],
    home: SyntheticHome,
    fmt: str,
    *,
    rollups: bool = True,
) -> HomeEntry:
    """Write a generated home's files under `root`; return its manifest entry.

    With `rollups`, the home also carries its daily rollups (`rollups.json`,
    format version 3) beside its events, so the trainer reads its features
    without replaying the events (the replay is done once, here).
    """
    return write_home_files(
        root,
        home.inventory,
        home.events,
        start=home.start,
        end=home.end,
        labels=home.labels,
        external=home.external,
        reports=home.reports,
        gaps=home.gaps,
        fmt=fmt,
        rollups=home_rollups(home) if rollups else None,
    )


def generate_dataset(
    options: GeneratorOptions,
    out: str | os.PathLike[str],
    *,
    fmt: str = "parquet",
    jobs: int = 1,
    overwrite: bool = False,
    progress: bool = False,
    rollups: bool = True,
) -> GenerationStats:
    """Generate `options.homes` homes into the dataset directory `out`.

    With `rollups` (the default) every home also carries its daily rollups.
    """
    began = time.perf_counter()
    writer = DatasetWriter(
        Path(out),
        source_kind="synthetic",
        producer=f"homeiq-trainer {__version__}",
        created=options.end_time,
        options=options.to_json(),
        fmt=fmt,
        overwrite=overwrite,
    )
    tasks = (
        (options, index, str(writer.root), fmt, rollups)
        for index in range(options.homes)
    )
    events = 0
    peak = _peak_rss()
    bar = _Bar(
        total=options.homes,
        unit="home",
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
    )
    with bar:
        if jobs <= 1:
            results = map(_one_home, tasks)
            pool = None
        else:
            context = multiprocessing.get_context("spawn")
            pool = context.Pool(min(jobs, options.homes), initializer=setup_worker)
            results = pool.imap(_one_home, tasks)
        try:
            for entry, rss in results:
                writer.add(entry)
                events += entry.n_events
                peak = max(peak, rss)
                bar.update()
                elapsed = time.perf_counter() - began
                bar.set_postfix_str(f"{events / elapsed:,.0f} events/s", refresh=False)
        finally:
            if pool is not None:
                pool.terminate()
                pool.join()
    writer.close()
    return GenerationStats(
        options.homes, events, time.perf_counter() - began, max(peak, _peak_rss())
    )


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the `generate` subcommand."""
    parser = subparsers.add_parser(
        "generate",
        help="generate a dataset of synthetic homes",
        description=(
            "Generate synthetic homes (inventory, events, weather, labels) into a "
            "dataset directory. The same options give the same bytes."
        ),
    )
    parser.add_argument("--homes", type=int, default=10, help="number of homes")
    parser.add_argument("--days", type=int, default=30, help="days per home")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument("--out", required=True, help="dataset directory to create")
    parser.add_argument(
        "--start",
        default=DEFAULT_START.isoformat(),
        help="first day (YYYY-MM-DD, UTC midnight; default %(default)s)",
    )
    parser.add_argument(
        "--mix",
        default=None,
        help="home types and weights, e.g. studio=1,apartment=2 (default: all equal)",
    )
    parser.add_argument(
        "--failure-rate",
        type=float,
        default=0.05,
        help="share of devices with a labelled failure (default %(default)s)",
    )
    parser.add_argument(
        "--label-noise",
        type=float,
        default=0.0,
        help="share of homes whose home-type label is flipped (default %(default)s)",
    )
    parser.add_argument(
        "--format", choices=FORMATS, default="parquet", help="events file format"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes (default: CPU count)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace a dataset already in --out",
    )
    parser.add_argument(
        "--no-rollups",
        dest="rollups",
        action="store_false",
        help="events only: do not write each home's daily rollups beside them",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def options_from(args: argparse.Namespace) -> GeneratorOptions:
    """Return the generator options of parsed arguments, or raise CommandError."""
    try:
        start = date.fromisoformat(args.start)
    except ValueError:
        raise CommandError(
            f"--start {args.start!r} is not a date (YYYY-MM-DD)"
        ) from None
    try:
        kwargs = {}
        if args.mix is not None:
            kwargs["mix"] = parse_mix(args.mix)
        return GeneratorOptions(
            homes=args.homes,
            days=args.days,
            seed=args.seed,
            start=start,
            failure_rate=args.failure_rate,
            label_noise=args.label_noise,
            **kwargs,
        )
    except ValueError as error:
        raise CommandError(str(error)) from None


def run(args: argparse.Namespace) -> int:
    """Generate the dataset and print what was written."""
    options = options_from(args)
    if args.jobs < 1:
        raise CommandError("--jobs must be at least 1")
    try:
        stats = generate_dataset(
            options,
            args.out,
            fmt=args.format,
            jobs=args.jobs,
            overwrite=args.overwrite,
            progress=not args.quiet,
            rollups=args.rollups,
        )
    except DatasetError as error:
        raise CommandError(str(error)) from None
    print(
        f"{args.out}: {stats.homes} homes, {stats.events:,} events in "
        f"{stats.seconds:.1f} s ({stats.events_per_second:,.0f} events/s)"
    )
    return 0
