"""Train, evaluate, export and register the four models: the trainer's main job.

`train_models` fits on the train homes (validation homes choose settings), scores
the test homes (and their later days, for failure and battery), runs the sanity
checks, exports each model with its metadata, checks ONNX against scikit-learn and
registers it. `evaluate_registry` scores registered models on a dataset's homes
that none of them trained on. Both write `metrics.json` and `report.html`.
"""

from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
import copy
from dataclasses import dataclass, field
import hashlib
import json
import os
from pathlib import Path
import threading
import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from homeiq_core.dataset import FAILURE_KINDS
from homeiq_core.features import DEVICE_SCHEMA, HOME_SCHEMA
from homeiq_core.inference import load_model

from . import fit, metrics as m
from .binning import shared_sort
from .data import (
    DeviceRows,
    HomeTypeRows,
    battery_rows,
    device_rows,
    failure_rows,
    home_type_rows,
    split_homes,
)
from .fit import Fitted
from .registry import current, export_checked, metadata, register
from .rows import BATTERY_CAP_DAYS, EXCLUDED, OBSERVATION_DAYS, HomeRows

DEVICE_NAMES = list(DEVICE_SCHEMA.names)
HOME_NAMES = list(HOME_SCHEMA.names)
BATTERY_MODELS = {
    0.1: "battery_days_left_q10",
    0.5: "battery_days_left_q50",
    0.9: "battery_days_left_q90",
}
MODEL_NAMES = (
    "home_type",
    "device_failure",
    *BATTERY_MODELS.values(),
    "device_anomaly",
)
IMPORTANCE_ROWS = 4000
# Failure rows kept for fitting: every positive and at most this many negatives
# (weighted by the inverse share); sanity refits use a smaller sample.
FAILURE_NEGATIVES = 80_000
SANITY_NEGATIVES = 30_000
BATTERY_PLATEAU_ROWS = 100_000
ANOMALY_TRAIN_HOMES = 150
ANOMALY_HEALTHY_ROWS = 60_000  # healthy test rows scored for the anomaly ROC-AUC
COLLAPSE_SHARE = 0.25  # a model keeps this share of its margin over chance
# Threads that run stages side by side (`train_models(threads=...)`), each with
# one OpenMP thread. scikit-learn's tree code releases the GIL, the rest of a
# stage holds it. On the idle 2-core machine two threads trained 1,000 homes in
# 120 s where one took 158 s; with other jobs on both cores (load 3-4) two were
# slower (45-51 s against 40-43 s, 60 homes). The nightly run has the machine.
FIT_THREADS = min(2, os.cpu_count() or 1)


class SanityError(ValueError):
    """A sanity check failed: the models must not be trusted."""


type Scorer = Callable[[np.ndarray], np.ndarray]
# A model to export: name, fitted model, reference values, metrics, schema
# fingerprint, classes.
type Export = tuple[str, Fitted, np.ndarray, dict, str, object]


@dataclass
class Outcome:
    """What a training or evaluation run produced."""

    metrics: dict[str, object] = field(default_factory=dict)
    plots: dict[str, object] = field(default_factory=dict)
    sanity: dict[str, object] = field(default_factory=dict)
    registered: dict[str, Path] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)


def _sklearn_scorer(fitted: Fitted, names: Sequence[str]) -> Scorer:
    columns = fitted.columns(names)
    estimator = fitted.estimator

    def score(x: np.ndarray) -> np.ndarray:
        part = np.ascontiguousarray(x[:, columns], dtype=np.float32)
        if hasattr(estimator, "predict_proba"):
            return estimator.predict_proba(part)
        if hasattr(estimator, "score_samples"):
            return -estimator.score_samples(part)
        return estimator.predict(part)

    return score


def onnx_scorer(path: Path, names: Sequence[str]) -> tuple[Scorer, object]:
    """Return a scorer running an ONNX file with the core's numpy backend."""
    model = load_model(path, backend="numpy")

    def score(x: np.ndarray) -> np.ndarray:
        prediction = model.predict(model.align(x, names))
        if prediction.probabilities is not None:
            return np.asarray(prediction.probabilities, dtype=np.float64)
        if prediction.scores is not None:
            return -np.asarray(prediction.values, dtype=np.float64)
        return np.asarray(prediction.values, dtype=np.float64)

    return score, model


# --- home type --------------------------------------------------------------------


def evaluate_home_type(
    score: Scorer, rows: HomeTypeRows, classes: np.ndarray, *, seed: int
) -> tuple[dict[str, object], dict[str, object]]:
    """Return home-type metrics (overall and per observation length) and plot data."""
    probabilities = score(rows.x)
    out: dict[str, object] = {
        "rows": len(rows.x),
        "all_lengths": m.home_type_metrics(
            rows.truth, probabilities, classes, rows.home, seed=seed
        ),
    }
    per_length = {}
    for days in OBSERVATION_DAYS:
        mask = rows.days == days
        if mask.any():
            per_length[str(days)] = m.home_type_metrics(
                rows.truth[mask],
                probabilities[mask],
                classes,
                rows.home[mask],
                seed=seed,
            )
    out["per_observation_days"] = per_length
    predicted = classes[probabilities.argmax(axis=1)]
    confusion = [
        [int(((rows.truth == a) & (predicted == b)).sum()) for b in classes]
        for a in classes
    ]
    plots = {"classes": list(classes), "confusion": confusion}
    return out, plots


