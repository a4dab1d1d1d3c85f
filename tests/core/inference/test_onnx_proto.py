"""ONNX messages decode into records equal to what the onnx package reads."""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
import pytest

from homeiq_core.inference.errors import ModelError
from homeiq_core.inference.onnx_proto import decode_model

from .graphs import model_proto, node


def decode(model: onnx.ModelProto):
    return decode_model(model.SerializeToString())


def with_initializer(tensor: onnx.TensorProto) -> onnx.ModelProto:
    model = model_proto([node("Identity", ["features"], ["y"])], ["y"])
    model.graph.initializer.append(tensor)
    return model


@pytest.mark.parametrize(
    "array",
    [
        np.arange(6, dtype=np.float32).reshape(2, 3) / 7,
        np.array([-1.5, 2.25, np.inf], dtype=np.float64),
        np.array([[-(2**62), 3]], dtype=np.int64),
        np.array([-(2**31), 2**31 - 1], dtype=np.int32),
        np.array([0, 255], dtype=np.uint8),
        np.array([-128, 127], dtype=np.int8),
        np.array([True, False, True]),
        np.zeros((0, 3), dtype=np.float32),
        np.float32(4.5),
    ],
)
def test_raw_and_typed_tensors_decode_exactly(array: np.ndarray) -> None:
    for raw in (True, False):
        if raw:
            tensor = numpy_helper.from_array(np.asarray(array), "t")
        else:
            tensor = helper.make_tensor(
                "t",
                helper.np_dtype_to_tensor_dtype(np.asarray(array).dtype),
                np.shape(array),
                np.asarray(array).ravel().tolist(),
            )
        decoded = decode(with_initializer(tensor)).graph.initializers["t"]
        assert decoded.dtype == np.asarray(array).dtype
        np.testing.assert_array_equal(decoded, array)
        assert not decoded.flags.writeable


def test_string_tensors_decode_to_objects() -> None:
    tensor = helper.make_tensor(
        "t", TensorProto.STRING, [2], [b"flat", "h\xe4us".encode()]
    )
    decoded = decode(with_initializer(tensor)).graph.initializers["t"]
    assert decoded.dtype == object
    assert decoded.tolist() == ["flat", "häus"]


def typed(name: str, data_type: int, dims: list[int], **fields: object) -> TensorProto:
    tensor = TensorProto(name=name, data_type=data_type, dims=dims)
    for key, value in fields.items():
        if isinstance(value, list):
            getattr(tensor, key).extend(value)
        elif isinstance(value, TensorProto.Segment):
            tensor.segment.CopyFrom(value)
        else:
            setattr(tensor, key, value)
    return tensor


@pytest.mark.parametrize(
    ("tensor", "message"),
    [
        (
            typed("t", TensorProto.FLOAT, [2, 3], raw_data=b"\x00" * 20),
            "tensor 't' declares 6 elements .24 bytes. but holds 20 bytes",
        ),
        (
            typed("t", TensorProto.INT64, [3], int64_data=[1, 2]),
            "declares 3 .* holds 2",
        ),
        (
            typed("t", TensorProto.FLOAT, [1], raw_data=b"\x00" * 4, float_data=[1.0]),
            "holds both raw_data and float_data",
        ),
        (typed("t", TensorProto.FLOAT16, [1], raw_data=b"\x00\x00"), "FLOAT16"),
        (typed("t", 99, [1]), "data type 99, which is not supported"),
        (typed("t", TensorProto.FLOAT, [-1]), "negative dimension"),
        (typed("t", TensorProto.FLOAT, [1] * 9), "9 dimensions, limit is 8"),
        (typed("t", TensorProto.FLOAT, [2**40, 2**20]), "elements, limit is"),
        (typed("t", TensorProto.STRING, [1], raw_data=b"x"), "string tensor with raw"),
        (
            typed("t", TensorProto.UINT8, [1], int32_data=[256]),
            "out of range for uint8",
        ),
        (typed("t", TensorProto.BOOL, [1], int32_data=[2]), "out of range for bool"),
        (typed("t", TensorProto.FLOAT, [1], data_location=1), "external file"),
        (
            typed("t", TensorProto.FLOAT, [1], segment=TensorProto.Segment(begin=0)),
            "is segmented",
        ),
        (typed("t", TensorProto.STRING, [1], string_data=[b"\xff"]), "not valid UTF-8"),
    ],
)
def test_bad_tensors_are_refused_before_allocation(
    tensor: TensorProto, message: str
) -> None:
    with pytest.raises(ModelError, match=message):
        decode(with_initializer(tensor))


def test_attributes_of_every_supported_type_decode() -> None:
    attrs = {
        "f": 1.5,
        "i": -7,
        "s": b"LEAF",
        "t": numpy_helper.from_array(np.array([1, 2], dtype=np.int64)),
        "floats": [0.5, -1.0],
        "ints": [3, -4],
        "strings": [b"a", b"bc"],
    }
    model = model_proto([node("Identity", ["features"], ["y"], **attrs)], ["y"])
    decoded = decode(model).graph.nodes[0].attributes
    assert decoded["f"].value == 1.5
    assert decoded["i"].value == -7
    assert decoded["s"].value == b"LEAF"
    assert decoded["t"].value.tolist() == [1, 2]
    assert decoded["floats"].value.tolist() == [0.5, -1.0]
    assert decoded["ints"].value.tolist() == [3, -4]
    assert decoded["strings"].value == [b"a", b"bc"]
    empty = helper.make_attribute("e", [], attr_type=onnx.AttributeProto.INTS)
    model.graph.node[0].attribute.append(empty)
    assert decode(model).graph.nodes[0].attributes["e"].value.tolist() == []


