"""Loading a model file and asking it for predictions: the evaluator's public face."""

from collections.abc import Sequence
from dataclasses import dataclass
import os
from pathlib import Path

import numpy as np

from . import metadata as meta
from .backends import Backend, BackendName, create_backend
from .errors import ModelError
from .graph import CLASS_LABEL_ATTRIBUTES, Plan, compile_model
from .limits import DEFAULT_MAX_BYTES, MIB
from .onnx_proto import DTYPES, TYPE_NAMES, ModelProto, decode_model
from .ops import Value

# Output names skl2onnx gives classifiers (with and without ZipMap) and outlier models.
_LABEL_OUTPUTS = ("label", "output_label")
_PROBABILITY_OUTPUTS = ("probabilities", "output_probability")
_SCORE_OUTPUT = "scores"
_SAMPLE_SCORE_OUTPUT = "score_samples"
_CLASSIFIER_OPS = {"TreeEnsembleClassifier", "LinearClassifier", "ZipMap"}
# A batch every model evaluates at load time: a row of zeros, of ones, of NaN.
_PROBE_ROWS = (0.0, 1.0, np.nan)


@dataclass(frozen=True, slots=True)
class Prediction:
    """A model's answer for a batch of rows, in the form its kind calls for.

    Classifiers fill `labels`, `probabilities` (rows x classes, float32, columns in
    the order of `classes`) and `classes`; regressors fill `values` (one per row, or
    rows x targets); outlier detectors fill `labels` (1 normal, -1 outlier), `scores`
    (decision function, negative for outliers) and, when exported, `values` (the raw
    anomaly score, score_samples).
    """

    labels: np.ndarray | None = None
    probabilities: np.ndarray | None = None
    classes: tuple[str | int, ...] | None = None
    values: np.ndarray | None = None
    scores: np.ndarray | None = None