def train_home_type(
    groups: dict[str, list[HomeRows]],
    *,
    seed: int,
    plans: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[Fitted, np.ndarray, dict[str, object], dict[str, object]]:
    """Fit the home-type model; return it, its reference, metrics and plot data.

    With `plans` (home rows of inventories alone, and their labels; see
    `plans.plan_rows`), those rows join the training rows and the model reads only
    the features the plans have (composition, not activity), which the integration
    knows from the first day.
    """
    train = home_type_rows(groups["train"])
    validation = home_type_rows(groups["validation"])
    test = home_type_rows(groups["test"])
    if not len(train.x) or len(np.unique(train.label)) < 2:
        raise SanityError("home_type: fewer than two labelled home types to train on")
    leaks = fit.position_leaks(
        HOME_NAMES, (train.x, train.label), (validation.x, validation.label), seed=seed
    )
    chance = 1.0 / len(np.unique(train.label))
    dropped = fit.leaking(leaks, chance)
    names = [n for n in fit.usable_features(train.x, HOME_NAMES) if n not in dropped]
    both = home_type_rows(groups["train"] + groups["validation"])
    x, y, homes = both.x, both.label, both.home
    if plans is not None and len(plans[0]):
        known = set(fit.usable_features(plans[0], HOME_NAMES))
        names = [n for n in names if n in known]
        x = np.vstack([x, plans[0]])
        y = np.concatenate([y, plans[1]])
        homes = np.concatenate(
            [homes, homes.max(initial=0) + 1 + np.arange(len(plans[1]))]
        )
    columns = [HOME_NAMES.index(n) for n in names]
    fitted = fit.fit_home_type(x[:, columns], y, homes, names, seed=seed)
    fitted.notes["position_features"] = {"scores": leaks, "dropped": dropped}
    classes = np.asarray(fitted.estimator.classes_)
    metrics, plots = evaluate_home_type(
        _sklearn_scorer(fitted, HOME_NAMES), test, classes, seed=seed
    )
    metrics["train_rows"] = len(x)
    metrics["train_homes"] = len(np.unique(homes))
    metrics["plan_homes"] = 0 if plans is None else len(plans[1])
    metrics["temperature"] = fitted.notes["temperature"]
    metrics["position_features"] = fitted.notes["position_features"]
    return fitted, _median(both.x[:, columns]), metrics, plots


def evaluate_plans(
    fitted: Fitted, check_plans: tuple[np.ndarray, np.ndarray], *, seed: int
) -> dict[str, object]:
    """Return home-type metrics on held-out plans (one home each).

    Meaningful for a model that reads composition features only (trained with
    plans): plans then look exactly like dataset homes at any observation length.
    """
    x, truth = check_plans
    if not len(x):
        return {"homes": 0}
    probabilities = _sklearn_scorer(fitted, HOME_NAMES)(x)
    classes = np.asarray(fitted.estimator.classes_)
    out = m.home_type_metrics(
        truth, probabilities, classes, np.arange(len(truth)), seed=seed
    )
    out["reads_composition_only"] = True
    return out


def _median(x: np.ndarray) -> np.ndarray:
    """Return per-column medians ignoring NaN; NaN for all-NaN columns, silently."""
    out = np.full(x.shape[1], np.nan)
    known = ~np.isnan(x)
    for j in np.flatnonzero(known.any(axis=0)):
        out[j] = float(np.median(x[known[:, j], j]))
    return out


# --- device failure ----------------------------------------------------------------


def evaluate_failure(
    score: Scorer, rows: DeviceRows, *, seed: int
) -> tuple[dict[str, object], dict[str, object]]:
    """Return failure metrics with the naive baselines on the same rows."""
    y = rows.target.astype(int)
    risk = score(rows.x)[:, 1]
    out = m.failure_metrics(
        y, risk, rows.home, rows.kind, rows.lead_h, kinds=FAILURE_KINDS, seed=seed
    )
    baselines = {}
    for name, baseline in m.naive_scores(rows.x, DEVICE_NAMES).items():
        baselines[name] = {
            "pr_auc": m.pr_auc(y, baseline),
            "roc_auc": m.roc_auc(y, baseline),
        }
    out["baselines"] = baselines
    out["without_sudden_death"] = m.foreseeable_metrics(
        y,
        risk,
        rows.home,
        rows.kind,
        m.naive_scores(rows.x, DEVICE_NAMES),
        unforeseeable=FAILURE_KINDS.index("sudden_death"),
        seed=seed,
    )
    best = max((b["pr_auc"] for b in baselines.values()), default=float("nan"))
    out["best_baseline_pr_auc"] = best
    out["ratio_to_best_baseline"] = (
        out["pr_auc"] / best if best and np.isfinite(best) else float("nan")
    )
    plots = {"pr": _pr_curve(y, risk), "pr_baselines": {}}
    for name, baseline in m.naive_scores(rows.x, DEVICE_NAMES).items():
        plots["pr_baselines"][name] = _pr_curve(y, baseline)
    return out, plots


def _pr_curve(y: np.ndarray, score: np.ndarray) -> dict[str, list[float]]:
    from sklearn.metrics import precision_recall_curve  # noqa: PLC0415

    if len(np.unique(y)) < 2:
        return {"precision": [], "recall": []}
    p, r, _ = precision_recall_curve(y, score)
    step = max(1, len(p) // 200)
    return {"precision": p[::step].tolist(), "recall": r[::step].tolist()}


@dataclass
class FailureInputs:
    """The failure model's train and validation rows, the position features dropped.

    The battery models drop the same features: they can start as soon as these
    are known, beside the failure fit (`failure_inputs`).
    """

    train: DeviceRows
    validation: DeviceRows
    leaks: dict[str, float]
    dropped: list[str]


def failure_inputs(groups: dict[str, list[HomeRows]], *, seed: int) -> FailureInputs:
    """Return the failure model's rows and the position features that leak."""
    train = failure_rows(groups["train"], "before")
    validation = failure_rows(groups["validation"], "after")
    if train.target.sum() < 5 or len(np.unique(train.target)) < 2:
        raise SanityError(
            f"device_failure: {int(train.target.sum())} failing rows to train on; "
            "use more homes or a dataset with failure labels"
        )
    leaks = fit.position_leaks(
        DEVICE_NAMES,
        (train.x, train.target),
        (validation.x, validation.target),
        seed=seed,
    )
    return FailureInputs(train, validation, leaks, fit.leaking(leaks, 0.5))


def train_failure(
    groups: dict[str, list[HomeRows]],
    *,
    seed: int,
    inputs: FailureInputs | None = None,
) -> tuple[Fitted, np.ndarray, dict[str, object], dict[str, object], list[str]]:
    """Fit the failure model on early days of train homes; test on later test days.

    `inputs`: `failure_inputs` of the same groups and seed, if already computed.
    """
    if inputs is None:
        inputs = failure_inputs(groups, seed=seed)
    train, validation = inputs.train, inputs.validation
    leaks, dropped = inputs.leaks, inputs.dropped
    test = failure_rows(groups["test"], "after")
    names = [n for n in fit.usable_features(train.x, DEVICE_NAMES) if n not in dropped]
    columns = [DEVICE_NAMES.index(n) for n in names]
    fitted_rows = np.flatnonzero(fit.trainable(train.target, train.unseen))
    rows, weight = fit.subsample_negatives(
        train.target[fitted_rows], seed=seed, max_negatives=FAILURE_NEGATIVES
    )
    rows = fitted_rows[rows]
    weight = fit.kind_balanced_weights(
        train.target[rows],
        train.kind[rows],
        weight,
        unforeseeable=FAILURE_KINDS.index("sudden_death"),
    )
    fitted = fit.fit_failure(
        train.x[rows][:, columns],
        train.target[rows],
        validation.x[:, columns],
        validation.target,
        names,
        seed=seed,
        weight=weight,
    )
    fit.calibrate_failure(fitted, validation.x[:, columns], validation.target)
    fitted.notes["position_features"] = {"scores": leaks, "dropped": dropped}
    metrics, plots = evaluate_failure(
        _sklearn_scorer(fitted, DEVICE_NAMES), test, seed=seed
    )
    metrics.update(
        train_rows=len(train.target),
        train_rows_fitted=len(rows),
        negative_weight=float(weight[train.target[rows] == 0].max(initial=1.0)),
        kind_balance_power=fit.KIND_BALANCE_POWER,
        train_positives=int(train.target.sum()),
        train_positives_unseen=int(((train.target == 1) & train.unseen).sum()),
        iterations=fitted.notes["iterations"],
        calibration=fitted.notes["calibration"],
        validation_pr_auc_by_iterations=fitted.notes["validation_pr_auc_by_iterations"],
        position_features=fitted.notes["position_features"],
    )
    healthy = train.x[(train.target == 0) & train.healthy][:, columns]
    return fitted, _median(healthy), metrics, plots, dropped


# --- battery -----------------------------------------------------------------------


def evaluate_battery(
    scorers: dict[float, Scorer], rows: DeviceRows, *, seed: int
) -> tuple[dict[str, object], dict[str, object]]:
    """Return battery metrics (forecast rule applied) beside the linear baseline."""
    quantiles = np.column_stack([scorers[q](rows.x) for q in fit.QUANTILES])
    last = rows.x[:, DEVICE_NAMES.index("battery_last")]
    linear = rows.x[:, DEVICE_NAMES.index("battery_days_left")]
    out = m.battery_metrics(
        rows.battery_days.astype(np.float64),
        quantiles,
        last,
        linear,
        rows.home,
        seed=seed,
    )
    forecast, reason = m.battery_forecast(quantiles, last)
    given = reason == 0
    plots = {
        "truth": rows.battery_days[given][:2000].tolist(),
        "q50": forecast[given, 1][:2000].tolist(),
        "linear": np.clip(linear[given], 0, BATTERY_CAP_DAYS)[:2000].tolist(),
    }
    return out, plots


def train_battery(
    groups: dict[str, list[HomeRows]], dropped: Sequence[str], *, seed: int
) -> tuple[dict[float, Fitted], np.ndarray, dict[str, object], dict[str, object]]:
    """Fit the quantile models on early days of train homes' battery devices."""
    train = battery_rows(groups["train"], "before")
    test = battery_rows(groups["test"], "after")
    if len(train.x) < 50:
        raise SanityError(f"battery_days_left: {len(train.x)} rows to train on")
    skipped = set(dropped) | set(fit.BATTERY_UNREAD)
    names = [n for n in fit.usable_features(train.x, DEVICE_NAMES) if n not in skipped]
    columns = [DEVICE_NAMES.index(n) for n in names]
    days = train.battery_days.astype(np.float64)
    # Rows on the plateau (at least the cap left) are the overwhelming majority:
    # beyond BATTERY_PLATEAU_ROWS a weighted share of them is fitted.
    rows, weight = fit.subsample_negatives(
        (days < BATTERY_CAP_DAYS).astype(int),
        seed=seed,
        max_negatives=BATTERY_PLATEAU_ROWS,
    )
    fitted = fit.fit_battery(
        train.x[rows][:, columns], days[rows], names, seed=seed, weight=weight
    )
    held = battery_rows(groups["validation"], None)
    quantiles = np.column_stack(
        [fitted[q].estimator.predict(held.x[:, columns]) for q in fit.QUANTILES]
    )
    _, reason = m.battery_forecast(
        quantiles, held.x[:, DEVICE_NAMES.index("battery_last")]
    )
    given = reason == 0
    shift = fit.widen_interval(
        fitted[fit.QUANTILES[0]],
        fitted[fit.QUANTILES[-1]],
        held.x[given][:, columns],
        held.battery_days[given].astype(np.float64),
    )
    scorers = {q: _sklearn_scorer(f, DEVICE_NAMES) for q, f in fitted.items()}
    metrics, plots = evaluate_battery(scorers, test, seed=seed)
    metrics["train_rows"] = len(train.x)
    metrics["train_rows_fitted"] = len(rows)
    metrics["conformal_shift_days"] = shift
    metrics["conformal_rows"] = int(given.sum())
    healthy = train.x[train.battery_days >= BATTERY_CAP_DAYS][:, columns]
    return fitted, _median(healthy), metrics, plots


# --- anomaly -----------------------------------------------------------------------


def evaluate_anomaly(
    score: Scorer, rows: DeviceRows, *, seed: int
) -> dict[str, object]:
    """Return ROC-AUC of the anomaly score: symptomatic rows vs healthy devices.

    Healthy rows beyond ANOMALY_HEALTHY_ROWS are drawn at random (ROC-AUC does not
    depend on how many negatives there are, only on their scores).
    """
    mask = rows.symptoms | rows.healthy
    healthy = np.flatnonzero(rows.healthy & ~rows.symptoms)
    if len(healthy) > ANOMALY_HEALTHY_ROWS:
        rng = np.random.default_rng(seed)
        drop = rng.choice(len(healthy), len(healthy) - ANOMALY_HEALTHY_ROWS, False)
        mask[healthy[drop]] = False
    y = rows.symptoms[mask].astype(int)
    anomaly = score(rows.x[mask])
    homes = rows.home[mask]
    return {
        "rows": int(mask.sum()),
        "symptomatic_rows": int(y.sum()),
        "homes": len(np.unique(homes)),
        "roc_auc": m.roc_auc(y, anomaly),
        "roc_auc_ci": m.weighted_bootstrap(
            m.Ranked(y, anomaly).roc_auc, homes, seed=seed
        ),
        "pr_auc": m.pr_auc(y, anomaly),
        "base_rate": float(y.mean()) if len(y) else float("nan"),
    }


def train_anomaly(
    groups: dict[str, list[HomeRows]], *, seed: int
) -> tuple[Fitted, np.ndarray, dict[str, object]]:
    """Fit the IsolationForest on healthy devices' rows of the train homes.

    The forest reads 20,000 rows: ANOMALY_TRAIN_HOMES homes drawn at random give
    plenty, without stacking every device-day of a large dataset.
    """
    members = groups["train"]
    if len(members) > ANOMALY_TRAIN_HOMES:
        rng = np.random.default_rng(seed)
        chosen = rng.choice(len(members), ANOMALY_TRAIN_HOMES, replace=False)
        members = [members[i] for i in np.sort(chosen)]
    train = device_rows(members)
    healthy = train.x[train.healthy & (train.target != EXCLUDED)]
    names = [
        n
        for n in fit.usable_features(healthy, DEVICE_NAMES)
        if not fit.POSITION_FEATURE.search(n)
    ]
    columns = [DEVICE_NAMES.index(n) for n in names]
    fitted = fit.fit_anomaly(healthy[:, columns], names, seed=seed)
    test = device_rows(groups["test"])
    metrics = evaluate_anomaly(_sklearn_scorer(fitted, DEVICE_NAMES), test, seed=seed)
    metrics["healthy_score_quantiles"] = fitted.notes["healthy_score_quantiles"]
    metrics["train_rows"] = int(min(len(healthy), 20_000))
    return fitted, _median(healthy[:, columns]), metrics


# --- sanity checks -----------------------------------------------------------------


def importances(
    score: Scorer,
    x: np.ndarray,
    y: np.ndarray,
    names: Sequence[str],
    metric: Callable[[np.ndarray, np.ndarray], float],
    *,
    seed: int,
    read: Collection[int] | None = None,
) -> dict[str, float]:
    """Return the metric drop when each feature is permuted (a row subsample).

    `read`: the columns the model splits on (`split_columns`), None if unknown.
    Permuting any other column leaves every prediction as it was: its drop is
    0.0 exactly, so it is not scored again (its permutation is still drawn, so
    the other columns' permutations stay those of scoring every column).
    """
    rng = np.random.default_rng(seed)
    if len(x) > IMPORTANCE_ROWS:
        keep = rng.choice(len(x), IMPORTANCE_ROWS, replace=False)
        x, y = x[keep], y[keep]
    base = metric(y, score(x))
    out = {}
    for j, name in enumerate(names):
        if np.isnan(x[:, j]).all():
            continue
        shuffled = x.copy()
        shuffled[:, j] = rng.permutation(shuffled[:, j])
        if read is not None and j not in read:
            out[name] = 0.0
            continue
        out[name] = float(base - metric(y, score(shuffled)))
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def split_columns(estimator: object) -> set[int] | None:
    """Return the columns a HistGradientBoosting model splits on (None: other).

    Only split nodes read a column (a missing value follows the split's own
    direction), so predictions do not depend on any other column.
    """
    predictors = getattr(estimator, "_predictors", None)
    if predictors is None:
        return None
    read: set[int] = set()
    for trees in predictors:
        for tree in trees:
            splits = ~tree.nodes["is_leaf"].astype(bool)
            read.update(tree.nodes["feature_idx"][splits].tolist())
    return read


def sanity_checks(
    groups: dict[str, list[HomeRows]],
    failure: Fitted,
    home_type: Fitted,
    *,
    seed: int,
    plans: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, object]:
    """Run the checks that must hold for the models to be trusted.

    Refits use the rows their model learned from (home type: train and validation
    homes, and the home plans when given).

    Raises SanityError when one fails: labels shuffled within the training rows
    must not score above chance on the test homes; refitting without any one of
    the three most important features must keep a quarter of the model's margin
    over chance; train, validation and test homes are disjoint (checked by split).
    The failure and home-type checks are independent (`sanity_parts`) and run
    side by side with FIT_THREADS above one (`concurrently`).
    """
    failure_check, home_check = sanity_parts(
        groups, failure, home_type, seed=seed, plans=plans
    )
    return sanity_verdict(*concurrently([failure_check, home_check]))


type Check = tuple[dict[str, object], list[str], list[str]]


def sanity_parts(
    groups: dict[str, list[HomeRows]],
    failure: Fitted,
    home_type: Fitted,
    *,
    seed: int,
    plans: tuple[np.ndarray, np.ndarray] | None = None,
    threads: int = 1,
) -> tuple[Callable[[], Check], Callable[[], Check]]:
    """Return the failure and home-type checks as two independent calls.

    Each returns its figures, its shuffled-label failures and its removal
    failures. One random stream drew the failure shuffle, then the home-type
    one: the home-type check gets a copy of it advanced past the first draw, so
    the figures are those of running both in turn. `threads`: each check's
    refits run side by side in this many threads (the same figures).
    """
    rng = np.random.default_rng(seed)
    train = failure_rows(groups["train"], "before")
    rows, weight = fit.subsample_negatives(
        train.target, seed=seed, max_negatives=SANITY_NEGATIVES
    )
    train = train.take(rows)
    home_rng = copy.deepcopy(rng)
    home_rng.permutation(len(train.target))  # the failure check's shuffle

    def failure_check() -> Check:
        return _failure_sanity(
            groups, failure, (train, weight), rng=rng, seed=seed, threads=threads
        )

    def home_check() -> Check:
        return _home_sanity(
            groups, home_type, plans, rng=home_rng, seed=seed, threads=threads
        )

    return failure_check, home_check


def sanity_verdict(failure_check: Check, home_check: Check) -> dict[str, object]:
    """Return the checks' figures; raise SanityError when any check failed."""
    out: dict[str, object] = {"disjoint_homes": True}
    (f_out, f_shuffled, f_removal), (h_out, h_shuffled, h_removal) = (
        failure_check,
        home_check,
    )
    out.update((k, v) for k, v in f_out.items() if k != "failure_without_top_feature")
    out.update((k, v) for k, v in h_out.items() if k != "home_type_without_top_feature")
    out["failure_without_top_feature"] = f_out["failure_without_top_feature"]
    out["home_type_without_top_feature"] = h_out["home_type_without_top_feature"]
    failures = f_shuffled + h_shuffled + f_removal + h_removal
    out["failed"] = failures
    if failures:
        raise SanityError("; ".join(failures))
    return out


def _failure_sanity(
    groups: dict[str, list[HomeRows]],
    failure: Fitted,
    weighted: tuple[DeviceRows, np.ndarray],
    *,
    rng: np.random.Generator,
    seed: int,
    threads: int = 1,
) -> Check:
    """Shuffled labels and feature removal for the failure model.

    The shuffled-label refit and the removal refits are independent: with
    `threads` above one they run side by side.
    """
    train, weight = weighted
    test = failure_rows(groups["test"], "after")
    cols = failure.columns(DEVICE_NAMES)
    positives = int(test.target.sum())
    tolerance = null_auc_tolerance(
        distinct_failures(test), len(test.target) - positives
    )
    removal: list[str] = []

    def shuffled_check() -> object:
        return shuffled_roc_auc(
            (train.x[:, cols], train.target, weight),
            (test.x[:, cols], test.target),
            rng=rng,
            seed=seed,
        )

    def removal_check() -> object:
        return _removal(
            failure,
            weighted,
            test,
            tolerance,
            seed=seed,
            failures=removal,
            threads=threads,
        )

    shuffled_auc, without = concurrently([shuffled_check, removal_check], threads)
    out: dict[str, object] = {"failure_shuffled_roc_auc": shuffled_auc}
    out["failure_shuffled_tolerance"] = tolerance
    shuffled = []
    if above_chance(shuffled_auc, tolerance):
        shuffled.append(f"failure model on shuffled labels: ROC-AUC {shuffled_auc:.2f}")
    out["failure_without_top_feature"] = without
    return out, shuffled, removal


def _home_sanity(
    groups: dict[str, list[HomeRows]],
    home_type: Fitted,
    plans: tuple[np.ndarray, np.ndarray] | None,
    *,
    rng: np.random.Generator,
    seed: int,
    threads: int = 1,
) -> Check:
    """Shuffled labels and feature removal for the home-type model.

    With `threads` above one, the removal refits run side by side.
    """
    from sklearn.metrics import balanced_accuracy_score  # noqa: PLC0415

    ht_train = _with_plans(
        home_type_rows(groups["train"] + groups["validation"]), plans
    )
    ht_test = home_type_rows(groups["test"])
    hcols = home_type.columns(HOME_NAMES)
    shuffled_model = fit.HistGradientBoostingClassifier(
        max_iter=50, early_stopping=False, random_state=seed
    ).fit(ht_train.x[:, hcols], rng.permutation(ht_train.label))
    chance = 1.0 / len(np.unique(ht_train.label))
    shuffled_bacc = float(
        balanced_accuracy_score(
            ht_test.truth, shuffled_model.predict(ht_test.x[:, hcols])
        )
    )
    out: dict[str, object] = {
        "home_type_shuffled_balanced_accuracy": shuffled_bacc,
        "home_type_chance": chance,
    }
    test_homes = len(np.unique(ht_test.home))
    margin = max(0.1, 3 * float(np.sqrt(chance * (1 - chance) / max(test_homes, 1))))
    out["home_type_shuffled_tolerance"] = margin
    shuffled = []
    if shuffled_bacc > chance + margin:
        shuffled.append(f"home type on shuffled labels: {shuffled_bacc:.2f}")
    removal: list[str] = []
    out["home_type_without_top_feature"] = _removal_home(
        home_type,
        ht_train,
        ht_test,
        (chance, margin),
        seed=seed,
        failures=removal,
        threads=threads,
    )
    return out, shuffled, removal


def _with_plans(
    rows: HomeTypeRows, plans: tuple[np.ndarray, np.ndarray] | None
) -> HomeTypeRows:
    """Return home rows with the plans' rows appended (one home each, 0 days)."""
    if plans is None or not len(plans[0]):
        return rows
    n = len(plans[1])
    first = rows.home.max(initial=0) + 1
    return HomeTypeRows(
        np.vstack([rows.x, plans[0]]),
        np.concatenate([rows.label, plans[1]]),
        np.concatenate([rows.truth, plans[1]]),
        np.concatenate([rows.days, np.zeros(n, dtype=np.int64)]),
        np.concatenate([rows.home, first + np.arange(n)]),
    )


def shuffled_roc_auc(
    train: tuple[np.ndarray, np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    *,
    rng: np.random.Generator,
    seed: int,
) -> float:
    """Return the test ROC-AUC of a failure model fitted on shuffled labels.

    The rows' weights (of a negative subsample) are not used: they belong to the
    original labels, and any tie between the rows and the shuffled labels would
    make the check something else than a null. Shuffled labels on unweighted rows
    are independent of the features by construction.
    """
    x, y, _weight = train
    quick = fit._failure_model(50, seed)
    quick.fit(x, rng.permutation(y))
    return m.roc_auc(test[1], quick.predict_proba(test[0])[:, 1])


def above_chance(auc: float, tolerance: float) -> bool:
    """Return whether a shuffled-label model's ROC-AUC beats chance: a leak.

    Above chance only: a model of random labels that ranks the test failures high
    learned them from somewhere else. Below chance is the noise of few failures
    sharing a region of the features (0.30-0.34 seen on 200 homes), and no route
    for a leak.
    """
    return bool(np.isfinite(auc)) and auc - 0.5 > tolerance


def distinct_failures(rows: DeviceRows) -> int:
    """Return how many failures the positive rows belong to.

    A failing device gives a positive row on each of the days before its failure,
    and those rows look alike, so a null ROC-AUC varies with the number of
    failures, not of rows. A failure is told by its home, kind and hour (the
    row's day plus its lead time); two devices failing in the same hour count
    as one, which only widens the tolerance.
    """
    positive = rows.target == 1
    hour = np.rint(rows.day[positive] * 24.0 + rows.lead_h[positive])
    keys = np.stack([rows.home[positive], rows.kind[positive], hour], axis=1)
    return len(np.unique(keys, axis=0))


def null_auc_tolerance(positives: int, negatives: int) -> float:
    """Return how far from 0.5 a chance ROC-AUC may fall: max(0.1, 3 standard errors).

    Under no signal the AUC's standard error is sqrt((n1 + n0 + 1) / (12 n1 n0));
    `positives` counts independent positives (for device rows: failures).
    """
    if positives < 1 or negatives < 1:
        return 0.5
    se = np.sqrt((positives + negatives + 1) / (12.0 * positives * negatives))
    return float(max(0.1, 3 * se))


def _removal(
    fitted: Fitted,
    weighted: tuple[DeviceRows, np.ndarray],
    test: DeviceRows,
    tolerance: float,
    *,
    seed: int,
    failures: list[str],
    threads: int = 1,
) -> dict[str, object]:
    train, weight = weighted
    cols = fitted.columns(DEVICE_NAMES)
    score = _sklearn_scorer(fitted, DEVICE_NAMES)
    full = m.roc_auc(test.target, score(test.x)[:, 1])
    ranked = importances(
        lambda x: score(_expand(x, cols, len(DEVICE_NAMES))),
        test.x[:, cols],
        test.target,
        fitted.features,
        lambda y, p: m.roc_auc(y, p[:, 1]),
        seed=seed,
        read=split_columns(fitted.estimator),
    )
    out: dict[str, object] = {
        "full_roc_auc": full,
        "importance": [[k, v] for k, v in ranked.items()],
    }

    def without(name: str) -> Callable[[], float]:
        def refit() -> float:
            keep = [c for c, n in zip(cols, fitted.features, strict=True) if n != name]
            model = fit._failure_model(100, seed)
            model.fit(train.x[:, keep], train.target, sample_weight=weight)
            return m.roc_auc(test.target, model.predict_proba(test.x[:, keep])[:, 1])

        return refit

    top = list(ranked)[:3]
    for name, auc in zip(
        top, concurrently([without(name) for name in top], threads), strict=True
    ):
        out[f"without {name}"] = auc
        applies = np.isfinite(full) and full - 0.5 > tolerance
        if applies and (auc - 0.5) < COLLAPSE_SHARE * (full - 0.5):
            failures.append(f"failure model collapses without {name}: {auc:.2f}")
    return out


def _removal_home(
    fitted: Fitted,
    train: HomeTypeRows,
    test: HomeTypeRows,
    chance_and_margin: tuple[float, float],
    *,
    seed: int,
    failures: list[str],
    threads: int = 1,
) -> dict[str, object]:
    from sklearn.metrics import balanced_accuracy_score  # noqa: PLC0415

    chance, margin = chance_and_margin
    cols = fitted.columns(HOME_NAMES)
    classes = np.asarray(fitted.estimator.classes_)
    score = _sklearn_scorer(fitted, HOME_NAMES)

    def bacc(y: np.ndarray, p: np.ndarray) -> float:
        return float(balanced_accuracy_score(y, classes[p.argmax(axis=1)]))

    full = bacc(test.truth, score(test.x))
    ranked = importances(
        lambda x: score(_expand(x, cols, len(HOME_NAMES))),
        test.x[:, cols],
        test.truth,
        fitted.features,
        bacc,
        seed=seed,
        read=split_columns(fitted.estimator),
    )
    out: dict[str, object] = {
        "full_balanced_accuracy": full,
        "importance": [[k, v] for k, v in ranked.items()],
    }

    def without(name: str) -> Callable[[], float]:
        def refit() -> float:
            keep = [c for c, n in zip(cols, fitted.features, strict=True) if n != name]
            model = fit.HistGradientBoostingClassifier(
                max_iter=100, learning_rate=0.1, early_stopping=False, random_state=seed
            ).fit(train.x[:, keep], train.label)
            return float(
                balanced_accuracy_score(test.truth, model.predict(test.x[:, keep]))
            )

        return refit

    top = list(ranked)[:3]
    for name, score_without in zip(
        top, concurrently([without(name) for name in top], threads), strict=True
    ):
        out[f"without {name}"] = score_without
        applies = full - chance > margin
        if applies and score_without - chance < COLLAPSE_SHARE * (full - chance):
            failures.append(
                f"home type model collapses without {name}: {score_without:.2f}"
            )
    return out


def _expand(x: np.ndarray, columns: Sequence[int], width: int) -> np.ndarray:
    """Return rows of the model's columns placed back into full-schema rows."""
    out = np.full((len(x), width), np.nan, dtype=np.float32)
    out[:, list(columns)] = x
    return out


# --- running stages side by side ----------------------------------------------------


def _one_openmp_thread[R](call: Callable[[], R]) -> Callable[[], R]:
    """Return `call` run with one OpenMP/BLAS thread in whatever thread runs it.

    OpenMP's thread count is per thread: a worker thread must set its own.
    """

    def run() -> R:
        with threadpool_limits(1):
            return call()

    return run


def concurrently[R](
    calls: Sequence[Callable[[], R]], threads: int | None = None
) -> list[R]:
    """Return the results of `calls`, run in `threads` threads, in their order.

    `threads` None: FIT_THREADS. The first exception of a call is raised once
    all of them have finished.
    """
    threads = FIT_THREADS if threads is None else threads
    if threads <= 1 or len(calls) <= 1:
        return [call() for call in calls]
    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(_one_openmp_thread(call)) for call in calls]
    return [future.result() for future in futures]


class _Stages:
    """Stages run in a thread pool; each reports its start and its seconds.

    `progress(name)` is called (under a lock) as a stage starts; `seconds` holds
    each stage's wall and CPU seconds (the CPU of its own thread).
    """

    def __init__(self, pool: ThreadPoolExecutor, progress: Callable[[str], None]):
        self.pool = pool
        self.progress = progress
        self.seconds: dict[str, dict[str, float]] = {}
        self.lock = threading.Lock()

    def submit[R](
        self, name: str, call: Callable[[], R], *, report: bool = True
    ) -> Future[R]:
        """Start `call` as the stage `name` when a thread is free.

        `report` False: the stage is part of one already reported (not shown).
        """

        def run() -> R:
            if report:
                with self.lock:
                    self.progress(name)
            wall, cpu = time.perf_counter(), time.thread_time()
            result = call()
            self.seconds[name] = {
                "wall_s": time.perf_counter() - wall,
                "cpu_s": time.thread_time() - cpu,
            }
            return result

        return self.pool.submit(_one_openmp_thread(run))


# --- the run -----------------------------------------------------------------------


def training_fingerprint(homes: Sequence[HomeRows]) -> str:
    """Return a digest of the homes a model learned from."""
    text = json.dumps(
        sorted([h.home_id, h.start, h.end, len(h.device_ids)] for h in homes)
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _quiet(function: Callable) -> Callable:
    """Run `function` with one thread, without notes on absent classes.

    One thread: see `fit.single_threaded`. Weighted features are binned with one
    sort each (`binning.shared_sort`: the same models, several times faster).
    scikit-learn warns when a resample lacks a class; bootstrap resamples of few
    homes often do.
    """

    def run(*args: object, **kwargs: object) -> object:
        with warnings.catch_warnings(), threadpool_limits(1), shared_sort():
            warnings.filterwarnings("ignore", message="y_pred contains classes")
            return function(*args, **kwargs)

    run.__doc__ = function.__doc__
    return run


def _fit_and_check(
    stages: _Stages,
    groups: dict[str, list[HomeRows]],
    *,
    seed: int,
    plans: tuple[np.ndarray, np.ndarray] | None,
    check_plans: tuple[np.ndarray, np.ndarray] | None,
    threads: int = 1,
) -> tuple[tuple, dict[str, object]]:
    """Fit the four models and run the sanity checks, side by side where they can.

    The failure model's rows and dropped position features come first (beside
    the home-type model); then the failure fit (the longest) and the battery
    models, which need only those dropped features, start side by side; the
    sanity checks need the failure and home-type models. Errors are raised in
    the order of the stages run one by one (home type, failure, battery,
    anomaly, sanity), whichever thread met them first.
    """

    def home_type() -> tuple:
        ht, ref, ht_metrics, plots = train_home_type(groups, seed=seed, plans=plans)
        if plans is not None and len(plans[0]) and check_plans is not None:
            ht_metrics["held_out_plans"] = evaluate_plans(ht, check_plans, seed=seed)
        return ht, ref, ht_metrics, plots

    inputs = stages.submit("device_failure", lambda: failure_inputs(groups, seed=seed))
    home = stages.submit("home_type", home_type)
    failure = battery = None
    if inputs.exception() is None:
        ready = inputs.result()
        failure = stages.submit(
            "device_failure: fit",
            lambda: train_failure(groups, seed=seed, inputs=ready),
            report=False,
        )
        battery = stages.submit(
            "battery_days_left",
            lambda: train_battery(groups, ready.dropped, seed=seed),
        )
    anomaly = stages.submit("device_anomaly", lambda: train_anomaly(groups, seed=seed))
    ht = home.result()[0]
    inputs.result()  # its error, if any, before the stages that needed it
    assert failure is not None  # submitted: inputs.result() raised otherwise
    assert battery is not None
    fail = failure.result()[0]
    failure_check, home_check = sanity_parts(
        groups, fail, ht, seed=seed, plans=plans, threads=threads
    )
    checks = [
        stages.submit("sanity checks", failure_check),
        stages.submit("sanity checks: home type", home_check, report=False),
    ]
    fitted = (home.result(), failure.result(), battery.result(), anomaly.result())
    return fitted, sanity_verdict(*(check.result() for check in checks))


@_quiet
def train_models(
    homes: Sequence[HomeRows],
    registry: Path,
    *,
    seed: int,
    progress: Callable[[str], None] = lambda stage: None,
    plans: tuple[np.ndarray, np.ndarray] | None = None,
    check_plans: tuple[np.ndarray, np.ndarray] | None = None,
    threads: int | None = None,
    train_only: Collection[str] = (),
) -> Outcome:
    """Fit, evaluate, check, export and register the four models.

    `plans`: extra home-type training rows from inventories alone (`plan_rows`);
    `check_plans`: held-out plans (`plan_rows(..., held_out=True)`) on which the
    home-type model is also scored when it trained with plans. `threads`: stages
    run side by side in this many threads (None: FIT_THREADS); the models and
    figures are the same for any number. `train_only`: identities of homes that
    always train (`split_homes`), e.g. the real home the daemon pulled.
    """
    outcome = Outcome()
    groups = split_homes(homes, seed, train_only=train_only)
    split = {
        name: sorted(h.identity for h in members) for name, members in groups.items()
    }
    outcome.metrics["split"] = {name: len(ids) for name, ids in split.items()}
    outcome.metrics["seed"] = seed
    trained_on = training_fingerprint(groups["train"] + groups["validation"])
    homes_json = {"seed": seed, **split}
    exports: list[Export] = []
    t0 = time.perf_counter()

    threads = max(1, threads or FIT_THREADS)
    with ThreadPoolExecutor(threads) as pool:
        stages = _Stages(pool, progress)
        try:
            fitted_all, sanity = _fit_and_check(
                stages,
                groups,
                seed=seed,
                plans=plans,
                check_plans=check_plans,
                threads=threads,
            )
        finally:
            pool.shutdown(cancel_futures=True)
    (ht, ht_ref, ht_metrics, ht_plots), failure, battery_fit, anomaly_fit = fitted_all
    fail, fail_ref, fail_metrics, fail_plots, _dropped = failure
    battery, bat_ref, bat_metrics, bat_plots = battery_fit
    anomaly, an_ref, an_metrics = anomaly_fit
    outcome.metrics["home_type"] = ht_metrics
    outcome.plots["home_type"] = ht_plots
    exports.append(
        (
            "home_type",
            ht,
            ht_ref,
            ht_metrics,
            HOME_SCHEMA.fingerprint(),
            list(ht.estimator.classes_),
        )
    )
    outcome.metrics["device_failure"] = fail_metrics
    outcome.plots["device_failure"] = fail_plots
    exports.append(
        (
            "device_failure",
            fail,
            fail_ref,
            fail_metrics,
            DEVICE_SCHEMA.fingerprint(),
            [0, 1],
        )
    )
    outcome.metrics["battery_days_left"] = bat_metrics
    outcome.plots["battery_days_left"] = bat_plots
    for q, fitted in battery.items():
        exports.append(
            (
                BATTERY_MODELS[q],
                fitted,
                bat_ref,
                bat_metrics,
                DEVICE_SCHEMA.fingerprint(),
                None,
            )
        )
    outcome.metrics["device_anomaly"] = an_metrics
    exports.append(
        (
            "device_anomaly",
            anomaly,
            an_ref,
            an_metrics,
            DEVICE_SCHEMA.fingerprint(),
            None,
        )
    )
    outcome.metrics["fit_seconds"] = time.perf_counter() - t0
    outcome.metrics["stage_seconds"] = stages.seconds
    outcome.sanity = sanity
    outcome.metrics["sanity"] = outcome.sanity
    outcome.plots["importance"] = {
        "device_failure": outcome.sanity["failure_without_top_feature"]["importance"],
        "home_type": outcome.sanity["home_type_without_top_feature"]["importance"],
    }
    progress("export")
    began = time.perf_counter(), time.thread_time()
    held_out = (home_type_rows(groups["test"]).x, device_rows(groups["test"]).x)
    for export in exports:
        name, model_metrics = export[0], export[3]
        data = _exported(export, trained_on=trained_on, held_out=held_out)
        outcome.registered[name] = register(
            registry, name, data, model_metrics, homes_json
        )
    stages.seconds["export"] = {
        "wall_s": time.perf_counter() - began[0],
        "cpu_s": time.thread_time() - began[1],
    }
    outcome.summary = summary_lines(outcome.metrics)
    return outcome


def _exported(
    export: Export, *, trained_on: str, held_out: tuple[np.ndarray, np.ndarray]
) -> bytes:
    """Return one model's ONNX bytes, checked on held-out rows (home, device).

    `export`: name, fitted model, reference values, metrics, schema fingerprint
    and classes. Exported models read whole schema vectors (the integration
    checks their feature names against the schema): unused columns are ignored.
    """
    name, fitted, ref, model_metrics, schema, classes = export
    names = HOME_NAMES if name == "home_type" else DEVICE_NAMES
    wide = fit.widen(fitted, names)
    full_reference = np.full(len(names), np.nan)
    full_reference[fitted.columns(names)] = ref
    meta = metadata(
        wide,
        kind=name,
        schema_fingerprint=schema,
        reference=full_reference,
        metrics=_headline(name, model_metrics),
        training_fingerprint=trained_on,
        classes=classes,
    )
    return export_checked(wide, meta, held_out[0 if name == "home_type" else 1])


def _headline(name: str, metrics: dict[str, object]) -> dict[str, object]:
    """Return the few metrics a model carries in its own metadata."""
    keys = {
        "home_type": None,
        "device_failure": (
            "pr_auc",
            "roc_auc",
            "rows",
            "positives",
            "homes",
            "best_baseline_pr_auc",
        ),
        "device_anomaly": ("roc_auc", "rows", "homes", "healthy_score_quantiles"),
    }.get(
        name,
        (
            "mae_days",
            "coverage_10_90",
            "no_forecast_share",
            "forecast_rows",
            "linear_baseline_mae_days_same_rows",
        ),
    )
    if keys is None:
        overall = metrics["all_lengths"]
        return {
            k: overall[k]
            for k in ("macro_f1", "ece", "log_loss", "flat_vs_house_accuracy", "homes")
        }
    return {k: metrics[k] for k in keys if k in metrics}


def summary_lines(metrics: dict[str, object]) -> list[str]:
    """Return one line per model with its headline figures and test sizes."""
    lines = []
    ht = metrics.get("home_type")
    if ht:
        a = ht["all_lengths"]
        lines.append(
            f"home_type: macro-F1 {a['macro_f1']:.3f}, ECE {a['ece']:.3f}, "
            f"log-loss {a['log_loss']:.2f}, flat vs house "
            f"{a['flat_vs_house_accuracy']:.3f} ({a['homes']} test homes)"
        )
        plans = ht.get("held_out_plans")
        if plans and plans.get("homes"):
            lines.append(
                f"home_type on {plans['homes']:,} held-out plans: ECE "
                f"{plans['ece']:.3f} (noise floor {plans['ece_floor']:.3f}), "
                f"macro-F1 {plans['macro_f1']:.3f}"
            )
    f = metrics.get("device_failure")
    if f:
        lines.append(
            f"device_failure: PR-AUC {f['pr_auc']:.3f} (best naive "
            f"{f['best_baseline_pr_auc']:.3f}), ROC-AUC {f['roc_auc']:.3f} "
            f"({f['rows']:,} test rows, {f['positives']} positive, {f['homes']} homes)"
        )
        flag = f["problem_flag"]
        lines.append(
            f"device_failure calibration: mean risk {f['mean_risk']:.4f} vs rate "
            f"{f['base_rate']:.4f}, error {f['calibration_error']:.4f}; problem flag "
            f"(risk >= {flag['threshold']:.0%}): {flag['flagged']} rows, precision "
            f"{flag['precision']:.2f}, recall {flag['recall']:.2f}"
        )
        w = f.get("without_sudden_death")
        if w:
            lines.append(
                f"device_failure without sudden deaths: PR-AUC {w['pr_auc']:.3f} "
                f"(best naive {w['best_baseline_pr_auc']:.3f}; {w['positives']} "
                "positive)"
            )
    b = metrics.get("battery_days_left")
    if b:
        lines.append(
            f"battery_days_left: MAE {b['mae_days']:.2f} days, 10-90 coverage "
            f"{b['coverage_10_90']:.2f}, no forecast {b['no_forecast_share']:.0%} "
            f"(linear baseline {b['linear_baseline_mae_days_same_rows']:.2f} days; "
            f"{b['rows']:,} test rows)"
        )
    a = metrics.get("device_anomaly")
    if a:
        lines.append(
            f"device_anomaly: ROC-AUC {a['roc_auc']:.3f} on onset windows "
            f"({a['symptomatic_rows']:,} symptomatic of {a['rows']:,} rows)"
        )
    return lines


def registered_homes(registry: Path) -> dict[str, set[str]]:
    """Return, per model, the homes its current version trained or validated on."""
    out = {}
    for name in MODEL_NAMES:
        path = current(registry, name)
        homes = json.loads((path / "homes.json").read_text())
        out[name] = set(homes.get("train", [])) | set(homes.get("validation", []))
    return out


@_quiet
def evaluate_registry(
    homes: Sequence[HomeRows], registry: Path, *, seed: int
) -> Outcome:
    """Score the registry's current models on the homes none of them trained on."""
    outcome = Outcome()
    seen = set().union(*registered_homes(registry).values())
    test = [h for h in homes if h.identity not in seen]
    if not test:
        raise SanityError("every home of the data trained a registered model")
    overlap = {h.identity for h in test} & seen
    if overlap:  # pragma: no cover - guarded by construction, checked anyway
        raise SanityError(f"homes in both train and test: {sorted(overlap)[:5]}")
    outcome.metrics["test_homes"] = len(test)
    outcome.metrics["skipped_training_homes"] = len(homes) - len(test)
    outcome.metrics["seed"] = seed
    scorers = {
        name: onnx_scorer(
            current(registry, name) / "model.onnx",
            HOME_NAMES if name == "home_type" else DEVICE_NAMES,
        )
        for name in MODEL_NAMES
    }
    score, model = scorers["home_type"]
    rows = home_type_rows(test)
    classes = np.asarray(model.classes)
    outcome.metrics["home_type"], outcome.plots["home_type"] = evaluate_home_type(
        score, rows, classes, seed=seed
    )
    f_rows = failure_rows(test, "after")
    outcome.metrics["device_failure"], outcome.plots["device_failure"] = (
        evaluate_failure(scorers["device_failure"][0], f_rows, seed=seed)
    )
    quantile_scorers = {q: scorers[name][0] for q, name in BATTERY_MODELS.items()}
    outcome.metrics["battery_days_left"], outcome.plots["battery_days_left"] = (
        evaluate_battery(quantile_scorers, battery_rows(test, "after"), seed=seed)
    )
    outcome.metrics["device_anomaly"] = evaluate_anomaly(
        scorers["device_anomaly"][0], device_rows(test), seed=seed
    )
    groups = split_homes(test, seed + 1)
    fail = train_failure(groups, seed=seed)[0]
    home_type = train_home_type(groups, seed=seed)[0]
    outcome.sanity = sanity_checks(groups, fail, home_type, seed=seed)
    outcome.metrics["sanity"] = outcome.sanity
    outcome.plots["importance"] = {
        "device_failure": outcome.sanity["failure_without_top_feature"]["importance"],
        "home_type": outcome.sanity["home_type_without_top_feature"]["importance"],
    }
    outcome.summary = summary_lines(outcome.metrics)
    return outcome
