"""Builders of small ONNX models with the real onnx package, and a backend comparer."""

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from homeiq_core.inference import Model, load_model

ML = "ai.onnx.ml"
OPSETS = {"": 21, ML: 3}


def features(n_features: int) -> onnx.ValueInfoProto:
    """Return the float32 [N, n_features] input every HomeIQ model has."""
    return helper.make_tensor_value_info(
        "features", TensorProto.FLOAT, [None, n_features]
    )


def output(name: str, elem_type: int = TensorProto.FLOAT) -> onnx.ValueInfoProto:
    """Return a graph output of unspecified shape."""
    return helper.make_tensor_value_info(name, elem_type, None)


def model_proto(
    nodes: Sequence[onnx.NodeProto],
    outputs: Sequence[onnx.ValueInfoProto | str],
    *,
    n_features: int = 4,
    initializers: dict[str, np.ndarray] | None = None,
    opsets: dict[str, int] | None = None,
    inputs: Sequence[onnx.ValueInfoProto] | None = None,
    metadata: dict[str, str] | None = None,
    ir_version: int = 10,
) -> onnx.ModelProto:
    """Return a ModelProto around `nodes`."""
    graph = helper.make_graph(
        list(nodes),
        "g",
        list(inputs) if inputs is not None else [features(n_features)],
        [output(o) if isinstance(o, str) else o for o in outputs],
        [numpy_helper.from_array(v, k) for k, v in (initializers or {}).items()],
    )
    model = helper.make_model(
        graph,
        opset_imports=[
            helper.make_opsetid(d, v) for d, v in (opsets or OPSETS).items()
        ],
    )
    model.ir_version = ir_version
    if metadata:
        helper.set_model_props(model, metadata)
    return model


def model_bytes(*args: object, **kwargs: object) -> bytes:
    """Return the serialized `model_proto(...)`."""
    return model_proto(*args, **kwargs).SerializeToString()  # type: ignore[arg-type]


def node(op_type: str, inputs: Sequence[str], outputs: Sequence[str], **attrs: object):
    """Return a node; ML ops get the ai.onnx.ml domain."""
    ml_ops = {
        "TreeEnsembleClassifier", "TreeEnsembleRegressor", "LinearClassifier",
        "LinearRegressor", "Normalizer", "Scaler", "ZipMap", "LabelEncoder",
        "ArrayFeatureExtractor",
    }  # fmt: skip
    domain = ML if op_type in ml_ops else ""
    return helper.make_node(
        op_type, list(inputs), list(outputs), domain=domain, **attrs
    )


def assert_same_outputs(data: bytes, x: np.ndarray, *, atol: float = 1e-5) -> dict:
    """Run `data` on both backends; assert equal dtypes, shapes, labels and values."""
    numpy_model: Model = load_model(data, backend="numpy")
    ort_model: Model = load_model(data, backend="onnxruntime")
    mine, theirs = numpy_model.run(x), ort_model.run(x)
    assert list(mine) == list(theirs)
    for name, value in mine.items():
        other = theirs[name]
        if isinstance(other, list):
            assert isinstance(value, list)
            assert len(value) == len(other)
            for row, other_row in zip(value, other, strict=True):
                assert list(row) == list(other_row)
                np.testing.assert_allclose(
                    list(row.values()), list(other_row.values()), atol=atol
                )
            continue
        assert value.dtype == other.dtype, name
        assert value.shape == other.shape, name
        if value.dtype.kind in "fc":
            np.testing.assert_allclose(value, other, atol=atol, rtol=0, err_msg=name)
        else:
            np.testing.assert_array_equal(value, other, err_msg=name)
    return mine
