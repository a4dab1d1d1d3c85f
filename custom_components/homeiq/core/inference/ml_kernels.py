"""Kernels of the ai.onnx.ml domain other than the tree ensembles.

Where the ONNX specification leaves a case open, these follow onnxruntime, the runtime
the same model files also run on: LinearClassifier labels come from the raw scores
(first maximum), Normalizer divides by the plain row maximum (MAX) or leaves an
all-zero row as it is, Scaler broadcasts a single offset or scale over every column.
Configurations on which onnxruntime and the ONNX reference disagree (a one-row
LinearClassifier, a LinearRegressor post_transform) are refused rather than guessed.
"""

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import transforms
from .errors import ModelError
from .limits import MAX_CLASSES
from .ops import (
    Attrs,
    Kernel,
    Value,
    check_size,
    class_labels,
    matrix,
    numeric,
    register,
    tensor,
)
from .opsets import ML_DOMAIN

_ML = ML_DOMAIN


def _scores(
    x: np.ndarray, coefficients: np.ndarray, intercepts: np.ndarray
) -> np.ndarray:
    """Return x @ coefficients.T + intercepts in float64."""
    check_size((x.shape[0], coefficients.shape[0]), "linear model output")
    if x.shape[1] != coefficients.shape[1]:
        raise ModelError(
            f"input has {x.shape[1]} columns, "
            f"coefficients expect {coefficients.shape[1]}"
        )
    scores: np.ndarray = x.astype(np.float64) @ coefficients.T + intercepts
    return scores


def _coefficients(attrs: Attrs, rows: int) -> np.ndarray:
    """Return the coefficients attribute as a float64 (rows, features) matrix."""
    coefficients = attrs.numbers("coefficients")
    if coefficients is None or not coefficients.size or coefficients.size % rows:
        raise attrs.error(f"coefficients must hold a multiple of {rows} values")
    return coefficients.astype(np.float64).reshape(rows, -1)


@register(
    _ML,
    "LinearClassifier",
    attributes=(
        "coefficients",
        "intercepts",
        "classlabels_ints",
        "classlabels_strings",
        "multi_class",
        "post_transform",
    ),
    outputs=(2, 2),
)
def _linear_classifier(attrs: Attrs, _opset: int) -> Kernel:
    labels = class_labels(attrs, "classlabels_ints", "classlabels_strings")
    intercepts = attrs.numbers("intercepts")
    attrs.integer("multi_class", 0)  # onnxruntime ignores it; so does the result
    post = attrs.choice("post_transform", "NONE", transforms.POST_TRANSFORMS)
    rows = 0 if intercepts is None else intercepts.size
    if rows < 2 or rows != labels.size or rows > MAX_CLASSES:
        raise attrs.error(
            f"needs one intercept per class ({labels.size} labels, {rows} intercepts)"
        )
    assert intercepts is not None
    coefficients = _coefficients(attrs, rows)
    bias = intercepts.astype(np.float64)

    def run(args: Sequence[Value | None]) -> list[Value]:
        scores = _scores(matrix(args[0], "LinearClassifier input"), coefficients, bias)
        # onnxruntime picks the first maximum of the float32 scores
        label = labels[np.argmax(scores.astype(np.float32), axis=1)]
        return [label, transforms.apply(post, scores).astype(np.float32)]

    return run


@register(
    _ML,
    "LinearRegressor",
    attributes=("coefficients", "intercepts", "targets", "post_transform"),
)
def _linear_regressor(attrs: Attrs, _opset: int) -> Kernel:
    targets = attrs.integer("targets", 1)
    if not 1 <= targets <= MAX_CLASSES:
        raise attrs.error(f"targets {targets} is out of range")
    attrs.choice("post_transform", "NONE", ("NONE",))
    coefficients = _coefficients(attrs, targets)
    intercepts = attrs.numbers("intercepts")
    if intercepts is None or not intercepts.size:
        bias = np.zeros(targets)
    elif intercepts.size == targets:
        bias = intercepts.astype(np.float64)
    else:
        raise attrs.error(f"has {intercepts.size} intercepts for {targets} targets")

    def run(args: Sequence[Value | None]) -> list[Value]:
        x = matrix(args[0], "LinearRegressor input")
        return [_scores(x, coefficients, bias).astype(np.float32)]

    return run


@register(_ML, "Normalizer", attributes=("norm",))
def _normalizer(attrs: Attrs, _opset: int) -> Kernel:
    norm = attrs.choice("norm", "MAX", ("MAX", "L1", "L2"))

    def run(args: Sequence[Value | None]) -> list[Value]:
        x = numeric(args[0], "Normalizer input")
        rows = matrix(x, "Normalizer input").astype(np.float64)
        if norm == "MAX":  # onnxruntime's running max never picks NaN
            divisor = np.fmax.reduce(rows, axis=1, keepdims=True)
        elif norm == "L1":
            divisor = np.abs(rows).sum(axis=1, keepdims=True)
        else:
            divisor = np.sqrt(np.square(rows).sum(axis=1, keepdims=True))
        result = np.where(divisor != 0, rows / np.where(divisor != 0, divisor, 1), rows)
        return [result.astype(np.float32).reshape(x.shape)]

    return run


