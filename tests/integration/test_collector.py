"""The collector: state events into the aggregator, odd events survived, registries."""

from datetime import timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.homeiq.const import CONF_EXCLUDE_INTEGRATIONS, DOMAIN
from custom_components.homeiq.core.rollups import DEVICE_FIELDS

from .conftest import Home, add_device


def _counts(entry: MockConfigEntry, device_id: str) -> dict[str, float]:
    saved = entry.runtime_data.collector.aggregator.to_json()["devices"][device_id]
    return dict(zip(DEVICE_FIELDS, saved["counts"], strict=False))


async def _settle(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Let the registry debouncer run its rebuild, then the refresh it asks for."""
    for seconds in (3, 11, 11):
        freezer.tick(timedelta(seconds=seconds))
        async_fire_time_changed(hass)
        await hass.async_block_till_done()


async def test_state_changes_and_reports_reach_the_aggregator(
    hass: HomeAssistant,
    home: Home,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    before = _counts(loaded_entry, home.plug)
    hass.states.async_set("switch.washer_plug_switch", "off")
    freezer.tick(5)
    # The same state again: HA fires state_reported, which is liveness.
    reported = []
    hass.bus.async_listen(
        EVENT_STATE_REPORTED,
        reported.append,
        event_filter=callback(lambda data: data["entity_id"].startswith("switch.")),
    )
    hass.states.async_set("switch.washer_plug_switch", "off")
    await hass.async_block_till_done()

    assert len(reported) == 1
    after = _counts(loaded_entry, home.plug)
    assert after["events"] == before["events"] + 1
    assert after["reported"] == before["reported"] + 1
    assert after["reports"] == before["reports"] + 2


async def test_own_entities_unknown_and_excluded_ones_cost_nothing(
    hass: HomeAssistant, home: Home
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN, data={}, options={CONF_EXCLUDE_INTEGRATIONS: ["shelly"]}
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    aggregator = entry.runtime_data.collector.aggregator
    before = aggregator.counters()["unknown_entity"]

    hass.states.async_set("switch.washer_plug_switch", "off")  # excluded
    hass.states.async_set("light.not_in_any_registry", "on")
    await entry.runtime_data.coordinator.async_refresh()  # updates our own sensors
    await hass.async_block_till_done()

    assert home.plug not in entry.runtime_data.collector.home.devices
    assert aggregator.counters()["unknown_entity"] == before  # filtered before


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"entity_id": None},
        {"entity_id": ["lock.front_lock_lock"]},
        {"entity_id": 7},
        {"entity_id": "Not An.Entity"},
        {"entity_id": "lock.front_lock_lock"},
        {"entity_id": "lock.front_lock_lock", "new_state": "not a state"},
        {"entity_id": "lock.front_lock_lock", "new_state": {"state": "on"}},
    ],
)
async def test_malformed_events_never_raise(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, data: dict
) -> None:
    collector = loaded_entry.runtime_data.collector
    for event_type in (EVENT_STATE_CHANGED, EVENT_STATE_REPORTED):
        hass.bus.async_fire(event_type, data)
    await hass.async_block_till_done()
    expected = 2 if isinstance(data.get("new_state"), str | dict) else 0
    # A state_reported without a state is malformed too (it always carries one).
    if data.get("entity_id") == "lock.front_lock_lock" and "new_state" not in data:
        expected = 1
    assert collector.malformed == expected
    await loaded_entry.runtime_data.coordinator.async_refresh()
    assert loaded_entry.runtime_data.coordinator.last_update_success


async def test_odd_states_are_counted_not_raised(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    for state in ("unknown", "unavailable", "nan", "not a number", ""):
        hass.states.async_set("sensor.washer_plug_power", state, {"big": "x" * 10_000})
    hass.states.async_remove("sensor.washer_plug_power")
    await hass.async_block_till_done()
    counters = loaded_entry.runtime_data.collector.aggregator.counters()
    assert counters["non_numeric"] >= 2
    await loaded_entry.runtime_data.coordinator.async_refresh()
    assert loaded_entry.runtime_data.coordinator.last_update_success


async def test_new_device_gets_entities_and_telemetry_is_kept(
    hass: HomeAssistant,
    home: Home,
    loaded_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass.states.async_set("switch.washer_plug_switch", "off")
    freezer.tick(timedelta(days=1))
    await loaded_entry.runtime_data.coordinator.async_refresh()
    history = loaded_entry.runtime_data.collector.aggregator.history
    assert history
    plug = _counts(loaded_entry, home.plug)

    sensor = add_device(
        hass,
        home.zha,
        "Cellar leak",
        [("binary_sensor", "moisture", None, "off")],
        via=home.hub,
    )
    await _settle(hass, freezer)

    collector = loaded_entry.runtime_data.collector
    assert sensor in collector.home.devices
    assert collector.rebuilds == 1
    assert _counts(loaded_entry, home.plug) == plug
    # The closed days carry over as the same (immutable) objects.
    assert all(
        new is old
        for new, old in zip(collector.aggregator.history, history, strict=True)
    )
    health = entity_registry.async_get("sensor.cellar_leak_health")
    assert health is not None
    assert health.device_id == sensor
    assert hass.states.get("sensor.homeiq_devices_monitored").state == "6"


async def test_renamed_entity_keeps_its_device_telemetry(
    hass: HomeAssistant,
    home: Home,
    loaded_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    hass.states.async_set("switch.washer_plug_switch", "off")
    await hass.async_block_till_done()
    plug = _counts(loaded_entry, home.plug)

    entity_registry.async_update_entity(
        "switch.washer_plug_switch", new_entity_id="switch.washer"
    )
    await _settle(hass, freezer)
    hass.states.async_set("switch.washer", "on")
    await hass.async_block_till_done()

    assert _counts(loaded_entry, home.plug)["events"] == plug["events"] + 1


async def test_removed_device_loses_its_entities(
    hass: HomeAssistant,
    home: Home,
    loaded_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    assert entity_registry.async_get("sensor.front_lock_health") is not None

    dr.async_get(hass).async_remove_device(home.lock)
    await _settle(hass, freezer)

    assert home.lock not in loaded_entry.runtime_data.collector.home.devices
    assert entity_registry.async_get("sensor.front_lock_health") is None
    assert entity_registry.async_get("binary_sensor.front_lock_problem") is None
    assert hass.states.get("sensor.homeiq_devices_monitored").state == "4"


async def test_changes_to_our_own_entities_cause_no_rebuild(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    entity_registry: er.EntityRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    entity_registry.async_update_entity("sensor.front_lock_health", name="Lock health")
    entity_registry.async_update_entity(
        "sensor.homeiq_devices_monitored", name="Watched"
    )
    await _settle(hass, freezer)
    assert loaded_entry.runtime_data.collector.rebuilds == 0
