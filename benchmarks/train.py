"""Training: feature extraction, fitting and export of the four models.

Run: .venv/bin/python benchmarks/train.py --data DIR [--jobs N] [--seed S] [--cached]

Times, on an existing dataset (e.g. `homeiq-trainer generate --homes 1000`):

1. feature extraction with no cache (events replayed into rollups, in worker
   processes), the expensive step;
2. the same with the per-home cache the first pass wrote;
3. fitting, evaluating, checking and exporting all four models (`train_models`),
   registry writes included;

and the shipped-model figures the issue asks for: each exported model's size and
its load time with the core's numpy backend (best of 5). The cache directory the
first pass writes is removed at the start, so pass 1 is always uncached; with
`--cached`, pass 1 is skipped and the cache a previous run wrote is used. The time
of each training stage is printed too.
"""

import argparse
import os
from pathlib import Path
import shutil
import tempfile
import time

from homeiq_core.inference import load_model
from homeiq_trainer.models.extract import CACHE_DIR, extract
from homeiq_trainer.models.pipeline import MODEL_NAMES, train_models
from homeiq_trainer.models.registry import current


def timed(function, *args, **kwargs):
    began = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - began


def load_seconds(path: Path) -> float:
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        load_model(path, backend="numpy")
        best = min(best, time.perf_counter() - began)
    return best


class Stages:
    """The `progress` callback of `train_models`: wall and CPU seconds per stage.

    CPU seconds (this process) show the work when other jobs share the cores.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, tuple[float, float]] = {}
        self.stage: str | None = None
        self.began = (time.perf_counter(), time.process_time())

    def __call__(self, stage: str | None) -> None:
        now = (time.perf_counter(), time.process_time())
        if self.stage is not None:
            self.seconds[self.stage] = (
                now[0] - self.began[0],
                now[1] - self.began[1],
            )
        self.stage, self.began = stage, now


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cached", action="store_true", help="skip the uncached pass")
    args = parser.parse_args()
    cold = float("nan")
    if not args.cached:
        shutil.rmtree(args.data / CACHE_DIR, ignore_errors=True)
        homes, cold = timed(extract, [args.data], jobs=args.jobs, progress=False)
    homes, warm = timed(extract, [args.data], jobs=args.jobs, progress=False)
    rows = sum(h.device_x.shape[0] * h.device_x.shape[1] for h in homes)
    with tempfile.TemporaryDirectory() as registry:
        stages = Stages()
        outcome, fitting = timed(
            train_models, homes, Path(registry), seed=args.seed, progress=stages
        )
        stages(None)
        print(f"homes {len(homes)}, device rows {rows:,}, jobs {args.jobs}")
        print(f"features, uncached: {cold:.1f} s; cached: {warm:.1f} s")
        print(f"fit + evaluate + sanity checks + export + register: {fitting:.1f} s")
        for name, (wall, cpu) in stages.seconds.items():
            print(f"  {name:18} {wall:6.1f} s wall, {cpu:6.1f} s CPU")
        print(
            f"total from the dataset, cached: {warm + fitting:.1f} s; "
            f"uncached: {cold + fitting:.1f} s"
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
