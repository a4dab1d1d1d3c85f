"""The default models shipped with the integration: present, small, fast, current."""

import json
from pathlib import Path
import time

import pytest

from homeiq_core.explain import reference
from homeiq_core.features import DEVICE_SCHEMA, HOME_SCHEMA
from homeiq_core.inference import load_model
from homeiq_trainer.models.pipeline import MODEL_NAMES

SHIPPED = Path(__file__).parents[3] / "custom_components" / "homeiq" / "models"
RESHIP = "re-run: homeiq-trainer train --ship custom_components/homeiq/models"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_shipped_model(name: str) -> None:
    path = SHIPPED / f"{name}.onnx"
    assert path.stat().st_size <= 2 * 1024 * 1024
    best = min(_load_seconds(path) for _ in range(3))
    assert best <= 0.1
    schema = HOME_SCHEMA if name == "home_type" else DEVICE_SCHEMA
    model = load_model(path, backend="numpy", expected_features=schema.names)
    assert model.metadata["homeiq.schema"] == schema.fingerprint(), RESHIP
    assert model.metadata["homeiq.model_kind"] == name
    assert model.feature_names == schema.names, RESHIP
    assert len(reference(model)) == model.n_features
    assert json.loads(model.metadata["homeiq.metrics"])
    if name == "home_type":
        assert len(model.classes) == 8
    if name == "device_failure":
        assert model.classes == (0, 1)


def _load_seconds(path: Path) -> float:
    began = time.perf_counter()
    load_model(path, backend="numpy")
    return time.perf_counter() - began
