"""Bootstrap intervals from row weights: the row-copying resamples' figures."""

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from homeiq_trainer.models import metrics as m


def _rows(seed: int, n: int = 3000) -> tuple[np.ndarray, ...]:
    """Rare positives, tied scores and homes of uneven size."""
    rng = np.random.default_rng(seed)
    homes = rng.integers(0, 40, size=n)
    y = (rng.random(n) < 0.03 + 0.1 * (homes % 3 == 0)).astype(int)
    score = np.round(rng.random(n) + 0.5 * y * rng.random(n), 2)
    return homes, y, score


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_ranked_is_scikit_learns_on_any_weights(seed: int) -> None:
    _, y, score = _rows(seed)
    weight = np.random.default_rng(seed).integers(0, 4, size=len(y)).astype(float)
    ranked = m.Ranked(y, score)
    assert ranked.roc_auc(weight) == pytest.approx(
        roc_auc_score(y, score, sample_weight=weight), abs=1e-12
    )
    assert ranked.pr_auc(weight) == pytest.approx(
        average_precision_score(y, score, sample_weight=weight), abs=1e-12
    )
    only_negatives = weight * (y == 0)
    assert np.isnan(ranked.roc_auc(only_negatives))
    assert np.isnan(ranked.pr_auc(only_negatives))
    assert np.isnan(m.Ranked(y[:0], score[:0]).roc_auc(weight[:0]))


@pytest.mark.parametrize("seed", [0, 1])
def test_intervals_are_those_of_copied_rows(seed: int) -> None:
    homes, y, score = _rows(seed)
    ranked = m.Ranked(y, score)
    pairs = [
        (lambda r: m.roc_auc(y[r], score[r]), ranked.roc_auc),
        (lambda r: m.pr_auc(y[r], score[r]), ranked.pr_auc),
    ]
    for by_rows, by_weights in pairs:
        expected = m.bootstrap(by_rows, homes, seed=seed)
        got = m.weighted_bootstrap(by_weights, homes, seed=seed)
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_home_type_intervals_are_those_of_copied_rows() -> None:
    rng = np.random.default_rng(5)
    classes = np.array(["a", "b", "c", "d"])
    n = 400
    homes = rng.integers(0, 60, size=n)
    truth = classes[rng.integers(0, 3, size=n)]  # "d" is never true
    probabilities = rng.dirichlet(np.ones(4), size=n)
    predicted = classes[probabilities.argmax(axis=1)]
    f1 = m._weighted_macro_f1(truth, predicted, classes)
    ece = m._weighted_ece(truth, probabilities, classes)
    cases = [
        (
            lambda r: f1_score(
                truth[r], predicted[r], average="macro", labels=classes, zero_division=0
            ),
            f1,
        ),
        (
            lambda r: m.expected_calibration_error(truth[r], probabilities[r], classes),
            ece,
        ),
    ]
    for by_rows, by_weights in cases:
        np.testing.assert_allclose(
            m.weighted_bootstrap(by_weights, homes, seed=3),
            m.bootstrap(by_rows, homes, seed=3),
            rtol=0,
            atol=1e-12,
        )
        assert np.isnan(by_weights(np.zeros(n)))


def test_weighted_mean_leaves_out_unweighted_rows() -> None:
    values = np.array([1.0, np.nan, 3.0])
    assert m.weighted_mean(values, np.array([1.0, 0.0, 3.0])) == 2.5
    assert np.isnan(m.weighted_mean(values, np.zeros(3)))
    assert np.isnan(m.weighted_mean(values, np.ones(3)))


def test_battery_intervals_are_those_of_copied_rows() -> None:
    rng = np.random.default_rng(7)
    n = 500
    homes = rng.integers(0, 50, size=n)
    truth = rng.uniform(0, 1.5 * m.BATTERY_CAP_DAYS, size=n)
    quantiles = np.sort(rng.uniform(0, m.BATTERY_CAP_DAYS, size=(n, 3)), axis=1)
    last = rng.uniform(0, 100, size=n)
    linear = np.where(
        rng.random(n) < 0.3, np.nan, rng.uniform(0, 2 * m.BATTERY_CAP_DAYS, size=n)
    )
    got = m.battery_metrics(truth, quantiles, last, linear, homes, seed=2)
    forecast, reason = m.battery_forecast(quantiles, last)
    given = reason == 0
    error = np.abs(forecast[:, 1] - truth)
    baseline = np.clip(linear, 0, m.BATTERY_CAP_DAYS)
    both = given & np.isfinite(baseline)

    def mae(r: np.ndarray) -> float:
        r = r[given[r]]
        return float(error[r].mean()) if len(r) else float("nan")

    def difference(r: np.ndarray) -> float:
        r = r[both[r]]
        if not len(r):
            return float("nan")
        return float(error[r].mean() - np.abs(baseline - truth)[r].mean())

    assert given.sum() > 50
    assert both.sum() > 30
    np.testing.assert_allclose(
        got["mae_days_ci"], m.bootstrap(mae, homes, seed=2), rtol=0, atol=1e-9
    )
    np.testing.assert_allclose(
        got["model_minus_linear_mae_days_ci"],
        m.bootstrap(difference, homes, seed=2),
        rtol=0,
        atol=1e-9,
    )
