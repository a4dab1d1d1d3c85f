"""Every operator gives onnxruntime's numbers, and every misuse is a named refusal."""

import numpy as np
from onnx import TensorProto, helper
import pytest

from homeiq_core.inference import ModelError, load_model

from .graphs import ML, assert_same_outputs, model_bytes, node, output

RNG = np.random.default_rng(7)
X = RNG.normal(size=(50, 4)).astype(np.float32)
X[3, 1] = np.nan
X[5, 0] = np.nan
X[6] = np.nan
X[4] = 0.0
F32 = np.float32


def f32(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float32)


def i64(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


# (nodes, outputs, initializers); all read the float32 input "features" [N, 4].
CASES = {
    "arithmetic": (
        [
            node("Add", ["features", "b"], ["add"]),
            node("Sub", ["add", "features"], ["sub"]),
            node("Mul", ["sub", "b"], ["mul"]),
            node("Div", ["mul", "c"], ["div"]),
            node("Neg", ["div"], ["neg"]),
            node("Log", ["features"], ["log"]),
            node("Pow", ["two", "features"], ["pow"]),
            node("Sigmoid", ["features"], ["sigmoid"]),
        ],
        ["add", "sub", "mul", "div", "neg", "log", "pow", "sigmoid"],
        {"b": f32(0.5, -1, 2, 0), "c": f32(2, 0, -4, 1e-30), "two": f32(2)},
    ),
    "comparisons": (
        [
            node("Equal", ["features", "zero"], ["eq"]),
            node("Greater", ["features", "zero"], ["gt"]),
            node("Less", ["features", "zero"], ["lt"]),
            node("Cast", ["gt"], ["gt_float"], to=TensorProto.FLOAT),
            node("Cast", ["features"], ["as_int"], to=TensorProto.INT64),
            node("Cast", ["features"], ["as_bool"], to=TensorProto.BOOL),
            node("Cast", ["as_int"], ["as_double"], to=TensorProto.DOUBLE),
            node("Cast", ["as_int"], ["as_int32"], to=TensorProto.INT32),
        ],
        [
            output("eq", TensorProto.BOOL),
            output("gt", TensorProto.BOOL),
            output("lt", TensorProto.BOOL),
            "gt_float",
            output("as_int", TensorProto.INT64),
            output("as_bool", TensorProto.BOOL),
            output("as_double", TensorProto.DOUBLE),
            output("as_int32", TensorProto.INT32),
        ],
        {"zero": f32(0)},
    ),
    "variadic": (
        [
            node("Sum", ["features", "b", "features"], ["sum"]),
            node("Max", ["features", "b"], ["max"]),
            node("Sum", ["features"], ["sum1"]),
        ],
        ["sum", "max", "sum1"],
        {"b": f32(0.5, -1, 2, 0)},
    ),
    "shapes": (
        [
            node("Reshape", ["features", "flat"], ["reshaped"]),
            node("Reshape", ["reshaped", "copy"], ["copied"]),
            node("Concat", ["features", "features"], ["concat"], axis=1),
            node("Concat", ["features", "features"], ["stacked"], axis=-2),
            node("Gather", ["features", "columns"], ["gathered"], axis=1),
            node("Gather", ["features", "rows"], ["rows_out"], axis=0),
            node("Identity", ["gathered"], ["identity"]),
        ],
        ["reshaped", "copied", "concat", "stacked", "gathered", "rows_out", "identity"],
        {
            "flat": i64(-1, 2),
            "copy": i64(0, 1, 2),
            "columns": i64(3, -1, 0),
            "rows": np.array([0, 2], dtype=np.int32),
        },
    ),
    "reductions": (
        [
            node("ArgMax", ["features"], ["argmax"], axis=1),
            node("ArgMax", ["features"], ["argmax_flat"], axis=1, keepdims=0),
            node("Cast", ["features"], ["rounded_int"], to=TensorProto.INT64),
            node("Cast", ["rounded_int"], ["rounded"], to=TensorProto.FLOAT),
            node("ArgMax", ["rounded"], ["argmax_last"], axis=1, select_last_index=1),
            node("Softmax", ["features"], ["softmax"]),
            node("Softmax", ["features"], ["softmax0"], axis=0),
        ],
        [
            output("argmax", TensorProto.INT64),
            output("argmax_flat", TensorProto.INT64),
            output("argmax_last", TensorProto.INT64),
            "softmax",
            "softmax0",
        ],
        {},
    ),
    "scaler_normalizer": (
        [
            node(
                "Scaler",
                ["features"],
                ["scaled"],
                offset=[0.5, 0, 1, -2],
                scale=[2.0, 1, 0, -1],
            ),
            node("Scaler", ["features"], ["scalar"], offset=[0.5], scale=[3.0]),
            node("Normalizer", ["scaled"], ["max"], norm="MAX"),
            node("Normalizer", ["scaled"], ["l1"], norm="L1"),
            node("Normalizer", ["scaled"], ["l2"], norm="L2"),
            node("Normalizer", ["vector"], ["vector_l1"], norm="L1"),
        ],
        ["scaled", "scalar", "max", "l1", "l2", "vector_l1"],
        {"vector": f32(1, -2, 3)},
    ),
    "linear_regressor": (
        [
            node(
                "LinearRegressor",
                ["features"],
                ["values"],
                coefficients=[0.5, -1, 2, 0, 1, 1, 1, 1],
                intercepts=[0.25, -3],
                targets=2,
            ),
            node(
                "LinearRegressor", ["features"], ["plain"], coefficients=[1.0, 2, 3, 4]
            ),
        ],
        ["values", "plain"],
        {},
    ),
    "features_and_labels": (
        [
            node("ArrayFeatureExtractor", ["features", "columns"], ["picked"]),
            node("ArrayFeatureExtractor", ["vector", "columns"], ["picked_vector"]),
            node("Cast", ["picked"], ["keys"], to=TensorProto.INT64),
            node(
                "LabelEncoder",
                ["keys"],
                ["floats"],
                keys_int64s=[-1, 0, 1],
                values_floats=[10.0, 20.0, 30.0],
            ),
            node(
                "LabelEncoder",
                ["keys"],
                ["strings"],
                keys_int64s=[0, 1],
                values_strings=["zero", "one"],
            ),
            node(
                "LabelEncoder",
                ["strings"],
                ["back"],
                keys_strings=["one", "zero"],
                values_int64s=[1, 0],
                default_int64=-5,
            ),
            node(
                "LabelEncoder",
                ["features"],
                ["float_keys"],
                keys_floats=[0.0, 1.5],
                values_int64s=[7, 8],
            ),
        ],
        [
            "picked",
            "picked_vector",
            "floats",
            output("strings", TensorProto.STRING),
            output("back", TensorProto.INT64),
            output("float_keys", TensorProto.INT64),
        ],
        {"columns": i64(2, 0), "vector": f32(1, 2, 3)},
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_operators_match_onnxruntime(case: str) -> None:
    nodes, outputs, initializers = CASES[case]
    data = model_bytes(nodes, outputs, initializers=initializers)
    assert_same_outputs(data, X)


@pytest.mark.parametrize("post", ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO"])
@pytest.mark.parametrize("strings", [False, True])
def test_linear_classifier_matches_onnxruntime(post: str, strings: bool) -> None:
    labels = {"classlabels_strings": ["a", "b", "c"]} if strings else {}
    labels = labels or {"classlabels_ints": [3, 1, 2]}
    coefficients = RNG.normal(size=12).tolist()
    coefficients[4:8] = [0.0] * 4  # a class whose score is exactly zero (SOFTMAX_ZERO)
    classifier = node(
        "LinearClassifier",
        ["features"],
        ["label", "probabilities"],
        coefficients=coefficients,
        intercepts=[0.5, 0.0, -0.5],
        post_transform=post,
        multi_class=1,
        **labels,
    )
    outputs = [output("label", TensorProto.STRING if strings else TensorProto.INT64)]
    data = model_bytes([classifier], [*outputs, "probabilities"])
    assert_same_outputs(data, X)


@pytest.mark.parametrize("strings", [False, True])
def test_zipmap_matches_onnxruntime(strings: bool) -> None:
    labels = (
        {"classlabels_strings": ["x", "y"]}
        if strings
        else {"classlabels_int64s": [4, 5]}
    )
    key = TensorProto.STRING if strings else TensorProto.INT64
    zipped = helper.make_value_info(
        "zipped",
        helper.make_sequence_type_proto(
            helper.make_map_type_proto(key, helper.make_tensor_type_proto(1, None))
        ),
    )
    nodes = [
        node("Gather", ["features", "columns"], ["two"], axis=1),
        node("ZipMap", ["two"], ["zipped"], **labels),
    ]
    data = model_bytes(nodes, [zipped], initializers={"columns": i64(0, 1)})
    assert_same_outputs(data, X)


def refused(nodes: list, outputs: list, message: str, **kwargs: object) -> None:
    data = model_bytes(nodes, outputs, **kwargs)
    with pytest.raises(ModelError, match=message):
        load_model(data, backend="numpy")


@pytest.mark.parametrize(
    ("nodes", "initializers", "message"),
    [
        (
            [node("LSTM", ["features"], ["y"])],
            {},
            r"unsupported op 'LSTM' \(domain ''\), node 0",
        ),
        (
            [helper.make_node("Foo", ["features"], ["y"], domain="com.example")],
            {},
            "node 0 .Foo. uses domain 'com.example', which is not imported",
        ),
        ([node("Add", ["features"], ["y"])], {}, "node 0 .Add. has 1 inputs"),
        ([node("Identity", ["features"], ["y", "z"])], {}, "has 2 outputs"),
        ([node("Identity", ["nothing"], ["y"])], {}, "reads 'nothing' before it"),
        ([node("Add", ["features", ""], ["y"])], {}, "leaves a required input empty"),
        (
            [
                node("Identity", ["features"], ["y"]),
                node("Identity", ["features"], ["y"]),
            ],
            {},
            "node 1 .Identity. computes 'y' a second time",
        ),
        ([node("Identity", ["features"], ["y"], foo=1)], {}, "unknown attribute 'foo'"),
        (
            [node("Cast", ["features"], ["y"], to="x")],
            {},
            "attribute 'to' has the wrong",
        ),
        (
            [node("Cast", ["features"], ["y"], to=TensorProto.STRING)],
            {},
            "cast to STRING",
        ),
        ([node("Concat", ["features"], ["y"])], {}, "needs attribute 'axis'"),
        ([node("Concat", ["features"], ["y"], axis=2)], {}, "Concat axis 2 is out of"),
        ([node("Add", ["features", "i"], ["y"])], {"i": i64(1)}, "different types"),
        ([node("Div", ["i", "i"], ["y"])], {"i": i64(1)}, "Div input A must be float"),
        ([node("Neg", ["i"], ["y"])], {"i": i64(1)}, "Neg input must be float"),
        ([node("Add", ["features", "s"], ["y"])], {"s": np.array(["a"])}, "numeric"),
        ([node("Reshape", ["features", "bad"], ["y"])], {"bad": f32(1)}, "1-D int64"),
        ([node("Reshape", ["features", "s"], ["y"])], {"s": i64(-1, -1)}, "is invalid"),
        (
            [node("Reshape", ["features", "s"], ["y"])],
            {"s": i64(*[1] * 9)},
            "limit is 8",
        ),
        (
            [node("Reshape", ["features", "s"], ["y"])],
            {"s": i64(3, 0, 0)},
            "copies dimension 2 the data lacks",
        ),
        (
            [node("Reshape", ["features", "s"], ["y"])],
            {"s": i64(7)},
            r"node 0 .Reshape. failed",
        ),
        ([node("Gather", ["features", "f"], ["y"])], {"f": f32(0)}, "int32 or int64"),
        ([node("Gather", ["features", "i"], ["y"], axis=1)], {"i": i64(9)}, "failed"),
        ([node("Concat", ["features", "v"], ["y"], axis=0)], {"v": f32(1)}, "ranks"),
        (
            [node("Normalizer", ["features"], ["y"], norm="L3")],
            {},
            "norm 'L3' is not supported",
        ),
        (
            [node("Scaler", ["features"], ["y"], scale=[1.0])],
            {},
            "needs offset and scale",
        ),
        (
            [node("Scaler", ["features"], ["y"], offset=[1.0, 2.0], scale=[1.0])],
            {},
            "has 2 offsets but 1 scales",
        ),
        (
            [node("Scaler", ["features"], ["y"], offset=[1.0, 2.0], scale=[1.0, 1.0])],
            {},
            "Scaler has 2 offsets for 4 columns",
        ),
        ([node("Normalizer", ["t"], ["y"])], {"t": np.zeros((1, 1, 1))}, "1 or 2 dim"),
        (
            [node("LinearRegressor", ["features"], ["y"], coefficients=[1.0] * 3)],
            {},
            "input has 4 columns, coefficients expect 3",
        ),
        (
            [
                node(
                    "LinearRegressor",
                    ["features"],
                    ["y"],
                    coefficients=[1.0] * 4,
                    targets=3,
                )
            ],
            {},
            "multiple of 3",
        ),
        (
            [
                node(
                    "LinearRegressor",
                    ["features"],
                    ["y"],
                    coefficients=[1.0] * 4,
                    targets=0,
                )
            ],
            {},
            "targets 0 is out of range",
        ),
        (
            [
                node(
                    "LinearRegressor",
                    ["features"],
                    ["y"],
                    coefficients=[1.0] * 4,
                    intercepts=[1.0, 2.0],
                )
            ],
            {},
            "2 intercepts for 1 targets",
        ),
        (
            [
                node(
                    "LinearRegressor",
                    ["features"],
                    ["y"],
                    coefficients=[1.0] * 4,
                    post_transform="LOGISTIC",
                )
            ],
            {},
            "post_transform 'LOGISTIC' is not supported",
        ),
        (
            [node("ZipMap", ["features"], ["y"], classlabels_int64s=[1, 2])],
            {},
            "ZipMap input must be float32 with 2 columns",
        ),
        (
            [node("ArrayFeatureExtractor", ["features", "i"], ["y"])],
            {"i": i64(4)},
            "index out of range for 4",
        ),
        (
            [node("ArrayFeatureExtractor", ["features", "i"], ["y"])],
            {"i": np.array([0], dtype=np.int32)},
            "needs int64 indices",
        ),
        ([node("ArgMax", ["features"], ["y"], axis=5)], {}, "ArgMax axis 5"),
        ([node("Softmax", ["i"], ["y"])], {"i": i64(1)}, "Softmax input must be float"),
        ([node("Pow", ["i", "features"], ["y"])], {"i": i64(2)}, "Pow base must be"),
        (
            [node("Gather", ["features", "i"], ["y"], axis=3)],
            {"i": i64(0)},
            "Gather axis",
        ),
        (
            [
                node("ZipMap", ["features"], ["z"], classlabels_int64s=[1, 2, 3, 4]),
                node("Identity", ["z"], ["zz"]),
                node("Add", ["zz", "features"], ["y"]),
            ],
            {},
            "Add input A must be a tensor",
        ),
    ],
)
def test_misused_operators_are_refused_at_load(
    nodes: list, initializers: dict, message: str
) -> None:
    refused(nodes, ["y"], message, initializers=initializers)


def label_encoder(**attrs: object) -> list:
    return [node("LabelEncoder", ["features"], ["y"], **attrs)]


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"values_int64s": [1]}, "needs exactly one of keys_int64s"),
        (
            {"keys_floats": [1.0], "keys_int64s": [1], "values_int64s": [1]},
            "exactly one",
        ),
        ({"keys_floats": [1.0, 2.0], "values_int64s": [1]}, "has 2 keys but 1 values"),
        ({"keys_floats": [1.0, 1.0], "values_int64s": [1, 2]}, "maps a key twice"),
        ({"keys_strings": ["a", "a"], "values_int64s": [1, 2]}, "maps a key twice"),
        (
            {"keys_int64s": [1], "values_int64s": [1]},
            "input is float32, its keys int64",
        ),
    ],
)
def test_label_encoder_misuse_is_refused(attrs: dict, message: str) -> None:
    refused(label_encoder(**attrs), ["y"], message)


