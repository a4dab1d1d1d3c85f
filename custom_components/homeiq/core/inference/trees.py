"""TreeEnsembleClassifier and TreeEnsembleRegressor (ai.onnx.ml 1 and 3), vectorised.

Compilation turns the node attributes into flat arrays and refuses any structure that
is not a forest: unknown (tree, node) references, a node reached from two parents,
children in another tree or the node itself, trees whose nodes are not contiguous,
feature or class ids out of range, arrays of different lengths, trees deeper than
`MAX_TREE_DEPTH`. Since every node then has at most one parent and each root none, a
cycle cannot be reached from a root, so evaluation always ends.

Each branch is rewritten as a test `value <mode> threshold` with mode <=, <, == or
!=: BRANCH_GT and BRANCH_GTE become <= and < with their children swapped. NaN fails
every test but != and so goes to the failing child, unless the node tracks missing
values to its true branch (nodes_missing_value_tracks_true, which is how
HistGradientBoosting routes NaN): then NaN "holds". The nodes that roots reach are
laid out breadth first, roots first, each branch's failing and holding child side by
side at `low` and `low + 1`. A leaf's `low` is itself and its test never holds, so a
walk that reached a leaf stays there.

Evaluation walks all (row, tree) pairs at once, one vectorised step per level: each
walk reads its node's feature and moves to `low + holds`. Walks whose node did not
change (at a leaf) are set aside once they are the larger part, so deep, unbalanced
forests (a random forest's paths are often half its depth) only pay for the walks
still going. Rows go in chunks whose work arrays stay in cache, allocated once.

The fast walk (float32 inputs, tests <= and < only) compares integers. A float32's
bits map to a key in [0, 2**32) that sorts like the float (-0.0 first becomes 0.0):
x <= t if and only if key(x) <= key(t), and x < t iff key(x) <= key(t) - 1. A NaN
input takes key 2**32 - 1, above every threshold's, where it must fail, and key 0,
below every value's, where it must hold (a second copy of each column); a NaN
threshold takes key 0, which only a holding NaN passes (leaves read the failing
copy). Each node packs `(low + 1) * 2**32 + threshold key` into one int64, so
`(packed - key(x)) >> 32` is `low + 1` when the test holds and `low` when the
subtraction borrows. A level costs three gathers (feature, key, packed node), a
subtraction and a shift; the float walk gathers feature, value, threshold and child,
compares and adds, and takes four passes more where NaN can hold. Keying the input
costs about two steps per row and key column, so short walks (a lone tree), other
inputs (float64) and tests (==, !=) take the float walk.

Leaf weights are summed in the weights' precision (float32), tree after tree, as
onnxruntime does. The binary classifier case (two classes, one class id) follows
onnxruntime where ONNX is vague: with only non-negative weights the probabilities are
[1 - s, s] and the label is the second class when s > 0.5 (no post_transform is
applied, even LOGISTIC); with mixed signs they are [-s, s] or, for LOGISTIC,
[logistic(-s), logistic(s)], and the label is the second class when s > 0.
"""

from collections.abc import Callable, Iterator, Sequence
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
_LEQ, _LT, _GTE, _GT, _EQ, _NEQ = range(len(MODES))
_COMPARE = {
    _LEQ: np.less_equal,
    _LT: np.less,
    _EQ: np.equal,
    _NEQ: np.not_equal,
}
_LEAF = len(MODES)
# by mode code (MODES, then LEAF): the test each becomes, and whether that swaps its
# children (x > t fails exactly where x <= t holds, but for NaN)
_TESTS = np.array([_LEQ, _LT, _LT, _LEQ, _EQ, _NEQ, _LEQ], dtype=np.int8)
_SWAPS = np.array([False, False, True, True, False, False, False])
_MODE_CODES = {mode: code for code, mode in enumerate((*MODES, "LEAF"))}
_KEY_FAILS = 2**32 - 1  # a NaN input's key where NaN must fail (0 where it holds)
_STEPS_PER_KEY = 2  # measured: keying pays from 2 steps per row and key column
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

type _Step = Callable[
    [np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray], None
]


def _order_keys(values: np.ndarray) -> np.ndarray:
    """Return int64 keys in [0, 2**32) that sort like the float32 `values` (not NaN).

    A non-negative float's bits sort like it once the sign bit is set; a negative
    one's sort backwards, so all its bits are flipped. Adding 0.0 first turns -0.0,
    which equals 0.0, into 0.0.
    """
    bits = (values + np.float32(0)).view(np.int32)
    flip = (bits >> 31) | np.int32(-(2**31))  # all ones if negative, else the sign bit
    return (bits ^ flip).view(np.uint32).astype(np.int64)


