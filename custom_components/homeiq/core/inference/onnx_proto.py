"""ONNX's protobuf messages (onnx-ml.proto), decoded into small immutable records.

Only what evaluation needs is kept: the model's IR version, opset imports, producer and
metadata_props; the graph's nodes, initializers, inputs and outputs; each node's
attributes; each tensor as a read-only numpy array. Everything HomeIQ does not run is
refused here with a message that names it (subgraphs, sparse or external tensors,
tensor types without a numpy equivalent) or, if harmless, skipped (doc strings,
value_info, training_info, local functions, which a node can still not call).
"""

from dataclasses import dataclass
import math
from typing import cast

import numpy as np

from .errors import ModelError
from .limits import MAX_DIMS, MAX_NODES, MAX_TENSOR_ELEMENTS
from .opsets import canonical_domain
from .wire import Field, Kind, Reader, Schema, Span, text

# TensorProto.DataType values and the numpy dtype each one is held in.
FLOAT, UINT8, INT8, INT32, INT64, STRING, BOOL, DOUBLE = 1, 2, 3, 6, 7, 8, 9, 11
DTYPES: dict[int, np.dtype] = {
    FLOAT: np.dtype(np.float32),
    UINT8: np.dtype(np.uint8),
    INT8: np.dtype(np.int8),
    INT32: np.dtype(np.int32),
    INT64: np.dtype(np.int64),
    STRING: np.dtype(object),
    BOOL: np.dtype(np.bool_),
    DOUBLE: np.dtype(np.float64),
}
TYPE_NAMES = {
    0: "UNDEFINED", 1: "FLOAT", 2: "UINT8", 3: "INT8", 4: "UINT16", 5: "INT16",
    6: "INT32", 7: "INT64", 8: "STRING", 9: "BOOL", 10: "FLOAT16", 11: "DOUBLE",
    12: "UINT32", 13: "UINT64", 14: "COMPLEX64", 15: "COMPLEX128", 16: "BFLOAT16",
}  # fmt: skip
# Types whose elements protobuf stores in int32_data when raw_data is absent.
_INT32_DATA = {UINT8, INT8, INT32, BOOL}

# AttributeProto.AttributeType values.
A_FLOAT, A_INT, A_STRING, A_TENSOR, A_GRAPH = 1, 2, 3, 4, 5
A_FLOATS, A_INTS, A_STRINGS, A_TENSORS, A_GRAPHS = 6, 7, 8, 9, 10
_ATTRIBUTE_TYPE_NAMES = {
    A_TENSORS: "TENSORS", 11: "SPARSE_TENSOR", 12: "SPARSE_TENSORS",
    13: "TYPE_PROTO", 14: "TYPE_PROTOS",
}  # fmt: skip

_MODEL: Schema = {
    1: Field("ir_version", Kind.INT),
    2: Field("producer_name", Kind.BYTES),
    3: Field("producer_version", Kind.BYTES),
    7: Field("graph", Kind.MESSAGE),
    8: Field("opset_import", Kind.MESSAGES),
    14: Field("metadata_props", Kind.MESSAGES),
}
_OPSET: Schema = {1: Field("domain", Kind.BYTES), 2: Field("version", Kind.INT)}
_ENTRY: Schema = {1: Field("key", Kind.BYTES), 2: Field("value", Kind.BYTES)}
_GRAPH: Schema = {
    1: Field("node", Kind.MESSAGES),
    5: Field("initializer", Kind.MESSAGES),
    11: Field("input", Kind.MESSAGES),
    12: Field("output", Kind.MESSAGES),
    15: Field("sparse_initializer", Kind.MESSAGES),
}
_NODE: Schema = {
    1: Field("input", Kind.BYTES_LIST),
    2: Field("output", Kind.BYTES_LIST),
    4: Field("op_type", Kind.BYTES),
    5: Field("attribute", Kind.MESSAGES),
    7: Field("domain", Kind.BYTES),
}
_ATTRIBUTE: Schema = {
    1: Field("name", Kind.BYTES),
    2: Field("f", Kind.FLOAT),
    3: Field("i", Kind.INT),
    4: Field("s", Kind.BYTES),
    5: Field("t", Kind.MESSAGE),
    6: Field("g", Kind.MESSAGE),
    7: Field("floats", Kind.FLOATS),
    8: Field("ints", Kind.INTS),
    9: Field("strings", Kind.BYTES_LIST),
    10: Field("tensors", Kind.MESSAGES),
    11: Field("graphs", Kind.MESSAGES),
    20: Field("type", Kind.INT),
    21: Field("ref_attr_name", Kind.BYTES),
}
_TENSOR: Schema = {
    1: Field("dims", Kind.INTS),
    2: Field("data_type", Kind.INT),
    3: Field("segment", Kind.MESSAGE),
    4: Field("float_data", Kind.FLOATS),
    5: Field("int32_data", Kind.INTS),
    6: Field("string_data", Kind.BYTES_LIST),
    7: Field("int64_data", Kind.INTS),
    8: Field("name", Kind.BYTES),
    9: Field("raw_data", Kind.BYTES),
    10: Field("double_data", Kind.DOUBLES),
    11: Field("uint64_data", Kind.INTS),
    13: Field("external_data", Kind.MESSAGES),
    14: Field("data_location", Kind.INT),
}
_VALUE_INFO: Schema = {1: Field("name", Kind.BYTES), 2: Field("type", Kind.MESSAGE)}
_TYPE: Schema = {
    1: Field("tensor_type", Kind.MESSAGE),
    4: Field("sequence_type", Kind.MESSAGE),
    5: Field("map_type", Kind.MESSAGE),
    8: Field("sparse_tensor_type", Kind.MESSAGE),
    9: Field("optional_type", Kind.MESSAGE),
}
_TENSOR_TYPE: Schema = {
    1: Field("elem_type", Kind.INT),
    2: Field("shape", Kind.MESSAGE),
}
_SHAPE: Schema = {1: Field("dim", Kind.MESSAGES)}
_DIM: Schema = {1: Field("dim_value", Kind.INT), 2: Field("dim_param", Kind.BYTES)}