class Model:
    """A checked ONNX model, bound to the backend that evaluates it.

    Create one with `load_model`. `run` and `predict` take a [rows, n_features] array
    (converted to float32, which the models are trained on) and may be called from
    any thread. `kind` is "classifier", "regressor", "outlier" or "other", read from
    the output names skl2onnx gives (label, probabilities, scores, variable).
    """

    def __init__(self, proto: ModelProto, plan: Plan, backend: Backend) -> None:
        """Bind a decoded, compiled model to its backend (see `load_model`)."""
        self.metadata: dict[str, str] = dict(proto.metadata)
        self.producer = proto.producer
        self.opsets: dict[str, int] = dict(proto.opsets)
        self.input_name = plan.input_name
        self.n_features = plan.n_features
        self.output_names = plan.output_names
        self.feature_names = meta.feature_names(self.metadata)
        if (
            self.feature_names is not None
            and len(self.feature_names) != self.n_features
        ):
            raise ModelError(
                f"{meta.FEATURE_NAMES} names {len(self.feature_names)} features, "
                f"the model's input has {self.n_features}"
            )
        self._backend = backend
        self._roles = _roles(plan.output_names)
        self.kind = _kind(self._roles, plan.output_names)
        self.classes = (
            _classes(plan, self.metadata) if self.kind == "classifier" else None
        )

    @property
    def backend(self) -> str:
        """Return the backend's name: "numpy" or "onnxruntime"."""
        return self._backend.name

    def run(self, x: np.ndarray) -> dict[str, Value]:
        """Return every output of the model, by name, for the rows of `x`."""
        return self._backend.run(self._batch(x))

    def predict(self, x: np.ndarray) -> Prediction:
        """Return the model's prediction for the rows of `x`."""
        return self._prediction(self.run(x))

    def align(self, x: np.ndarray, names: Sequence[str]) -> np.ndarray:
        """Return the columns of `x`, named `names`, in the order the model expects.

        Extra columns are dropped; a feature the model needs but `names` lacks raises
        ModelError("feature 'x' missing"). A model without feature names only checks
        the column count.
        """
        array = np.asarray(x)
        if array.ndim != 2 or array.shape[1] != len(names):
            raise ModelError(f"{len(names)} column names for an array of {array.shape}")
        if len(set(names)) != len(names):
            raise ModelError("a column name appears twice")
        if self.feature_names is None:
            _check_count(len(names), self.n_features)
            return array
        position = {name: i for i, name in enumerate(names)}
        for name in self.feature_names:
            if name not in position:
                raise ModelError(f"feature '{name}' missing")
        return array[:, [position[name] for name in self.feature_names]]

    def _prediction(self, outputs: dict[str, Value]) -> Prediction:
        """Return the Prediction that `outputs` (from run) amount to."""
        roles = {role: outputs[name] for role, name in self._roles.items()}
        if self.kind == "classifier":
            return Prediction(
                labels=np.asarray(roles["labels"]).ravel(),
                probabilities=self._probability_matrix(roles["probabilities"]),
                classes=self.classes,
            )
        if self.kind == "outlier":
            samples = roles.get("samples")
            return Prediction(
                labels=np.asarray(roles["labels"]).ravel(),
                scores=np.asarray(roles["scores"]).ravel(),
                values=None if samples is None else np.asarray(samples).ravel(),
            )
        if self.kind == "regressor":
            values = np.asarray(outputs[self.output_names[0]])
            if values.ndim == 2 and values.shape[1] == 1:
                values = values.ravel()
            return Prediction(values=values)
        raise ModelError(
            f"model outputs {list(self.output_names)} are not a classifier's, "
            "a regressor's or an outlier detector's"
        )

    def _batch(self, x: np.ndarray) -> np.ndarray:
        """Return `x` as a C-contiguous float32 [rows, n_features] array."""
        array = np.asarray(x)
        if array.dtype.kind not in "biuf":
            raise ModelError(f"input must be numeric, not {array.dtype}")
        if array.ndim != 2:
            raise ModelError(
                f"input must be a 2-D array [rows, features], not {array.shape}"
            )
        _check_count(array.shape[1], self.n_features)
        return np.ascontiguousarray(array, dtype=np.float32)

    def _probability_matrix(self, value: Value) -> np.ndarray:
        """Return classifier probabilities as a float32 matrix, also from ZipMap."""
        if isinstance(value, list):
            classes = self.classes or ()
            return np.array(
                [[row[c] for c in classes] for row in value], dtype=np.float32
            ).reshape(len(value), len(classes))
        return np.asarray(value)

    def _check(self, plan: Plan) -> None:
        """Run the numpy plan on a tiny batch: broken graphs fail at load, not later.

        Checks the declared output types, that a classifier, regressor or outlier
        detector answers one row per input row, and that a classifier has one
        probability per class.
        """
        x = np.array([[v] * plan.n_features for v in _PROBE_ROWS], dtype=np.float32)
        outputs = plan.run(x)
        for info in plan.outputs:
            value = outputs[info.name]
            expected = (
                DTYPES.get(info.elem_type or 0) if info.kind == "tensor" else None
            )
            if (info.kind == "sequence") != isinstance(value, list) or (
                expected is not None and np.asarray(value).dtype != expected
            ):
                declared = TYPE_NAMES.get(info.elem_type or 0, info.kind)
                raise ModelError(
                    f"output '{info.name}' computes a value not {declared}"
                )
        if self.kind == "other":
            return
        rows = len(_PROBE_ROWS)
        for name in self._roles.values():
            value = outputs[name]
            size: int | None
            if isinstance(value, list):
                size = len(value)
            else:
                size = value.shape[0] if value.ndim else None
            if size != rows:
                raise ModelError(f"output '{name}' has no row per input row")
        prediction = self._prediction(outputs)
        if prediction.probabilities is not None:
            columns = prediction.probabilities.shape[1:]
            if self.classes is None or columns != (len(self.classes),):
                raise ModelError(
                    f"model has {len(self.classes or ())} class labels but "
                    f"probabilities of shape {prediction.probabilities.shape}"
                )

    def __repr__(self) -> str:
        """Return a short description for logs."""
        kind = self.metadata.get(meta.MODEL_KIND, self.kind)
        return f"<Model {kind} features={self.n_features} backend={self.backend}>"


