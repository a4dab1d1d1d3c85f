"""Metrics, bootstrap intervals over homes, naive baselines and the forecast rule."""

from collections.abc import Callable

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
)

from homeiq_core.explain import NO_FORECAST_REASONS, battery_forecast
from homeiq_core.health import PROBLEM_RISK

from .rows import BATTERY_CAP_DAYS

BOOTSTRAP = 200
FLAT_TYPES = ("studio", "apartment", "condo")
ECE_BINS = 10


def bootstrap(
    metric: Callable[[np.ndarray], float],
    homes: np.ndarray,
    *,
    seed: int,
    reps: int = BOOTSTRAP,
) -> list[float]:
    """Return the 95 % interval of `metric(rows)` over homes resampled with replacement.

    `homes` holds each row's home; `metric` gets the indices of a resample's rows.
    Resamples where the metric is undefined (NaN) are skipped. The metrics of
    this module use `weighted_bootstrap` (the same resamples, no rows copied).
    """
    rng = np.random.default_rng(seed)
    unique, inverse = np.unique(homes, return_inverse=True)
    members = [np.flatnonzero(inverse == k) for k in range(len(unique))]
    values = []
    for _ in range(reps):
        chosen = rng.integers(len(unique), size=len(unique))
        rows = np.concatenate([members[k] for k in chosen]) if len(chosen) else []
        values.append(metric(np.asarray(rows, dtype=np.int64)))
    return _interval(values)


def weighted_bootstrap(
    metric: Callable[[np.ndarray], float],
    homes: np.ndarray,
    *,
    seed: int,
    reps: int = BOOTSTRAP,
) -> list[float]:
    """Return `bootstrap`'s interval from the same resamples, given as row weights.

    `metric` gets each row's weight: how many times its home was drawn (0 when
    it was not). A metric of repeated rows equals its weighted form, so the
    interval is `bootstrap`'s (to float rounding: sums in another order) without
    stacking rows or calling scikit-learn per resample.
    """
    rng = np.random.default_rng(seed)
    unique, inverse = np.unique(homes, return_inverse=True)
    values = []
    for _ in range(reps):
        chosen = rng.integers(len(unique), size=len(unique))
        drawn = np.bincount(chosen, minlength=len(unique)).astype(np.float64)
        values.append(metric(drawn[inverse]))
    return _interval(values)


def _interval(values: list[float]) -> list[float]:
    """Return the 2.5 and 97.5 percentiles of the finite values (NaN without)."""
    finite = [value for value in values if np.isfinite(value)]
    if not finite:
        return [float("nan"), float("nan")]
    low, high = np.percentile(finite, [2.5, 97.5])
    return [float(low), float(high)]


