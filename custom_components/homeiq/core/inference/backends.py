"""The two ways to run a checked model: numpy (always there) and onnxruntime (optional).

onnxruntime is imported only inside `onnxruntime_session`, so importing HomeIQ never
needs it; on Home Assistant OS (musl) it cannot even be installed. Both backends take
the same float32 batch and return the same outputs by name, with the same shapes and
dtypes (labels int64 or str objects, probabilities and values float32).
"""

from typing import Any, Literal, Protocol

import numpy as np

from .errors import ModelError
from .graph import Plan
from .ops import Value

type BackendName = Literal["auto", "numpy", "onnxruntime"]
BACKENDS: tuple[BackendName, ...] = ("auto", "numpy", "onnxruntime")


class Backend(Protocol):
    """Something that evaluates one model's graph."""

    name: str

    def run(self, x: np.ndarray) -> dict[str, Value]:
        """Return the model's outputs by name for the float32 batch `x`."""
        ...


class NumpyBackend:
    """Evaluates the compiled plan with numpy."""

    name = "numpy"

    def __init__(self, plan: Plan) -> None:
        """Run `plan`."""
        self._plan = plan

    def run(self, x: np.ndarray) -> dict[str, Value]:
        """Return the model's outputs by name for the float32 batch `x`."""
        return self._plan.run(x)


class OnnxRuntimeBackend:
    """Evaluates the model file with onnxruntime's CPU provider."""

    name = "onnxruntime"

    def __init__(self, data: bytes, plan: Plan) -> None:
        """Open an onnxruntime session on `data`, the file `plan` was compiled from."""
        self._session = onnxruntime_session(data)
        self._input = plan.input_name
        self._outputs = list(plan.output_names)

    def run(self, x: np.ndarray) -> dict[str, Value]:
        """Return the model's outputs by name for the float32 batch `x`."""
        try:
            results = self._session.run(self._outputs, {self._input: x})
        except Exception as error:  # onnxruntime's own exception types
            raise ModelError(f"onnxruntime failed: {error}") from None
        return dict(zip(self._outputs, results, strict=True))


def onnxruntime_available() -> bool:
    """Return whether onnxruntime can be imported here."""
    try:
        import onnxruntime  # noqa: F401, PLC0415  (optional dependency)
    except ImportError, OSError:
        return False
    return True


def onnxruntime_session(data: bytes) -> Any:
    """Return an onnxruntime InferenceSession on `data`, or raise ModelError."""
    try:
        import onnxruntime  # noqa: PLC0415  (optional dependency)
    except (ImportError, OSError) as error:
        raise ModelError(f"the onnxruntime backend is unavailable: {error}") from None
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # errors only
    try:
        return onnxruntime.InferenceSession(
            data, sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # onnxruntime's own exception types
        raise ModelError(f"onnxruntime refused the model: {error}") from None


def create_backend(name: BackendName, data: bytes, plan: Plan) -> Backend:
    """Return the backend called `name` ("auto": onnxruntime if importable)."""
    if name not in BACKENDS:
        raise ModelError(
            f"unknown backend '{name}'; choose one of {', '.join(BACKENDS)}"
        )
    if name == "onnxruntime" or (name == "auto" and onnxruntime_available()):
        return OnnxRuntimeBackend(data, plan)
    return NumpyBackend(plan)
