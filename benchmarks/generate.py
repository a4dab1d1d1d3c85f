"""Synthetic home generator: events per second and peak memory, against baselines.

Run: .venv/bin/python benchmarks/generate.py [--homes 1000] [--days 30] [--jobs N]
     [--no-rollups]

Generates `--homes` homes of `--days` days into a temporary directory with
`homeiq-trainer generate`'s own code (Parquet, all cores), and once more with a few
homes only, to show that a worker's peak memory is that of one home, whatever the
number of homes. Homes carry their daily rollups as the command writes them
(`--no-rollups`: events only). Baselines measured in the same run:

- speed: writing the same kind of events that are already in memory (one process,
  `write_home_files` on the tables of a few generated homes, no rollups), the
  floor that any generator writing this format pays;
- memory: a worker process that has imported the generator and done nothing.
"""

import argparse
import multiprocessing
import os
from pathlib import Path
import platform
import resource
import shutil
import tempfile
import time

from homeiq_trainer.generate import generate_dataset, setup_worker, write_home
from homeiq_trainer.synth.home import generate_home
from homeiq_trainer.synth.options import GeneratorOptions

EARLIER_SYSTEM = 967  # events/s, the generator HomeIQ replaces (its own figure)
MB = 1 << 20


def in_worker(function, *args):
    """Run `function(*args)` in a worker set up like the generator's."""
    with multiprocessing.get_context("spawn").Pool(1, setup_worker) as pool:
        return pool.apply(function, args)


def idle_worker_rss() -> int:
    """Return the peak RSS of this (worker) process."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def write_only_rate(days: int, homes: int = 4) -> float:
    """Return events/s for writing already generated homes (one process)."""
    options = GeneratorOptions(homes=homes, days=days, seed=99)
    generated = [generate_home(options, index) for index in range(homes)]
    events = sum(home.events.num_rows for home in generated)
    best = float("inf")
    with tempfile.TemporaryDirectory() as root:
        for _ in range(3):
            began = time.perf_counter()
            for home in generated:
                write_home(root, home, "parquet", rollups=False)
            best = min(best, time.perf_counter() - began)
    return events / best


def disk_size(root: Path) -> int:
    """Return the bytes of all files under `root`."""
    return sum(path.stat().st_size for path in root.rglob("*") if path.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--homes", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--no-rollups",
        dest="rollups",
        action="store_false",
        help="events only (the homes carry no daily rollups)",
    )
    args = parser.parse_args()
    cores = os.cpu_count()
    print(f"python {platform.python_version()} on {platform.machine()},", end=" ")
    print(f"{cores} cores, load average {os.getloadavg()[0]:.2f}")

    idle = in_worker(idle_worker_rss)
    writing = in_worker(write_only_rate, args.days)
    rows = []
    for homes in (args.jobs * 5, args.homes):
        options = GeneratorOptions(homes=homes, days=args.days, seed=1)
        out = Path(tempfile.mkdtemp(prefix="homeiq-bench-"))
        try:
            stats = generate_dataset(
                options, out / "ds", jobs=args.jobs, rollups=args.rollups
            )
            rows.append((homes, stats, disk_size(out)))
        finally:
            shutil.rmtree(out)
    parent = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    carried = "with daily rollups" if args.rollups else "events only"
    print(
        f"\n{args.days} days per home, {args.jobs} worker processes, Parquet, {carried}"
    )
    print(
        f"{'homes':>6}{'events':>14}{'seconds':>9}{'events/s':>12}"
        f"{'per worker':>12}{'x writing':>11}{'worker peak':>13}{'on disk':>10}"
    )
    for homes, stats, size in rows:
        per_worker = stats.events_per_second / args.jobs
        print(
            f"{homes:>6}{stats.events:>14,}{stats.seconds:>9.1f}"
            f"{stats.events_per_second:>12,.0f}{per_worker:>12,.0f}"
            f"{per_worker / writing:>11.2f}"
            f"{stats.peak_rss / MB:>10.0f} MB{size / MB:>7.0f} MB"
        )
    stats = rows[-1][1]
    print(
        f"\nbaselines: writing generated events alone {writing:,.0f} events/s "
        f"(one process); an idle worker {idle / MB:.0f} MB"
    )
    print(
        f"largest run: {stats.events_per_second / EARLIER_SYSTEM:,.0f} x the earlier "
        f"system's {EARLIER_SYSTEM} events/s; a worker's peak is "
        f"{(stats.peak_rss - idle) / MB:.0f} MB above an idle one "
        f"({rows[0][1].peak_rss / MB:.0f} MB with {rows[0][0]} homes, "
        f"{stats.peak_rss / MB:.0f} MB with {rows[-1][0]}); "
        f"the parent's peak {parent / MB:.0f} MB"
    )


if __name__ == "__main__":
    main()
