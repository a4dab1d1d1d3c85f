"""The post_transform functions of the ai.onnx.ml classifiers, applied row by row.

ONNX names five: NONE, LOGISTIC, SOFTMAX, SOFTMAX_ZERO and PROBIT. The first four
follow the ONNX reference and onnxruntime: SOFTMAX subtracts the row maximum first;
SOFTMAX_ZERO leaves scores within 1e-7 of zero out of the sum (their output is about
zero). PROBIT is refused: both define it with a closed-form inverse error function
(constant 0.147) that cancels catastrophically in float32, and measured against
onnxruntime the results differ by up to 1e-3, so no two runtimes agree on it.
"""

import numpy as np

POST_TRANSFORMS = ("NONE", "LOGISTIC", "SOFTMAX", "SOFTMAX_ZERO")
_ZERO = 1e-7


def logistic(scores: np.ndarray) -> np.ndarray:
    """Return 1 / (1 + exp(-x)), computed without overflow for either sign."""
    positive = 1.0 / (1.0 + np.exp(-np.abs(scores)))
    return np.where(scores < 0, 1.0 - positive, positive)


def softmax(scores: np.ndarray) -> np.ndarray:
    """Return the softmax of each row."""
    exp = np.exp(scores - scores.max(axis=-1, keepdims=True))
    result: np.ndarray = exp / exp.sum(axis=-1, keepdims=True)
    return result


def softmax_zero(scores: np.ndarray) -> np.ndarray:
    """Return the softmax of each row over its non-zero scores only.

    A score within 1e-7 of zero becomes score * exp(-max) and is not summed; a row
    of zeros divides by zero (NaN), as onnxruntime's kernel does.
    """
    top = scores.max(axis=-1, keepdims=True)
    nonzero = np.abs(scores) > _ZERO
    exp = np.where(nonzero, np.exp(scores - top), scores * np.exp(-top))
    total = np.where(nonzero, exp, 0.0).sum(axis=-1, keepdims=True)
    result: np.ndarray = exp / total
    return result


def apply(name: str, scores: np.ndarray) -> np.ndarray:
    """Apply post_transform `name` to `scores` (rows of classes), in their dtype."""
    if name == "LOGISTIC":
        return logistic(scores)
    if name == "SOFTMAX":
        return softmax(scores)
    if name == "SOFTMAX_ZERO":
        return softmax_zero(scores)
    return scores