class Ranked:
    """Rows sorted by score once: ROC-AUC and average precision of any weights.

    The weighted forms of scikit-learn's `roc_auc_score` and
    `average_precision_score` (ties grouped the same way), for bootstrap
    resamples given as row weights (`weighted_bootstrap`).
    """

    def __init__(self, y: np.ndarray, score: np.ndarray) -> None:
        """Sort the rows by decreasing score; keep where each distinct score ends."""
        self.order = np.argsort(score, kind="mergesort")[::-1]
        self.positive = (np.asarray(y)[self.order] == 1).astype(np.float64)
        ranked = np.asarray(score)[self.order]
        self.ends = np.r_[np.flatnonzero(np.diff(ranked)), len(ranked) - 1]

    def _counts(self, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Return true and false positives above each threshold; None if one class."""
        if not len(self.order):
            return None
        w = weight[self.order]
        true = np.cumsum(w * self.positive)[self.ends]
        false = np.cumsum(w * (1.0 - self.positive))[self.ends]
        return (true, false) if true[-1] > 0 and false[-1] > 0 else None

    def roc_auc(self, weight: np.ndarray) -> float:
        """Return the weighted ROC-AUC, NaN without both classes."""
        counts = self._counts(weight)
        if counts is None:
            return float("nan")
        true, false = counts
        tpr = np.r_[0.0, true / true[-1]]
        fpr = np.r_[0.0, false / false[-1]]
        return float(np.trapezoid(tpr, fpr))

    def pr_auc(self, weight: np.ndarray) -> float:
        """Return the weighted average precision, NaN without both classes."""
        counts = self._counts(weight)
        if counts is None:
            return float("nan")
        true, false = counts
        flagged = true + false
        # Thresholds above every drawn row add no recall; their precision is moot.
        precision = np.divide(true, flagged, out=np.ones_like(true), where=flagged > 0)
        recall = np.r_[0.0, true / true[-1]]
        return float(np.sum(np.diff(recall) * precision))


def weighted_mean(values: np.ndarray, weight: np.ndarray) -> float:
    """Return the weighted mean of `values` (NaN without weight).

    Rows of weight 0 are left out, even where their value is NaN.
    """
    total = weight.sum()
    if not total:
        return float("nan")
    return float(np.where(weight > 0, weight * values, 0.0).sum() / total)


def pr_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Return average precision, NaN without both classes."""
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(average_precision_score(y, score))


def roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    """Return ROC-AUC, NaN without both classes."""
    if len(np.unique(y)) < 2:
        return float("nan")
    return float(roc_auc_score(y, score))


def recall_at_precision(y: np.ndarray, score: np.ndarray, precision: float) -> float:
    """Return the best recall among thresholds reaching `precision` (0 if none)."""
    if len(np.unique(y)) < 2:
        return float("nan")
    p, r, _ = precision_recall_curve(y, score)
    reached = r[p >= precision]
    return float(reached.max()) if len(reached) else 0.0


def threshold_at_precision(y: np.ndarray, score: np.ndarray, precision: float) -> float:
    """Return the lowest threshold reaching `precision` (inf if none)."""
    if len(np.unique(y)) < 2:
        return float("inf")
    p, _, thresholds = precision_recall_curve(y, score)
    ok = np.flatnonzero(p[:-1] >= precision)
    return float(thresholds[ok[0]]) if len(ok) else float("inf")


def naive_scores(x: np.ndarray, names: list[str]) -> dict[str, np.ndarray]:
    """Return the naive baselines' risk scores: missing values score lowest."""

    def column(name: str) -> np.ndarray:
        if name not in names:
            return np.zeros(len(x))
        return x[:, names.index(name)].astype(np.float64)

    baselines = {
        "hours since last report": column("silence_h"),
        "100 - battery %": 100.0 - column("battery_last"),
        "unavailable count (7 days)": column("unavailable_7d"),
    }
    return {name: np.nan_to_num(v, nan=-1e9) for name, v in baselines.items()}


def failure_metrics(
    y: np.ndarray,
    score: np.ndarray,
    homes: np.ndarray,
    kind: np.ndarray,
    lead_h: np.ndarray,
    *,
    kinds: tuple[str, ...],
    seed: int,
) -> dict[str, object]:
    """Return PR-AUC, ROC-AUC, recall at precision 0.8, lead times, per kind."""
    threshold = threshold_at_precision(y, score, 0.8)
    alarms = (score >= threshold) & (y == 1)
    per_kind = {}
    negatives = y == 0
    for k, name in enumerate(kinds):
        mask = negatives | (kind == k)
        if (kind == k).any():
            yk, sk, hk = y[mask], score[mask], homes[mask]
            ranked = Ranked(yk, sk)
            per_kind[name] = {
                "positives": int((kind == k).sum()),
                "rows": int(mask.sum()),
                "base_rate": float((kind == k).sum() / mask.sum()),
                "pr_auc": pr_auc(yk, sk),
                "pr_auc_ci": weighted_bootstrap(ranked.pr_auc, hk, seed=seed),
                "roc_auc": roc_auc(yk, sk),
            }
    ranked = Ranked(y, score)
    return {
        "rows": len(y),
        "positives": int(y.sum()),
        "homes": len(np.unique(homes)),
        "base_rate": float(y.mean()) if len(y) else float("nan"),
        "pr_auc": pr_auc(y, score),
        "pr_auc_ci": weighted_bootstrap(ranked.pr_auc, homes, seed=seed),
        "roc_auc": roc_auc(y, score),
        "roc_auc_ci": weighted_bootstrap(ranked.roc_auc, homes, seed=seed),
        "recall_at_precision_0.8": recall_at_precision(y, score, 0.8),
        "mean_risk": float(score.mean()) if len(y) else float("nan"),
        "calibration_error": binary_calibration_error(y, score),
        "problem_flag": flag_metrics(y, score, PROBLEM_RISK),
        "lead_time_h_median": (
            float(np.median(lead_h[alarms])) if alarms.any() else float("nan")
        ),
        "per_kind": per_kind,
    }


def foreseeable_metrics(
    y: np.ndarray,
    score: np.ndarray,
    homes: np.ndarray,
    kind: np.ndarray,
    baselines: dict[str, np.ndarray],
    *,
    unforeseeable: int,
    seed: int,
) -> dict[str, object]:
    """Return PR-AUC without the positives of kind index `unforeseeable`.

    Sudden deaths show nothing before they happen: no model can rank them, so they
    only dilute PR-AUC. Their rows are left out (negatives stay), and the best
    naive baseline is scored on the same rows.
    """
    keep = ~((y == 1) & (kind == unforeseeable))
    y, score, homes = y[keep], score[keep], homes[keep]
    best = max((pr_auc(y, b[keep]) for b in baselines.values()), default=float("nan"))
    return {
        "rows": int(keep.sum()),
        "positives": int(y.sum()),
        "base_rate": float(y.mean()) if len(y) else float("nan"),
        "pr_auc": pr_auc(y, score),
        "pr_auc_ci": weighted_bootstrap(Ranked(y, score).pr_auc, homes, seed=seed),
        "roc_auc": roc_auc(y, score),
        "best_baseline_pr_auc": best,
    }


def binary_calibration_error(y: np.ndarray, risk: np.ndarray) -> float:
    """Return the calibration error of risks: share-weighted |mean risk - rate|.

    Over ECE_BINS equal-width bins of the risk, as the reliability diagram shows.
    """
    if not len(y):
        return float("nan")
    bins = np.minimum((risk * ECE_BINS).astype(int), ECE_BINS - 1)
    gap = np.bincount(bins, weights=risk - y, minlength=ECE_BINS) / len(y)
    return float(np.abs(gap).sum())


def flag_metrics(
    y: np.ndarray, risk: np.ndarray, threshold: float
) -> dict[str, object]:
    """Return how the risk flags at `threshold` (HomeIQ's problem flag) do."""
    flagged = risk >= threshold
    hits = int((flagged & (y == 1)).sum())
    return {
        "threshold": threshold,
        "flagged": int(flagged.sum()),
        "precision": hits / int(flagged.sum()) if flagged.any() else float("nan"),
        "recall": hits / int(y.sum()) if y.any() else float("nan"),
    }


def expected_calibration_error(
    truth: np.ndarray, probabilities: np.ndarray, classes: np.ndarray
) -> float:
    """Return the top-label expected calibration error over ECE_BINS bins."""
    if not len(truth):
        return float("nan")
    top = probabilities.max(axis=1)
    correct = classes[probabilities.argmax(axis=1)] == truth
    bins = np.minimum((top * ECE_BINS).astype(int), ECE_BINS - 1)
    error = 0.0
    for b in range(ECE_BINS):
        inside = bins == b
        if inside.any():
            error += inside.mean() * abs(correct[inside].mean() - top[inside].mean())
    return float(error)


def ece_floor(
    probabilities: np.ndarray, classes: np.ndarray, *, seed: int, reps: int = 50
) -> float:
    """Return the ECE a perfectly calibrated model shows on this many rows (mean).

    Truths are drawn from the model's own probabilities, so the model is calibrated
    for them by construction; what ECE remains is sampling noise. With 96 test homes
    it is about 0.08: an ECE below 0.05 cannot be shown on so few homes.
    """
    if not len(probabilities):
        return float("nan")
    rng = np.random.default_rng(seed)
    cumulative = np.cumsum(probabilities, axis=1)
    cumulative /= cumulative[:, -1:]
    values = []
    for _ in range(reps):
        drawn = (rng.random(len(probabilities))[:, None] > cumulative).sum(axis=1)
        truth = classes[np.minimum(drawn, len(classes) - 1)]
        values.append(expected_calibration_error(truth, probabilities, classes))
    return float(np.mean(values))


def reliability(
    truth: np.ndarray, probabilities: np.ndarray, classes: np.ndarray
) -> dict[str, list[float]]:
    """Return the reliability curve: mean confidence and accuracy per bin."""
    top = probabilities.max(axis=1)
    correct = classes[probabilities.argmax(axis=1)] == truth
    bins = np.minimum((top * ECE_BINS).astype(int), ECE_BINS - 1)
    confidence, accuracy, count = [], [], []
    for b in range(ECE_BINS):
        inside = bins == b
        if inside.any():
            confidence.append(float(top[inside].mean()))
            accuracy.append(float(correct[inside].mean()))
            count.append(int(inside.sum()))
    return {"confidence": confidence, "accuracy": accuracy, "count": count}


def flat_vs_house_accuracy(
    truth: np.ndarray, probabilities: np.ndarray, classes: np.ndarray
) -> float:
    """Return the accuracy of "flat" (studio, apartment, condo) against "house"."""
    flat = np.isin(classes, FLAT_TYPES)
    p_flat = probabilities[:, flat].sum(axis=1)
    return float(((p_flat >= 0.5) == np.isin(truth, FLAT_TYPES)).mean())


def home_type_metrics(
    truth: np.ndarray,
    probabilities: np.ndarray,
    classes: np.ndarray,
    homes: np.ndarray,
    *,
    seed: int,
) -> dict[str, object]:
    """Return macro-F1, balanced accuracy, log-loss, Brier, ECE, flat vs house.

    Home types the model does not know (absent from its training data) count as
    classes it gives probability 0.
    """
    probabilities, classes = _with_unknown(truth, probabilities, classes)
    probabilities = np.clip(probabilities, 1e-15, 1)
    probabilities = probabilities / probabilities.sum(axis=1, keepdims=True)
    predicted = classes[probabilities.argmax(axis=1)]
    onehot = (truth[:, None] == classes[None, :]).astype(float)

    macro_f1 = float(
        f1_score(truth, predicted, average="macro", labels=classes, zero_division=0)
    )
    return {
        "homes": len(np.unique(homes)),
        "macro_f1": macro_f1,
        "macro_f1_ci": weighted_bootstrap(
            _weighted_macro_f1(truth, predicted, classes), homes, seed=seed
        ),
        "balanced_accuracy": float(balanced_accuracy_score(truth, predicted)),
        "log_loss": float(log_loss(truth, probabilities, labels=classes)),
        "uniform_log_loss": float(np.log(len(classes))),
        "brier": float(((probabilities - onehot) ** 2).sum(axis=1).mean()),
        "ece": expected_calibration_error(truth, probabilities, classes),
        "ece_ci": weighted_bootstrap(
            _weighted_ece(truth, probabilities, classes), homes, seed=seed
        ),
        "ece_floor": ece_floor(probabilities, classes, seed=seed),
        "rows": len(truth),
        "flat_vs_house_accuracy": flat_vs_house_accuracy(truth, probabilities, classes),
        "reliability": reliability(truth, probabilities, classes),
    }


def _weighted_macro_f1(
    truth: np.ndarray, predicted: np.ndarray, classes: np.ndarray
) -> Callable[[np.ndarray], float]:
    """Return macro-F1 over `classes` of weighted rows (`f1_score`, zero_division 0).

    Each class's F1 is 2 TP / (2 TP + FP + FN) = 2 TP / (true + predicted rows).
    """
    k = len(classes)
    true_class = np.searchsorted(classes, truth)
    predicted_class = np.searchsorted(classes, predicted)
    hit = true_class == predicted_class

    def score(weight: np.ndarray) -> float:
        if not weight.sum():
            return float("nan")
        hits = np.bincount(true_class[hit], weight[hit], minlength=k)
        shown = np.bincount(true_class, weight, minlength=k)
        shown += np.bincount(predicted_class, weight, minlength=k)
        f1 = np.divide(2 * hits, shown, out=np.zeros(k), where=shown > 0)
        return float(f1.mean())

    return score


def _weighted_ece(
    truth: np.ndarray, probabilities: np.ndarray, classes: np.ndarray
) -> Callable[[np.ndarray], float]:
    """Return `expected_calibration_error` of weighted rows."""
    top = probabilities.max(axis=1)
    correct = (classes[probabilities.argmax(axis=1)] == truth).astype(np.float64)
    bins = np.minimum((top * ECE_BINS).astype(int), ECE_BINS - 1)

    def score(weight: np.ndarray) -> float:
        total = weight.sum()
        if not total:
            return float("nan")
        rows = np.bincount(bins, weight, minlength=ECE_BINS)
        hits = np.bincount(bins, weight * correct, minlength=ECE_BINS)
        confidence = np.bincount(bins, weight * top, minlength=ECE_BINS)
        filled = rows > 0
        gap = np.abs(hits[filled] - confidence[filled]) / rows[filled]
        return float((rows[filled] / total * gap).sum())

    return score


def _with_unknown(
    truth: np.ndarray, probabilities: np.ndarray, classes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return probabilities and sorted classes, a zero column per unknown class."""
    unknown = sorted(set(truth.tolist()) - set(classes.tolist()))
    zeros = np.zeros((len(probabilities), len(unknown)))
    wide = np.hstack([probabilities, zeros])
    every = np.concatenate([classes, np.array(unknown, dtype=classes.dtype)])
    order = np.argsort(every, kind="stable")  # log_loss wants sorted labels
    return wide[:, order], every[order]


def battery_metrics(
    truth: np.ndarray,
    quantiles: np.ndarray,
    battery_last: np.ndarray,
    linear: np.ndarray,
    homes: np.ndarray,
    *,
    seed: int,
) -> dict[str, object]:
    """Return MAE and coverage where a forecast is given, and the linear baseline's."""
    forecast, reason = battery_forecast(quantiles, battery_last)
    given = reason == 0
    baseline = np.clip(linear, 0, BATTERY_CAP_DAYS)
    error = np.abs(forecast[:, 1] - truth)
    base_error = np.abs(baseline - truth)
    inside = (truth >= forecast[:, 0]) & (truth <= forecast[:, 2])

    both = given & np.isfinite(baseline)

    def mae(weight: np.ndarray) -> float:
        return weighted_mean(error, weight * given)

    def model_minus_linear(weight: np.ndarray) -> float:
        weight = weight * both
        return weighted_mean(error, weight) - weighted_mean(base_error, weight)

    return {
        "rows": len(truth),
        "homes": len(np.unique(homes)),
        "forecast_rows": int(given.sum()),
        "no_forecast_share": float(1 - given.mean()) if len(given) else float("nan"),
        "no_forecast_reasons": {
            text: int((reason == code).sum())
            for code, text in NO_FORECAST_REASONS.items()
        },
        "mae_days": float(error[given].mean()) if given.any() else float("nan"),
        "mae_days_ci": weighted_bootstrap(mae, homes, seed=seed),
        "coverage_10_90": float(inside[given].mean()) if given.any() else float("nan"),
        "linear_baseline_mae_days_same_rows": (
            float(base_error[both].mean()) if both.any() else float("nan")
        ),
        "model_mae_days_where_baseline_defined": (
            float(error[both].mean()) if both.any() else float("nan")
        ),
        "linear_baseline_rows": int(both.sum()),
        # Paired over the same rows and homes: below 0, the model is better.
        "model_minus_linear_mae_days_ci": weighted_bootstrap(
            model_minus_linear, homes, seed=seed
        ),
        "truth_below_cap_rows": int((truth < BATTERY_CAP_DAYS).sum()),
    }
