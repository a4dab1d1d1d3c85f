"""Training: feature extraction, fitting and export of the four models.

Run: .venv/bin/python benchmarks/train.py --data DIR [--jobs N] [--seed S]
     [--threads T] [--cached] [--replay]

Times, on an existing dataset (e.g. `homeiq-trainer generate --homes 1000`):

1. feature extraction with no cache, in worker processes: from the daily rollups
   a home carries (the generator writes them), else by replaying its events;
2. with `--replay`, the same replaying every home's events even where it carries
   rollups (what a dataset of events only costs);
3. the same with the per-home cache the first pass wrote;
4. fitting, evaluating, checking and exporting all four models (`train_models`,
   stages in `--threads` threads, default as `homeiq-trainer train`), registry
   writes included;

and the shipped-model figures the issue asks for: each exported model's size and
its load time with the core's numpy backend (best of 5). The cache directory the
first pass writes is removed at the start, so pass 1 is always uncached; with
`--cached`, pass 1 is skipped and the cache a previous run wrote is used. Wall
and CPU seconds are printed per pass and per training stage (CPU of the worker
processes for extraction, of the stage's own thread for a stage: work a stage
hands to threads of its own, e.g. the failure check's refits, is not in its
figure), with the load average before and after.
"""

import argparse
import os
from pathlib import Path
import resource
import shutil
import tempfile
import time

from homeiq_core.inference import load_model
from homeiq_trainer.models.extract import CACHE_DIR, extract
from homeiq_trainer.models.pipeline import FIT_THREADS, MODEL_NAMES, train_models
from homeiq_trainer.models.registry import current


def timed(function, *args, **kwargs):
    began = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - began


def cpu_seconds() -> float:
    """Return the CPU seconds of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed_cpu(function, *args, **kwargs):
    """Return the result, wall seconds and CPU seconds (children included)."""
    cpu = cpu_seconds()
    result, wall = timed(function, *args, **kwargs)
    return result, wall, cpu_seconds() - cpu


def load_seconds(path: Path) -> float:
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        load_model(path, backend="numpy")
        best = min(best, time.perf_counter() - began)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--threads", type=int, default=FIT_THREADS, help="training threads"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cached", action="store_true", help="skip the uncached pass")
    parser.add_argument(
        "--replay", action="store_true", help="also time replaying every home's events"
    )
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    passes = {}
    if not args.cached:
        shutil.rmtree(args.data / CACHE_DIR, ignore_errors=True)
        _, *passes["features, uncached"] = timed_cpu(
            extract, [args.data], jobs=args.jobs, progress=False
        )
    if args.replay:
        _, *passes["features, events replayed, uncached"] = timed_cpu(
            extract,
            [args.data],
            jobs=args.jobs,
            progress=False,
            cache=False,
            replay_events=True,
        )
    homes, *passes["features, cached"] = timed_cpu(
        extract, [args.data], jobs=args.jobs, progress=False
    )
    rows = sum(h.device_x.shape[0] * h.device_x.shape[1] for h in homes)
    with tempfile.TemporaryDirectory() as registry:
        outcome, fitting, fitting_cpu = timed_cpu(
            train_models, homes, Path(registry), seed=args.seed, threads=args.threads
        )
        print(f"load average after: {os.getloadavg()}")
        print(
            f"homes {len(homes)}, device rows {rows:,}, jobs {args.jobs}, "
            f"threads {args.threads}"
        )
        for name, (wall, cpu) in passes.items():
            print(f"{name:38} {wall:7.1f} s wall, {cpu:7.1f} s CPU")
        print(
            f"{'fit + evaluate + checks + export':38} {fitting:7.1f} s wall, "
            f"{fitting_cpu:7.1f} s CPU"
        )
        for name, seconds in outcome.metrics["stage_seconds"].items():
            print(
                f"  {name:36} {seconds['wall_s']:7.1f} s wall, "
                f"{seconds['cpu_s']:7.1f} s CPU"
            )
        first = passes.get("features, uncached")
        if first is not None:
            print(
                f"total from the dataset, uncached: {first[0] + fitting:.1f} s wall, "
                f"{first[1] + fitting_cpu:.1f} s CPU"
            )
        for name in MODEL_NAMES:
            path = current(registry, name) / "model.onnx"
            print(
                f"{name:24} {path.stat().st_size / 1024:7.0f} KiB  "
                f"load {load_seconds(path) * 1000:5.1f} ms (numpy)"
            )
        for line in outcome.summary:
            print(line)


if __name__ == "__main__":
    main()