def attribute_model(attribute: onnx.AttributeProto) -> onnx.ModelProto:
    model = model_proto([node("Identity", ["features"], ["y"])], ["y"])
    model.graph.node[0].attribute.append(attribute)
    return model


@pytest.mark.parametrize(
    ("attribute", "message"),
    [
        (
            helper.make_attribute("body", helper.make_graph([], "g", [], [])),
            "subgraph attribute 'body' of node 0 .Identity. is not supported",
        ),
        (
            onnx.AttributeProto(
                name="a", type=onnx.AttributeProto.FLOAT, ref_attr_name="x"
            ),
            "refers to a function attribute",
        ),
        (
            helper.make_attribute("ts", [numpy_helper.from_array(np.zeros(1))]),
            "unsupported type TENSORS",
        ),
        (
            onnx.AttributeProto(name="n", type=onnx.AttributeProto.TENSOR),
            "has no tensor",
        ),
        (onnx.AttributeProto(name="n"), "unsupported type 0"),
    ],
)
def test_unsupported_attributes_are_refused(
    attribute: onnx.AttributeProto, message: str
) -> None:
    with pytest.raises(ModelError, match=message):
        decode(attribute_model(attribute))


def test_model_fields_decode() -> None:
    model = model_proto(
        [node("Identity", ["features"], ["y"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 4])],
        metadata={"homeiq.model_kind": "test", "k": ""},
    )
    model.producer_name, model.producer_version = "skl2onnx", "1.20.0"
    model.opset_import.append(helper.make_opsetid("ai.onnx", 21))  # alias of ""
    decoded = decode(model)
    assert decoded.ir_version == 10
    assert decoded.opsets == {"": 21, "ai.onnx.ml": 3}
    assert decoded.producer == "skl2onnx 1.20.0"
    assert decoded.metadata == {"homeiq.model_kind": "test", "k": ""}
    (graph_input,) = decoded.graph.inputs
    assert (graph_input.name, graph_input.kind) == ("features", "tensor")
    assert (graph_input.elem_type, graph_input.shape) == (TensorProto.FLOAT, (None, 4))
    assert decoded.graph.outputs[0].shape == (None, 4)
    assert decoded.graph.nodes[0].inputs == ("features",)


def test_value_infos_without_tensor_types_are_kept_as_kinds() -> None:
    sequence = helper.make_tensor_sequence_value_info("s", TensorProto.FLOAT, None)
    untyped = onnx.ValueInfoProto(name="u")
    no_shape = helper.make_tensor_value_info("n", TensorProto.INT64, None)
    model = model_proto(
        [node("Identity", ["features"], ["y"])], [sequence, untyped, no_shape]
    )
    kinds = [(v.kind, v.shape) for v in decode(model).graph.outputs]
    assert kinds == [("sequence", None), ("none", None), ("tensor", None)]
    deep = helper.make_tensor_value_info("d", TensorProto.FLOAT, [1] * 9)
    with pytest.raises(ModelError, match="'d' has 9 dimensions, limit is 8"):
        decode(model_proto([node("Identity", ["features"], ["d"])], [deep]))


def test_structural_duplicates_and_conflicts_are_refused() -> None:
    model = model_proto([node("Identity", ["features"], ["y"])], ["y"])
    twice = onnx.ModelProto()
    twice.CopyFrom(model)
    twice.opset_import.append(helper.make_opsetid("", 20))
    with pytest.raises(ModelError, match="opset of domain '' imported twice"):
        decode(twice)
    twice.CopyFrom(model)
    helper.set_model_props(twice, {"a": "1"})
    twice.metadata_props.append(onnx.StringStringEntryProto(key="a", value="2"))
    with pytest.raises(ModelError, match="metadata key 'a' appears twice"):
        decode(twice)
    twice.CopyFrom(model)
    tensor = numpy_helper.from_array(np.zeros(1, np.float32), "w")
    twice.graph.initializer.extend([tensor, tensor])
    with pytest.raises(ModelError, match="initializer 'w' appears twice"):
        decode(twice)
    twice.CopyFrom(model)
    twice.graph.node[0].attribute.extend(
        [helper.make_attribute("a", 1), helper.make_attribute("a", 2)]
    )
    with pytest.raises(ModelError, match="attribute 'a' appears twice in node 0"):
        decode(twice)
    twice.CopyFrom(model)
    twice.graph.sparse_initializer.add()
    with pytest.raises(ModelError, match="sparse initializers"):
        decode(twice)
    twice.CopyFrom(model)
    twice.ClearField("graph")
    with pytest.raises(ModelError, match="model has no graph"):
        decode(twice)


def test_text_must_be_utf8() -> None:
    model = model_proto([node("Identity", ["features"], ["y"])], ["y"])
    data = model.SerializeToString().replace(b"Identity", b"Ident\xffty")
    with pytest.raises(ModelError, match="op type of node 0 is not valid UTF-8"):
        decode_model(data)


def test_too_many_nodes_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    from homeiq_core.inference import onnx_proto  # noqa: PLC0415

    monkeypatch.setattr(onnx_proto, "MAX_NODES", 2)
    nodes = [node("Identity", ["features"], [f"y{i}"]) for i in range(3)]
    with pytest.raises(ModelError, match="graph has 3 nodes, limit is 2"):
        decode(model_proto(nodes, ["y0"]))
