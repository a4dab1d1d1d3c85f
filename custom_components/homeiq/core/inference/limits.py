"""Bounds that keep a hostile or broken model from costing unbounded time or memory.

Every limit is checked before the memory it guards is allocated. The defaults leave
room for models far larger than HomeIQ's own (a few MiB) while keeping a worst-case
file to a fraction of a second of decoding.
"""

MIB = 1024 * 1024

DEFAULT_MAX_BYTES = 64 * MIB
"""Largest model file `load_model` accepts unless told otherwise."""

MAX_DECODE_STEPS = 4_000_000
"""Work units the protobuf decoder may spend on one file (one unit per field read)."""

MAX_NODES = 50_000
"""Nodes in the graph (skl2onnx turns a 300-tree IsolationForest into about 9,000)."""

MAX_TENSOR_ELEMENTS = 16 * MIB
"""Elements of one initializer or attribute tensor."""

MAX_TREE_NODES = 4_000_000
"""Nodes of one tree ensemble, over all its trees."""

MAX_TREE_DEPTH = 1_000
"""Depth of one tree; evaluation costs one vectorised step per level."""

MAX_CLASSES = 1_000
"""Classes of one classifier or targets of one regressor."""

MAX_DIMS = 8
"""Rank of a tensor."""

MAX_TREE_LEVELS = 20_000
"""Levels of all tree ensembles of a model, summed: each costs a few numpy calls."""

MAX_TREE_WORK = 4_000_000
"""Trees x depth of all ensembles of a model, summed: the work per scored row."""

ELEMENTS_PER_ROW = 4_096
BASE_ELEMENTS = 1 << 20
"""A value the graph computes may hold at most rows x ELEMENTS_PER_ROW +
BASE_ELEMENTS elements, and the values alive at once four times that: a graph that
grows its values (Concat of a value with itself, broadcasting against a large
initializer) is refused before numpy allocates."""

CHUNK_ELEMENTS = 64 * 1024
"""Rows x trees (x outputs) a tree ensemble evaluates at a time, to stay in cache."""
