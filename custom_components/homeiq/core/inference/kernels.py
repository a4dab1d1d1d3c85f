"""Kernels of the default ONNX domain: the ops skl2onnx emits around its ML operators.

Arithmetic follows IEEE float semantics (the graph runs under np.errstate that
silences overflow and invalid-value warnings, as onnxruntime raises nothing either),
keeps the inputs' dtype (numpy 2's promotion rules do, for equal dtypes), and refuses
mixed dtypes, which ONNX forbids for these ops.
"""

from collections.abc import Callable, Sequence
from typing import cast

import numpy as np

from .errors import ModelError
from .limits import MAX_DIMS
from .onnx_proto import (
    BOOL,
    DOUBLE,
    DTYPES,
    FLOAT,
    INT8,
    INT32,
    INT64,
    TYPE_NAMES,
    UINT8,
)
from .ops import (
    Attrs,
    Kernel,
    Value,
    check_size,
    floating,
    numeric,
    register,
    tensor,
)
from .opsets import DEFAULT_DOMAIN

_D = DEFAULT_DOMAIN
_CAST_TARGETS = {FLOAT, DOUBLE, INT32, INT64, BOOL, UINT8, INT8}


@register(_D, "Identity")
def _identity(_attrs: Attrs, _opset: int) -> Kernel:
    # compile_model refuses an empty input name, so the input is never None here.
    return lambda args: [cast("Value", args[0])]


def _same_dtype(arrays: Sequence[np.ndarray], what: str) -> None:
    """Refuse inputs of different dtypes."""
    if len({a.dtype for a in arrays}) > 1:
        names = ", ".join(str(a.dtype) for a in arrays)
        raise ModelError(f"{what} inputs have different types ({names})")


def _elementwise(
    op_type: str, function: Callable[..., np.ndarray], *, floats_only: bool = False
) -> None:
    """Register a broadcasting binary op with inputs of one numeric dtype."""

    @register(_D, op_type, inputs=(2, 2))
    def compile_binary(_attrs: Attrs, _opset: int) -> Kernel:
        def run(args: Sequence[Value | None]) -> list[Value]:
            check = floating if floats_only else numeric
            a = check(args[0], f"{op_type} input A")
            b = check(args[1], f"{op_type} input B")
            if a.dtype != b.dtype:
                _same_dtype((a, b), op_type)
            if a.shape != b.shape:  # only broadcasting can grow a value
                check_size(np.broadcast_shapes(a.shape, b.shape), op_type)
            return [np.asarray(function(a, b))]

        return run


_elementwise("Add", np.add)
_elementwise("Sub", np.subtract)
_elementwise("Mul", np.multiply)
_elementwise("Div", np.divide, floats_only=True)
_elementwise("Equal", np.equal)
_elementwise("Greater", np.greater)
_elementwise("Less", np.less)


@register(_D, "Pow", inputs=(2, 2))
def _pow(_attrs: Attrs, _opset: int) -> Kernel:
    def run(args: Sequence[Value | None]) -> list[Value]:
        base = floating(args[0], "Pow base")
        exponent = numeric(args[1], "Pow exponent")
        if base.shape != exponent.shape:
            check_size(np.broadcast_shapes(base.shape, exponent.shape), "Pow")
        return [np.power(base, exponent.astype(base.dtype)).astype(base.dtype)]

    return run


def _unary(op_type: str, function: Callable[[np.ndarray], np.ndarray]) -> None:
    """Register an elementwise op on float tensors."""

    @register(_D, op_type)
    def compile_unary(_attrs: Attrs, _opset: int) -> Kernel:
        def run(args: Sequence[Value | None]) -> list[Value]:
            x = floating(args[0], f"{op_type} input")
            return [np.asarray(function(x)).astype(x.dtype, copy=False)]

        return run


def _sigmoid(x: np.ndarray) -> np.ndarray:
    wide = x.astype(np.float64)
    return 1.0 / (1.0 + np.exp(-wide))


_unary("Log", np.log)
_unary("Neg", np.negative)
_unary("Sigmoid", _sigmoid)


def _variadic(op_type: str, function: Callable[..., np.ndarray]) -> None:
    """Register a broadcasting op over one or more inputs of one dtype."""

    @register(_D, op_type, inputs=(1, 2**31))
    def compile_variadic(_attrs: Attrs, _opset: int) -> Kernel:
        def run(args: Sequence[Value | None]) -> list[Value]:
            arrays = [numeric(a, f"{op_type} input") for a in args]
            _same_dtype(arrays, op_type)
            if len({a.shape for a in arrays}) > 1:
                check_size(np.broadcast_shapes(*(a.shape for a in arrays)), op_type)
            result = arrays[0]
            for array in arrays[1:]:
                result = function(result, array)
            return [np.array(result, copy=True)]

        return run


_variadic("Sum", np.add)
_variadic("Max", np.maximum)