type AttributeValue = float | int | bytes | np.ndarray | list[bytes]
type Fields = dict[str, object]


# Typed reads of a decoded message. Reader.message gives each field the type its
# schema Kind decodes to (INT: int, FLOAT: float, BYTES: bytes, INTS and FLOATS: an
# array, MESSAGE: Span, MESSAGES: list of Span, BYTES_LIST: list of bytes), so these
# casts only state what it built.
def _int(fields: Fields, name: str) -> int:
    return cast("int", fields.get(name, 0))


def _float(fields: Fields, name: str) -> float:
    return cast("float", fields.get(name, 0.0))


def _array(fields: Fields, name: str, dtype: type[np.generic]) -> np.ndarray:
    """Return a packed numeric field (INTS, FLOATS), empty of `dtype` when absent."""
    return cast("np.ndarray", fields.get(name, np.zeros(0, dtype)))


def _bytes(fields: Fields, name: str) -> bytes:
    return cast("bytes", fields.get(name, b""))


def _span(fields: Fields, name: str) -> Span:
    return cast("Span", fields[name])


def _spans(fields: Fields, name: str) -> list[Span]:
    return cast("list[Span]", fields.get(name, []))


def _bytes_list(fields: Fields, name: str) -> list[bytes]:
    return cast("list[bytes]", fields.get(name, []))


@dataclass(frozen=True, slots=True)
class Attribute:
    """One node attribute: its AttributeProto type and decoded value."""

    name: str
    type: int
    value: AttributeValue


@dataclass(frozen=True, slots=True)
class Node:
    """One graph node, with its position in the graph for error messages."""

    index: int
    op_type: str
    domain: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    attributes: dict[str, Attribute]

    def where(self) -> str:
        """Return "node N (op)", the prefix of this node's error messages."""
        return f"node {self.index} ({self.op_type})"


@dataclass(frozen=True, slots=True)
class ValueInfo:
    """A graph input or output: its name, and its tensor type when it is a tensor."""

    name: str
    kind: str  # "tensor", "sequence", "map", "sparse_tensor", "optional" or "none"
    elem_type: int | None = None
    shape: tuple[int | None, ...] | None = None  # None: unknown rank


@dataclass(frozen=True, slots=True)
class Graph:
    """The main graph of a model."""

    nodes: tuple[Node, ...]
    initializers: dict[str, np.ndarray]
    inputs: tuple[ValueInfo, ...]
    outputs: tuple[ValueInfo, ...]


@dataclass(frozen=True, slots=True)
class ModelProto:
    """A decoded ONNX model file."""

    ir_version: int
    opsets: dict[str, int]
    producer: str
    graph: Graph
    metadata: dict[str, str]