def test_label_encoder_needs_ml_opset_2() -> None:
    refused(
        label_encoder(keys_floats=[1.0], values_int64s=[1]),
        ["y"],
        "needs opset 2, the model imports 1",
        opsets={"": 21, ML: 1},
    )


@pytest.mark.parametrize(
    ("attrs", "message"),
    [
        ({"intercepts": [0.0, 0.0], "classlabels_ints": [0, 1]}, "multiple of 2"),
        (
            {"coefficients": [1.0] * 4, "intercepts": [0.0]},
            "exactly one of classlabels",
        ),
        (
            {
                "coefficients": [1.0] * 4,
                "intercepts": [0.0],
                "classlabels_ints": [0, 1],
            },
            "one intercept per class",
        ),
        (
            {
                "coefficients": [1.0] * 8,
                "intercepts": [0.0, 0.0],
                "classlabels_ints": [0, 1],
                "post_transform": "PROBIT",
            },
            "post_transform 'PROBIT' is not supported",
        ),
        (
            {
                "coefficients": [1.0] * 6,
                "intercepts": [0.0, 0.0],
                "classlabels_ints": [0, 1],
            },
            "input has 4 columns, coefficients expect 3",
        ),
    ],
)
def test_linear_classifier_misuse_is_refused(attrs: dict, message: str) -> None:
    classifier = node("LinearClassifier", ["features"], ["label", "p"], **attrs)
    refused([classifier], ["label", "p"], message)


