"""One sort per feature: scikit-learn's own weighted bins and models, to the bit."""

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.ensemble._hist_gradient_boosting import binning as sk_binning
from sklearn.utils.stats import _weighted_percentile

from homeiq_trainer.models import binning
from homeiq_trainer.models.binning import RANKS, shared_sort


def _column(rng: np.random.Generator, n: int) -> np.ndarray:
    """Values with ties, NaN and a long tail: what device features look like."""
    x = np.round(rng.lognormal(size=n), 2)
    x[rng.random(n) < 0.1] = np.nan
    return x


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_thresholds_are_scikit_learns(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = _column(rng, 5000)
    weight = np.where(rng.random(5000) < 0.2, 1.0, 7.5)
    weight[rng.random(5000) < 0.05] = 0.0  # zero weights are dropped first
    expected = sk_binning._find_binning_thresholds(x, 255, weight)
    with shared_sort():
        assert sk_binning._weighted_percentile is not _weighted_percentile
        got = sk_binning._find_binning_thresholds(x, 255, weight)
    assert sk_binning._weighted_percentile is _weighted_percentile
    assert len(got) > 200
    np.testing.assert_array_equal(got, expected)


def test_models_are_the_same_to_the_bit() -> None:
    rng = np.random.default_rng(3)
    x = np.column_stack([_column(rng, 4000) for _ in range(6)]).astype(np.float32)
    y = (np.nan_to_num(x[:, 0]) + rng.normal(size=4000) > 2.5).astype(int)
    weight = np.where(y == 1, 1.0, 4.0)

    def fit() -> np.ndarray:
        model = HistGradientBoostingClassifier(max_iter=20, random_state=0)
        return model.fit(x, y, sample_weight=weight).predict_proba(x)

    plain = fit()
    with shared_sort(), shared_sort():  # nested: restored by the outer one only
        fast = fit()
        assert sk_binning._weighted_percentile is binning._answer
    np.testing.assert_array_equal(fast, plain)


def test_other_calls_go_to_scikit_learn_unchanged() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=300)
    w = rng.random(300)
    with shared_sort():
        for args in (
            (x, w, 37.3, True),  # not one of the binning percentiles
            (x, w, RANKS[10], False),  # not averaged
            (x, w, RANKS[:3], True),  # several at once
            (np.column_stack([x, x]), w, RANKS[5], True),  # two-dimensional
        ):
            np.testing.assert_array_equal(
                binning._answer(*args), _weighted_percentile(*args)
            )
        # Repeated calls on the same column are answered from its one sort.
        first = binning._answer(x, w, RANKS[7], True)
        np.testing.assert_array_equal(binning._answer(x, w, RANKS[7], True), first)


def test_another_scikit_learn_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """A percentile function of other parameters is not swapped: binning as usual."""

    def renamed(a, weights, rank=50, average=False, xp=None):
        return _weighted_percentile(a, weights, rank, average, xp)

    monkeypatch.setattr(sk_binning, "_weighted_percentile", renamed)
    assert binning._private_binning() is None
    monkeypatch.setattr(binning, "_FOUND", None)
    with shared_sort():
        assert sk_binning._weighted_percentile is renamed


@pytest.mark.parametrize("seed", range(6))
def test_all_ranks_at_once_are_scikit_learns(seed: int) -> None:
    """Vectorised over the percentiles: the same bits as scikit-learn's loop."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 3000))
    x = np.round(rng.lognormal(size=n), seed % 3)
    if seed % 2:
        x[rng.random(n) < 0.2] = np.nan
    if seed == 4:
        x = np.sort(rng.integers(0, 5, size=n).astype(np.float64))
    weight = np.where(rng.random(n) < 0.3, 1.0, 12.345678)
    weight[rng.random(n) < 0.2] = 0.0  # zero weights next to a percentile
    np.testing.assert_array_equal(
        binning.all_ranks(x, weight), _weighted_percentile(x, weight, RANKS, True)
    )


def test_all_ranks_hands_other_columns_to_scikit_learn() -> None:
    x = np.arange(10, dtype=np.float32)
    for weight in (np.ones(10), np.zeros(10)):
        np.testing.assert_array_equal(
            binning.all_ranks(x, weight), _weighted_percentile(x, weight, RANKS, True)
        )
    assert np.isnan(binning.all_ranks(x.astype(np.float64), np.zeros(10)))


@pytest.mark.parametrize("seed", range(4))
def test_one_rank_is_scikit_learns(seed: int) -> None:
    """A quantile model's leaf percentile: the same bits as scikit-learn's."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 400))
    x = np.round(rng.normal(size=n), seed)
    if seed == 1:
        x[rng.random(n) < 0.3] = np.nan
    weight = np.where(rng.random(n) < 0.5, 1.0, 3.7)
    if seed == 2:
        weight[: n // 2] = 0.0  # leading zero weights at rank 0
    for rank in (0.0, 10.0, 50.0, 90.0, 100.0):
        expected = _weighted_percentile(x, weight, rank)
        got = binning.one_rank(x, weight, rank)
        assert np.shape(got) == np.shape(expected)
        np.testing.assert_array_equal(got, expected)


def test_one_rank_hands_other_calls_to_scikit_learn() -> None:
    x = np.arange(6, dtype=np.float64)
    for args in (
        (x, np.zeros(6), 50.0),
        (x, np.ones(6), [10.0, 90.0]),
        (x, np.ones(6), 50.0, True),
        (x.astype(np.float32), np.ones(6, dtype=np.float32), 50.0),
    ):
        np.testing.assert_array_equal(
            binning.one_rank(*args), _weighted_percentile(*args)
        )


def test_quantile_models_are_the_same_to_the_bit() -> None:
    from sklearn._loss import loss as sk_loss  # noqa: PLC0415
    from sklearn.ensemble import HistGradientBoostingRegressor  # noqa: PLC0415

    rng = np.random.default_rng(5)
    x = np.column_stack([_column(rng, 3000) for _ in range(4)]).astype(np.float32)
    y = np.nan_to_num(x[:, 0]) * 3 + rng.normal(size=3000)
    weight = np.where(rng.random(3000) < 0.3, 1.0, 6.0)

    def fit() -> np.ndarray:
        model = HistGradientBoostingRegressor(
            loss="quantile", quantile=0.9, max_iter=15, random_state=0
        )
        return model.fit(x, y, sample_weight=weight).predict(x)

    plain = fit()
    with shared_sort():
        assert sk_loss._weighted_percentile is binning.one_rank
        fast = fit()
    assert sk_loss._weighted_percentile is _weighted_percentile
    np.testing.assert_array_equal(fast, plain)
