"""Randomly shaped models of every family agree three ways: numpy, onnxruntime and
scikit-learn itself, to 1e-5 on probabilities, values and scores, and exactly on labels.

Each case draws its data and hyper-parameters from a seeded generator (the sweep is
deterministic), fits the estimator, exports it with the trainer's `export_onnx` and
scores fresh float32 rows, NaN included for HistGradientBoosting.

Labels: numpy and onnxruntime always agree exactly. scikit-learn agrees too, except on
exact ties: small forests often give two classes the same probability (2 of 4 trees
each, say), and scikit-learn then picks the class its float64 rounding favours by one
unit in the last place (or, for gradient boosting, by the raw scores before softmax),
while ONNX's float32 sees an exact tie and takes the first class. On such rows, and
only there, the ONNX label must be one of the tied classes.
"""

from collections.abc import Callable

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    GradientBoostingClassifier,
    GradientBoostingRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    IsolationForest,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

from homeiq_core.inference import load_model
from homeiq_trainer.onnx_export import export_onnx

TOLERANCE = 1e-5
TIE = 1e-12  # scikit-learn probabilities this close differ by float64 rounding only
SEEDS = range(12)

type Factory = Callable[[np.random.Generator], BaseEstimator]


def _trees(rng: np.random.Generator) -> dict:
    return {
        "n_estimators": int(rng.integers(1, 9)),
        "max_depth": int(rng.integers(1, 7)),
        "random_state": int(rng.integers(1000)),
    }


def _boosting(rng: np.random.Generator) -> dict:
    return {
        "max_iter": int(rng.integers(1, 9)),
        "max_depth": int(rng.integers(2, 7)),
        "random_state": int(rng.integers(1000)),
    }


def _scaler(rng: np.random.Generator) -> BaseEstimator:
    return [StandardScaler, MinMaxScaler, RobustScaler][int(rng.integers(3))]()


CLASSIFIERS: dict[str, Factory] = {
    "random_forest": lambda rng: RandomForestClassifier(**_trees(rng)),
    "extra_trees": lambda rng: ExtraTreesClassifier(**_trees(rng)),
    "gradient_boosting": lambda rng: GradientBoostingClassifier(**_trees(rng)),
    "hist_gradient_boosting": lambda rng: HistGradientBoostingClassifier(
        **_boosting(rng)
    ),
    "logistic_regression": lambda rng: LogisticRegression(
        C=float(rng.uniform(0.1, 10))
    ),
    "pipeline_scalers_logistic": lambda rng: make_pipeline(
        _scaler(rng), _scaler(rng), LogisticRegression()
    ),
    "pipeline_scaler_forest": lambda rng: make_pipeline(
        _scaler(rng), RandomForestClassifier(**_trees(rng))
    ),
}
REGRESSORS: dict[str, Factory] = {
    "random_forest": lambda rng: RandomForestRegressor(**_trees(rng)),
    "extra_trees": lambda rng: ExtraTreesRegressor(**_trees(rng)),
    "gradient_boosting": lambda rng: GradientBoostingRegressor(**_trees(rng)),
    "hist_gradient_boosting": lambda rng: HistGradientBoostingRegressor(
        **_boosting(rng)
    ),
    "linear_regression": lambda rng: LinearRegression(),
    "ridge": lambda rng: Ridge(alpha=float(rng.uniform(0.1, 10))),
    "pipeline_scaler_ridge": lambda rng: make_pipeline(_scaler(rng), Ridge()),
}


def _data(
    rng: np.random.Generator, *, nan: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return training rows, fresh rows to score (float32), and a signal per row."""
    n_features = int(rng.integers(2, 11))
    x = rng.normal(size=(int(rng.integers(40, 300)), n_features)).astype(np.float32)
    fresh = rng.normal(size=(300, n_features)).astype(np.float32)
    if nan:
        x[rng.random(x.shape) < 0.2] = np.nan
        fresh[rng.random(fresh.shape) < 0.2] = np.nan
    weights = rng.normal(size=n_features)
    signal = np.nan_to_num(x) @ weights + rng.normal(size=len(x))
    return x, fresh, signal


def _models(data: bytes) -> tuple:
    return load_model(data, backend="numpy"), load_model(data, backend="onnxruntime")


def _assert_labels(
    labels: np.ndarray, expected: np.ndarray, probabilities: np.ndarray, classes
) -> None:
    """Assert equal labels, except that a tie may go to any of the tied classes."""
    top = probabilities.max(axis=1, keepdims=True)
    tied = (top - probabilities) <= TIE
    for row, (label, reference) in enumerate(zip(labels, expected, strict=True)):
        if tied[row].sum() > 1:
            assert label in classes[tied[row]], row
        else:
            assert label == reference, row


def _close(actual: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_allclose(actual, expected, atol=TOLERANCE, rtol=0)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("family", CLASSIFIERS)
def test_classifiers_agree_three_ways(family: str, seed: int) -> None:
    rng = np.random.default_rng([1, seed, len(family)])
    x, fresh, signal = _data(rng, nan=family.startswith("hist"))
    n_classes = int(rng.integers(2, 6))
    edges = np.quantile(signal, np.linspace(0, 1, n_classes + 1)[1:-1])
    y = np.digitize(signal, edges)
    if rng.random() < 0.5:
        y = np.array(["apartment", "cottage", "house", "ranch", "studio"])[y]
    estimator = CLASSIFIERS[family](rng).fit(x, y)
    numpy_model, ort_model = _models(export_onnx(estimator, x.shape[1], metadata={}))
    expected = estimator.predict_proba(fresh)
    mine, theirs = numpy_model.predict(fresh), ort_model.predict(fresh)
    assert mine.labels.tolist() == theirs.labels.tolist()
    for prediction in (mine, theirs):
        assert prediction.classes == tuple(estimator.classes_.tolist())
        _close(prediction.probabilities, expected)
    _assert_labels(mine.labels, estimator.predict(fresh), expected, estimator.classes_)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("family", REGRESSORS)
def test_regressors_agree_three_ways(family: str, seed: int) -> None:
    rng = np.random.default_rng([2, seed, len(family)])
    x, fresh, signal = _data(rng, nan=family.startswith("hist"))
    estimator = REGRESSORS[family](rng).fit(x, signal)
    numpy_model, ort_model = _models(export_onnx(estimator, x.shape[1], metadata={}))
    expected = estimator.predict(fresh)
    for model in (numpy_model, ort_model):
        _close(model.predict(fresh).values, expected)


@pytest.mark.parametrize("seed", SEEDS)
def test_isolation_forests_agree_three_ways(seed: int) -> None:
    rng = np.random.default_rng([3, seed])
    x, fresh, _ = _data(rng, nan=False)
    estimator = IsolationForest(
        n_estimators=int(rng.integers(1, 9)),
        max_samples=int(rng.integers(2, len(x))),
        random_state=seed,
    ).fit(x)
    numpy_model, ort_model = _models(export_onnx(estimator, x.shape[1], metadata={}))
    for model in (numpy_model, ort_model):
        prediction = model.predict(fresh)
        _close(prediction.scores, estimator.decision_function(fresh))
        _close(prediction.values, estimator.score_samples(fresh))
        assert prediction.labels.tolist() == estimator.predict(fresh).tolist()
