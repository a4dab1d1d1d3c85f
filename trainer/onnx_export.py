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
"""

from collections.abc import Callable, Mapping
import json
from typing import Any

import numpy as np
from onnx import helper
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
        custom_conversion_functions=dict(HISTOGRAM_GRADIENT_BOOSTING_CONVERTERS),
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
