"""ONNX evaluation speed: HomeIQ's numpy evaluator against onnxruntime, in one run.

Run: .venv/bin/python benchmarks/inference.py [--rows N] [--trees N] [--repeat N]

Fits 300-tree ensembles on 2,000 synthetic devices x 30 features (5 % NaN for
HistGradientBoosting), exports them with the trainer's `export_onnx`, and times, best
of --repeat runs after a warm-up:
  - load: `load_model` (decode, checks, compile, probe run) per backend, and a bare
    onnxruntime InferenceSession as the baseline;
  - score: `Model.run` on --rows devices, numpy vs onnxruntime (its default thread
    pool, and one thread for a like-for-like single-core figure);
  - one device: the latency of scoring a single row.
"""

import argparse
import json
import os
import platform
import time

import numpy as np
import onnxruntime
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    IsolationForest,
    RandomForestClassifier,
)

from homeiq_core.inference import FEATURE_NAMES, load_model
from homeiq_trainer.onnx_export import INPUT_NAME, export_onnx

N_FEATURES = 30
TRAIN_ROWS = 2_000


def best(function, repeat: int) -> float:
    """Return the best wall time of `function` in ms, after one warm-up call."""
    function()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def data(rows: int, seed: int, *, nan: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, N_FEATURES)).astype(np.float32)
    if nan:
        x[rng.random(x.shape) < 0.05] = np.nan
    return x


def estimators(trees: int) -> dict[str, tuple[object, bool]]:
    """Return the benchmarked estimators and whether they see NaN."""
    return {
        f"RandomForest {trees} (min_samples_leaf=5)": (
            RandomForestClassifier(trees, min_samples_leaf=5, random_state=0, n_jobs=2),
            False,
        ),
        f"RandomForest {trees} (max_depth=8)": (
            RandomForestClassifier(trees, max_depth=8, random_state=0, n_jobs=2),
            False,
        ),
        f"GradientBoosting {trees} (depth 3)": (
            GradientBoostingClassifier(n_estimators=trees, random_state=0),
            False,
        ),
        f"HistGradientBoosting {trees} (NaN)": (
            HistGradientBoostingClassifier(
                max_iter=trees, early_stopping=False, random_state=0
            ),
            True,
        ),
        "IsolationForest 100": (IsolationForest(random_state=0), False),
    }


def single_thread_session(model: bytes) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(
        model, sess_options=options, providers=["CPUExecutionProvider"]
    )


def measure(
    name: str, estimator, *, nan: bool, names: str, args: argparse.Namespace
) -> str:
    """Fit, export and time one estimator; return its table row."""
    x_train = data(TRAIN_ROWS, 0, nan=nan)
    signal = np.nan_to_num(x_train[:, :3]) @ np.array([1.0, -1.0, 0.5])
    labels = (signal + np.random.default_rng(1).normal(size=TRAIN_ROWS) > 0).astype(int)
    if isinstance(estimator, IsolationForest):
        estimator.fit(x_train)
    else:
        estimator.fit(x_train, labels)
    model = export_onnx(estimator, N_FEATURES, metadata={FEATURE_NAMES: names})
    x = data(args.rows, 2, nan=nan)
    one = x[:1]
    load_numpy = best(lambda: load_model(model, backend="numpy"), args.repeat)
    load_ort = best(lambda: load_model(model, backend="onnxruntime"), args.repeat)
    bare_session = best(lambda: single_thread_session(model), args.repeat)
    numpy_model = load_model(model, backend="numpy")
    ort_model = load_model(model, backend="onnxruntime")
    session = single_thread_session(model)
    numpy_ms = best(lambda: numpy_model.run(x), args.repeat)
    ort_ms = best(lambda: ort_model.run(x), args.repeat)
    ort_one_thread = best(lambda: session.run(None, {INPUT_NAME: x}), args.repeat)
    one_numpy = best(lambda: numpy_model.run(one), args.repeat)
    one_ort = best(lambda: ort_model.run(one), args.repeat)
    trees = np.ravel(getattr(estimator, "estimators_", []))
    nodes = sum(getattr(tree, "tree_", tree).node_count for tree in trees) or sum(
        predictor.nodes.size
        for row in getattr(estimator, "_predictors", [])
        for predictor in row
    )
    return (
        f"{name:42} {len(model) / 1024:6.0f} {nodes:7d} {load_numpy:8.1f} "
        f"{load_ort:8.1f} {bare_session:8.1f} "
        f"{numpy_ms:7.2f} {ort_ms:7.2f} {ort_one_thread:7.2f} "
        f"{numpy_ms / ort_ms:6.1f} {numpy_ms / ort_one_thread:6.1f} "
        f"{one_numpy:8.2f} {one_ort:9.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000)
    parser.add_argument("--trees", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()

    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f}; Python {platform.python_version()}, "
        f"numpy {np.__version__}, onnxruntime {onnxruntime.__version__}"
    )
    print(
        f"scoring {args.rows} devices x {N_FEATURES} features; best of {args.repeat}\n"
    )
    header = (
        f"{'model':42} {'KiB':>6} {'nodes':>7} {'load np':>8} {'load ort':>8} "
        f"{'session':>8} "
        f"{'numpy':>7} {'ort':>7} {'ort 1t':>7} {'np/ort':>6} {'np/1t':>6} "
        f"{'1 row np':>8} {'1 row ort':>9}"
    )
    print(header)
    print("-" * len(header))
    names = json.dumps([f"f{i}" for i in range(N_FEATURES)])
    for name, (estimator, nan) in estimators(args.trees).items():
        print(measure(name, estimator, nan=nan, names=names, args=args))
    print(
        "\ntimes in ms. load np / load ort: load_model with each backend (decode, "
        "checks, probe run; ort adds its session); session: a bare onnxruntime "
        "InferenceSession, the baseline; ort 1t: onnxruntime on one thread"
    )


if __name__ == "__main__":
    main()
