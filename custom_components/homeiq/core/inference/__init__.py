"""ONNX model evaluation with numpy, and with onnxruntime when it is importable.

Home Assistant OS cannot install onnx, onnxruntime or scikit-learn (no musl wheels),
so HomeIQ reads ONNX files itself: `wire` decodes the protobuf format, `onnx_proto`
the ONNX messages, `graph` checks and compiles the graph against the operators in
`kernels`, `ml_kernels` and `trees`, and `backends` runs it on numpy or onnxruntime,
which give the same numbers. Typical use::

    model = load_model(path, expected_features=FEATURE_NAMES)
    prediction = model.predict(features)  # float32 [rows, features]
    prediction.probabilities, prediction.classes

Everything refused, from a truncated file to an input with the wrong number of
columns, raises `ModelError` (a ValueError) with a message that names the problem.
"""

from .backends import BACKENDS, BackendName, onnxruntime_available
from .errors import ModelError
from .limits import DEFAULT_MAX_BYTES
from .metadata import (
    CLASSES,
    CREATED,
    FEATURE_NAMES,
    FEATURE_SCHEMA,
    METADATA_KEYS,
    METRICS,
    MODEL_KIND,
    REFERENCE,
    SCHEMA,
    SCHEMA_VERSION,
    TRAINER_VERSION,
    TRAINING_FINGERPRINT,
)
from .model import Model, Prediction, load_model
from .opsets import SUPPORTED_OPSETS, TARGET_OPSET

__all__ = [
    "BACKENDS",
    "CLASSES",
    "CREATED",
    "DEFAULT_MAX_BYTES",
    "FEATURE_NAMES",
    "FEATURE_SCHEMA",
    "METADATA_KEYS",
    "METRICS",
    "MODEL_KIND",
    "REFERENCE",
    "SCHEMA",
    "SCHEMA_VERSION",
    "SUPPORTED_OPSETS",
    "TARGET_OPSET",
    "TRAINER_VERSION",
    "TRAINING_FINGERPRINT",
    "BackendName",
    "Model",
    "ModelError",
    "Prediction",
    "load_model",
    "onnxruntime_available",
]
