"""The registry of operators the numpy evaluator implements, and typed attribute access.

Each operator module registers a compile function per (domain, op_type) with
`@register`. At load time the graph builder calls it with the node's checked
attributes; it validates everything it can and returns a `Kernel`, a function from the
node's input values to its output values. Errors at either stage are `ModelError`s.
"""

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
import math
from typing import Any, cast

import numpy as np

from .errors import ModelError
from .onnx_proto import (
    A_FLOAT,
    A_FLOATS,
    A_INT,
    A_INTS,
    A_STRING,
    A_STRINGS,
    A_TENSOR,
    Node,
)
from .wire import text

type Value = np.ndarray | list[dict[Any, Any]]
type Kernel = Callable[[Sequence[Value | None]], list[Value]]
type Compiler = Callable[["Attrs", int], Kernel]


@dataclass(frozen=True, slots=True)
class OpSpec:
    """How to check and compile one operator."""

    compile: Compiler
    attributes: frozenset[str]
    inputs: tuple[int, int]  # min and max count
    outputs: tuple[int, int]
    min_opset: int = 1


REGISTRY: dict[tuple[str, str], OpSpec] = {}
_ELEMENT_CAP: ContextVar[int] = ContextVar("element_cap", default=1 << 20)


@contextmanager
def element_cap(cap: int) -> Iterator[None]:
    """Let values computed in this context hold at most `cap` elements."""
    token = _ELEMENT_CAP.set(cap)
    try:
        yield
    finally:
        _ELEMENT_CAP.reset(token)


def check_size(shape: Sequence[int], what: str) -> None:
    """Refuse, before allocating, a value of `shape` beyond the element cap."""
    count = math.prod(shape)
    cap = _ELEMENT_CAP.get()
    if count > cap:
        raise ModelError(f"{what} would hold {count:,} elements, limit is {cap:,}")


def register(
    domain: str,
    op_type: str,
    *,
    attributes: Sequence[str] = (),
    inputs: tuple[int, int] = (1, 1),
    outputs: tuple[int, int] = (1, 1),
    min_opset: int = 1,
) -> Callable[[Compiler], Compiler]:
    """Register the decorated function as the compiler of `op_type` in `domain`."""

    def decorate(compiler: Compiler) -> Compiler:
        REGISTRY[domain, op_type] = OpSpec(
            compiler, frozenset(attributes), inputs, outputs, min_opset
        )
        return compiler

    return decorate


class Attrs:
    """A node's attributes, read with their expected types and defaults."""

    def __init__(self, node: Node, known: frozenset[str]) -> None:
        """Wrap `node`'s attributes, refusing any the operator does not define."""
        self.node = node
        self.where = node.where()
        for name in node.attributes:
            if name not in known:
                raise ModelError(f"{self.where} has unknown attribute '{name}'")

    def error(self, message: str) -> ModelError:
        """Return a ModelError about this node."""
        return ModelError(f"{self.where}: {message}")

    def has(self, name: str) -> bool:
        """Return whether the node sets attribute `name`."""
        return name in self.node.attributes

    def _get(self, name: str, kind: int) -> object:
        attribute = self.node.attributes[name]
        if attribute.type != kind:
            raise self.error(f"attribute '{name}' has the wrong type")
        return attribute.value

    def integer(self, name: str, default: int) -> int:
        """Return an INT attribute."""
        value = self._get(name, A_INT) if self.has(name) else default
        assert isinstance(value, int)
        return value

    def number(self, name: str, default: float) -> float:
        """Return a FLOAT attribute."""
        value = self._get(name, A_FLOAT) if self.has(name) else default
        assert isinstance(value, float)
        return value

    def string(self, name: str, default: str) -> str:
        """Return a STRING attribute as text."""
        if not self.has(name):
            return default
        # onnx_proto decodes a STRING attribute to bytes; _get checked the kind.
        raw = cast("bytes", self._get(name, A_STRING))
        return text(raw, f"attribute '{name}' of {self.where}")

    def integers(self, name: str) -> np.ndarray | None:
        """Return an INTS attribute as an int64 array, None when absent."""
        if not self.has(name):
            return None
        value = self._get(name, A_INTS)
        assert isinstance(value, np.ndarray)
        return value

    def numbers(self, name: str) -> np.ndarray | None:
        """Return a FLOATS attribute, or its `<name>_as_tensor` twin, as an array.

        The tensor twins (ai.onnx.ml 3) must hold float32, as onnxruntime requires
        for float inputs (it refuses doubles there).
        """
        twin = f"{name}_as_tensor"
        if self.has(name) and self.has(twin):
            raise self.error(f"sets both '{name}' and '{twin}'")
        if self.has(twin):
            value = self._get(twin, A_TENSOR)
            assert isinstance(value, np.ndarray)
            if value.dtype != np.float32:
                raise self.error(f"attribute '{twin}' must hold float32 values")
            return value.ravel()
        if not self.has(name):
            return None
        value = self._get(name, A_FLOATS)
        assert isinstance(value, np.ndarray)
        return value

    def strings(self, name: str) -> list[str] | None:
        """Return a STRINGS attribute as a list of text, None when absent."""
        if not self.has(name):
            return None
        value = self._get(name, A_STRINGS)
        assert isinstance(value, list)
        return [text(item, f"attribute '{name}' of {self.where}") for item in value]

    def choice(self, name: str, default: str, allowed: Sequence[str]) -> str:
        """Return a STRING attribute that must be one of `allowed`."""
        value = self.string(name, default)
        if value not in allowed:
            raise self.error(f"{name} '{value}' is not supported")
        return value


def tensor(value: Value | None, what: str) -> np.ndarray:
    """Return `value` if it is a tensor; refuse a missing input or a sequence."""
    if not isinstance(value, np.ndarray):
        raise ModelError(f"{what} must be a tensor")
    return value


def numeric(value: Value | None, what: str) -> np.ndarray:
    """Return `value` if it is a tensor of numbers or booleans."""
    array = tensor(value, what)
    if array.dtype.kind not in "biuf":
        raise ModelError(f"{what} must be numeric, not {array.dtype}")
    return array


def floating(value: Value | None, what: str) -> np.ndarray:
    """Return `value` if it is a float32 or float64 tensor."""
    array = tensor(value, what)
    if array.dtype.kind != "f":
        raise ModelError(f"{what} must be float or double, not {array.dtype}")
    return array


def matrix(value: Value | None, what: str) -> np.ndarray:
    """Return a numeric tensor as a 2-D array (a vector counts as one row)."""
    array = numeric(value, what)
    if array.ndim == 1:
        return array.reshape(1, -1)
    if array.ndim != 2:
        raise ModelError(f"{what} must have 1 or 2 dimensions, not {array.ndim}")
    return array


def class_labels(attrs: Attrs, ints_name: str, strings_name: str) -> np.ndarray:
    """Return a classifier's labels: exactly one of its int64 or string attributes."""
    ints = attrs.integers(ints_name)
    strings = attrs.strings(strings_name)
    if (ints is None or not ints.size) == (strings is None or not strings):
        raise attrs.error(f"needs exactly one of {ints_name} and {strings_name}")
    if ints is not None and ints.size:
        labels = ints
    else:
        labels = np.empty(len(strings or ()), dtype=object)
        labels[:] = strings
    return labels
