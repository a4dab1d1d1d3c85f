"""Setting HomeIQ up and unloading it."""

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.homeiq.const import DOMAIN

EVENTS_SEEN = "sensor.homeiq_events_seen"


async def test_setup_creates_service_device_and_sensor(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    assert loaded_entry.state is ConfigEntryState.LOADED
    device = device_registry.async_get_device_by_identifier(
        (DOMAIN, loaded_entry.entry_id), loaded_entry.entry_id
    )
    assert device is not None
    assert device.entry_type is dr.DeviceEntryType.SERVICE
    assert hass.states.get(EVENTS_SEEN) is not None


async def test_unload_removes_entities_and_stops_listening(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    collector = loaded_entry.runtime_data.collector
    hass.states.async_set("light.kitchen", "on")
    await hass.async_block_till_done()
    seen = collector.tally.seen
    assert seen >= 1

    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()

    assert loaded_entry.state is ConfigEntryState.NOT_LOADED
    assert hass.states.get(EVENTS_SEEN).state == "unavailable"
    hass.states.async_set("light.kitchen", "off")
    await hass.async_block_till_done()
    assert collector.tally.seen == seen


async def test_reload_starts_counting_afresh(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    hass.states.async_set("light.kitchen", "on")
    await hass.async_block_till_done()

    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()

    assert loaded_entry.state is ConfigEntryState.LOADED
    assert loaded_entry.runtime_data.collector.tally.seen == 0