@register(_D, "Cast", attributes=("to", "saturate"))
def _cast(attrs: Attrs, _opset: int) -> Kernel:
    to = attrs.integer("to", 0)
    attrs.integer("saturate", 1)  # only meaningful for float8 targets
    if to not in _CAST_TARGETS:
        raise attrs.error(f"cast to {TYPE_NAMES.get(to, str(to))} is not supported")
    dtype = DTYPES[to]

    def run(args: Sequence[Value | None]) -> list[Value]:
        x = numeric(args[0], "Cast input")
        return [x.astype(dtype)]

    return run


def _axis(axis: int, rank: int, what: str) -> int:
    """Return `axis` as a non-negative axis of a rank-`rank` tensor."""
    if not -rank <= axis < rank:
        raise ModelError(f"{what} axis {axis} is out of range for rank {rank}")
    return axis % rank


@register(_D, "Reshape", attributes=("allowzero",), inputs=(2, 2))
def _reshape(attrs: Attrs, _opset: int) -> Kernel:
    allow_zero = attrs.integer("allowzero", 0)

    def run(args: Sequence[Value | None]) -> list[Value]:
        data = tensor(args[0], "Reshape data")
        shape = numeric(args[1], "Reshape shape")
        if shape.dtype != np.int64 or shape.ndim != 1:
            raise ModelError("Reshape shape must be a 1-D int64 tensor")
        if shape.size > MAX_DIMS:
            raise ModelError(f"Reshape to {shape.size} dimensions, limit is {MAX_DIMS}")
        dims = shape.tolist()
        for i, size in enumerate(dims):
            if size == 0 and not allow_zero:
                if i >= data.ndim:
                    raise ModelError(f"Reshape copies dimension {i} the data lacks")
                dims[i] = data.shape[i]
        if dims.count(-1) > 1 or any(d < -1 for d in dims):
            raise ModelError(f"Reshape shape {dims} is invalid")
        return [data.reshape(dims)]

    return run


@register(_D, "Concat", attributes=("axis",), inputs=(1, 2**31))
def _concat(attrs: Attrs, _opset: int) -> Kernel:
    if not attrs.has("axis"):
        raise attrs.error("needs attribute 'axis'")
    axis = attrs.integer("axis", 0)

    def run(args: Sequence[Value | None]) -> list[Value]:
        arrays = [tensor(a, "Concat input") for a in args]
        _same_dtype(arrays, "Concat")
        if len({a.ndim for a in arrays}) > 1:
            raise ModelError("Concat inputs have different ranks")
        check_size([sum(a.size for a in arrays)], "Concat")
        return [np.concatenate(arrays, axis=_axis(axis, arrays[0].ndim, "Concat"))]

    return run


@register(_D, "Gather", attributes=("axis",), inputs=(2, 2))
def _gather(attrs: Attrs, _opset: int) -> Kernel:
    axis = attrs.integer("axis", 0)

    def run(args: Sequence[Value | None]) -> list[Value]:
        data = tensor(args[0], "Gather data")
        indices = numeric(args[1], "Gather indices")
        if indices.dtype not in {np.dtype(np.int64), np.dtype(np.int32)}:
            raise ModelError("Gather indices must be int32 or int64")
        dim = _axis(axis, data.ndim, "Gather")
        check_size(
            [*data.shape[:dim], *indices.shape, *data.shape[dim + 1 :]], "Gather"
        )
        return [np.take(data, indices, axis=dim)]

    return run


@register(_D, "ArgMax", attributes=("axis", "keepdims", "select_last_index"))
def _argmax(attrs: Attrs, _opset: int) -> Kernel:
    axis = attrs.integer("axis", 0)
    keepdims = attrs.integer("keepdims", 1)
    last = attrs.integer("select_last_index", 0)

    def run(args: Sequence[Value | None]) -> list[Value]:
        x = numeric(args[0], "ArgMax input")
        dim = _axis(axis, x.ndim, "ArgMax")
        # onnxruntime keeps the first element, then takes any later one that is
        # greater (or, with select_last_index, not smaller): NaN is never taken
        # unless it comes first.
        if x.dtype.kind == "f":
            first_is_nan = np.isnan(np.take(x, [0], axis=dim))
            x = np.where(np.isnan(x), -np.inf, x)
        if last:
            flipped = np.flip(x, axis=dim)
            index = x.shape[dim] - 1 - np.argmax(flipped, axis=dim, keepdims=True)
        else:
            index = np.argmax(x, axis=dim, keepdims=True)
        if x.dtype.kind == "f":
            index = np.where(first_is_nan, 0, index)
        if not keepdims:
            index = np.squeeze(index, axis=dim)
        return [np.asarray(index, dtype=np.int64)]

    return run


@register(_D, "Softmax", attributes=("axis",), min_opset=13)
def _softmax(attrs: Attrs, _opset: int) -> Kernel:
    axis = attrs.integer("axis", -1)

    def run(args: Sequence[Value | None]) -> list[Value]:
        x = floating(args[0], "Softmax input")
        dim = _axis(axis, x.ndim, "Softmax")
        wide = x.astype(np.float64)
        exp = np.exp(wide - wide.max(axis=dim, keepdims=True))
        return [(exp / exp.sum(axis=dim, keepdims=True)).astype(x.dtype)]

    return run
