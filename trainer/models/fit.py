"""Fitting the four models on float32 rows: fixed settings, selection on validation.

Every estimator is a scikit-learn HistGradientBoosting model (shallow trees, fast
in the core's numpy evaluator) or an IsolationForest, with explicit random states.
Nothing is tuned on test homes: the failure model's iteration count and the home
type model's temperature are chosen on the validation homes.
"""

from collections.abc import Callable, Sequence
import copy
from dataclasses import dataclass, field
import functools
import re

import numpy as np
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    IsolationForest,
)
from sklearn.metrics import average_precision_score, log_loss, roc_auc_score
from sklearn.model_selection import GroupKFold
from threadpoolctl import threadpool_limits

QUANTILES = (0.1, 0.5, 0.9)
FAILURE_ITERATIONS = (50, 100, 200, 300)
ITERATION_TOLERANCE = 0.01  # validation PR-AUC a smaller failure model may give up
# Features that say where a row sits in the recorded window, not how the device
# behaves; checked for label information before any model may read them.
POSITION_FEATURE = re.compile(r"(^|_)(age|observed)_days")
CALIBRATION_FOLDS = 4
LEAK_MARGIN = 0.05  # above chance: a position feature that predicts this well leaks
# How strongly rare failure kinds are up-weighted: 0 none, 1 every kind weighs the
# same in total; 0.5 was chosen on validation homes (PR-AUC 0.281 -> 0.304).
KIND_BALANCE_POWER = 0.5
# Device features the battery models do not read: the comparisons with a device's
# own history help the failure model, but on validation homes the battery median
# read with them had MAE 5.12 days against 3.92 without them (the 28-day fall
# moved which rows get a forecast, and not for the better); the 7-day fall and its
# days left are kept (3.92 with them).
BATTERY_UNREAD = (
    "lqi_drop_1d",
    "lqi_drop_7d",
    "rssi_drop_1d",
    "rssi_drop_7d",
    "reports_ratio_1d_base",
    "reports_ratio_7d_base",
    "long_gaps_1d",
    "long_gaps_7d",
    "long_gap_frac_7d",
    "gap_max_ratio_1d",
    "unavailable_excess_7d",
    "binary_flaps_ratio_7d_base",
    "changes_ratio_7d_base",
    "frozen_ratio_1d",
    "frozen_ratio_7d",
    "battery_fall_28d",
)


def single_threaded[**P, R](function: Callable[P, R]) -> Callable[P, R]:
    """Run `function` with one OpenMP/BLAS thread.

    On a small shared machine, HistGradientBoosting's OpenMP threads spin against
    other processes: a fit measured 188 s with the default threads under load and
    5.5 s with one. Parallelism comes from worker processes instead.
    """

    @functools.wraps(function)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with threadpool_limits(1):
            return function(*args, **kwargs)

    return run


@dataclass
class Fitted:
    """A fitted estimator with the feature names it reads and notes on its fit."""

    estimator: object
    features: tuple[str, ...]
    notes: dict[str, object] = field(default_factory=dict)

    def columns(self, names: Sequence[str]) -> list[int]:
        """Return the positions of this model's features among `names`."""
        return [list(names).index(name) for name in self.features]


def usable_features(x: np.ndarray, names: Sequence[str]) -> list[str]:
    """Return the names of columns with at least one value (HGB needs one)."""
    known = ~np.isnan(x).all(axis=0) if len(x) else np.zeros(len(names), bool)
    return [name for name, ok in zip(names, known, strict=True) if ok]


@single_threaded
def position_leaks(
    names: Sequence[str],
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    *,
    seed: int,
) -> dict[str, float]:
    """Return each position feature's validation score when used alone.

    The score is ROC-AUC for a binary target and balanced accuracy otherwise; the
    caller compares it with chance (0.5 or 1/classes).
    """
    from sklearn.metrics import balanced_accuracy_score  # noqa: PLC0415

    out = {}
    (xt, yt), (xv, yv) = train, validation
    for j, name in enumerate(names):
        if not POSITION_FEATURE.search(name):
            continue
        column, vcolumn = xt[:, [j]], xv[:, [j]]
        if np.isnan(column).all() or len(np.unique(yt)) < 2 or len(np.unique(yv)) < 2:
            continue
        model = HistGradientBoostingClassifier(
            max_iter=30, early_stopping=False, random_state=seed
        ).fit(column, yt)
        if len(model.classes_) == 2:
            out[name] = float(roc_auc_score(yv, model.predict_proba(vcolumn)[:, 1]))
        else:
            out[name] = float(balanced_accuracy_score(yv, model.predict(vcolumn)))
    return out