def decode_model(data: bytes) -> ModelProto:
    """Decode an ONNX ModelProto from `data`; raise ModelError if it is malformed."""
    reader = Reader(data)
    fields = reader.message((0, len(data)), _MODEL)
    if "graph" not in fields:
        raise ModelError("model has no graph")
    opsets: dict[str, int] = {}
    for span in _spans(fields, "opset_import"):
        entry = reader.message(span, _OPSET)
        domain = canonical_domain(text(_bytes(entry, "domain"), "opset domain"))
        version = _int(entry, "version")
        if opsets.setdefault(domain, version) != version:
            raise ModelError(
                f"opset of domain '{domain}' imported twice, as {opsets[domain]} "
                f"and {version}"
            )
    metadata: dict[str, str] = {}
    for span in _spans(fields, "metadata_props"):
        entry = reader.message(span, _ENTRY)
        key = text(_bytes(entry, "key"), "metadata key")
        if key in metadata:
            raise ModelError(f"metadata key '{key}' appears twice")
        metadata[key] = text(_bytes(entry, "value"), f"metadata '{key}'")
    producer = " ".join(
        text(_bytes(fields, name), "producer")
        for name in ("producer_name", "producer_version")
    ).strip()
    return ModelProto(
        ir_version=_int(fields, "ir_version"),
        opsets=opsets,
        producer=producer,
        graph=_graph(reader, _span(fields, "graph")),
        metadata=metadata,
    )


def _graph(reader: Reader, span: Span) -> Graph:
    """Decode the main GraphProto."""
    fields = reader.message(span, _GRAPH)
    if fields.get("sparse_initializer"):
        raise ModelError("sparse initializers are not supported")
    node_spans = _spans(fields, "node")
    if len(node_spans) > MAX_NODES:
        raise ModelError(f"graph has {len(node_spans):,} nodes, limit is {MAX_NODES:,}")
    initializers: dict[str, np.ndarray] = {}
    for tensor_span in _spans(fields, "initializer"):
        name, array = _tensor(reader, tensor_span, "initializer")
        if name in initializers:
            raise ModelError(f"initializer '{name}' appears twice")
        initializers[name] = array
    return Graph(
        nodes=tuple(_node(reader, s, i) for i, s in enumerate(node_spans)),
        initializers=initializers,
        inputs=tuple(_value_info(reader, s) for s in _spans(fields, "input")),
        outputs=tuple(_value_info(reader, s) for s in _spans(fields, "output")),
    )


def _node(reader: Reader, span: Span, index: int) -> Node:
    """Decode one NodeProto."""
    fields = reader.message(span, _NODE)
    op_type = text(_bytes(fields, "op_type"), f"op type of node {index}")
    where = f"node {index} ({op_type})"
    attributes: dict[str, Attribute] = {}
    for attribute_span in _spans(fields, "attribute"):
        attribute = _attribute(reader, attribute_span, where)
        if attribute.name in attributes:
            raise ModelError(f"attribute '{attribute.name}' appears twice in {where}")
        attributes[attribute.name] = attribute
    return Node(
        index=index,
        op_type=op_type,
        domain=canonical_domain(text(_bytes(fields, "domain"), f"domain of {where}")),
        inputs=tuple(
            text(n, f"input of {where}") for n in _bytes_list(fields, "input")
        ),
        outputs=tuple(
            text(n, f"output of {where}") for n in _bytes_list(fields, "output")
        ),
        attributes=attributes,
    )


def _attribute(reader: Reader, span: Span, where: str) -> Attribute:
    """Decode one AttributeProto of the node described by `where`."""
    fields = reader.message(span, _ATTRIBUTE)
    name = text(_bytes(fields, "name"), f"attribute name in {where}")
    if "g" in fields or "graphs" in fields or fields.get("type") in {A_GRAPH, A_GRAPHS}:
        raise ModelError(f"subgraph attribute '{name}' of {where} is not supported")
    if "ref_attr_name" in fields:
        raise ModelError(
            f"attribute '{name}' of {where} refers to a function attribute"
        )
    kind = _int(fields, "type")
    value: AttributeValue
    if kind == A_FLOAT:
        value = _float(fields, "f")
    elif kind == A_INT:
        value = _int(fields, "i")
    elif kind == A_STRING:
        value = _bytes(fields, "s")
    elif kind == A_TENSOR:
        if "t" not in fields:
            raise ModelError(f"tensor attribute '{name}' of {where} has no tensor")
        value = _tensor(reader, _span(fields, "t"), f"attribute '{name}' of {where}")[1]
    elif kind == A_FLOATS:
        value = _array(fields, "floats", np.float32)
    elif kind == A_INTS:
        value = _array(fields, "ints", np.int64)
    elif kind == A_STRINGS:
        value = _bytes_list(fields, "strings")
    else:
        type_name = _ATTRIBUTE_TYPE_NAMES.get(kind, str(kind))
        raise ModelError(
            f"attribute '{name}' of {where} has unsupported type {type_name}"
        )
    return Attribute(name, kind, value)


