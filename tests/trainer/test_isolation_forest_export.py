"""IsolationForest exports agree three ways: numpy, onnxruntime and scikit-learn.

export_onnx converts an IsolationForest with its own converter (one
TreeEnsembleRegressor whose leaves weigh their path lengths, see
`homeiq_trainer.onnx_export`). Scores must match scikit-learn's `score_samples` and
`decision_function` to 1e-5 with both backends, and labels `predict`, except on rows
whose decision value is within 1e-5 of 0: the graph decides in float32 where
scikit-learn decides in float64, so such a row may fall on either side of the
threshold. A contamination offset is a percentile of the training scores, so training
rows can sit exactly on it; they are scored here too.
"""

from collections.abc import Callable

import numpy as np
import onnx
import pytest
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
from sklearn.base import BaseEstimator
from sklearn.ensemble import IsolationForest
from sklearn.ensemble._iforest import _average_path_length as sklearn_path_length
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from homeiq_core.inference import TARGET_OPSET, Model, load_model
from homeiq_trainer.onnx_export import (
    CONVERTERS,
    INPUT_NAME,
    ExportError,
    _average_path_length,
    export_onnx,
)

TOLERANCE = 1e-5
N_FEATURES = 5
RNG = np.random.default_rng(7)
# every row three times, so that leaves hold several samples (c(n) for n > 2)
X = np.repeat(RNG.normal(size=(150, N_FEATURES)), 3, axis=0).astype(np.float32)
X_NAN = X.copy()
X_NAN[RNG.random(X.shape) < 0.1] = np.nan
FRESH = RNG.normal(scale=1.5, size=(400, N_FEATURES)).astype(np.float32)
FRESH[RNG.random(FRESH.shape) < 0.05] = np.nan

CASES: dict[str, tuple[Callable[[], BaseEstimator], np.ndarray]] = {
    "one_tree": (lambda: IsolationForest(n_estimators=1, random_state=0), X),
    "small_int_max_samples": (
        lambda: IsolationForest(n_estimators=7, max_samples=5, random_state=1),
        X,
    ),
    "float_max_samples_float_contamination": (
        lambda: IsolationForest(
            n_estimators=20, max_samples=0.3, contamination=0.1, random_state=2
        ),
        X,
    ),
    "auto_max_samples_100_trees": (
        lambda: IsolationForest(n_estimators=100, random_state=3),
        X,
    ),
    "feature_subsets": (
        lambda: IsolationForest(
            n_estimators=30, max_features=0.6, contamination=0.05, random_state=4
        ),
        X,
    ),
    "bootstrap": (
        lambda: IsolationForest(
            n_estimators=25,
            max_samples=200,
            max_features=3,
            bootstrap=True,
            contamination=0.2,
            random_state=5,
        ),
        X,
    ),
    "fitted_on_nan": (lambda: IsolationForest(n_estimators=30, random_state=6), X_NAN),
    "pipeline_with_scaler": (
        lambda: make_pipeline(
            StandardScaler(),
            IsolationForest(n_estimators=30, max_features=0.8, random_state=7),
        ),
        X * 20 + 3,
    ),
    "max_samples_one": (
        lambda: IsolationForest(n_estimators=6, max_samples=1, random_state=8),
        X,
    ),
}


def _models(data: bytes) -> list[Model]:
    return [load_model(data, backend=backend) for backend in ("numpy", "onnxruntime")]


def _forest(estimator: BaseEstimator) -> IsolationForest:
    return estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator


def _assert_agrees(
    models: list[Model], estimator: BaseEstimator, x: np.ndarray
) -> None:
    samples = estimator.score_samples(x)
    decision = estimator.decision_function(x)
    sure = np.abs(decision) > TOLERANCE  # labels elsewhere may go either way
    for model in models:
        prediction = model.predict(x)
        np.testing.assert_allclose(prediction.values, samples, rtol=0, atol=TOLERANCE)
        np.testing.assert_allclose(prediction.scores, decision, rtol=0, atol=TOLERANCE)
        np.testing.assert_array_equal(
            prediction.labels[sure], estimator.predict(x)[sure]
        )


@pytest.mark.parametrize("case", CASES)
def test_isolation_forests_agree_three_ways(case: str) -> None:
    make, x = CASES[case]
    estimator = make().fit(x)
    models = _models(export_onnx(estimator, N_FEATURES, metadata={}))
    for rows in (FRESH, x):
        _assert_agrees(models, estimator, rows)
    numpy_model, ort_model = models
    np.testing.assert_allclose(
        numpy_model.run(FRESH)["scores"], ort_model.run(FRESH)["scores"], atol=1e-6
    )


def test_a_decision_of_exactly_zero_is_an_inlier_as_in_sklearn() -> None:
    # max_samples=1: scikit-learn scores -0.5 everywhere, the "auto" offset
    estimator = IsolationForest(n_estimators=3, max_samples=1, random_state=0).fit(X)
    assert set(estimator.decision_function(FRESH)) == {0.0}
    for model in _models(export_onnx(estimator, N_FEATURES, metadata={})):
        prediction = model.predict(FRESH)
        assert set(prediction.scores.tolist()) == {0.0}
        assert set(prediction.labels.tolist()) == {1} == set(estimator.predict(FRESH))


