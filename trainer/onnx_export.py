"""Export fitted scikit-learn models to ONNX files that HomeIQ's evaluator accepts.

Every model the trainer delivers goes through `export_onnx`: skl2onnx with the core's
`TARGET_OPSET`, one float32 input named `INPUT_NAME`, classifiers without ZipMap
(probabilities as a plain [rows, classes] tensor), IsolationForest with its
score_samples output, and HomeIQ's metadata in metadata_props. The result is then
loaded by `homeiq_core.inference` (numpy backend), so a file this function returns
is one the integration will run.

HistGradientBoosting and protobuf >= 7.34
-----------------------------------------
skl2onnx 1.20 converts HistGradientBoosting trees with
`skl2onnx.common.tree_ensemble.add_tree_to_attribute_pairs_hist_gradient_boosting`,
which records `missing = False`, a Python bool, as the
`nodes_missing_value_tracks_true` entry of every leaf (branches get numpy uint8s).
`onnx.helper.make_attribute` stores that list in the repeated int64
`AttributeProto.ints`, and protobuf's Python runtime rejects bools in integer fields
since 7.34 (earlier versions warned): "Field onnx.AttributeProto.ints: Expected an
int, got a boolean". Every HistGradientBoosting export fails, since every tree has
leaves. The fix here is the narrowest one: for these two estimator types only, and
only in this call (skl2onnx's `custom_conversion_functions`, no global registration),
skl2onnx's own converter runs with a container whose `add_node` turns the entries of
that one attribute into ints. Nothing else of the conversion changes.

IsolationForest in one tree ensemble
------------------------------------
skl2onnx 1.20 converts each isolation tree into about 29 graph nodes (a Gather of the
tree's features, a TreeEnsembleRegressor that outputs leaf ids, LabelEncoders from leaf
to depth and to sample count, and the arithmetic of the average path length): 2,900
nodes for the default 100 trees. The numpy evaluator pays Python overhead per graph
node, so such a model (benchmarks/inference.py, 2-core shared machine, 2026-12-01)
loaded in 120 ms (target: 100 ms) and scored 1,000 devices in 36 ms, 2.3 x
onnxruntime's 16 ms; skl2onnx also refuses forests with max_features < 1.0. All that
per-leaf arithmetic is constant, so `convert_isolation_forest` puts each leaf's whole
path length into its weight, all trees into ONE TreeEnsembleRegressor that sums them,
and turns the sum into scikit-learn's outputs with eight elementwise nodes, whatever
the number of trees. The same model then loaded in 10 ms and scored in 2.4 ms
(onnxruntime: 1.8 ms), within 2e-7 of scikit-learn. Like the HistGradientBoosting fix,
the converter is passed to this conversion only, and applies inside Pipelines too;
skl2onnx's parser and shape calculator still declare the outputs (label, scores,
score_samples), so files keep their output names, types and shapes.
"""

from collections.abc import Callable, Mapping
import json
from typing import Any

import numpy as np
from onnx import TensorProto, helper, numpy_helper
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from skl2onnx.operator_converters.random_forest import (
    convert_sklearn_random_forest_classifier,
    convert_sklearn_random_forest_regressor_converter,
)
from sklearn.base import BaseEstimator, is_classifier
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    IsolationForest,
)
from sklearn.pipeline import Pipeline

from homeiq_core import inference
from homeiq_core.inference import metadata as meta

INPUT_NAME = "features"
_MISSING_TRACKS = "nodes_missing_value_tracks_true"

type Converter = Callable[[Any, Any, Any], Any]


class ExportError(ValueError):
    """A model or metadata that cannot be exported as a HomeIQ model."""


class _IntMissingTracks:
    """skl2onnx's container, except that add_node passes missing tracks as ints."""

    __slots__ = ("_container",)

    def __init__(self, container: Any) -> None:
        object.__setattr__(self, "_container", container)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._container, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._container, name, value)

    def add_node(self, *args: Any, **attributes: Any) -> Any:
        """Add a node, with nodes_missing_value_tracks_true as a list of ints."""
        tracks = attributes.get(_MISSING_TRACKS)
        if tracks is not None:
            attributes[_MISSING_TRACKS] = [int(track) for track in tracks]
        return self._container.add_node(*args, **attributes)