@pytest.mark.parametrize(
    ("opsets", "message"),
    [
        ({"": 23, ML: 3}, "opset 23 of ai.onnx not supported"),
        ({"": 12, ML: 3}, "opset 12 of ai.onnx not supported"),
        ({"": 21, ML: 4}, "opset 4 of ai.onnx.ml not supported"),
    ],
)
def test_opsets_outside_the_supported_range_are_refused(
    opsets: dict, message: str
) -> None:
    refused([node("Identity", ["features"], ["y"])], ["y"], message, opsets=opsets)


def test_graph_shapes_outside_homeiq_models_are_refused() -> None:
    identity = [node("Identity", ["features"], ["y"])]
    refused(identity, ["y"], "IR version 2 is not supported", ir_version=2)
    two = [
        helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, 4]),
        helper.make_tensor_value_info("other", TensorProto.FLOAT, [None, 4]),
    ]
    refused(identity, ["y"], "model has 2 inputs; HomeIQ models have one", inputs=two)
    refused(identity, ["y"], "model has 0 inputs", inputs=[])
    for value_info, message in [
        (
            helper.make_tensor_value_info("features", TensorProto.DOUBLE, [None, 4]),
            "input 'features' must be a float32 tensor, not DOUBLE",
        ),
        (
            helper.make_tensor_sequence_value_info("features", TensorProto.FLOAT, None),
            "float32 tensor, not sequence",
        ),
        (
            helper.make_tensor_value_info("features", TensorProto.FLOAT, [None]),
            r"must have shape \[N, features\]",
        ),
        (
            helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, "f"]),
            r"must have shape \[N, features\]",
        ),
        (
            helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, 0]),
            "has 0 features",
        ),
    ]:
        refused(identity, ["y"], message, inputs=[value_info])
    refused(identity, [], "model has no outputs")
    refused(identity, ["y", "y"], "names an output twice")
    refused(identity, ["z"], "output 'z' is not computed by the graph")


