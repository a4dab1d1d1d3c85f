"""The metadata_props keys HomeIQ's trainer writes into every model, and their readers.

All values are strings (ONNX allows nothing else); the list- and object-valued ones
hold JSON. The trainer writes them with `homeiq_trainer.onnx_export.export_onnx`.
"""

import json
from typing import Any

from .errors import ModelError

SCHEMA_VERSION = "homeiq.schema_version"
"""Version of this metadata layout, "1"."""
MODEL_KIND = "homeiq.model_kind"
"""What the model predicts, e.g. "home_type" or "device_failure"."""
FEATURE_NAMES = "homeiq.feature_names"
"""JSON list of the input's column names, in order."""
CLASSES = "homeiq.classes"
"""JSON list of a classifier's class labels, in the order of its probabilities."""
TRAINER_VERSION = "homeiq.trainer_version"
"""Version of the trainer that built the model."""
CREATED = "homeiq.created"
"""ISO 8601 time the model was exported, with its UTC offset."""
TRAINING_FINGERPRINT = "homeiq.training_fingerprint"
"""Digest of the training data, to tell models trained on the same data apart."""
METRICS = "homeiq.metrics"
"""JSON object of evaluation metrics, from homes the model never saw."""
FEATURE_SCHEMA = "homeiq.schema"
"""Fingerprint of the feature schema the model reads (`FeatureSchema.fingerprint`)."""
REFERENCE = "homeiq.reference"
"""JSON list of healthy reference values in feature order (null: missing), for
the occlusion reasons of `homeiq_core.explain`."""

METADATA_KEYS = (
    SCHEMA_VERSION,
    MODEL_KIND,
    FEATURE_NAMES,
    CLASSES,
    TRAINER_VERSION,
    CREATED,
    TRAINING_FINGERPRINT,
    METRICS,
    FEATURE_SCHEMA,
    REFERENCE,
)
SCHEMA = "1"


def feature_names(metadata: dict[str, str]) -> tuple[str, ...] | None:
    """Return the feature names a model carries, or None when it carries none."""
    names = _json_list(metadata, FEATURE_NAMES)
    if names is None:
        return None
    if not all(isinstance(name, str) and name for name in names):
        raise ModelError(f"{FEATURE_NAMES} must be a list of non-empty strings")
    if len(set(names)) != len(names):
        raise ModelError(f"{FEATURE_NAMES} names a feature twice")
    return tuple(names)


def class_labels(metadata: dict[str, str]) -> tuple[str | int, ...] | None:
    """Return the class labels a model carries, or None when it carries none."""
    labels = _json_list(metadata, CLASSES)
    if labels is None:
        return None
    if not (
        all(isinstance(label, str) for label in labels)
        or all(
            isinstance(label, int) and not isinstance(label, bool) for label in labels
        )
    ):
        raise ModelError(f"{CLASSES} must be a list of strings or of integers")
    return tuple(labels)


def _json_list(metadata: dict[str, str], key: str) -> list[Any] | None:
    """Return the JSON list stored under `key`, None if absent."""
    raw = metadata.get(key)
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError) as error:  # RecursionError: nested too deep
        raise ModelError(f"{key} is not valid JSON") from error
    if not isinstance(value, list):
        raise ModelError(f"{key} must be a JSON list")
    return value