def _with_int_missing_tracks(convert: Converter) -> Converter:
    """Return `convert` running on an `_IntMissingTracks` view of its container."""

    def converter(scope: Any, operator: Any, container: Any) -> Any:
        return convert(scope, operator, _IntMissingTracks(container))

    return converter


HISTOGRAM_GRADIENT_BOOSTING_CONVERTERS: Mapping[type, Converter] = {
    HistGradientBoostingClassifier: _with_int_missing_tracks(
        convert_sklearn_random_forest_classifier
    ),
    HistGradientBoostingRegressor: _with_int_missing_tracks(
        convert_sklearn_random_forest_regressor_converter
    ),
}
"""skl2onnx converters for HistGradientBoosting, fixed for protobuf >= 7.34."""


def _average_path_length(n_samples: np.ndarray) -> np.ndarray:
    """Return c(n), the average path length of an unsuccessful search in n samples.

    The same float64 formula as scikit-learn's private
    `sklearn.ensemble._iforest._average_path_length`: 0 for n <= 1, 1 for n = 2,
    else 2 (ln(n - 1) + Euler's gamma) - 2 (n - 1) / n.
    """
    n = np.asarray(n_samples, dtype=np.float64)
    many = np.maximum(n, 3.0)  # keeps log() defined where the formula is not used
    formula = 2.0 * (np.log(many - 1.0) + np.euler_gamma) - 2.0 * (many - 1.0) / many
    return np.where(n <= 1, 0.0, np.where(n == 2, 1.0, formula))


def _path_lengths(tree: Any) -> np.ndarray:
    """Return each node's path length as scikit-learn scores a leaf (float64).

    scikit-learn adds, per tree, `compute_node_depths()` (1 at the root, so a leaf's
    count of nodes on its path, not of edges) + c(n_node_samples) - 1.0.
    """
    depths = tree.compute_node_depths().astype(np.float64)
    return depths + _average_path_length(tree.n_node_samples) - 1.0


def _float32_at_most(thresholds: np.ndarray) -> np.ndarray:
    """Return the largest float32 <= each float64 threshold.

    scikit-learn compares float32 inputs with float64 thresholds; ONNX compares them
    with float32 ones. For a float32 x, x <= t exactly when x <= this value, whereas
    rounding t to nearest could send an x equal to the rounded-up t the other way.
    (skl2onnx's tree converters adjust thresholds the same way.)
    """
    rounded = thresholds.astype(np.float32)
    above = rounded.astype(np.float64) > thresholds
    rounded[above] = np.nextafter(rounded[above], np.float32(-np.inf))
    return rounded


def _exponent_factor(forest: IsolationForest) -> tuple[float, bool]:
    """Return the exponent factor, and whether leaves weigh their path lengths.

    scikit-learn's score is -2^e with e = -depths / (n_trees c(max_samples_)), the
    factor times the summed leaf weights. It divides by the private `_max_samples`:
    the integer `max_samples_` that IsolationForest hands to the bagging fit. When
    c(max_samples_) = 0 (max_samples_ = 1) it takes e = -1 for every row instead of
    dividing by 0: leaves then weigh 1 each, so the float32 sum is exactly n_trees,
    and the factor is -1 / n_trees.
    """
    n_trees = len(forest.estimators_)
    denominator = n_trees * float(_average_path_length(forest.max_samples_))
    if denominator:
        return -1.0 / denominator, True
    return -1.0 / n_trees, False


def _forest_attributes(forest: IsolationForest, *, paths: bool) -> dict[str, Any]:
    """Return the attributes of one TreeEnsembleRegressor summing all trees.

    Leaves weigh their path lengths (`paths`) or 1; feature ids go through each
    tree's feature subset, `estimators_features_[i]`.
    """
    columns: dict[str, list[np.ndarray]] = {}
    for index, (estimator, features) in enumerate(
        zip(forest.estimators_, forest.estimators_features_, strict=True)
    ):
        tree = _tree_columns(index, estimator.tree_, features, paths=paths)
        for name, values in tree.items():
            columns.setdefault(name, []).append(values)
    return {
        **{name: np.concatenate(values).tolist() for name, values in columns.items()},
        "n_targets": 1,
        "aggregate_function": "SUM",
        "post_transform": "NONE",
    }


