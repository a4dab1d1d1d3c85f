"""Tree ensembles: random forests of every configuration give onnxruntime's numbers,
by either walk (order keys or float comparisons), and every inconsistent structure is
refused at load, naming what is wrong."""

import json

import numpy as np
from onnx import TensorProto, numpy_helper
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor

from homeiq_core.inference import FEATURE_NAMES, ModelError, load_model, trees
from homeiq_trainer.onnx_export import export_onnx

from .graphs import assert_same_outputs, model_bytes, node, output

N_FEATURES = 4
MODES = (
    "BRANCH_LEQ",
    "BRANCH_LT",
    "BRANCH_GTE",
    "BRANCH_GT",
    "BRANCH_EQ",
    "BRANCH_NEQ",
)


def random_trees(
    rng: np.random.Generator,
    n_trees: int,
    depth: int,
    *,
    modes: tuple[str, ...] = MODES,
    missing: bool = True,
) -> tuple[dict, list[tuple[int, int]]]:
    """Return nodes_* attributes of random trees (shuffled ids) and their leaves."""
    attrs: dict[str, list] = {
        name: []
        for name in (
            "nodes_treeids",
            "nodes_nodeids",
            "nodes_featureids",
            "nodes_modes",
            "nodes_values",
            "nodes_truenodeids",
            "nodes_falsenodeids",
            "nodes_missing_value_tracks_true",
        )
    }
    leaves = []
    for tree in range(n_trees):
        shape: list[tuple] = []

        def grow(level: int, shape: list[tuple] = shape) -> int:
            index = len(shape)
            shape.append(())
            if level == depth or (level and rng.random() < 0.3):
                return index
            left, right = grow(level + 1), grow(level + 1)
            shape[index] = (left, right)
            return index

        grow(0)
        ids = rng.permutation(len(shape))
        for index, children in enumerate(shape):
            attrs["nodes_treeids"].append(10 + 3 * tree)
            attrs["nodes_nodeids"].append(int(ids[index]))
            if not children:
                leaves.append((10 + 3 * tree, int(ids[index])))
                attrs["nodes_modes"].append("LEAF")
                for name in ("featureids", "truenodeids", "falsenodeids"):
                    attrs[f"nodes_{name}"].append(0)
                attrs["nodes_values"].append(0.0)
                attrs["nodes_missing_value_tracks_true"].append(0)
                continue
            attrs["nodes_modes"].append(str(rng.choice(modes)))
            attrs["nodes_featureids"].append(int(rng.integers(N_FEATURES)))
            attrs["nodes_values"].append(
                float(np.float32(rng.choice([0.0, 0.5, -1.0])))
            )
            attrs["nodes_truenodeids"].append(int(ids[children[0]]))
            attrs["nodes_falsenodeids"].append(int(ids[children[1]]))
            attrs["nodes_missing_value_tracks_true"].append(
                int(rng.random() < 0.5) if missing else 0
            )
    return attrs, leaves


def inputs(rng: np.random.Generator) -> np.ndarray:
    x = rng.choice([0.0, 0.5, -1.0, 2.0, np.nan], size=(200, N_FEATURES))
    return x.astype(np.float32)


def classifier(attrs: dict, n_classes: int, *, strings: bool = False) -> bytes:
    labels = (
        {"classlabels_strings": [f"c{k}" for k in range(n_classes)]}
        if strings
        else {"classlabels_int64s": list(range(10, 10 + n_classes))}
    )
    ensemble = node(
        "TreeEnsembleClassifier",
        ["features"],
        ["label", "probabilities"],
        **attrs,
        **labels,
    )
    label = output("label", TensorProto.STRING if strings else TensorProto.INT64)
    return model_bytes([ensemble], [label, "probabilities"])


def regressor(attrs: dict) -> bytes:
    return model_bytes(
        [node("TreeEnsembleRegressor", ["features"], ["values"], **attrs)], ["values"]
    )


def class_weights(rng, leaves, classes, *, positive: bool, zeros: bool = False) -> dict:
    rows = [
        (tree, leaf, k, float(rng.random() if positive else rng.normal()))
        for tree, leaf in leaves
        for k in classes
    ]
    if zeros:
        rows = [(t, n, k, 0.0 if rng.random() < 0.3 else w) for t, n, k, w in rows]
    return {
        "class_treeids": [r[0] for r in rows],
        "class_nodeids": [r[1] for r in rows],
        "class_ids": [r[2] for r in rows],
        "class_weights": [r[3] for r in rows],
    }