@register(_ML, "Scaler", attributes=("offset", "scale"))
def _scaler(attrs: Attrs, _opset: int) -> Kernel:
    offset = attrs.numbers("offset")
    scale = attrs.numbers("scale")
    if offset is None or scale is None or not offset.size or not scale.size:
        raise attrs.error("needs offset and scale")
    if offset.size != scale.size:  # onnxruntime refuses it too
        raise attrs.error(f"has {offset.size} offsets but {scale.size} scales")

    def run(args: Sequence[Value | None]) -> list[Value]:
        x = numeric(args[0], "Scaler input")
        width = x.shape[-1] if x.ndim else 1
        if offset.size not in {1, width}:
            raise ModelError(f"Scaler has {offset.size} offsets for {width} columns")
        # onnxruntime computes in the input's precision when it is float32
        wide = np.float32 if x.dtype == np.float32 else np.float64
        y = (x.astype(wide) - offset.astype(wide)) * scale.astype(wide)
        return [y.astype(np.float32)]

    return run


@register(_ML, "ZipMap", attributes=("classlabels_int64s", "classlabels_strings"))
def _zipmap(attrs: Attrs, _opset: int) -> Kernel:
    labels = class_labels(attrs, "classlabels_int64s", "classlabels_strings").tolist()

    def run(args: Sequence[Value | None]) -> list[Value]:
        x = tensor(args[0], "ZipMap input")
        if x.dtype != np.float32 or x.ndim != 2 or x.shape[1] != len(labels):
            raise ModelError(
                f"ZipMap input must be float32 with {len(labels)} columns, "
                f"not {x.dtype} {x.shape}"
            )
        check_size(x.shape, "ZipMap")
        return [[dict(zip(labels, row, strict=True)) for row in x.tolist()]]

    return run


_LABEL_KEYS = ("keys_int64s", "keys_floats", "keys_strings")
_LABEL_VALUES = ("values_int64s", "values_floats", "values_strings")


@register(
    _ML,
    "LabelEncoder",
    attributes=(
        *_LABEL_KEYS,
        *_LABEL_VALUES,
        "default_int64",
        "default_float",
        "default_string",
    ),
    min_opset=2,
)
def _label_encoder(attrs: Attrs, _opset: int) -> Kernel:
    keys = _one_list(attrs, _LABEL_KEYS)
    values = _one_list(attrs, _LABEL_VALUES)
    if len(keys) != len(values):
        raise attrs.error(f"has {len(keys)} keys but {len(values)} values")
    defaults: dict[np.dtype[Any], int | float | str] = {
        np.dtype(np.int64): attrs.integer("default_int64", -1),
        np.dtype(np.float32): attrs.number("default_float", -0.0),
        np.dtype(object): attrs.string("default_string", "_Unused"),
    }
    default = defaults[values.dtype]
    if keys.dtype == object:
        table = dict(zip(keys.tolist(), values.tolist(), strict=True))
        if len(table) != len(keys):
            raise attrs.error("maps a key twice")
    else:
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        if np.any(sorted_keys[1:] == sorted_keys[:-1]):
            raise attrs.error("maps a key twice")
        sorted_values = values[order]

    def run(args: Sequence[Value | None]) -> list[Value]:
        x = tensor(args[0], "LabelEncoder input")
        if x.dtype != keys.dtype:
            raise ModelError(f"LabelEncoder input is {x.dtype}, its keys {keys.dtype}")
        if keys.dtype == object:
            out = np.empty(x.shape, dtype=values.dtype)
            out.ravel()[:] = [table.get(k, default) for k in x.ravel().tolist()]
            return [out]
        if not keys.size:
            return [np.full(x.shape, default, dtype=values.dtype)]
        position = np.minimum(np.searchsorted(sorted_keys, x), keys.size - 1)
        found = sorted_keys[position] == x
        return [np.where(found, sorted_values[position], default).astype(values.dtype)]

    return run


def _one_list(attrs: Attrs, names: Sequence[str]) -> np.ndarray:
    """Return the one attribute of `names` the node sets, as a typed array."""
    present = [name for name in names if attrs.has(name)]
    if len(present) != 1:
        raise attrs.error(f"needs exactly one of {', '.join(names)}")
    name = present[0]
    if name.endswith("int64s"):
        ints = attrs.integers(name)
        assert ints is not None
        return ints
    if name.endswith("floats"):
        floats = attrs.numbers(name)
        assert floats is not None
        return floats.astype(np.float32)
    strings = attrs.strings(name) or []
    array = np.empty(len(strings), dtype=object)
    array[:] = strings
    return array


@register(_ML, "ArrayFeatureExtractor", inputs=(2, 2))
def _array_feature_extractor(_attrs: Attrs, _opset: int) -> Kernel:
    def run(args: Sequence[Value | None]) -> list[Value]:
        x = tensor(args[0], "ArrayFeatureExtractor data")
        indices = numeric(args[1], "ArrayFeatureExtractor indices")
        if indices.dtype != np.int64 or x.ndim == 0:
            raise ModelError("ArrayFeatureExtractor needs int64 indices and a tensor")
        flat = indices.ravel()
        check_size([*x.shape[:-1], flat.size], "ArrayFeatureExtractor")
        width = x.shape[-1]
        if flat.size and (flat.min() < 0 or flat.max() >= width):
            raise ModelError(f"ArrayFeatureExtractor index out of range for {width}")
        result = np.take(x, flat, axis=-1)
        return [result.reshape(1, -1) if x.ndim == 1 else result]

    return run