def _tree_columns(
    index: int, tree: Any, features: np.ndarray, *, paths: bool
) -> dict[str, np.ndarray]:
    """Return one tree's node and leaf attribute values, as arrays."""
    nodes = np.arange(tree.node_count)
    leaf = tree.children_left == -1
    branch = ~leaf
    leaves = int(leaf.sum())
    return {
        "nodes_treeids": np.full(tree.node_count, index),
        "nodes_nodeids": nodes,
        "nodes_featureids": np.where(
            branch, np.asarray(features)[np.maximum(tree.feature, 0)], 0
        ),
        "nodes_modes": np.where(leaf, "LEAF", "BRANCH_LEQ"),
        "nodes_values": np.where(branch, _float32_at_most(tree.threshold), 0.0),
        "nodes_truenodeids": np.where(branch, tree.children_left, 0),
        "nodes_falsenodeids": np.where(branch, tree.children_right, 0),
        # NaN goes where scikit-learn sends it: the side its random splitter drew
        # for NaN seen in training, else the child that got more samples
        "nodes_missing_value_tracks_true": np.where(
            branch, tree.missing_go_to_left, 0
        ).astype(np.int64),
        "target_treeids": np.full(leaves, index),
        "target_nodeids": nodes[leaf],
        "target_ids": np.zeros(leaves, dtype=np.int64),
        "target_weights": _path_lengths(tree)[leaf] if paths else np.ones(leaves),
    }


def convert_isolation_forest(scope: Any, operator: Any, container: Any) -> None:
    """Convert an IsolationForest to one tree ensemble and eight elementwise nodes.

    depths = sum of the trees' leaf path lengths (in float32), then
    score_samples = -2^(-depths / (n_trees c(max_samples_))),
    scores = score_samples - offset_, label = 1 - 2 (scores < 0) as int64
    (scikit-learn: -1 where decision_function < 0, else 1).
    """
    forest = operator.raw_operator
    if not isinstance(operator.inputs[0].type, FloatTensorType):
        # scikit-learn scores float32 inputs; wider ones would route differently
        raise ExportError("IsolationForest is exported for float32 inputs only")
    factor, paths = _exponent_factor(forest)
    outputs = [variable.full_name for variable in operator.outputs]
    graph = _GraphWriter(scope, container)
    depths = graph.node(
        "TreeEnsembleRegressor",
        [operator.inputs[0].full_name],
        op_domain="ai.onnx.ml",
        op_version=1,
        **_forest_attributes(forest, paths=paths),
    )
    exponent = graph.node("Mul", [depths, graph.constant(factor)])
    power = graph.node("Pow", [graph.constant(2.0), exponent])
    # score_samples is a graph output only with the option export_onnx sets
    samples = graph.node("Neg", [power], output=(outputs[2:] or [None])[0])
    offset = graph.constant(forest.offset_)
    scores = graph.node("Sub", [samples, offset], output=outputs[1])
    outlier = graph.node("Less", [scores, graph.constant(0.0)])
    is_outlier = graph.node("Cast", [outlier], to=TensorProto.INT64)
    twice = graph.node("Mul", [is_outlier, graph.constant(-2, np.int64)])
    graph.node("Add", [twice, graph.constant(1, np.int64)], output=outputs[0])


class _GraphWriter:
    """Adds nodes and one-element constants to a skl2onnx container."""

    def __init__(self, scope: Any, container: Any) -> None:
        self._scope = scope
        self._container = container

    def constant(self, value: float, dtype: type = np.float32) -> str:
        """Return the name of a new [1] initializer holding `value`."""
        name = self._scope.get_unique_variable_name("if_constant")
        tensor = numpy_helper.from_array(np.array([value], dtype=dtype), name)
        self._container.add_initializer(name, tensor.data_type, [1], tensor)
        return name

    def node(
        self,
        op_type: str,
        inputs: list[str],
        *,
        output: str | None = None,
        op_domain: str = "",
        op_version: int | None = None,
        **attributes: Any,
    ) -> str:
        """Add a node and return its output's name (`output`, or a new one)."""
        name = output or self._scope.get_unique_variable_name(op_type.lower())
        self._container.add_node(
            op_type,
            inputs,
            [name],
            op_domain=op_domain,
            op_version=op_version or self._container.target_opset,
            name=self._scope.get_unique_operator_name(f"IsolationForest{op_type}"),
            **attributes,
        )
        return name


