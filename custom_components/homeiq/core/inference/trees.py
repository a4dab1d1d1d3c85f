"""TreeEnsembleClassifier and TreeEnsembleRegressor (ai.onnx.ml 1 and 3), vectorised.

Compilation turns the node attributes into flat arrays and refuses any structure that
is not a forest: unknown (tree, node) references, a node reached from two parents,
children in another tree or the node itself, trees whose nodes are not contiguous,
feature or class ids out of range, arrays of different lengths, trees deeper than
`MAX_TREE_DEPTH`. Since every node then has at most one parent and each root none, a
cycle cannot be reached from a root, so evaluation always ends.

Evaluation walks all rows through all trees at once, one vectorised step per level:
a node's two children sit at `child[2 * node]` (true branch) and `child[2 * node + 1]`
(false branch); leaves point at themselves. A branch compares `x[feature] <mode>
threshold`; NaN fails every comparison and so takes the false branch, unless the node
tracks missing values to the true branch (nodes_missing_value_tracks_true), which is
how HistGradientBoosting routes NaN.

Leaf weights are summed in float64 and the result rounded to float32. The binary
classifier case (two classes, one class id) follows onnxruntime where ONNX is vague:
with only non-negative weights the probabilities are [1 - s, s] and the label is the
second class when s > 0.5 (no post_transform is applied, even LOGISTIC); with mixed
signs they are [-s, s] or, for LOGISTIC, [logistic(-s), logistic(s)], and the label is
the second class when s > 0.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from . import transforms
from .errors import ModelError
from .limits import CHUNK_ELEMENTS, MAX_CLASSES, MAX_TREE_DEPTH, MAX_TREE_NODES
from .ops import Attrs, Kernel, Value, check_size, class_labels, matrix, register
from .opsets import ML_DOMAIN

MODES = (
    "BRANCH_LEQ",
    "BRANCH_LT",
    "BRANCH_GTE",
    "BRANCH_GT",
    "BRANCH_EQ",
    "BRANCH_NEQ",
)
_COMPARE = (
    np.less_equal,
    np.less,
    np.greater_equal,
    np.greater,
    np.equal,
    np.not_equal,
)
_LEAF = len(MODES)
_MODE_CODES = {mode: code for code, mode in enumerate((*MODES, "LEAF"))}
_COMPACT = 0.6  # set finished walks aside when fewer than this share go on
_SMALL = 1024  # walks below which setting aside is not worth its numpy calls
_ID_LIMIT = 2**31  # onnxruntime holds tree, node and feature ids as int
_MAX_WEIGHTS = 8 * 1024 * 1024  # nodes x classes, held as float64

_NODE_ATTRIBUTES = (
    "nodes_treeids",
    "nodes_nodeids",
    "nodes_featureids",
    "nodes_modes",
    "nodes_values",
    "nodes_values_as_tensor",
    "nodes_truenodeids",
    "nodes_falsenodeids",
    "nodes_missing_value_tracks_true",
    "nodes_hitrates",
    "nodes_hitrates_as_tensor",
    "base_values",
    "base_values_as_tensor",
    "post_transform",
)


@dataclass(frozen=True, slots=True)
class Forest:
    """The nodes of all trees of an ensemble, as flat arrays, plus the leaf weights."""

    roots: np.ndarray  # (trees,) node index of each root
    feature: np.ndarray  # (nodes,) feature compared at each branch (0 at leaves)
    threshold: np.ndarray  # (nodes,)
    child: np.ndarray  # (2 * nodes,) false then true child of each node
    missing_true: np.ndarray | None  # (nodes,) NaN goes to the true child
    modes: np.ndarray | None  # (nodes,) per-node comparison, None if all BRANCH_LEQ
    depth: int
    max_feature: int
    going: np.ndarray  # (nodes,) bool: a branch, where walks go on
    weights: np.ndarray  # (nodes, outputs) summed leaf weights (0 on branches)
    has_weight: np.ndarray  # (nodes, outputs) bool: the leaf carries this output
    active: tuple[int, ...]  # outputs that some leaf carries a weight for

    def leaves(self, x: np.ndarray) -> np.ndarray:
        """Return the leaf each row of `x` reaches in each tree, shape (trees, rows).

        All (row, tree) walks advance together, one vectorised step per level. Walks
        that reached a leaf are set aside once they are the larger part, so deep,
        unbalanced forests (a random forest's paths are often half its depth) only
        pay for the walks still going.
        """
        if self.max_feature >= x.shape[1]:
            raise ModelError(
                f"tree ensemble reads feature {self.max_feature} of an input with "
                f"{x.shape[1]} columns"
            )
        rows, trees = x.shape[0], self.roots.size
        flat = x.ravel()
        node = np.repeat(self.roots, rows)  # tree-major: one tree's walks together
        base = np.tile(np.arange(rows, dtype=np.intp) * x.shape[1], trees)
        done: np.ndarray | None = None  # leaves of the walks set aside, by walk
        walk = np.zeros(0, dtype=np.intp)  # the walk each entry of `node` continues
        for level in range(self.depth):
            # measured: checking every level, or small batches, costs more than it saves
            if level > 2 and level % 2 and node.size > _SMALL:
                going = np.take(self.going, node)
                keep = np.flatnonzero(going)
                if keep.size < _COMPACT * node.size:
                    if done is None:
                        done = np.empty(rows * trees, dtype=np.intp)
                        walk = np.arange(node.size)
                    stop = np.flatnonzero(~going)
                    done[walk[stop]] = node[stop]
                    node, base, walk = node[keep], base[keep], walk[keep]
            node = self._step(flat, node, base)
        if done is None:
            return node.reshape(trees, rows)
        done[walk] = node
        return done.reshape(trees, rows)

    def _step(self, flat: np.ndarray, node: np.ndarray, base: np.ndarray) -> np.ndarray:
        """Move each walk one level down: to its node's true or false child.

        Every index is in range by construction (checked at compile time, and the
        input's width in `leaves`); mode="wrap" only spares numpy's slower
        bounds-checking path.
        """
        position = np.take(self.feature, node, mode="wrap")
        position += base
        value = np.take(flat, position, mode="wrap")
        threshold = np.take(self.threshold, node, mode="wrap")
        if self.modes is None:
            true = np.less_equal(value, threshold)
        else:
            true = np.zeros(value.shape, dtype=bool)
            self._compare(value, threshold, self.modes[node], true)
        if self.missing_true is not None:
            true |= np.isnan(value) & self.missing_true[node]
        np.multiply(node, 2, out=position)
        position += true
        return np.take(self.child, position, mode="wrap")

    @staticmethod
    def _compare(
        value: np.ndarray, threshold: np.ndarray, modes: np.ndarray, true: np.ndarray
    ) -> None:
        """Evaluate each node's own comparison into `true` (for mixed modes)."""
        for code, compare in enumerate(_COMPARE):
            chosen = modes == code
            true[chosen] = compare(value[chosen], threshold[chosen])

    def _chunk(self, outputs: int) -> int:
        """Return how many rows to evaluate at once, gathering `outputs` per leaf.

        Work arrays of about 64k elements (rows x trees x outputs) stay in the CPU's
        cache; measured, chunks of 1,000 rows x 300 trees run up to 3 x slower.
        """
        return max(1, CHUNK_ELEMENTS // (self.roots.size * max(1, outputs)))

    def sums(
        self, x: np.ndarray, *, presence: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Return per row the leaf weights summed over the trees, in tree order.

        The sum runs in the weights' precision (float32 unless the model stores
        doubles), one tree after the other, which is what onnxruntime computes.
        With `presence`, also returns which outputs some reached leaf carries (None
        when every leaf carries every output).
        """
        total = np.zeros((x.shape[0], self.weights.shape[1]), dtype=self.weights.dtype)
        present = None
        if presence and not self.has_weight.all():
            present = np.zeros(total.shape, dtype=bool)
        # One 1-D gather per output that has any weight is much faster than a
        # gather of (rows, trees, outputs) blocks, and skips a binary ensemble's
        # empty second column.
        columns = [(k, np.ascontiguousarray(self.weights[:, k])) for k in self.active]
        chunk = self._chunk(total.shape[1] if present is not None else len(columns))
        for start in range(0, x.shape[0], chunk):
            leaves = self.leaves(x[start : start + chunk])
            for k, column in columns:
                # reducing the outer axis adds tree after tree for each row
                # (along the inner axis numpy would add pairwise)
                total[start : start + chunk, k] = np.add.reduce(
                    np.take(column, leaves, mode="wrap"), axis=0
                )
            if present is not None:
                present[start : start + chunk] = self.has_weight[leaves].any(axis=0)
        return total, present

    def extremes(
        self, x: np.ndarray, *, largest: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return per row the min (or max) leaf weight over trees, and which exist."""
        outputs = self.weights.shape[1]
        fill = -np.inf if largest else np.inf
        best = np.full((x.shape[0], outputs), fill, dtype=self.weights.dtype)
        scored = np.zeros((x.shape[0], outputs), dtype=bool)
        chunk = self._chunk(outputs)
        for start in range(0, x.shape[0], chunk):
            leaves = self.leaves(x[start : start + chunk])
            present = self.has_weight[leaves]
            values = np.where(present, self.weights[leaves], fill)
            reduce = np.max if largest else np.min
            best[start : start + chunk] = reduce(values, axis=0)
            scored[start : start + chunk] = present.any(axis=0)
        return best, scored


def _node_arrays(attrs: Attrs) -> dict[str, np.ndarray]:
    """Read and length-check the nodes_* attributes."""
    names = (
        "nodes_treeids",
        "nodes_nodeids",
        "nodes_featureids",
        "nodes_truenodeids",
        "nodes_falsenodeids",
    )
    arrays: dict[str, np.ndarray] = {}
    for name in names:
        values = attrs.integers(name)
        if values is None:
            raise attrs.error(f"needs attribute '{name}'")
        arrays[name] = values
    modes = attrs.strings("nodes_modes")
    thresholds = attrs.numbers("nodes_values")
    if modes is None or thresholds is None:
        raise attrs.error("needs attributes 'nodes_modes' and 'nodes_values'")
    count = len(modes)
    if count == 0 or count > MAX_TREE_NODES:
        raise attrs.error(f"has {count:,} nodes (1 to {MAX_TREE_NODES:,} allowed)")
    try:
        arrays["modes"] = np.array([_MODE_CODES[mode] for mode in modes], dtype=np.int8)
    except KeyError as error:
        raise attrs.error(f"unknown node mode {error.args[0]!r}") from None
    arrays["threshold"] = thresholds
    missing = attrs.integers("nodes_missing_value_tracks_true")
    if missing is not None and missing.size:
        arrays["missing"] = missing
    attrs.numbers("nodes_hitrates")  # unused by evaluation; type-checked only
    for name, values in arrays.items():
        if values.size != count:
            raise attrs.error(f"has {count} nodes but {values.size} {name}")
    for name in names:
        values = arrays[name]
        if values.min() < 0 or values.max() >= _ID_LIMIT:
            raise attrs.error(f"{name} holds an id out of range")
    return arrays


class _NodeIndex:
    """Finds nodes by (tree id, node id); refuses duplicate pairs."""

    def __init__(self, attrs: Attrs, tree: np.ndarray, node: np.ndarray) -> None:
        self.attrs = attrs
        keys = tree * _ID_LIMIT + node
        self.order = np.argsort(keys, kind="stable")
        self.keys = keys[self.order]
        if np.any(self.keys[1:] == self.keys[:-1]):
            raise attrs.error("a (tree, node) id appears twice")

    def find(self, tree: np.ndarray, node: np.ndarray, what: str) -> np.ndarray:
        """Return the positions of the given nodes; refuse any that does not exist."""
        wanted = tree * _ID_LIMIT + node
        position = np.minimum(np.searchsorted(self.keys, wanted), self.keys.size - 1)
        missing = self.keys[position] != wanted
        if missing.any():
            i = int(np.argmax(missing))
            raise self.attrs.error(
                f"{what} refers to node {node[i]} of tree {tree[i]}, "
                "which does not exist"
            )
        return self.order[position]


def _children(
    attrs: Attrs, nodes: dict[str, np.ndarray], index: _NodeIndex, roots: np.ndarray
) -> np.ndarray:
    """Return the child array (false child at 2i, true child at 2i + 1).

    Refuses children that do not exist, lie in another tree or are the node itself,
    node ids past the node count (onnxruntime refuses those too), and nodes with two
    parents or roots with one.
    """
    tree = nodes["nodes_treeids"]
    count = tree.size
    branch = np.flatnonzero(nodes["modes"] != _LEAF)
    child = np.repeat(np.arange(count), 2)
    for offset, name in ((1, "nodes_truenodeids"), (0, "nodes_falsenodeids")):
        ids = nodes[name][branch]
        if ids.size and ids.max() >= count:
            raise attrs.error(f"{name} holds id {ids.max()}, beyond the {count} nodes")
        target = index.find(tree[branch], ids, name)
        if np.any(target == branch):
            raise attrs.error(f"{name} makes a node its own child")
        child[2 * branch + offset] = target
    parents = np.bincount(child[np.r_[2 * branch, 2 * branch + 1]], minlength=count)
    if parents.max(initial=0) > 1 or parents[roots].any():
        raise attrs.error("a node has two parents, or a root has one (not a tree)")
    return child


def _depth(
    attrs: Attrs, child: np.ndarray, roots: np.ndarray, is_leaf: np.ndarray
) -> int:
    """Return the depth of the deepest tree, refusing more than MAX_TREE_DEPTH.

    Every node has at most one parent, so each level visits new nodes only.
    """
    depth = 0
    frontier = roots[~is_leaf[roots]]
    while frontier.size:
        depth += 1
        if depth > MAX_TREE_DEPTH:
            raise attrs.error(f"a tree is deeper than {MAX_TREE_DEPTH} levels")
        frontier = np.concatenate([child[2 * frontier], child[2 * frontier + 1]])
        frontier = frontier[~is_leaf[frontier]]
    return depth


@dataclass(frozen=True, slots=True)
class _Weights:
    """The leaf weight entries of an ensemble, checked and gathered per node."""

    ids: np.ndarray  # class or target id of each entry
    values: np.ndarray  # weight of each entry
    per_node: np.ndarray  # (nodes, outputs) summed weights of leaves
    present: np.ndarray  # (nodes, outputs) the leaf carries this output
    per_leaf: np.ndarray  # number of entries of each leaf
    active: tuple[int, ...]  # outputs some leaf carries a weight for


def _weights(
    attrs: Attrs, prefix: str, outputs: int, index: _NodeIndex, is_leaf: np.ndarray
) -> _Weights:
    """Read the `<prefix>_*` attributes that attach weights to leaves."""
    arrays = [
        attrs.integers(f"{prefix}_{name}") for name in ("treeids", "nodeids", "ids")
    ]
    values = attrs.numbers(f"{prefix}_weights")
    if values is None or any(array is None for array in arrays):
        raise attrs.error(f"needs the {prefix}_* attributes")
    tree, node, ids = (array for array in arrays if array is not None)
    if not tree.size == node.size == ids.size == values.size:
        raise attrs.error(f"{prefix}_* attributes have different lengths")
    if ids.size and (ids.min() < 0 or ids.max() >= outputs):
        raise attrs.error(f"{prefix}_ids holds an id out of range for {outputs}")
    for array in (tree, node):
        if array.size and (array.min() < 0 or array.max() >= _ID_LIMIT):
            raise attrs.error(f"{prefix}_* ids out of range")
    count = is_leaf.size
    if count * outputs > _MAX_WEIGHTS:
        raise attrs.error(f"has {count:,} nodes x {outputs} outputs, too many")
    owner = index.find(tree, node, f"{prefix}_nodeids")
    on_leaf = is_leaf[owner]  # weights on branch nodes are never reached
    rows, columns = owner[on_leaf], ids[on_leaf]
    per_node = np.zeros((count, outputs), dtype=values.dtype)
    np.add.at(per_node, (rows, columns), values[on_leaf])
    present = np.zeros((count, outputs), dtype=bool)
    present[rows, columns] = True
    present[~is_leaf] = True  # never the end of a walk
    per_leaf = np.bincount(rows, minlength=count)[is_leaf]
    active = tuple(np.unique(columns).tolist())
    return _Weights(ids, values, per_node, present, per_leaf, active)


def _forest(attrs: Attrs, prefix: str, outputs: int) -> tuple[Forest, _Weights]:
    """Build and check the forest and its leaf weights.

    `prefix` is "class" or "target", naming the attributes that attach weights to
    leaves; `outputs` is the number of classes or targets.
    """
    nodes = _node_arrays(attrs)
    tree = nodes["nodes_treeids"]
    is_leaf = nodes["modes"] == _LEAF
    # A tree's nodes must be contiguous; its first node is its root.
    roots = np.flatnonzero(np.r_[True, tree[1:] != tree[:-1]])
    if np.unique(tree[roots]).size != roots.size:
        raise attrs.error("the nodes of a tree are not contiguous")
    index = _NodeIndex(attrs, tree, nodes["nodes_nodeids"])
    child = _children(attrs, nodes, index, roots)
    weights = _weights(attrs, prefix, outputs, index, is_leaf)
    branch_modes = np.unique(nodes["modes"][~is_leaf])
    missing = nodes.get("missing")
    feature = np.where(is_leaf, 0, nodes["nodes_featureids"]).astype(np.intp)
    forest = Forest(
        roots=roots.astype(np.intp),
        feature=feature,
        threshold=nodes["threshold"],
        child=child,
        missing_true=(
            missing == 1
            if missing is not None and np.any(missing[~is_leaf] == 1)
            else None
        ),
        modes=None if set(branch_modes.tolist()) <= {0} else nodes["modes"],
        depth=_depth(attrs, child, roots, is_leaf),
        going=~is_leaf,
        max_feature=int(feature.max()),
        weights=weights.per_node,
        has_weight=weights.present,
        active=weights.active,
    )
    return forest, weights


def _base_values(attrs: Attrs, allowed: Sequence[int]) -> np.ndarray:
    """Return base_values (or its tensor twin); refuse other lengths."""
    base = attrs.numbers("base_values")
    base = np.zeros(0) if base is None else base
    if base.size not in allowed:
        raise attrs.error(f"has {base.size} base_values, expected one of {allowed}")
    return base


def _costed(kernel: Kernel, forest: Forest) -> Kernel:
    """Tag `kernel` with its cost: levels walked, and trees x levels per row."""
    kernel.levels = forest.depth  # type: ignore[attr-defined]
    kernel.work = forest.depth * forest.roots.size  # type: ignore[attr-defined]
    return kernel


def _input(args: Sequence[Value | None], what: str, outputs: int) -> np.ndarray:
    """Return the ensemble's input as a 2-D float32 or float64 matrix."""
    x = matrix(args[0], what)
    if x.dtype.kind != "f":
        raise ModelError(f"{what} must be float or double, not {x.dtype}")
    check_size((x.shape[0], outputs), what)
    return x


@register(
    ML_DOMAIN,
    "TreeEnsembleClassifier",
    attributes=(
        *_NODE_ATTRIBUTES,
        "class_treeids",
        "class_nodeids",
        "class_ids",
        "class_weights",
        "class_weights_as_tensor",
        "classlabels_int64s",
        "classlabels_strings",
    ),
    outputs=(2, 2),
)
def _classifier(attrs: Attrs, _opset: int) -> Kernel:
    labels = class_labels(attrs, "classlabels_int64s", "classlabels_strings")
    classes = labels.size
    if not 2 <= classes <= MAX_CLASSES:
        raise attrs.error(f"has {classes} class labels (2 to {MAX_CLASSES} allowed)")
    post = attrs.choice("post_transform", "NONE", transforms.POST_TRANSFORMS)
    forest, weights = _forest(attrs, "class", classes)
    if classes == 2 and np.unique(weights.ids).size <= 1:
        return _binary_classifier(attrs, forest, weights, labels, post)
    if classes == 2:
        raise attrs.error("a two-class ensemble with weights on both classes")
    base = _base_values(attrs, (0, classes)).astype(forest.weights.dtype)
    if not base.size and not forest.has_weight.all():
        raise attrs.error(
            "a leaf lacks a weight for some class and there are no base_values"
        )

    def run(args: Sequence[Value | None]) -> list[Value]:
        scores = forest.sums(_input(args, "TreeEnsembleClassifier input", labels.size))[
            0
        ]
        if base.size:
            scores += base
        label = labels[np.argmax(scores.astype(np.float32), axis=1)]
        return [label, transforms.apply(post, scores).astype(np.float32)]

    return _costed(run, forest)


def _binary_classifier(
    attrs: Attrs, forest: Forest, weights: _Weights, labels: np.ndarray, post: str
) -> Kernel:
    """Compile the two-class, one-score case (see the module docstring)."""
    if np.any(weights.ids != 0):
        raise attrs.error("a binary ensemble must put its weights on class id 0")
    if post not in {"NONE", "LOGISTIC"}:
        raise attrs.error(f"post_transform {post} is not supported for two classes")
    if np.any(weights.per_leaf == 0):
        raise attrs.error("a leaf of a binary ensemble has no weight")
    base = _base_values(attrs, (0, 1))
    offset = float(base[0]) if base.size else 0.0
    positive_weights = bool(np.all(weights.values >= 0))

    def run(args: Sequence[Value | None]) -> list[Value]:
        total = forest.sums(_input(args, "TreeEnsembleClassifier input", labels.size))[
            0
        ]
        score = total[:, 0] + offset
        single = score.astype(np.float32)
        second = single > np.float32(0.5) if positive_weights else single > 0
        if post == "LOGISTIC":
            probabilities = transforms.logistic(np.stack([-score, score], axis=1))
        elif positive_weights:
            probabilities = np.stack([1.0 - score, score], axis=1)
        else:
            probabilities = np.stack([-score, score], axis=1)
        return [labels[second.astype(np.intp)], probabilities.astype(np.float32)]

    return _costed(run, forest)


@register(
    ML_DOMAIN,
    "TreeEnsembleRegressor",
    attributes=(
        *_NODE_ATTRIBUTES,
        "target_treeids",
        "target_nodeids",
        "target_ids",
        "target_weights",
        "target_weights_as_tensor",
        "n_targets",
        "aggregate_function",
    ),
)
def _regressor(attrs: Attrs, _opset: int) -> Kernel:
    targets = attrs.integer("n_targets", 1)
    if not 1 <= targets <= MAX_CLASSES:
        raise attrs.error(f"n_targets {targets} is out of range")
    aggregate = attrs.choice(
        "aggregate_function", "SUM", ("SUM", "AVERAGE", "MIN", "MAX")
    )
    attrs.choice("post_transform", "NONE", ("NONE",))
    forest, weights = _forest(attrs, "target", targets)
    if targets == 1 and np.any(weights.per_leaf != 1):
        # onnxruntime reads exactly the first weight of a single-target leaf
        raise attrs.error(
            "each leaf of a single-target ensemble needs exactly one weight"
        )
    base = _base_values(attrs, (0, targets)).astype(forest.weights.dtype)
    n_trees = forest.roots.size

    def run(args: Sequence[Value | None]) -> list[Value]:
        x = _input(args, "TreeEnsembleRegressor input", targets)
        if aggregate in {"SUM", "AVERAGE"}:
            result, scored = forest.sums(x, presence=True)
            if aggregate == "AVERAGE":
                result /= n_trees
        else:
            result, scored = forest.extremes(x, largest=aggregate == "MAX")
        if base.size:
            result += base
        if scored is not None:
            # onnxruntime: a target that no reached leaf carries is 0, base or not
            result = np.where(scored, result, 0.0)
        return [result.astype(np.float32)]

    return _costed(run, forest)