def leaking(scores: dict[str, float], chance: float) -> list[str]:
    """Return the position features whose score beats chance by the margin."""
    return [name for name, score in scores.items() if abs(score - chance) > LEAK_MARGIN]


@single_threaded
def fit_failure(
    x: np.ndarray,
    y: np.ndarray,
    xv: np.ndarray,
    yv: np.ndarray,
    features: Sequence[str],
    *,
    seed: int,
    weight: np.ndarray | None = None,
) -> Fitted:
    """Fit the 7-day failure classifier; choose the iteration count on validation.

    One fit of the largest count of FAILURE_ITERATIONS; the validation PR-AUC of
    each count comes from the staged predictions, and the model is cut to the best
    count (the fewest trees within ITERATION_TOLERANCE of the best): the same trees
    a fit of exactly that count grows (no early stopping, no row subsampling), for
    one fit instead of five.
    """
    model = _failure_model(max(FAILURE_ITERATIONS), seed).fit(
        x, y, sample_weight=weight
    )
    scores = {}
    if len(np.unique(yv)) > 1:
        for iterations, p in enumerate(model.staged_predict_proba(xv), start=1):
            if iterations in FAILURE_ITERATIONS:
                scores[iterations] = float(average_precision_score(yv, p[:, 1]))
    best = fewest_within(scores) if scores else FAILURE_ITERATIONS[1]
    truncate_hgb(model, best)
    return Fitted(
        model,
        tuple(features),
        {"iterations": best, "validation_pr_auc_by_iterations": scores},
    )


def calibrate_failure(fitted: Fitted, xv: np.ndarray, yv: np.ndarray) -> None:
    """Make the failure model's probabilities frequencies again, on validation rows.

    The fit leaves out positives that show nothing yet (`trainable`) and reweights
    kinds, so its raw probabilities run below the 7-day failure rate. A logistic
    map of the raw score, sigmoid(slope * raw + intercept), fitted by log-loss on
    the validation homes' rows (every positive counted), is folded into the trees
    (leaf values times the slope, the intercept added to the baseline): one
    HistGradientBoosting model, exported as is, ranking exactly as before.
    """
    if len(np.unique(yv)) < 2:
        fitted.notes["calibration"] = None
        return
    raw = np.asarray(fitted.estimator._raw_predict(xv), dtype=np.float64)[:, 0]
    slope, intercept = platt(raw, np.asarray(yv, dtype=np.float64))
    scale_hgb(fitted.estimator, slope)
    fitted.estimator._baseline_prediction = (
        fitted.estimator._baseline_prediction + intercept
    )
    fitted.notes["calibration"] = {"slope": slope, "intercept": intercept}