@pytest.mark.parametrize("post", ["NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO"])
@pytest.mark.parametrize("n_classes", [3, 5])
@pytest.mark.parametrize("with_base", [False, True])
def test_multiclass_ensembles_match_onnxruntime(
    post: str, n_classes: int, with_base: bool
) -> None:
    rng = np.random.default_rng([n_classes, with_base, len(post)])
    for _ in range(3):
        attrs, leaves = random_trees(
            rng, int(rng.integers(1, 5)), int(rng.integers(1, 5))
        )
        attrs |= class_weights(
            rng, leaves, range(n_classes), positive=False, zeros=post == "SOFTMAX_ZERO"
        )
        attrs["post_transform"] = post
        if with_base:
            attrs["base_values"] = rng.normal(size=n_classes).tolist()
        assert_same_outputs(
            classifier(attrs, n_classes, strings=with_base), inputs(rng)
        )


@pytest.mark.parametrize("post", ["NONE", "LOGISTIC"])
@pytest.mark.parametrize("positive", [False, True])
@pytest.mark.parametrize("with_base", [False, True])
def test_binary_ensembles_match_onnxruntime(
    post: str, positive: bool, with_base: bool
) -> None:
    rng = np.random.default_rng([positive, with_base, len(post)])
    for _ in range(5):
        attrs, leaves = random_trees(
            rng, int(rng.integers(1, 5)), int(rng.integers(1, 5))
        )
        attrs |= class_weights(rng, leaves, [0], positive=positive)
        attrs["post_transform"] = post
        if with_base:
            attrs["base_values"] = [float(rng.normal() * 0.2)]
        assert_same_outputs(classifier(attrs, 2), inputs(rng))


@pytest.mark.parametrize("aggregate", ["SUM", "AVERAGE", "MIN", "MAX"])
@pytest.mark.parametrize("n_targets", [1, 3])
@pytest.mark.parametrize("with_base", [False, True])
def test_regressors_match_onnxruntime(
    aggregate: str, n_targets: int, with_base: bool
) -> None:
    rng = np.random.default_rng([n_targets, with_base, len(aggregate)])
    for _ in range(3):
        attrs, leaves = random_trees(
            rng, int(rng.integers(1, 6)), int(rng.integers(1, 6))
        )
        rows = [
            (tree, leaf, k, float(rng.normal()))
            for tree, leaf in leaves
            for k in range(n_targets)
            if n_targets == 1 or rng.random() < 0.7  # some targets without weight
        ]
        attrs |= {
            "target_treeids": [r[0] for r in rows],
            "target_nodeids": [r[1] for r in rows],
            "target_ids": [r[2] for r in rows],
            "target_weights": [r[3] for r in rows],
            "n_targets": n_targets,
            "aggregate_function": aggregate,
        }
        if with_base:
            attrs["base_values"] = rng.normal(size=n_targets).tolist()
        assert_same_outputs(regressor(attrs), inputs(rng))


def test_attributes_as_tensors_match_onnxruntime() -> None:
    rng = np.random.default_rng(3)
    attrs, leaves = random_trees(rng, 3, 3, modes=("BRANCH_LEQ",), missing=False)
    thresholds = np.array(attrs.pop("nodes_values"), dtype=np.float32)
    attrs["nodes_values_as_tensor"] = numpy_helper.from_array(thresholds)
    weights = class_weights(rng, leaves, range(3), positive=False)
    values = np.array(weights.pop("class_weights"), dtype=np.float32)
    attrs["class_weights_as_tensor"] = numpy_helper.from_array(values)
    attrs |= weights
    base = np.array([0.5, 0.0, -0.5], dtype=np.float32)
    attrs["base_values_as_tensor"] = numpy_helper.from_array(base)
    assert_same_outputs(classifier(attrs, 3), inputs(rng))
    attrs["base_values_as_tensor"] = numpy_helper.from_array(base.astype(np.float64))
    with pytest.raises(ModelError, match="'base_values_as_tensor' must hold float32"):
        load_model(classifier(attrs, 3), backend="numpy")


ORDER_MODES = ("BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT")
# float32 values where order keys could go wrong: signed zeros, infinities, NaN,
# the smallest subnormals, the largest float and neighbours of the thresholds
SPECIAL = np.array(
    [0.0, -0.0, 0.5, -1.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, 3.4028235e38]
    + [
        np.nextafter(np.float32(v), np.float32(d)) for v in (0.5, -1.0) for d in (-2, 2)
    ],
    dtype=np.float32,
)