def test_the_cases_cover_shared_leaves_subsets_and_contamination() -> None:
    forests = {case: _forest(make().fit(x)) for case, (make, x) in CASES.items()}
    sizes = [
        tree.tree_.n_node_samples[tree.tree_.children_left == -1]
        for forest in forests.values()
        for tree in forest.estimators_
    ]
    assert {1, 2} <= set(np.concatenate(sizes).tolist())
    assert np.concatenate(sizes).max() >= 3
    assert forests["feature_subsets"].estimators_features_[0].size == 3
    assert forests["float_max_samples_float_contamination"].offset_ != -0.5
    assert forests["max_samples_one"].max_samples_ == 1


def test_rows_on_the_float32_roundings_of_thresholds_take_sklearn_branches() -> None:
    """scikit-learn tests float32 x <= float64 t; rounding t to nearest would flip
    the rows equal to a rounded-up t (226 of these 514 rows, measured)."""
    estimator = IsolationForest(n_estimators=10, random_state=0).fit(X)
    rows, rounded_up = [], 0
    for tree, features in zip(
        estimator.estimators_, estimator.estimators_features_, strict=True
    ):
        reached = tree.decision_path(X[:, features])
        for node in np.flatnonzero(tree.tree_.children_left != -1):
            threshold = tree.tree_.threshold[node]
            row = X[reached[:, node].nonzero()[0][0]].copy()
            row[features[tree.tree_.feature[node]]] = np.float32(threshold)
            rounded_up += float(np.float32(threshold)) > threshold
            rows.append(row)
    assert rounded_up > len(rows) / 4
    models = _models(export_onnx(estimator, N_FEATURES, metadata={}))
    _assert_agrees(models, estimator, np.array(rows))


def test_average_path_length_is_sklearns() -> None:
    n = np.r_[0:3000, 65_536, 10**9]
    np.testing.assert_array_equal(_average_path_length(n), sklearn_path_length(n))


@pytest.mark.parametrize("seed", range(4))
def test_skl2onnx_own_isolation_forest_graphs_still_run(seed: int) -> None:
    """The evaluator keeps running skl2onnx's per-tree graphs (files exported before
    HomeIQ's converter, or by other tools): ~29 nodes per tree."""
    rng = np.random.default_rng(seed)
    estimator = IsolationForest(
        n_estimators=int(rng.integers(1, 6)),
        max_samples=int(rng.integers(2, len(X))),
        contamination=[0.1, "auto"][seed % 2],
        random_state=seed,
    ).fit(X)
    onx = convert_sklearn(
        estimator,
        initial_types=[(INPUT_NAME, FloatTensorType([None, N_FEATURES]))],
        target_opset=dict(TARGET_OPSET),
        options={id(estimator): {"score_samples": True}},
    )
    assert len(onx.graph.node) > 25 * estimator.n_estimators
    finite = np.nan_to_num(FRESH)  # skl2onnx drops where NaN goes
    _assert_agrees(_models(onx.SerializeToString()), estimator, finite)


def test_wider_inputs_are_refused() -> None:
    estimator = IsolationForest(n_estimators=2, random_state=0).fit(X)
    with pytest.raises(ExportError, match="float32 inputs only"):
        convert_sklearn(
            estimator,
            initial_types=[(INPUT_NAME, DoubleTensorType([None, N_FEATURES]))],
            target_opset=dict(TARGET_OPSET),
            custom_conversion_functions=dict(CONVERTERS),
        )


@pytest.mark.parametrize("score_samples", [True, False])
def test_outputs_are_those_of_skl2onnx_converter(score_samples: bool) -> None:
    estimator = IsolationForest(n_estimators=3, random_state=0).fit(X)

    def convert(converters: dict) -> onnx.ModelProto:
        return convert_sklearn(
            estimator,
            initial_types=[(INPUT_NAME, FloatTensorType([None, N_FEATURES]))],
            target_opset=dict(TARGET_OPSET),
            options={id(estimator): {"score_samples": score_samples}},
            custom_conversion_functions=converters,
        )

    ours, theirs = convert(dict(CONVERTERS)), convert({})
    assert list(ours.graph.output) == list(theirs.graph.output)
    names = ["label", "scores", "score_samples"][: 2 + score_samples]
    assert [output.name for output in ours.graph.output] == names
    for backend in ("numpy", "onnxruntime"):
        outputs = load_model(ours.SerializeToString(), backend=backend).run(FRESH)
        assert outputs["label"].shape == (len(FRESH), 1)
        assert outputs["label"].dtype == np.int64
        np.testing.assert_allclose(
            outputs["scores"].ravel(), estimator.decision_function(FRESH), atol=1e-5
        )
