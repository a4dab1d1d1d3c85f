"""The events-seen sensor counts real state_changed events on the bus."""

from homeassistant.components.sensor import ATTR_STATE_CLASS, SensorStateClass
from homeassistant.const import (
    ATTR_UNIT_OF_MEASUREMENT,
    EVENT_STATE_CHANGED,
    EntityCategory,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.homeiq.const import UPDATE_INTERVAL

EVENTS_SEEN = "sensor.homeiq_events_seen"


async def _next_refresh(hass: HomeAssistant) -> None:
    async_fire_time_changed(hass, dt_util.utcnow() + UPDATE_INTERVAL)
    await hass.async_block_till_done()


async def test_counts_state_changes_at_each_refresh(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    start = int(hass.states.get(EVENTS_SEEN).state)

    hass.states.async_set("light.kitchen", "on")
    hass.states.async_set("light.kitchen", "off")
    hass.states.async_set("sensor.hall_temperature", "21.5", {"unit": "°C"})
    await hass.async_block_till_done()
    # Counted at once, published at the next refresh.
    assert int(hass.states.get(EVENTS_SEEN).state) == start

    await _next_refresh(hass)
    assert int(hass.states.get(EVENTS_SEEN).state) == start + 3


async def test_ignores_its_own_entities(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    hass.states.async_set("switch.pump", "on")
    await _next_refresh(hass)
    first = hass.states.get(EVENTS_SEEN).state

    # The sensor's own state change from that refresh must not count.
    await _next_refresh(hass)
    await _next_refresh(hass)
    assert hass.states.get(EVENTS_SEEN).state == first


async def test_odd_states_are_counted_without_errors(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    start = int(hass.states.get(EVENTS_SEEN).state)
    for state in ("unknown", "unavailable", "nan", "not a number", ""):
        hass.states.async_set("sensor.flaky", state, {"big": "x" * 10_000})
    hass.states.async_remove("sensor.flaky")
    await _next_refresh(hass)
    assert int(hass.states.get(EVENTS_SEEN).state) == start + 6


async def test_malformed_events_are_tallied_not_raised(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    tally = loaded_entry.runtime_data.collector.tally
    start = int(hass.states.get(EVENTS_SEEN).state)
    for data in ({}, {"entity_id": None}, {"entity_id": ["light.a"]}, {"entity_id": 7}):
        hass.bus.async_fire(EVENT_STATE_CHANGED, data)
    hass.bus.async_fire(EVENT_STATE_CHANGED, {"entity_id": "Not An.Entity"})
    await _next_refresh(hass)

    assert tally.rejected == 5
    assert int(hass.states.get(EVENTS_SEEN).state) == start


async def test_sensor_is_diagnostic_total(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    entity = entity_registry.async_get(EVENTS_SEEN)
    assert entity is not None
    assert entity.entity_category is EntityCategory.DIAGNOSTIC
    assert entity.unique_id == f"{loaded_entry.entry_id}_events_seen"
    state = hass.states.get(EVENTS_SEEN)
    assert state.attributes[ATTR_STATE_CLASS] == SensorStateClass.TOTAL_INCREASING
    assert state.attributes[ATTR_UNIT_OF_MEASUREMENT] == "events"
    assert state.attributes["friendly_name"] == "HomeIQ Events seen"
