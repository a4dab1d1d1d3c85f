"""Which ONNX operator sets HomeIQ writes and which ones its evaluator reads.

skl2onnx 1.20 emits the classic `ai.onnx.ml` ops (TreeEnsembleClassifier,
TreeEnsembleRegressor, LinearClassifier …) and refuses `ai.onnx.ml` opsets above 3
(its IsolationForest converter says so), so 3 is the newest `ai.onnx.ml` opset the
trainer can target; the newer `TreeEnsemble` op (ai.onnx.ml 5) is never emitted. For
the default domain, 21 is an opset every onnxruntime of the last two years runs and
that skl2onnx has tested; the ops it emits did not change meaning from 13 to 22.
"""

from collections.abc import Mapping
from types import MappingProxyType

DEFAULT_DOMAIN = ""
ML_DOMAIN = "ai.onnx.ml"

TARGET_OPSET: Mapping[str, int] = MappingProxyType({DEFAULT_DOMAIN: 21, ML_DOMAIN: 3})
"""The opsets the trainer's exporter asks skl2onnx for."""

SUPPORTED_OPSETS: Mapping[str, range] = MappingProxyType(
    {DEFAULT_DOMAIN: range(13, 23), ML_DOMAIN: range(1, 4)}
)
"""Opset versions, per domain, whose operators the evaluator implements exactly."""

SUPPORTED_IR_VERSIONS = range(3, 15)
"""ModelProto.ir_version values the loader accepts."""


def canonical_domain(domain: str) -> str:
    """Return `domain` with ONNX's alias "ai.onnx" spelled as the default domain."""
    return DEFAULT_DOMAIN if domain == "ai.onnx" else domain
