"""export_onnx writes models the evaluator runs, with HomeIQ's opsets and metadata."""

import json

import numpy as np
import onnx
from onnx import helper
import pytest
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    IsolationForest,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from homeiq_core.inference import (
    CLASSES,
    FEATURE_NAMES,
    METRICS,
    MODEL_KIND,
    TARGET_OPSET,
    load_model,
)
from homeiq_trainer.onnx_export import INPUT_NAME, ExportError, export_onnx

RNG = np.random.default_rng(0)
X = RNG.normal(size=(200, 4)).astype(np.float32)
X_NAN = X.copy()
X_NAN[RNG.random(X.shape) < 0.2] = np.nan
Y3 = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)


def attribute(model: onnx.ModelProto, op_type: str, name: str) -> list:
    node = next(n for n in model.graph.node if n.op_type == op_type)
    return helper.get_attribute_value(next(a for a in node.attribute if a.name == name))


def test_plain_skl2onnx_fails_on_histogram_gradient_boosting() -> None:
    """The bug the exporter works around (remove the workaround when this fails)."""
    model = HistGradientBoostingClassifier(max_iter=3).fit(X_NAN, Y3)
    with pytest.raises(ValueError, match="Unable to create node") as failure:
        convert_sklearn(
            model, initial_types=[("x", FloatTensorType([None, 4]))], target_opset=21
        )
    assert "Expected an int, got a boolean" in str(failure.value.__cause__)


@pytest.mark.parametrize(
    "estimator",
    [
        HistGradientBoostingClassifier(max_iter=5, random_state=0),
        HistGradientBoostingRegressor(max_iter=5, random_state=0),
        make_pipeline(StandardScaler(), HistGradientBoostingClassifier(max_iter=5)),
    ],
    ids=["classifier", "regressor", "pipeline"],
)
def test_histogram_gradient_boosting_exports_with_its_missing_value_routing(
    estimator,
) -> None:
    target = Y3 if hasattr(estimator, "predict_proba") else np.nan_to_num(X_NAN[:, 0])
    estimator.fit(X_NAN, target)
    data = export_onnx(estimator, 4, metadata={})
    op = (
        "TreeEnsembleClassifier"
        if hasattr(estimator, "predict_proba")
        else ("TreeEnsembleRegressor")
    )
    tracks = attribute(
        onnx.load_from_string(data), op, "nodes_missing_value_tracks_true"
    )
    assert set(tracks) == {0, 1}  # both routes learned, stored as ints
    model = load_model(data, backend="numpy")
    if hasattr(estimator, "predict_proba"):
        np.testing.assert_allclose(
            model.predict(X_NAN).probabilities,
            estimator.predict_proba(X_NAN),
            atol=1e-5,
        )
    else:
        np.testing.assert_allclose(
            model.predict(X_NAN).values, estimator.predict(X_NAN), atol=1e-5
        )
    # the fix is passed to this conversion only: skl2onnx itself is unchanged
    test_plain_skl2onnx_fails_on_histogram_gradient_boosting()


def test_exports_carry_homeiq_opsets_input_outputs_and_metadata() -> None:
    estimator = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, Y3)
    metadata = {
        MODEL_KIND: "home_type",
        FEATURE_NAMES: json.dumps(["a", "b", "c", "d"]),
        CLASSES: json.dumps([0, 1, 2]),
        METRICS: json.dumps({"log_loss": 0.5}),
        "note": "free text",
    }
    model = onnx.load_from_string(export_onnx(estimator, 4, metadata=metadata))
    assert {p.key: p.value for p in model.metadata_props} == metadata
    opsets = {o.domain: o.version for o in model.opset_import}
    assert opsets[""] == TARGET_OPSET[""]
    assert opsets["ai.onnx.ml"] <= TARGET_OPSET["ai.onnx.ml"]
    (graph_input,) = model.graph.input
    assert graph_input.name == INPUT_NAME
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert [d.dim_value for d in graph_input.type.tensor_type.shape.dim] == [0, 4]
    assert "ZipMap" not in {n.op_type for n in model.graph.node}
    assert [o.name for o in model.graph.output] == ["label", "probabilities"]


def test_isolation_forests_export_their_score_samples() -> None:
    estimator = IsolationForest(n_estimators=3, random_state=0).fit(X)
    model = load_model(export_onnx(estimator, 4, metadata={}), backend="numpy")
    assert model.output_names == ("label", "scores", "score_samples")
    np.testing.assert_allclose(
        model.predict(X).values, estimator.score_samples(X), atol=1e-5
    )


@pytest.mark.parametrize("trees", [1, 100])
def test_isolation_forests_export_as_one_tree_ensemble_whatever_the_trees(
    trees: int,
) -> None:
    estimator = make_pipeline(
        StandardScaler(), IsolationForest(n_estimators=trees, random_state=0)
    ).fit(X)
    model = onnx.load_from_string(export_onnx(estimator, 4, metadata={}))
    assert [n.op_type for n in model.graph.node] == [
        "Scaler",
        "TreeEnsembleRegressor",
        "Mul",
        "Pow",
        "Neg",
        "Sub",
        "Less",
        "Cast",
        "Mul",
        "Add",
    ]
    tree_ids = attribute(model, "TreeEnsembleRegressor", "nodes_treeids")
    assert len(set(tree_ids)) == trees
    assert attribute(model, "TreeEnsembleRegressor", "aggregate_function") == b"SUM"


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({MODEL_KIND: 1}, "must map a string to a string"),
        ({"homeiq.colour": "blue"}, "unknown HomeIQ metadata key 'homeiq.colour'"),
        ({FEATURE_NAMES: '["a", "b"]'}, "2 feature names for 4 features"),
        ({FEATURE_NAMES: "not json"}, "is not valid JSON"),
        ({CLASSES: "[0, 1]"}, r"homeiq.classes \[0, 1\] differs from the model's"),
    ],
)
def test_inconsistent_metadata_is_refused(metadata: dict, message: str) -> None:
    estimator = LogisticRegression().fit(X, Y3)
    with pytest.raises(ExportError, match=message):
        export_onnx(estimator, 4, metadata=metadata)


def test_classes_for_a_regressor_are_refused() -> None:
    estimator = RandomForestRegressor(n_estimators=2).fit(X, X[:, 0])
    with pytest.raises(ExportError, match="given for a model without classes"):
        export_onnx(estimator, 4, metadata={CLASSES: "[1]"})


def test_categorical_histogram_gradient_boosting_is_refused() -> None:
    x = np.c_[X[:, :3], RNG.integers(0, 3, len(X))].astype(np.float32)
    estimator = HistGradientBoostingClassifier(
        max_iter=3, categorical_features=[3]
    ).fit(x, Y3)
    with pytest.raises(ExportError, match="categorical features cannot be exported"):
        export_onnx(estimator, 4, metadata={})


def test_models_the_evaluator_refuses_are_not_exported() -> None:
    estimator = KNeighborsClassifier(n_neighbors=3).fit(X, Y3)
    with pytest.raises(
        ExportError, match=r"subgraph attribute 'body' of node 0 \(Scan\)"
    ):
        export_onnx(estimator, 4, metadata={})


def test_the_container_view_passes_attribute_writes_through() -> None:
    from types import SimpleNamespace  # noqa: PLC0415

    from homeiq_trainer.onnx_export import _IntMissingTracks  # noqa: PLC0415

    container = SimpleNamespace(target_opset=21)
    view = _IntMissingTracks(container)
    view.target_opset = 22
    assert container.target_opset == 22
    assert view.target_opset == 22