@dataclass(frozen=True, slots=True)
class _Keyed:
    """The nodes as the fast walk reads them (see the module docstring)."""

    columns: np.ndarray  # (used,) the input columns the forest reads
    copies: int  # key columns per input column: 2 when NaN holds at some node
    feature: np.ndarray  # (nodes,) int64: the key column each node reads
    packed: np.ndarray  # (nodes,) int64: (low + 1) * 2**32 + threshold key

    @property
    def width(self) -> int:
        """Return the number of keys per row."""
        return self.columns.size * self.copies

    def keys(self, x: np.ndarray) -> np.ndarray:
        """Return the keys of the float32 rows `x`, flat, `width` per row."""
        used = np.take(x, self.columns, axis=1)
        keys = _order_keys(used)
        nan = np.isnan(used)
        fails = np.where(nan, _KEY_FAILS, keys)
        if self.copies == 1:
            return fails.ravel()
        return np.stack([fails, np.where(nan, 0, keys)], axis=-1).ravel()

    def step(
        self,
        keys: np.ndarray,
        node: np.ndarray,
        base: np.ndarray,
        out: np.ndarray,
        scratch: np.ndarray,
    ) -> None:
        """Write to `out` the node each walk moves to (the borrow picks the child).

        Every index is in range by construction (checked at compile time, and the
        input's width in `leaves`); mode="wrap" only spares numpy's slower
        bounds-checking path, and `out` spares allocating (and page-faulting).
        """
        self.feature.take(node, out=scratch, mode="wrap")
        scratch += base
        keys.take(scratch, out=out, mode="wrap")
        self.packed.take(node, out=scratch, mode="wrap")
        np.subtract(scratch, out, out=out)
        out >>= 32