def target_weights(rng: np.random.Generator, leaves: list[tuple[int, int]]) -> dict:
    """Return the target_* attributes of a one-target regressor over `leaves`."""
    return {
        "target_treeids": [tree for tree, _ in leaves],
        "target_nodeids": [leaf for _, leaf in leaves],
        "target_ids": [0] * len(leaves),
        "target_weights": rng.normal(size=len(leaves)).tolist(),
        "n_targets": 1,
    }


@pytest.fixture(params=["keyed", "float"])
def walk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Make every ensemble take the order-key walk, or the float walk."""
    monkeypatch.setattr(
        trees, "_STEPS_PER_KEY", 0 if request.param == "keyed" else 10**9
    )
    return request.param


def test_order_keys_sort_like_the_floats() -> None:
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**32, size=2000, dtype=np.uint64).astype(np.uint32)
    values = np.concatenate([SPECIAL, bits.view(np.float32)])
    values = values[~np.isnan(values)]
    keys = trees._order_keys(values)
    np.testing.assert_array_equal(
        keys[:, None] <= keys[None, :], values[:, None] <= values[None, :]
    )
    # NaN's two keys lie beyond every value's: 0 below, 2**32 - 1 above
    assert keys.min() > 0
    assert keys.max() < trees._KEY_FAILS


@pytest.mark.parametrize("missing", [False, True])
def test_order_tests_route_special_values_like_onnxruntime(
    walk: str, missing: bool
) -> None:
    rng = np.random.default_rng([missing, walk == "keyed"])
    for _ in range(6):
        attrs, leaves = random_trees(
            rng, int(rng.integers(1, 6)), int(rng.integers(1, 6)),
            modes=ORDER_MODES, missing=missing,
        )  # fmt: skip
        attrs["nodes_values"] = rng.choice(SPECIAL, len(attrs["nodes_values"])).tolist()
        attrs |= target_weights(rng, leaves)
        x = rng.choice(SPECIAL, size=(300, N_FEATURES))
        assert_same_outputs(regressor(attrs), x)


def test_double_inputs_are_compared_as_doubles_like_onnxruntime(walk: str) -> None:
    # 0.5 + 1e-9 is above a 0.5 threshold in double but not once rounded to float32
    rng = np.random.default_rng(7)
    attrs, leaves = random_trees(rng, 4, 4, modes=ORDER_MODES)
    attrs |= target_weights(rng, leaves)
    nudge = {"nudge": np.full(N_FEATURES, 1e-9)}
    data = model_bytes(
        [
            node("Cast", ["features"], ["doubles"], to=TensorProto.DOUBLE),
            node("Add", ["doubles", "nudge"], ["nudged"]),
            node("TreeEnsembleRegressor", ["nudged"], ["values"], **attrs),
        ],
        ["values"],
        initializers=nudge,
    )
    assert_same_outputs(data, inputs(rng))


@pytest.mark.parametrize("family", ["random_forest", "hist_gradient_boosting"])
def test_deep_forests_scored_in_chunks_match_onnxruntime(
    walk: str, family: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # small chunks: several per call, the last one shorter, walks set aside in each
    monkeypatch.setattr(trees, "CHUNK_ELEMENTS", 8192)
    rng = np.random.default_rng(len(family))
    x = rng.normal(size=(1500, 6)).astype(np.float32)
    if family == "hist_gradient_boosting":
        x[rng.random(x.shape) < 0.1] = np.nan
        estimator = HistGradientBoostingRegressor(max_iter=30, max_leaf_nodes=63)
    else:
        estimator = RandomForestRegressor(30, min_samples_leaf=2, random_state=0)
    estimator.fit(x, np.nan_to_num(x[:, 0]) + rng.normal(size=len(x)))
    names = json.dumps([f"f{i}" for i in range(6)])
    data = export_onnx(estimator, 6, metadata={FEATURE_NAMES: names})
    fresh = x[::-1][:1003]  # 1003 rows: a shorter last chunk
    values = assert_same_outputs(data, fresh)["variable"]
    np.testing.assert_allclose(values.ravel(), estimator.predict(fresh), atol=1e-5)


def simple(**changes: object) -> dict:
    """A one-tree classifier: root 0 splits feature 1 at 0.5 into leaves 1 and 2."""
    attrs = {
        "nodes_treeids": [0, 0, 0],
        "nodes_nodeids": [0, 1, 2],
        "nodes_featureids": [1, 0, 0],
        "nodes_modes": ["BRANCH_LEQ", "LEAF", "LEAF"],
        "nodes_values": [0.5, 0.0, 0.0],
        "nodes_truenodeids": [1, 0, 0],
        "nodes_falsenodeids": [2, 0, 0],
        "class_treeids": [0, 0],
        "class_nodeids": [1, 2],
        "class_ids": [0, 0],
        "class_weights": [0.25, 0.75],
    }
    attrs.update(changes)
    return attrs


def test_the_simple_tree_routes_rows_as_it_says() -> None:
    model = load_model(classifier(simple(), 2), backend="numpy")
    x = np.array([[0, 0.5, 0, 0], [0, 0.6, 0, 0], [0, np.nan, 0, 0]], dtype=np.float32)
    prediction = model.predict(x)
    np.testing.assert_allclose(
        prediction.probabilities, [[0.75, 0.25], [0.25, 0.75], [0.25, 0.75]]
    )
    assert prediction.labels.tolist() == [10, 11, 11]
    tracked = load_model(
        classifier(simple(nodes_missing_value_tracks_true=[1, 0, 0]), 2),
        backend="numpy",
    )
    assert tracked.predict(x).labels.tolist() == [10, 11, 10]


CHAIN = 1002  # a root-to-leaf chain deeper than MAX_TREE_DEPTH


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"nodes_truenodeids": [0, 0, 0]}, "makes a node its own child"),
        ({"nodes_falsenodeids": [1, 0, 0]}, "a node has two parents"),
        ({"nodes_truenodeids": [7, 0, 0]}, "holds id 7, beyond the 3 nodes"),
        ({"nodes_nodeids": [0, 1, 1]}, r"a \(tree, node\) id appears twice"),
        (
            {"nodes_nodeids": [0, 1, 5]},
            "refers to node 2 of tree 0, which does not exist",
        ),
        ({"nodes_treeids": [0, 1, 0]}, "the nodes of a tree are not contiguous"),
        ({"nodes_treeids": [0, 0, 1]}, "refers to node 2 of tree 0"),
        ({"nodes_modes": ["BRANCH_LEQ", "LEAF", "TWIG"]}, "unknown node mode 'TWIG'"),
        ({"nodes_values": [0.5, 0.0]}, "has 3 nodes but 2 threshold"),
        ({"nodes_featureids": [1, 0]}, "has 3 nodes but 2 nodes_featureids"),
        ({"nodes_featureids": [-1, 0, 0]}, "nodes_featureids holds an id out of range"),
        ({"nodes_featureids": [4, 0, 0]}, "reads feature 4 of an input with 4 columns"),
        ({"nodes_treeids": [0, 0, 2**31]}, "nodes_treeids holds an id out of range"),
        ({"nodes_missing_value_tracks_true": [1]}, "3 nodes but 1 missing"),
        ({"class_ids": [0, 2]}, "class_ids holds an id out of range for 2"),
        ({"class_ids": [0]}, "class_.* attributes have different lengths"),
        ({"class_nodeids": [1, 3]}, "class_nodeids refers to node 3 of tree 0"),
        ({"class_treeids": [0, -1]}, r"class_\* ids out of range"),
        ({"class_ids": [1, 1]}, "must put its weights on class id 0"),
        ({"class_ids": [0, 1]}, "a two-class ensemble with weights on both classes"),
        ({"class_nodeids": [1, 1]}, "a leaf of a binary ensemble has no weight"),
        ({"post_transform": "SOFTMAX"}, "SOFTMAX is not supported for two classes"),
        ({"post_transform": "PROBIT"}, "post_transform 'PROBIT' is not supported"),
        ({"base_values": [0.1, 0.2]}, "has 2 base_values, expected one of"),
        ({"nodes_values_as_tensor": None}, "sets both 'nodes_values' and"),
        ({"class_weights": None}, r"needs the class_\* attributes"),
        ({"nodes_truenodeids": None}, "needs attribute 'nodes_truenodeids'"),
        ({"nodes_modes": None}, "needs attributes 'nodes_modes' and 'nodes_values'"),
    ],
)
def test_inconsistent_ensembles_are_refused(changes: dict, message: str) -> None:
    attrs = simple(**changes)
    if "nodes_values_as_tensor" in changes:
        attrs["nodes_values_as_tensor"] = numpy_helper.from_array(np.zeros(3))
    attrs = {k: v for k, v in attrs.items() if v is not None}
    with pytest.raises(ModelError, match=message):
        load_model(classifier(attrs, 2), backend="numpy")


def test_huge_feature_ids_are_refused_without_arrays_that_large(walk: str) -> None:
    attrs = simple(nodes_featureids=[2**31 - 1, 0, 0])
    with pytest.raises(ModelError, match="reads feature 2147483647 of an input"):
        load_model(classifier(attrs, 2), backend="numpy")


def test_class_labels_and_counts_are_checked() -> None:
    one_class = node(
        "TreeEnsembleClassifier",
        ["features"],
        ["label", "p"],
        **simple(),
        classlabels_int64s=[1],
    )
    with pytest.raises(ModelError, match="has 1 class labels"):
        load_model(model_bytes([one_class], ["label", "p"]), backend="numpy")
    incomplete = simple(class_ids=[0, 1], class_nodeids=[1, 2])
    with pytest.raises(ModelError, match="a leaf lacks a weight for some class"):
        load_model(classifier(incomplete, 3), backend="numpy")
    incomplete["base_values"] = [0.0, 0.0, 0.0]
    assert load_model(classifier(incomplete, 3), backend="numpy").kind == "classifier"


def test_regressor_refusals() -> None:
    attrs = simple()
    for name in ("treeids", "nodeids", "ids", "weights"):
        attrs[f"target_{name}"] = attrs.pop(f"class_{name}")
    for changes, message in [
        ({"n_targets": 0}, "n_targets 0 is out of range"),
        ({"aggregate_function": "MEDIAN"}, "aggregate_function 'MEDIAN'"),
        ({"post_transform": "LOGISTIC"}, "post_transform 'LOGISTIC'"),
        (
            {"target_nodeids": [1, 1]},
            "each leaf of a single-target ensemble needs exactly one weight",
        ),
        ({"base_values": [1.0, 2.0]}, "has 2 base_values"),
    ]:
        with pytest.raises(ModelError, match=message):
            load_model(regressor(attrs | changes), backend="numpy")
    weights_on_a_branch = attrs | {
        "target_treeids": [0, 0, 0],
        "target_nodeids": [1, 2, 0],
        "target_ids": [0, 0, 0],
        "target_weights": [1.0, 2.0, 100.0],
    }
    model = load_model(regressor(weights_on_a_branch), backend="numpy")
    values = model.predict(np.array([[0, 0, 0, 0], [0, 1, 0, 0]], np.float32)).values
    assert values.tolist() == [1.0, 2.0]


def test_ensembles_over_the_node_limit_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(trees, "MAX_TREE_NODES", 2)
    with pytest.raises(ModelError, match=r"has 3 nodes \(1 to 2 allowed\)"):
        load_model(classifier(simple(), 2), backend="numpy")


def test_trees_deeper_than_the_limit_are_refused() -> None:
    # node i is a branch whose true child is leaf CHAIN + i and false child i + 1
    branches = CHAIN - 1
    leaf_ids = list(range(CHAIN, CHAIN + branches))
    attrs = {
        "nodes_treeids": [0] * (CHAIN + branches),
        "nodes_nodeids": list(range(CHAIN)) + leaf_ids,
        "nodes_featureids": [0] * (CHAIN + branches),
        "nodes_modes": ["BRANCH_LEQ"] * branches + ["LEAF"] * (1 + branches),
        "nodes_values": [0.0] * (CHAIN + branches),
        "nodes_truenodeids": leaf_ids + [0] * CHAIN,
        "nodes_falsenodeids": list(range(1, CHAIN)) + [0] * CHAIN,
        "class_treeids": [0] * (1 + branches),
        "class_nodeids": [branches, *leaf_ids],
        "class_ids": [0] * (1 + branches),
        "class_weights": [1.0] * (1 + branches),
    }
    with pytest.raises(ModelError, match="a tree is deeper than 1000 levels"):
        load_model(classifier(attrs, 2), backend="numpy")


def test_ensembles_need_float_inputs() -> None:
    ensemble = node(
        "TreeEnsembleClassifier",
        ["ints"],
        ["label", "p"],
        **simple(),
        classlabels_int64s=[0, 1],
    )
    cast = node("Cast", ["features"], ["ints"], to=TensorProto.INT64)
    data = model_bytes([cast, ensemble], ["label", "p"])
    with pytest.raises(ModelError, match="input must be float or double, not int64"):
        load_model(data, backend="numpy")


def test_ensembles_with_too_many_weights_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(trees, "_MAX_WEIGHTS", 5)
    with pytest.raises(ModelError, match="has 3 nodes x 2 outputs, too many"):
        load_model(classifier(simple(), 2), backend="numpy")
