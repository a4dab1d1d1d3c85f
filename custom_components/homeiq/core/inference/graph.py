"""A decoded model, checked and compiled into steps that numpy can run.

`compile_model` refuses what HomeIQ does not evaluate (IR versions and opsets outside
`opsets.SUPPORTED_OPSETS`, ops outside the registry, subgraphs, graphs that are not
in topological order, more or fewer than one float32 [N, features] input) and compiles
each node's kernel, which checks the node's attributes. `Plan.run` then evaluates the
graph on a batch; its failures are ModelErrors that name the node.
"""

from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np

from . import kernels, ml_kernels, trees  # noqa: F401  (they fill the registry)
from .errors import ModelError
from .limits import (
    BASE_ELEMENTS,
    ELEMENTS_PER_ROW,
    MAX_TREE_LEVELS,
    MAX_TREE_WORK,
)
from .onnx_proto import FLOAT, TYPE_NAMES, Graph, ModelProto, Node, ValueInfo
from .ops import REGISTRY, Attrs, Kernel, Value, element_cap
from .opsets import SUPPORTED_IR_VERSIONS, SUPPORTED_OPSETS

MAX_FEATURES = 100_000


@dataclass(frozen=True, slots=True)
class Step:
    """One compiled node."""

    node: Node
    kernel: Kernel
    last_use: tuple[str, ...] = ()  # computed values this step reads for the last time


@dataclass(frozen=True, slots=True)
class Plan:
    """A model's graph, ready to run on numpy."""

    input_name: str
    n_features: int
    outputs: tuple[ValueInfo, ...]
    initializers: Mapping[str, np.ndarray]
    steps: tuple[Step, ...]

    @property
    def output_names(self) -> tuple[str, ...]:
        """Return the names of the graph's outputs, in order."""
        return tuple(info.name for info in self.outputs)

    def run(self, x: np.ndarray) -> dict[str, Value]:
        """Evaluate the graph on `x` (float32, [rows, n_features]).

        Values are dropped after their last use. Each may hold at most rows x
        ELEMENTS_PER_ROW + BASE_ELEMENTS elements (kernels check before they
        allocate), and the values alive at once four times that.
        """
        cap = max(1, x.shape[0]) * ELEMENTS_PER_ROW + BASE_ELEMENTS
        values: dict[str, Value] = dict(self.initializers)
        values[self.input_name] = x
        live = 0
        # ONNX float arithmetic is IEEE: inf and NaN are results, not errors, so
        # numpy's warnings about them are silenced here, on purpose, for the graph.
        with np.errstate(all="ignore"), element_cap(cap):
            for step in self.steps:
                node = step.node
                args = [values[name] if name else None for name in node.inputs]
                try:
                    results = step.kernel(args)
                except ModelError as error:
                    raise ModelError(f"{node.where()}: {error}") from None
                except (ValueError, TypeError, IndexError, MemoryError) as error:
                    raise ModelError(f"{node.where()} failed: {error}") from None
                for name, result in zip(node.outputs, results, strict=False):
                    if name:
                        values[name] = result
                        live += _size(result)
                for name in step.last_use:
                    live -= _size(values.pop(name))
                if live > 4 * cap:
                    raise ModelError(
                        f"{node.where()}: the graph holds {live:,} elements at once, "
                        f"limit is {4 * cap:,}"
                    )
        return {name: values[name] for name in self.output_names}


def _size(value: Value) -> int:
    """Return the number of elements of a value (rows of a ZipMap sequence)."""
    return len(value) if isinstance(value, list) else value.size


# The attributes a compiled node keeps: `Model` reads a classifier's labels. The
# others (a forest's per-node arrays and strings, megabytes) live on in the
# kernels' own arrays and are freed once compiled.
CLASS_LABEL_ATTRIBUTES = (
    "classlabels_int64s",
    "classlabels_ints",
    "classlabels_strings",
)


def _without_bulk(node: Node) -> Node:
    """Return `node` holding only the attributes needed after compiling."""
    kept = {k: v for k, v in node.attributes.items() if k in CLASS_LABEL_ATTRIBUTES}
    return replace(node, attributes=kept)