@dataclass(frozen=True, slots=True)
class Forest:
    """The nodes of all trees of an ensemble, as flat arrays, plus the leaf weights.

    Nodes are in walk order (see the module docstring): the roots take the first
    `trees` places and each branch's children sit at `low` (test fails) and
    `low + 1` (test holds).
    """

    trees: int
    depth: int
    max_feature: int
    feature: np.ndarray  # (nodes,) int64: input column each node reads (0 at leaves)
    threshold: np.ndarray  # (nodes,) float32 (NaN at leaves)
    low: np.ndarray  # (nodes,) int64: the failing child (a leaf itself)
    modes: np.ndarray | None  # (nodes,) per-node test, None if all are `compare`
    compare: Callable[..., np.ndarray]  # the test when all nodes share one
    nan_holds: np.ndarray | None  # (nodes,) NaN passes the test; None if nowhere
    keyed: _Keyed | None  # the fast walk's nodes, None where it does not apply
    weights: np.ndarray  # (nodes, outputs) summed leaf weights (0 on branches)
    has_weight: np.ndarray  # (nodes, outputs) bool: the leaf carries this output
    active: tuple[int, ...]  # outputs that some leaf carries a weight for

    def leaves(self, x: np.ndarray, work: tuple[np.ndarray, ...]) -> np.ndarray:
        """Return the leaf each row of `x` reaches in each tree, shape (trees, rows).

        `work` holds the walks' arrays (see `_chunks`); the result is one of them.
        """
        if self.max_feature >= x.shape[1]:
            raise ModelError(
                f"tree ensemble reads feature {self.max_feature} of an input with "
                f"{x.shape[1]} columns"
            )
        rows = x.shape[0]
        if self.keyed is not None and x.dtype == np.float32:
            keyed = self.keyed
            return self._walk(keyed.step, keyed.keys(x), rows, keyed.width, work)
        return self._walk(self._step, x.ravel(), rows, x.shape[1], work)

    def _walk(
        self,
        step: _Step,
        values: np.ndarray,
        rows: int,
        width: int,
        work: tuple[np.ndarray, ...],
    ) -> np.ndarray:
        """Walk all (row, tree) pairs down to their leaves, one `step` per level.

        `values` holds `width` values per row, read at `base + feature`. Walks are
        tree-major, so one tree's walks read its few nodes together. Walks that
        reached a leaf are set aside once they are the larger part: `done` keeps
        the leaf of each walk, `walk` which walk each entry of `node` continues.
        """
        trees, walks = self.trees, rows * self.trees
        node, before, scratch, base, walk, spare, done = (a[:walks] for a in work)
        node.reshape(trees, rows)[...] = np.arange(trees)[:, None]  # at the roots
        base.reshape(trees, rows)[...] = np.arange(rows) * width
        walk.reshape(trees, rows)[...] = np.arange(rows)
        walk.reshape(trees, rows)[...] += rows * np.arange(trees)[:, None]
        for level in range(self.depth):
            # measured: checking every level, or small batches, costs more than it saves
            if level > 2 and level % 2 and node.size > _SMALL:
                going = node != before  # a walk at a leaf stays there
                count = np.count_nonzero(going)
                if count < _COMPACT * node.size:
                    np.put(done, walk, node)  # the walks that go on overwrite theirs
                    keep = np.flatnonzero(going)
                    # what goes on moves to the free buffers; they trade places
                    node, before = node.take(keep, out=before[:count]), node[:count]
                    base, scratch = base.take(keep, out=scratch[:count]), base[:count]
                    walk, spare = walk.take(keep, out=spare[:count]), walk[:count]
            step(values, node, base, before, scratch)
            node, before = before, node
        if node.size == walks:  # none set aside
            return node.reshape(trees, rows)
        np.put(done, walk, node)
        return done.reshape(trees, rows)

    def _step(
        self,
        x: np.ndarray,
        node: np.ndarray,
        base: np.ndarray,
        out: np.ndarray,
        scratch: np.ndarray,
    ) -> None:
        """Write to `out` the node each walk moves to, comparing floats."""
        self.feature.take(node, out=scratch, mode="wrap")
        scratch += base
        value = x.take(scratch, mode="wrap")
        threshold = self.threshold.take(node, mode="wrap")
        if self.modes is None:
            holds = self.compare(value, threshold)
        else:
            holds = np.zeros(value.shape, dtype=bool)
            self._compare(value, threshold, self.modes[node], holds)
        if self.nan_holds is not None:
            holds |= np.isnan(value) & self.nan_holds[node]
        self.low.take(node, out=out, mode="wrap")
        out += holds

    @staticmethod
    def _compare(
        value: np.ndarray, threshold: np.ndarray, modes: np.ndarray, holds: np.ndarray
    ) -> None:
        """Evaluate each node's own test into `holds` (for mixed modes)."""
        for code, compare in _COMPARE.items():
            chosen = modes == code
            holds[chosen] = compare(value[chosen], threshold[chosen])

    def _chunks(
        self, x: np.ndarray, outputs: int
    ) -> Iterator[tuple[slice, np.ndarray]]:
        """Yield each chunk of rows of `x` and the leaves they reach, (trees, rows).

        Rows go in chunks whose work arrays (rows x trees x `outputs` gathered per
        leaf, or keys) of about 64k elements stay in the CPU's cache; measured,
        chunks of 1,000 rows x 300 trees run up to 3 x slower. The work arrays are
        allocated once, not per level or chunk: each new one costs page faults,
        and where malloc maps every large block itself, as musl (HA OS's C
        library) does above 128 KiB, system calls. Measured with glibc made to do
        the same, arrays allocated per level made scoring 3-4 x slower, per chunk
        up to 2 x. A chunk's leaves are valid until the next chunk.
        """
        keys = 0 if self.keyed is None else self.keyed.width
        chunk = max(1, CHUNK_ELEMENTS // max(self.trees * max(1, outputs), keys))
        walks = self.trees * min(chunk, x.shape[0])
        work = tuple(np.empty(walks, dtype=np.int64) for _ in range(7))
        for start in range(0, x.shape[0], chunk):
            rows = slice(start, start + chunk)
            yield rows, self.leaves(x[rows], work)

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
        outputs = total.shape[1] if present is not None else len(columns)
        gathered = np.empty(0, dtype=self.weights.dtype)
        for rows, leaves in self._chunks(x, outputs):
            if gathered.size < leaves.size:
                gathered = np.empty(leaves.size, dtype=self.weights.dtype)
            weights = gathered[: leaves.size].reshape(leaves.shape)
            for k, column in columns:
                column.take(leaves, out=weights, mode="wrap")
                # reducing the outer axis adds tree after tree for each row
                # (along the inner axis numpy would add pairwise)
                total[rows, k] = np.add.reduce(weights, axis=0)
            if present is not None:
                present[rows] = self.has_weight[leaves].any(axis=0)
        return total, present

    def extremes(
        self, x: np.ndarray, *, largest: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return per row the min (or max) leaf weight over trees, and which exist."""
        outputs = self.weights.shape[1]
        fill = -np.inf if largest else np.inf
        best = np.full((x.shape[0], outputs), fill, dtype=self.weights.dtype)
        scored = np.zeros((x.shape[0], outputs), dtype=bool)
        reduce = np.max if largest else np.min
        for rows, leaves in self._chunks(x, outputs):
            present = self.has_weight[leaves]
            values = np.where(present, self.weights[leaves], fill)
            best[rows] = reduce(values, axis=0)
            scored[rows] = present.any(axis=0)
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
        positions: np.ndarray = self.order[position]
        return positions


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


def _normalised(
    nodes: dict[str, np.ndarray], child: np.ndarray, is_leaf: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rewrite each node as a test with mode <=, <, == or != (module docstring).

    Returns per node the mode, the threshold, the (failing, holding) children and
    whether NaN holds. Leaves test <= NaN, which never holds.
    """
    modes = nodes["modes"]
    swap = _SWAPS[modes]
    pairs = child.reshape(-1, 2)  # (false, true) child
    pairs = np.where(swap[:, None], pairs[:, ::-1], pairs)
    missing = nodes.get("missing")
    tracks = False if missing is None else missing == 1
    nan_holds = (tracks != swap) & ~is_leaf
    mode = _TESTS[modes]
    threshold = nodes["threshold"].astype(np.float32)
    # x > NaN and x >= NaN never hold: swapped, the test must always hold
    always = swap & np.isnan(threshold)
    threshold[always] = np.inf
    mode[always] = _LEQ
    threshold[is_leaf] = np.nan
    return mode, threshold, pairs, nan_holds


def _layout(
    attrs: Attrs, roots: np.ndarray, pairs: np.ndarray, is_leaf: np.ndarray
) -> tuple[np.ndarray, int]:
    """Return the nodes in walk order and the depth of the deepest tree.

    Breadth first from the roots, each branch's failing then holding child. Every
    node has at most one parent, so each level visits new nodes only. Refuses trees
    deeper than MAX_TREE_DEPTH.
    """
    levels = [roots]
    frontier = roots[~is_leaf[roots]]
    while frontier.size:
        if len(levels) > MAX_TREE_DEPTH:
            raise attrs.error(f"a tree is deeper than {MAX_TREE_DEPTH} levels")
        children = pairs[frontier].ravel()
        levels.append(children)
        frontier = children[~is_leaf[children]]
    return np.concatenate(levels), len(levels) - 1


def _keyed(
    feature: np.ndarray,
    threshold: np.ndarray,
    mode: np.ndarray,
    nan_holds: np.ndarray,
    low: np.ndarray,
    *,
    steps: int,
) -> _Keyed | None:
    """Return the fast walk's nodes, or None where it does not apply or pay.

    It does not apply when some test is == or !=, and does not pay when the walk,
    `steps` (trees x depth) per row, is short next to keying each row.
    """
    if np.any((mode == _EQ) | (mode == _NEQ)):
        return None
    columns = np.unique(feature)  # by sorting: ids may be as large as 2**31 - 1
    copies = 2 if nan_holds.any() else 1
    if steps < _STEPS_PER_KEY * columns.size * copies:
        return None
    column = np.searchsorted(columns, feature)  # the rank of each node's column
    key = _order_keys(threshold) - (mode == _LT)
    key[np.isnan(threshold)] = 0  # fails but for a NaN that holds (key 0)
    return _Keyed(
        columns=columns,
        copies=copies,
        feature=column * copies + nan_holds,
        packed=((low + 1) << 32) + key,
    )


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
    mode, threshold, pairs, nan_holds = _normalised(nodes, child, is_leaf)
    order, depth = _layout(attrs, roots, pairs, is_leaf)
    place = np.empty(is_leaf.size, dtype=np.int64)
    place[order] = np.arange(order.size)
    low = place[pairs[order, 0]]
    feature = np.where(is_leaf, 0, nodes["nodes_featureids"])
    max_feature = int(feature.max())
    feature, mode, threshold, nan_holds = (
        array[order] for array in (feature, mode, threshold, nan_holds)
    )
    forest = Forest(
        trees=roots.size,
        depth=depth,
        max_feature=max_feature,
        feature=feature,
        threshold=threshold,
        low=low,
        modes=mode if np.any(mode != mode[0]) else None,
        compare=_COMPARE[int(mode[0])],
        nan_holds=nan_holds if nan_holds.any() else None,
        keyed=_keyed(
            feature, threshold, mode, nan_holds, low, steps=roots.size * depth
        ),
        # np.take: ~10 x faster on rows than fancy indexing
        weights=np.take(weights.per_node, order, axis=0),
        has_weight=np.take(weights.present, order, axis=0),
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
    kernel.work = forest.depth * forest.trees  # type: ignore[attr-defined]
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
    n_trees = forest.trees

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