CONVERTERS: Mapping[type, Converter] = {
    **HISTOGRAM_GRADIENT_BOOSTING_CONVERTERS,
    IsolationForest: convert_isolation_forest,
}
"""The converters `export_onnx` passes to skl2onnx for this conversion only."""


def export_onnx(
    estimator: BaseEstimator, n_features: int, *, metadata: Mapping[str, str]
) -> bytes:
    """Return the ONNX file of a fitted estimator (or Pipeline) with `metadata`.

    `metadata` goes into metadata_props; keys in the "homeiq." namespace must be
    among `homeiq_core.inference.METADATA_KEYS`, and feature names and classes, when
    given, must agree with the estimator. Raises ExportError for anything refused.
    """
    _check_metadata(estimator, n_features, metadata)
    _check_supported(estimator)
    onx = convert_sklearn(
        estimator,
        initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
        target_opset=dict(inference.TARGET_OPSET),
        options=_options(estimator),
        custom_conversion_functions=dict(CONVERTERS),
    )
    helper.set_model_props(onx, dict(metadata))
    data = onx.SerializeToString()
    try:
        inference.load_model(data, backend="numpy")
    except inference.ModelError as error:
        raise ExportError(
            f"the exported model is refused by the evaluator: {error}"
        ) from error
    return data


def _estimators(estimator: BaseEstimator) -> list[BaseEstimator]:
    """Return the estimator and, for a Pipeline, its steps."""
    if isinstance(estimator, Pipeline):
        return [
            estimator,
            *(step for _, step in estimator.steps if step != "passthrough"),
        ]
    return [estimator]


def _final(estimator: BaseEstimator) -> BaseEstimator:
    """Return the last step of a Pipeline, or the estimator itself."""
    return estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator


def _options(estimator: BaseEstimator) -> dict[int, dict[str, bool]]:
    """Return skl2onnx options: no ZipMap, and IsolationForest's score_samples."""
    options: dict[int, dict[str, bool]] = {}
    for part in _estimators(estimator):
        if is_classifier(part) and not isinstance(part, Pipeline):
            options[id(part)] = {"zipmap": False}
        if isinstance(part, IsolationForest):
            options[id(part)] = {"score_samples": True}
    return options


def _check_supported(estimator: BaseEstimator) -> None:
    """Refuse estimators whose conversion would silently change predictions."""
    for part in _estimators(estimator):
        categorical = getattr(part, "is_categorical_", None)
        if isinstance(
            part, HistGradientBoostingClassifier | HistGradientBoostingRegressor
        ) and (categorical is not None and np.any(categorical)):
            raise ExportError(
                "HistGradientBoosting with categorical features cannot be exported: "
                "skl2onnx ignores their category sets"
            )


def _check_metadata(
    estimator: BaseEstimator, n_features: int, metadata: Mapping[str, str]
) -> None:
    """Refuse metadata that is not all strings, unknown, or contradicts the model."""
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ExportError(f"metadata {key!r} must map a string to a string")
        if key.startswith("homeiq.") and key not in meta.METADATA_KEYS:
            raise ExportError(f"unknown HomeIQ metadata key '{key}'")
    values = dict(metadata)
    try:
        names = meta.feature_names(values)
        classes = meta.class_labels(values)
    except inference.ModelError as error:
        raise ExportError(str(error)) from None
    if names is not None and len(names) != n_features:
        raise ExportError(f"{len(names)} feature names for {n_features} features")
    final = _final(estimator)
    if classes is not None:
        fitted = getattr(final, "classes_", None)
        if fitted is None:
            raise ExportError(f"{meta.CLASSES} given for a model without classes")
        expected = json.loads(json.dumps(np.asarray(fitted).tolist()))
        if list(classes) != expected:
            raise ExportError(
                f"{meta.CLASSES} {list(classes)} differs from the model's {expected}"
            )