def load_model(
    source: bytes | str | os.PathLike[str],
    *,
    backend: BackendName = "auto",
    max_bytes: int = DEFAULT_MAX_BYTES,
    expected_features: Sequence[str] | None = None,
) -> Model:
    """Load, check and compile an ONNX model from a file path or its bytes.

    `backend` is "numpy", "onnxruntime" (ModelError if it cannot be imported) or
    "auto" (onnxruntime when importable, else numpy); both give the same results.
    Files over `max_bytes` are refused before they are read. With `expected_features`,
    the model's `homeiq.feature_names` must be exactly these names in this order (or,
    for a model without names, as many columns). Every refusal is a ModelError.
    """
    data = _read(source, max_bytes)
    proto = decode_model(data)
    plan = compile_model(proto)
    model = Model(proto, plan, create_backend(backend, data, plan))
    if expected_features is not None:
        _check_features(model, expected_features)
    model._check(plan)
    return model


def _read(source: bytes | str | os.PathLike[str], max_bytes: int) -> bytes:
    """Return the model's bytes, refusing more than `max_bytes`."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise ModelError(f"model is {_size(size)}, limit is {_size(max_bytes)}")
            with path.open("rb") as file:  # at most one byte more: files may grow
                data = file.read(max_bytes + 1)
        except OSError as error:
            raise ModelError(
                f"cannot read model file '{path}': {error.strerror}"
            ) from None
    if len(data) > max_bytes:
        raise ModelError(f"model is {_size(len(data))}, limit is {_size(max_bytes)}")
    return data


def _size(count: int) -> str:
    """Return a byte count in MiB (or bytes, if small) for messages."""
    if count < MIB:
        return f"{count:,} bytes"
    return f"{count / MIB:.0f} MiB" if count % MIB == 0 else f"{count / MIB:.1f} MiB"


def _check_count(given: int, expected: int) -> None:
    """Refuse an input whose column count differs from the model's."""
    if given != expected:
        raise ModelError(f"input has {given} features, model expects {expected}")


def _check_features(model: Model, expected: Sequence[str]) -> None:
    """Refuse a model whose feature names are not exactly `expected`."""
    expected = tuple(expected)
    names = model.feature_names
    if names is None:
        _check_count(len(expected), model.n_features)
        return
    for name in expected:
        if name not in names:
            raise ModelError(f"feature '{name}' missing from the model")
    for name in names:
        if name not in expected:
            raise ModelError(f"model needs feature '{name}', which is not expected")
    if len(names) != len(expected):
        raise ModelError("expected features name a feature twice")
    for column, (ours, theirs) in enumerate(zip(names, expected, strict=True)):
        if ours != theirs:
            raise ModelError(
                f"features are in another order: column {column} is '{ours}' in the "
                f"model, '{theirs}' expected"
            )


def _roles(output_names: Sequence[str]) -> dict[str, str]:
    """Return which output holds labels, probabilities, scores, score samples."""
    present = set(output_names)
    roles = {
        "labels": next((n for n in _LABEL_OUTPUTS if n in present), None),
        "probabilities": next((n for n in _PROBABILITY_OUTPUTS if n in present), None),
        "scores": _SCORE_OUTPUT if _SCORE_OUTPUT in present else None,
        "samples": _SAMPLE_SCORE_OUTPUT if _SAMPLE_SCORE_OUTPUT in present else None,
    }
    return {role: name for role, name in roles.items() if name is not None}


def _kind(roles: dict[str, str], output_names: Sequence[str]) -> str:
    """Return the kind of model that outputs `roles` make."""
    if "labels" in roles and "probabilities" in roles:
        return "classifier"
    if "labels" in roles and "scores" in roles:
        return "outlier"
    if len(output_names) == 1:
        return "regressor"
    return "other"


def _classes(plan: Plan, metadata: dict[str, str]) -> tuple[str | int, ...] | None:
    """Return a classifier's classes, checking the metadata against the graph."""
    declared = meta.class_labels(metadata)
    graph_labels = None
    for step in plan.steps:
        if step.node.op_type not in _CLASSIFIER_OPS:
            continue
        for name in CLASS_LABEL_ATTRIBUTES:
            attribute = step.node.attributes.get(name)
            if attribute is not None and len(attribute.value):  # type: ignore[arg-type]
                graph_labels = tuple(
                    v.decode() if isinstance(v, bytes) else int(v)
                    for v in attribute.value  # type: ignore[union-attr]
                )
    if declared is not None and graph_labels is not None and declared != graph_labels:
        raise ModelError(
            f"{meta.CLASSES} {list(declared)} differs from the model's class labels "
            f"{list(graph_labels)}"
        )
    return declared if declared is not None else graph_labels