def _tensor(reader: Reader, span: Span, what: str) -> tuple[str, np.ndarray]:
    """Decode a TensorProto into (name, read-only array), checking its size first."""
    fields = reader.message(span, _TENSOR)
    name = text(_bytes(fields, "name"), f"tensor name of {what}")
    label = f"tensor '{name}'" if name else f"tensor of {what}"
    if fields.get("data_location", 0) != 0 or "external_data" in fields:
        raise ModelError(f"{label} keeps its data in an external file")
    if "segment" in fields:
        raise ModelError(f"{label} is segmented")
    data_type = _int(fields, "data_type")
    dtype = DTYPES.get(data_type)
    if dtype is None:
        type_name = TYPE_NAMES.get(data_type, str(data_type))
        raise ModelError(f"{label} has data type {type_name}, which is not supported")
    dims = [int(d) for d in _array(fields, "dims", np.int64)]
    if len(dims) > MAX_DIMS:
        raise ModelError(f"{label} has {len(dims)} dimensions, limit is {MAX_DIMS}")
    if any(d < 0 for d in dims):
        raise ModelError(f"{label} has a negative dimension {dims}")
    size = math.prod(dims)
    if size > MAX_TENSOR_ELEMENTS:
        raise ModelError(
            f"{label} has {size:,} elements, limit is {MAX_TENSOR_ELEMENTS:,}"
        )
    array = _tensor_data(fields, data_type, dtype, size, label)
    array = array.reshape(dims)
    array.flags.writeable = False
    return name, array


def _tensor_data(
    fields: dict[str, object], data_type: int, dtype: np.dtype, size: int, label: str
) -> np.ndarray:
    """Return the flat elements of a tensor, refusing any other count than `size`."""
    typed = {
        FLOAT: "float_data",
        INT64: "int64_data",
        DOUBLE: "double_data",
        STRING: "string_data",
    }.get(data_type, "int32_data")
    if "raw_data" in fields:
        if typed in fields:
            raise ModelError(f"{label} holds both raw_data and {typed}")
        if data_type == STRING:
            raise ModelError(f"{label} is a string tensor with raw_data")
        raw = fields["raw_data"]
        assert isinstance(raw, bytes)
        if len(raw) != size * dtype.itemsize:
            raise ModelError(
                f"{label} declares {size:,} elements ({size * dtype.itemsize:,} "
                f"bytes) but holds {len(raw):,} bytes"
            )
        return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype)
    values = fields.get(typed, [])
    assert isinstance(values, list | np.ndarray)
    if len(values) != size:
        raise ModelError(
            f"{label} declares {size:,} elements but holds {len(values):,}"
        )
    if size == 0:
        return np.zeros(0, dtype=dtype)
    if data_type == STRING:
        strings = [text(value, f"string in {label}") for value in values]
        array = np.empty(size, dtype=object)
        array[:] = strings
        return array
    assert isinstance(values, np.ndarray)
    if data_type in _INT32_DATA and values.size:
        low, high = (
            (0, 1) if dtype.kind == "b" else (np.iinfo(dtype).min, np.iinfo(dtype).max)
        )
        if values.min() < low or values.max() > high:
            raise ModelError(f"{label} holds values out of range for {dtype}")
    return values.astype(dtype)


def _value_info(reader: Reader, span: Span) -> ValueInfo:
    """Decode a graph input or output."""
    fields = reader.message(span, _VALUE_INFO)
    name = text(_bytes(fields, "name"), "graph input or output name")
    if "type" not in fields:
        return ValueInfo(name, "none")
    type_fields = reader.message(_span(fields, "type"), _TYPE)
    if "tensor_type" not in type_fields:
        kinds = [
            k
            for k in ("sequence", "map", "sparse_tensor", "optional")
            if f"{k}_type" in type_fields
        ]
        return ValueInfo(name, kinds[0] if kinds else "none")
    tensor = reader.message(_span(type_fields, "tensor_type"), _TENSOR_TYPE)
    shape = None
    if "shape" in tensor:
        dims = _spans(reader.message(_span(tensor, "shape"), _SHAPE), "dim")
        if len(dims) > MAX_DIMS:
            raise ModelError(
                f"'{name}' has {len(dims)} dimensions, limit is {MAX_DIMS}"
            )
        shape = tuple(_dim(reader, d) for d in dims)
    return ValueInfo(name, "tensor", _int(tensor, "elem_type"), shape)


def _dim(reader: Reader, span: Span) -> int | None:
    """Return a fixed dimension's size, or None for a symbolic or unknown one."""
    value = reader.message(span, _DIM).get("dim_value")
    return value if isinstance(value, int) and value >= 0 else None
