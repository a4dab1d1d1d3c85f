"""Shipped ONNX models: used when they fit the features, else a repair says why."""

import json
from pathlib import Path

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import numpy as np
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from sklearn.ensemble import GradientBoostingClassifier

from custom_components.homeiq.const import DOMAIN
from custom_components.homeiq.core.dataset import HOME_TYPES
from custom_components.homeiq.core.features import DEVICE_SCHEMA
from custom_components.homeiq.models_loader import load_models
from homeiq_core.inference import (
    CLASSES,
    CREATED,
    FEATURE_NAMES,
    FEATURE_SCHEMA,
    REFERENCE,
)
from homeiq_trainer.onnx_export import export_onnx

from .conftest import Home


def _failure_model(schema: str, created: str = "2026-11-30T12:00:00+00:00") -> bytes:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, len(DEVICE_SCHEMA)))
    y = (x[:, 0] > 0).astype(int)
    model = GradientBoostingClassifier(n_estimators=10, random_state=0).fit(x, y)
    return export_onnx(
        model,
        len(DEVICE_SCHEMA),
        metadata={
            FEATURE_NAMES: json.dumps(list(DEVICE_SCHEMA.names)),
            CLASSES: json.dumps([0, 1]),
            FEATURE_SCHEMA: schema,
            CREATED: created,
            REFERENCE: json.dumps(np.median(x[y == 0], axis=0).tolist()),
        },
    )


@pytest.mark.parametrize(
    ("created", "version"),
    [
        ("2026-11-30T23:30:00-02:00", "model 2026-12-01 01:30"),
        ("2026-11-30T12:07:59", "model 2026-11-30 12:07"),
        ("yesterday", "model"),
    ],
)
def test_the_version_names_the_export_minute_in_utc(
    tmp_path: Path, created: str, version: str
) -> None:
    (tmp_path / "device_failure.onnx").write_bytes(
        _failure_model(DEVICE_SCHEMA.fingerprint(), created)
    )
    assert load_models(tmp_path).models.version == version


def test_a_model_replaced_the_same_day_changes_the_version(tmp_path: Path) -> None:
    schema = DEVICE_SCHEMA.fingerprint()
    path = tmp_path / "device_failure.onnx"
    path.write_bytes(_failure_model(schema, "2026-12-02T01:00:00+00:00"))
    first = load_models(tmp_path).models.version
    path.write_bytes(_failure_model(schema, "2026-12-02T03:15:00+00:00"))
    assert load_models(tmp_path).models.version != first


async def _setup(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()


async def test_a_matching_model_scores_the_devices(
    hass: HomeAssistant,
    home: Home,
    config_entry: MockConfigEntry,
    models_dir: Path,
) -> None:
    (models_dir / "device_failure.onnx").write_bytes(
        _failure_model(DEVICE_SCHEMA.fingerprint())
    )
    await _setup(hass, config_entry)

    assert (
        hass.states.get("sensor.homeiq_model_version").state == "model 2026-11-30 12:00"
    )
    updated = hass.states.get("sensor.homeiq_last_model_update").state
    assert updated.startswith("2026-11-30T12:00:00")
    scores = config_entry.runtime_data.coordinator.data.health.devices[home.lock]
    assert 0 <= scores.failure_risk <= 1
    health = float(hass.states.get("sensor.front_lock_health").state)
    assert health <= 100 * (1 - scores.failure_risk) + 0.05
    assert config_entry.runtime_data.coordinator.data.health.source == "model"


async def test_a_model_of_another_schema_is_refused_with_a_repair(
    hass: HomeAssistant,
    home: Home,
    config_entry: MockConfigEntry,
    models_dir: Path,
) -> None:
    (models_dir / "device_failure.onnx").write_bytes(_failure_model("0123456789abcdef"))
    (models_dir / "home_type.onnx").write_bytes(b"not a model")
    await _setup(hass, config_entry)

    assert hass.states.get("sensor.homeiq_model_version").state == "rules"
    issues = ir.async_get(hass)
    mismatch = issues.async_get_issue(DOMAIN, "model_mismatch_device_failure")
    assert mismatch is not None
    assert "0123456789abcdef" in mismatch.translation_placeholders["problem"]
    assert issues.async_get_issue(DOMAIN, "model_mismatch_home_type") is not None


async def test_the_shipped_models_load_and_score_every_device(
    hass: HomeAssistant,
    home: Home,
    config_entry: MockConfigEntry,
    shipped_models: Path,
) -> None:
    await _setup(hass, config_entry)

    coordinator = config_entry.runtime_data.coordinator
    assert coordinator.models.refused == {}
    loaded = coordinator.models.models
    for name in ("home_type", "device_failure", "battery_days_left", "device_anomaly"):
        assert getattr(loaded, name) is not None, name
    assert coordinator.data.health.source == "model"
    assert hass.states.get("sensor.homeiq_model_version").state.startswith("model ")
    home_type = hass.states.get("sensor.homeiq_home_type")
    assert home_type.state in HOME_TYPES
    probabilities = home_type.attributes["probabilities"]
    assert set(probabilities) <= set(HOME_TYPES)
    assert sum(probabilities.values()) == pytest.approx(1, abs=1e-3)
    scores = coordinator.data.health.devices[home.lock]
    assert 0 <= scores.failure_risk <= 1
    assert 0 <= float(hass.states.get("sensor.front_lock_health").state) <= 100
