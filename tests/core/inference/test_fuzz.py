"""Hostile files: truncated, bit-flipped, random or structurally mutated real models.

Whatever the bytes, `load_model` (and the prediction that follows a successful load)
either works or raises ModelError; nothing else may come out, and every limit keeps
the work small (hypothesis would report a hang as a timeout of the suite).
"""

import os

from hypothesis import HealthCheck, given, settings, strategies as st
import numpy as np
import onnx
from onnx import helper, numpy_helper
import pytest

from homeiq_core.inference import ModelError, load_model

from .conftest import Exported

NAMES = ("forest", "binary", "regressor", "outlier", "linear")
FUZZ = settings(
    # HOMEIQ_FUZZ_EXAMPLES=5000 for a longer hunt than the suite's default
    max_examples=int(os.environ.get("HOMEIQ_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def attempt(data: bytes) -> None:
    """Load and run `data`; only ModelError may escape."""
    try:
        model = load_model(data, backend="numpy")
    except ModelError:
        return
    rows = np.array([[0.0], [1.5], [np.nan], [-1e30]], dtype=np.float32)
    x = np.repeat(rows, model.n_features, axis=1)
    try:
        model.run(x)
        model.predict(x)
    except ModelError:
        pass


@FUZZ
@given(name=st.sampled_from(NAMES), cut=st.floats(0, 1, exclude_max=True))
def test_truncated_files(exported: dict[str, Exported], name: str, cut: float) -> None:
    data = exported[name].data
    attempt(data[: int(cut * len(data))])


@FUZZ
@given(
    name=st.sampled_from(NAMES),
    flips=st.lists(
        st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
        min_size=1,
        max_size=8,
    ),
)
def test_bytes_flipped(
    exported: dict[str, Exported], name: str, flips: list[tuple[float, int]]
) -> None:
    data = bytearray(exported[name].data)
    for where, value in flips:
        data[int(where * len(data))] = value
    attempt(bytes(data))


@FUZZ
@given(data=st.binary(max_size=4096))
def test_random_bytes(data: bytes) -> None:
    attempt(data)


@FUZZ
@given(prefix=st.sampled_from(NAMES), tail=st.binary(max_size=512))
def test_valid_prefix_with_random_tail(
    exported: dict[str, Exported], prefix: str, tail: bytes
) -> None:
    data = exported[prefix].data
    attempt(data[: len(data) // 2] + tail)


INTEGERS = st.one_of(
    st.integers(-3, 40),
    st.sampled_from([-(2**63), 2**31, 2**31 - 1, 2**40, 2**63 - 1, 10**6]),
)
FLOATS = st.one_of(st.floats(width=32), st.sampled_from([0.0, -0.0, 1e38]))
STRINGS = st.one_of(
    st.sampled_from(
        ["LEAF", "BRANCH_LEQ", "BRANCH_GT", "SOFTMAX", "LOGISTIC", "PROBIT", "", "TWIG"]
    ),
    st.text(max_size=5),
)


def mutate_attribute(draw: st.DrawFn, attribute: onnx.AttributeProto) -> None:
    """Change, shorten or lengthen one attribute's values."""
    for field, values in (
        ("ints", INTEGERS),
        ("floats", FLOATS),
        ("strings", STRINGS.map(str.encode)),
    ):
        items = getattr(attribute, field)
        if not items:
            continue
        action = draw(st.sampled_from(["set", "drop", "append", "clear"]))
        if action == "set":
            items[draw(st.integers(0, len(items) - 1))] = draw(values)
        elif action == "drop":
            del items[draw(st.integers(0, len(items) - 1))]
        elif action == "append":
            items.append(draw(values))
        else:
            del items[:]
        return
    if attribute.type == onnx.AttributeProto.INT:
        attribute.i = draw(INTEGERS)
    elif attribute.type == onnx.AttributeProto.STRING:
        attribute.s = draw(STRINGS).encode()
    elif attribute.type == onnx.AttributeProto.FLOAT:
        attribute.f = draw(FLOATS)
    else:
        attribute.type = draw(st.integers(0, 14))


def _pick(draw: st.DrawFn, items: list) -> object:
    return items[draw(st.integers(0, len(items) - 1))]


def _attribute(draw: st.DrawFn, graph: onnx.GraphProto) -> None:
    node = _pick(draw, graph.node)
    if node.attribute:
        mutate_attribute(draw, _pick(draw, node.attribute))


def _op(draw: st.DrawFn, graph: onnx.GraphProto) -> None:
    node = _pick(draw, graph.node)
    node.op_type = draw(
        st.sampled_from(["LSTM", "If", "Add", "Identity", "ZipMap", "Softmax"])
    )
    node.domain = draw(st.sampled_from(["", "ai.onnx.ml", "com.microsoft"]))


def _edge(draw: st.DrawFn, graph: onnx.GraphProto) -> None:
    node = _pick(draw, graph.node)
    names = [*node.input, *node.output, "features", "", "nowhere"]
    edges = node.input if node.input and draw(st.booleans()) else node.output
    edges[draw(st.integers(0, len(edges) - 1))] = draw(st.sampled_from(names))


def _initializer(draw: st.DrawFn, graph: onnx.GraphProto) -> None:
    if not graph.initializer:
        return
    tensor = _pick(draw, graph.initializer)
    if draw(st.booleans()) and tensor.dims:
        tensor.dims[draw(st.integers(0, len(tensor.dims) - 1))] = draw(INTEGERS)
    else:
        tensor.raw_data = tensor.raw_data[: draw(st.integers(0, 16))]


def _input(draw: st.DrawFn, graph: onnx.GraphProto) -> None:
    graph.input[0].type.tensor_type.shape.dim[-1].dim_value = draw(st.integers(-1, 8))


def _nodes(draw: st.DrawFn, graph: onnx.GraphProto) -> None:
    index = draw(st.integers(0, len(graph.node) - 1))
    if draw(st.booleans()):
        graph.node.add().CopyFrom(graph.node[index])
    elif len(graph.node) > 1:
        del graph.node[index]


GRAPH_MUTATIONS = (_attribute, _op, _edge, _initializer, _input, _nodes)


def mutate(draw: st.DrawFn, model: onnx.ModelProto) -> None:
    """Apply one structural mutation to `model`."""
    choice = draw(st.integers(0, len(GRAPH_MUTATIONS) + 1))
    if choice < len(GRAPH_MUTATIONS):
        GRAPH_MUTATIONS[choice](draw, model.graph)
    elif choice == len(GRAPH_MUTATIONS):
        _pick(draw, model.opset_import).version = draw(INTEGERS)
    else:
        helper.set_model_props(
            model, {"homeiq.feature_names": draw(st.text(max_size=20))}
        )


@FUZZ
@given(name=st.sampled_from(NAMES), data=st.data())
def test_structurally_mutated_models(
    exported: dict[str, Exported], name: str, data: st.DataObject
) -> None:
    model = onnx.load_from_string(exported[name].data)
    for _ in range(data.draw(st.integers(1, 3))):
        mutate(data.draw, model)
    attempt(model.SerializeToString())


def test_a_large_broadcast_is_refused_before_it_is_computed() -> None:
    from .graphs import model_bytes, node  # noqa: PLC0415

    wide = np.zeros((1, 4_000_000), dtype=np.float32)
    nodes = [
        node("Gather", ["features", "zero"], ["column"], axis=1),
        node("Add", ["column", "wide"], ["y"]),
    ]
    data = model_bytes(
        nodes,
        ["y"],
        initializers={"wide": wide, "zero": np.array([0], dtype=np.int64)},
    )
    with pytest.raises(ModelError, match="would hold 12,000,000 elements, limit is"):
        load_model(data, backend="numpy")


def test_a_graph_that_doubles_its_values_is_stopped() -> None:
    from .graphs import model_bytes, node  # noqa: PLC0415

    nodes = [node("Concat", ["features", "features"], ["v0"], axis=1)]
    nodes += [
        node("Concat", [f"v{i}", f"v{i}"], [f"v{i + 1}"], axis=1) for i in range(40)
    ]
    data = model_bytes(nodes, ["v40"])
    with pytest.raises(ModelError, match="elements, limit is"):
        load_model(data, backend="numpy")


def test_many_live_values_are_stopped() -> None:
    from .graphs import model_bytes, node  # noqa: PLC0415

    big = numpy_helper.to_array(numpy_helper.from_array(np.zeros(4, np.float32)))
    nodes = [node("Add", ["features", "b"], [f"y{i}"]) for i in range(2000)]
    nodes += [
        node("Gather", ["features", "wide"], [f"g{i}"], axis=1) for i in range(20)
    ]
    data = model_bytes(
        nodes,
        [f"g{i}" for i in range(20)] + [f"y{i}" for i in range(2000)],
        initializers={"b": big, "wide": np.zeros(300_000, dtype=np.int64)},
    )
    with pytest.raises(ModelError, match="the graph holds"):
        load_model(data, backend="numpy")