def test_initializers_listed_as_inputs_are_not_model_inputs() -> None:
    inputs = [
        helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, 4]),
        helper.make_tensor_value_info("b", TensorProto.FLOAT, [4]),
    ]
    data = model_bytes(
        [node("Add", ["features", "b"], ["y"])],
        ["y", "b"],
        inputs=inputs,
        initializers={"b": f32(1, 2, 3, 4)},
    )
    model = load_model(data, backend="numpy")
    outputs = model.run(X)
    np.testing.assert_array_equal(outputs["y"], X + f32(1, 2, 3, 4))
    np.testing.assert_array_equal(outputs["b"], f32(1, 2, 3, 4))
    assert model.kind == "other"
    with pytest.raises(ModelError, match="are not a classifier's"):
        model.predict(X)


def test_a_label_encoder_without_keys_maps_everything_to_its_default() -> None:
    encoder = node("LabelEncoder", ["features"], ["y"], default_int64=9)
    for name, kind in (("keys_floats", 6), ("values_int64s", 7)):
        encoder.attribute.append(helper.make_attribute(name, [], attr_type=kind))
    model = load_model(model_bytes([encoder], [output("y", TensorProto.INT64)]))
    assert model.run(X[:2])["y"].tolist() == [[9] * 4] * 2


def test_tree_ensembles_beyond_the_cost_limits_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from homeiq_core.inference import graph  # noqa: PLC0415

    from .test_trees import classifier, simple  # noqa: PLC0415

    monkeypatch.setattr(graph, "MAX_TREE_LEVELS", 0)
    with pytest.raises(ModelError, match="tree ensembles are too costly to evaluate"):
        load_model(classifier(simple(), 2), backend="numpy")
