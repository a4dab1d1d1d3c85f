"""Setting HomeIQ up, its entities on the right devices, unloading and reloading."""

from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE, EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.homeiq.const import DOMAIN

from .conftest import Home

HOME_TYPE = "sensor.homeiq_home_type"


async def test_setup_creates_service_device_and_home_sensors(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    assert loaded_entry.state is ConfigEntryState.LOADED
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, loaded_entry.entry_id), loaded_entry.entry_id
    )
    assert device is not None
    assert device.entry_type is dr.DeviceEntryType.SERVICE
    state = hass.states.get(HOME_TYPE)
    assert state.state in state.attributes["options"]
    assert set(state.attributes["probabilities"]) == set(state.attributes["options"])
    assert state.attributes["model_version"] == "rules"
    assert hass.states.get("sensor.homeiq_devices_monitored").state == "5"
    assert hass.states.get("sensor.homeiq_devices_at_risk").state == "0"
    for key in ("back_fill_progress", "model_version", "last_model_update"):
        entry = entity_registry.async_get(f"sensor.homeiq_{key}")
        assert entry.entity_category is EntityCategory.DIAGNOSTIC
        assert entry.device_id == device.id


async def test_device_entities_sit_on_the_devices_own_page(
    hass: HomeAssistant,
    home: Home,
    loaded_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    ours = er.async_entries_for_config_entry(entity_registry, loaded_entry.entry_id)
    on_lock = {e.translation_key: e for e in ours if e.device_id == home.lock}
    assert set(on_lock) == {"health", "failure_risk", "anomaly_score", "problem"}
    assert on_lock["health"].entity_id == "sensor.front_lock_health"
    assert on_lock["failure_risk"].entity_id == "sensor.front_lock_failure_risk"
    assert on_lock["problem"].entity_id == "binary_sensor.front_lock_problem"
    # Noisy (they move with every scoring) or shown already: created disabled.
    assert on_lock["anomaly_score"].disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert on_lock["failure_risk"].disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert hass.states.get("sensor.front_lock_failure_risk") is None
    assert on_lock["health"].disabled_by is None
    assert on_lock["problem"].disabled_by is None
    # Battery devices also get their forecast; the device stays the Z-Wave one's.
    on_motion = {e.translation_key for e in ours if e.device_id == home.motion}
    assert "battery_days_left" in on_motion
    lock = device_registry.async_get(home.lock)
    assert lock.config_entry_id == home.zwave.entry_id
    health = hass.states.get("sensor.front_lock_health")
    assert float(health.state) == 100.0
    assert health.attributes["reasons"] == []
    assert health.attributes["friendly_name"] == "Front lock Health"


async def test_unload_stops_listening_and_reload_keeps_the_telemetry(
    hass: HomeAssistant, home: Home, loaded_entry: MockConfigEntry
) -> None:
    collector = loaded_entry.runtime_data.collector
    hass.states.async_set("switch.washer_plug_switch", "off")
    await hass.async_block_till_done()
    saved = collector.aggregator.to_json()
    plug = saved["devices"][home.plug]["counts"]

    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert loaded_entry.state is ConfigEntryState.NOT_LOADED
    assert hass.states.get("sensor.front_lock_health").state == STATE_UNAVAILABLE
    hass.states.async_set("switch.washer_plug_switch", "on")
    await hass.async_block_till_done()
    assert collector.aggregator.to_json()["devices"][home.plug]["counts"] == plug

    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done()
    restored = loaded_entry.runtime_data.collector.aggregator.to_json()
    assert restored["devices"][home.plug]["counts"] == plug
    assert restored["entities"]["switch.washer_plug_switch"][0] == "off"


async def test_a_disabled_sensor_enabled_by_the_user_shows_its_value(
    hass: HomeAssistant,
    home: Home,
    loaded_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    entity_registry.async_update_entity(
        "sensor.front_lock_failure_risk", disabled_by=None
    )
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()

    risk = hass.states.get("sensor.front_lock_failure_risk")
    scores = loaded_entry.runtime_data.coordinator.data.health.devices[home.lock]
    assert float(risk.state) == round(100 * scores.failure_risk, 1)
    assert risk.attributes["reasons"] == list(scores.reasons)
    assert risk.attributes["unit_of_measurement"] == "%"