def platt(raw: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Return (slope, intercept) of the least log-loss sigmoid(slope * raw + b).

    A slope that is not positive would reverse or flatten the ranking (a model
    that learned nothing on validation): then only the intercept moves.
    """
    from sklearn.linear_model import LogisticRegression  # noqa: PLC0415

    found = LogisticRegression(C=1e6).fit(raw[:, None], y)
    slope, intercept = float(found.coef_[0, 0]), float(found.intercept_[0])
    if slope > 0:
        return slope, intercept
    low, high = -30.0, 30.0  # the intercept whose mean probability is the rate
    for _ in range(60):
        middle = (low + high) / 2
        if np.mean(1.0 / (1.0 + np.exp(-(raw + middle)))) < np.mean(y):
            low = middle
        else:
            high = middle
    return 1.0, (low + high) / 2


def fewest_within(scores: dict[int, float]) -> int:
    """Return the fewest iterations whose score is within the tolerance of the best.

    Validation PR-AUC moves by about 0.01 between counts on some 60 homes (default
    run: 0.294, 0.291, 0.300, 0.298 at 50, 100, 200, 300), well inside its noise;
    every tree costs HomeIQ scoring time (1,000 devices: 2.9 ms with 50, 8.0 ms with
    200, times the reasons' re-scorings), so a tie goes to the smaller model.
    """
    top = max(scores.values())
    return min(n for n, score in scores.items() if score >= top - ITERATION_TOLERANCE)


def trainable(target: np.ndarray, unseen: np.ndarray) -> np.ndarray:
    """Return the failure rows the model fits on: all but the unseen positives.

    A positive row whose failure, by its label, shows nothing yet (days before a
    battery's onset, a sudden death) looks like a healthy device: fitted as a "yes",
    it teaches the trees that healthy rows fail. Such rows stay positives when the
    model is scored. On validation (pooled 3-fold CV over 151 train/validation
    homes of a 200-home dataset), PR-AUC 0.243 -> 0.276, with fold seed 8
    0.208 -> 0.248; every foreseeable kind gained.
    """
    keep = ~((target == 1) & unseen)
    if not (keep & (target == 1)).any():  # nothing foreseeable: fit them all
        return np.ones(len(target), dtype=bool)
    return keep


def truncate_hgb(model, iterations: int) -> None:
    """Keep a fitted HistGradientBoosting model's first `iterations` trees."""
    model._predictors = model._predictors[:iterations]  # n_iter_ follows
    model.max_iter = len(model._predictors)


def subsample_negatives(
    y: np.ndarray, *, seed: int, max_negatives: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return row indices keeping every positive and a share of negatives, weights.

    Failure rows are about 99 % negative; above `max_negatives`, a random share of
    them is kept, each weighted by the inverse share, so the weighted rows keep the
    base rate (and the probabilities their meaning) at a fraction of the fit time.
    """
    negatives = np.flatnonzero(y == 0)
    share = min(1.0, max_negatives / max(len(negatives), 1))
    rng = np.random.default_rng(seed)
    kept = negatives[rng.random(len(negatives)) < share]
    rows = np.sort(np.concatenate([np.flatnonzero(y != 0), kept]))
    weight = np.where(y[rows] == 0, 1.0 / share, 1.0)
    return rows, weight


def kind_balanced_weights(
    target: np.ndarray,
    kind: np.ndarray,
    weight: np.ndarray,
    *,
    unforeseeable: int,
    power: float = KIND_BALANCE_POWER,
) -> np.ndarray:
    """Return `weight` with each failure kind's positives reweighted.

    A positive of kind k weighs (mean kind count / count of k) ** power, scaled so
    that the positives keep their total weight (the weighted base rate, and so the
    probabilities' overall meaning, are unchanged). Rare kinds (a stuck sensor, a
    flapping contact) then shape the trees instead of being outvoted by batteries.
    The `unforeseeable` kind (sudden death: no symptoms to learn) keeps weight 1.
    """
    out = np.asarray(weight, dtype=np.float64).copy()
    positive = target == 1
    foreseeable = positive & (kind != unforeseeable)
    if not foreseeable.any():
        return out
    kinds, counts = np.unique(kind[foreseeable], return_counts=True)
    factor = np.ones(len(target))
    per_kind = (counts.mean() / counts) ** power
    factor[foreseeable] = per_kind[np.searchsorted(kinds, kind[foreseeable])]
    factor[positive] *= positive.sum() / factor[positive].sum()
    out[positive] *= factor[positive]
    return out


def _failure_model(iterations: int, seed: int) -> HistGradientBoostingClassifier:
    return HistGradientBoostingClassifier(
        learning_rate=0.05,
        max_iter=iterations,
        max_leaf_nodes=15,
        min_samples_leaf=40,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    )


def _home_type_model(seed: int) -> HistGradientBoostingClassifier:
    # Small trees and many rows per leaf: home rows are few and correlated (five
    # observation lengths of each home); deeper trees were overconfident.
    return HistGradientBoostingClassifier(
        learning_rate=0.03,
        max_iter=150,
        max_leaf_nodes=5,
        min_samples_leaf=30,
        l2_regularization=1.0,
        early_stopping=False,
        random_state=seed,
    )


@single_threaded
def fit_home_type(
    x: np.ndarray,
    y: np.ndarray,
    homes: np.ndarray,
    features: Sequence[str],
    *,
    seed: int,
) -> Fitted:
    """Fit the home-type classifier, calibrated by a cross-fitted temperature.

    The rows (train and validation homes) are split into CALIBRATION_FOLDS groups of
    homes; each fold's raw scores come from a model that never saw its homes, and
    the temperature minimising their log-loss scales the final model, fitted on all
    rows. The temperature divides every tree's leaf values and the baseline, so
    the calibrated model is still one HistGradientBoosting model (exported as is):
    its probabilities are softmax(raw / T).
    """
    raw = np.zeros((len(x), len(np.unique(y))))
    folds = min(CALIBRATION_FOLDS, len(np.unique(homes)))
    classes = np.unique(y)
    for train, held in GroupKFold(folds).split(x, y, homes):
        model = _home_type_model(seed).fit(x[train], y[train])
        columns = np.searchsorted(classes, model.classes_)
        scores = np.full((len(held), len(classes)), -1e3)  # absent class: ~0
        scores[:, columns] = _raw(model, x[held])
        raw[held] = scores
    temperature = best_temperature(raw, y, classes)
    model = _home_type_model(seed).fit(x, y)
    scale_hgb(model, 1.0 / temperature)
    return Fitted(model, tuple(features), {"temperature": temperature})


def _raw(model: HistGradientBoostingClassifier, x: np.ndarray) -> np.ndarray:
    raw = np.asarray(model._raw_predict(x))
    return np.hstack([np.zeros_like(raw), raw]) if raw.shape[1] == 1 else raw


def best_temperature(raw: np.ndarray, y: np.ndarray, classes: np.ndarray) -> float:
    """Return the temperature in [0.5, 5] whose softmax(raw / T) has least log-loss."""
    candidates = np.exp(np.linspace(np.log(0.5), np.log(5.0), 41))
    losses = [log_loss(y, _softmax(raw / t), labels=classes) for t in candidates]
    return float(candidates[int(np.argmin(losses))])


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def scale_hgb(model, factor: float) -> None:
    """Multiply a fitted HistGradientBoosting model's raw scores by `factor`."""
    model._baseline_prediction = model._baseline_prediction * factor
    for predictors in model._predictors:
        for predictor in predictors:
            predictor.nodes["value"] *= factor


def widen_interval(
    low: Fitted, high: Fitted, x: np.ndarray, y: np.ndarray, *, nominal: float = 0.8
) -> float:
    """Widen the q10-q90 interval by split conformal calibration; return the shift.

    On held-out rows (validation homes), the conformity score max(q10 - y, y - q90)
    has its `nominal` quantile (finite-sample corrected) c; q10 moves down by c and
    q90 up by c (c < 0 narrows an interval that was too wide), by shifting each
    model's baseline, so both stay plain HistGradientBoosting models.
    """
    if not len(x):
        return 0.0
    lo = low.estimator.predict(x)
    hi = high.estimator.predict(x)
    scores = np.maximum(lo - y, y - hi)
    level = min(1.0, np.ceil((len(y) + 1) * nominal) / len(y))
    shift = float(np.quantile(scores, level))
    low.estimator._baseline_prediction -= shift
    high.estimator._baseline_prediction += shift
    low.notes["conformal_shift"] = high.notes["conformal_shift"] = shift
    return shift


@single_threaded
def fit_battery(
    x: np.ndarray,
    y: np.ndarray,
    features: Sequence[str],
    *,
    seed: int,
    weight: np.ndarray | None = None,
) -> dict[float, Fitted]:
    """Fit one quantile regressor per quantile of the days left.

    Leaves of 10 rows, not 40: about 1 % of battery rows die within the cap, and a
    leaf of 40 rows that cannot be pure pulls a dying battery's median toward the
    plateau (q50 of 8-12 days for batteries that died within 0-6).
    """
    out = {}
    for q in QUANTILES:
        model = HistGradientBoostingRegressor(
            loss="quantile",
            quantile=q,
            learning_rate=0.05,
            max_iter=200,
            max_leaf_nodes=15,
            min_samples_leaf=10,
            early_stopping=False,
            random_state=seed,
        ).fit(x, y, sample_weight=weight)
        out[q] = Fitted(model, tuple(features), {"quantile": q})
    return out


@single_threaded
def fit_anomaly(x: np.ndarray, features: Sequence[str], *, seed: int) -> Fitted:
    """Fit an IsolationForest on healthy rows (at most 20,000, drawn at random)."""
    rng = np.random.default_rng(seed)
    if len(x) > 20_000:
        x = x[rng.choice(len(x), 20_000, replace=False)]
    model = IsolationForest(n_estimators=100, max_samples=256, random_state=seed).fit(x)
    healthy = -model.score_samples(x)
    return Fitted(
        model,
        tuple(features),
        {
            "healthy_score_quantiles": {
                str(q): float(np.quantile(healthy, q)) for q in (0.5, 0.9, 0.99)
            }
        },
    )


def widen(fitted: Fitted, names: Sequence[str]) -> Fitted:
    """Return a copy of a fitted model that reads full rows of `names`.

    Models are fitted on a subset of the schema (columns with values, no leaking
    position features); the integration feeds whole schema vectors and checks the
    model's feature names against the schema. The copy's trees index the full
    vector (HistGradientBoosting node feature ids, IsolationForest feature sets),
    so it computes exactly the same numbers and ignores the other columns.
    """
    columns = np.asarray(fitted.columns(names))
    model = copy.deepcopy(fitted.estimator)
    if isinstance(model, IsolationForest):
        model.estimators_features_ = [
            columns[np.asarray(features)] for features in model.estimators_features_
        ]
    else:
        for predictors in model._predictors:
            for predictor in predictors:
                nodes = predictor.nodes
                branch = nodes["is_leaf"] == 0
                nodes["feature_idx"][branch] = columns[nodes["feature_idx"][branch]]
        categorical = getattr(model, "is_categorical_", None)
        if categorical is not None:
            model.is_categorical_ = np.zeros(len(names), dtype=bool)
    model.n_features_in_ = len(names)
    return Fitted(model, tuple(names), {**fitted.notes, "reads": list(fitted.features)})