def compile_model(model: ModelProto) -> Plan:
    """Check `model` and compile its graph; raise ModelError for anything refused."""
    if model.ir_version not in SUPPORTED_IR_VERSIONS:
        raise ModelError(f"IR version {model.ir_version} is not supported")
    for domain, version in model.opsets.items():
        supported = SUPPORTED_OPSETS.get(domain)
        if supported is not None and version not in supported:
            raise ModelError(f"opset {version} of {domain or 'ai.onnx'} not supported")
    graph = model.graph
    name, n_features = _feature_input(graph)
    defined = {name, *graph.initializers}
    steps = []
    levels = work = 0
    for node in graph.nodes:
        kernel = _compile_node(node, model.opsets, defined)
        levels += getattr(kernel, "levels", 0)
        work += getattr(kernel, "work", 0)
        if levels > MAX_TREE_LEVELS or work > MAX_TREE_WORK:
            raise ModelError(
                f"tree ensembles are too costly to evaluate ({levels:,} levels, "
                f"{work:,} tree levels per row; limits {MAX_TREE_LEVELS:,} and "
                f"{MAX_TREE_WORK:,})"
            )
        steps.append(Step(_without_bulk(node), kernel))
    outputs = tuple(v.name for v in graph.outputs)
    if not outputs:
        raise ModelError("model has no outputs")
    if len(set(outputs)) != len(outputs):
        raise ModelError("model names an output twice")
    for output in outputs:
        if output not in defined:
            raise ModelError(f"output '{output}' is not computed by the graph")
    keep = {name, *outputs, *graph.initializers}
    return Plan(
        name,
        n_features,
        graph.outputs,
        graph.initializers,
        _with_last_uses(steps, keep),
    )


def _feature_input(graph: Graph) -> tuple[str, int]:
    """Return the name and width of the one float32 [N, features] input."""
    inputs = [v for v in graph.inputs if v.name not in graph.initializers]
    if len(inputs) != 1:
        raise ModelError(f"model has {len(inputs)} inputs; HomeIQ models have one")
    feature_input = inputs[0]
    name = feature_input.name
    if feature_input.kind != "tensor" or feature_input.elem_type != FLOAT:
        kind = feature_input.kind
        if kind == "tensor":
            kind = TYPE_NAMES.get(feature_input.elem_type or 0, "an unknown type")
        raise ModelError(f"input '{name}' must be a float32 tensor, not {kind}")
    shape = feature_input.shape
    if not name or shape is None or len(shape) != 2 or shape[1] is None:
        raise ModelError(f"input '{name}' must have shape [N, features]")
    if not 1 <= shape[1] <= MAX_FEATURES:
        raise ModelError(f"input '{name}' has {shape[1]} features")
    return name, shape[1]


def _with_last_uses(steps: list[Step], keep: set[str]) -> tuple[Step, ...]:
    """Return the steps, each knowing which values it reads for the last time."""
    last: dict[str, int] = {}
    for index, step in enumerate(steps):
        for value in step.node.inputs:
            if value and value not in keep:
                last[value] = index
    dropped: dict[int, list[str]] = {}
    for value, index in last.items():
        dropped.setdefault(index, []).append(value)
    return tuple(
        Step(step.node, step.kernel, tuple(dropped.get(index, ())))
        for index, step in enumerate(steps)
    )


def _compile_node(node: Node, opsets: Mapping[str, int], defined: set[str]) -> Kernel:
    """Check one node against the registry and the values defined so far."""
    where = node.where()
    if node.domain not in opsets:
        raise ModelError(f"{where} uses domain '{node.domain}', which is not imported")
    spec = REGISTRY.get((node.domain, node.op_type))
    if spec is None:
        raise ModelError(
            f"unsupported op '{node.op_type}' (domain '{node.domain}'), "
            f"node {node.index}"
        )
    opset = opsets[node.domain]
    if opset < spec.min_opset:
        raise ModelError(
            f"{where} needs opset {spec.min_opset}, the model imports {opset}"
        )
    low, high = spec.inputs
    if not low <= len(node.inputs) <= high:
        raise ModelError(f"{where} has {len(node.inputs)} inputs")
    low, high = spec.outputs
    if not low <= len(node.outputs) <= high:
        raise ModelError(f"{where} has {len(node.outputs)} outputs")
    for value in node.inputs:
        if not value:
            raise ModelError(f"{where} leaves a required input empty")
        if value not in defined:
            raise ModelError(f"{where} reads '{value}' before it is computed")
    kernel = spec.compile(Attrs(node, spec.attributes), opset)
    for value in node.outputs:
        if value in defined:
            raise ModelError(f"{where} computes '{value}' a second time")
        if value:
            defined.add(value)
    return kernel
