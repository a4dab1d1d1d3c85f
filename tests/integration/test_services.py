"""Actions: score now, mark a battery replaced, report a failure."""

from datetime import UTC, datetime

from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.homeiq.const import DOMAIN

from .conftest import Home


async def _call(hass: HomeAssistant, service: str, data: dict) -> dict:
    return await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=True
    )


async def test_score_now_answers_with_every_device(
    hass: HomeAssistant, home: Home, loaded_entry: MockConfigEntry
) -> None:
    response = await _call(hass, "score_now", {})
    assert response["devices_at_risk"] == 0
    assert set(response["devices"]) == {
        home.hub,
        home.motion,
        home.thermometer,
        home.lock,
        home.plug,
    }
    assert response["devices"][home.lock]["health"] == 100.0
    assert response["home_type"] == hass.states.get("sensor.homeiq_home_type").state


async def test_labels_are_stored_with_their_time(
    hass: HomeAssistant, home: Home, loaded_entry: MockConfigEntry
) -> None:
    replaced = await _call(hass, "mark_battery_replaced", {"device_id": home.motion})
    failed = await _call(
        hass,
        "report_device_failure",
        {
            "device_id": home.lock,
            "kind": "radio_degradation",
            "time": datetime(2026, 11, 30, 8, 0, tzinfo=UTC),
        },
    )
    now = await _call(hass, "report_device_failure", {"device_id": home.plug})

    labels = loaded_entry.runtime_data.state["labels"]
    assert labels["battery_replaced"] == {home.motion: replaced["time"]}
    assert failed == {
        "device_id": home.lock,
        "kind": "radio_degradation",
        "time": datetime(2026, 11, 30, 8, 0, tzinfo=UTC).timestamp(),
    }
    assert now["kind"] == "sudden_death"
    assert labels["failures"] == [failed, now]

    # They survive a reload (saved with the telemetry).
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert loaded_entry.runtime_data.state["labels"]["failures"] == [failed, now]


async def test_unknown_device_is_refused(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    with pytest.raises(ServiceValidationError) as error:
        await _call(hass, "mark_battery_replaced", {"device_id": "nope"})
    assert error.value.translation_key == "unknown_device"


async def test_actions_need_a_loaded_entry(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, DOMAIN, {})
    with pytest.raises(ServiceValidationError) as error:
        await _call(hass, "score_now", {})
    assert error.value.translation_key == "not_loaded"
