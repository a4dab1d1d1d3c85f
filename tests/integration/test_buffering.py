"""Buffered collection: events wait in a list and are folded in batches.

The listeners only keep each event; the aggregator sees it at the next flush (a full
batch, a timer, or anyone reading the aggregator on the loop). These tests pin that
the folded state is the same as folding each event as it arrives, and that scoring,
saving, unloading and diagnostics never see an event late.
"""

from datetime import timedelta
import json
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED
from homeassistant.core import Event, HomeAssistant, callback
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.homeiq.collector import FLUSH_EVENTS, FLUSH_SECONDS, Collector
from custom_components.homeiq.core.aggregator import TelemetryAggregator
from custom_components.homeiq.core.rollups import DEVICE_FIELDS
from custom_components.homeiq.diagnostics import (
    async_get_config_entry_diagnostics,
)
from custom_components.homeiq.storage import STORAGE_KEY, unpack_telemetry

from .conftest import Home

EVENTS = DEVICE_FIELDS.index("events")
TEMPERATURE = "sensor.bedroom_thermometer_temperature"


def _collector(entry: MockConfigEntry) -> Collector:
    collector: Collector = entry.runtime_data.collector
    return collector


def _state(aggregator: TelemetryAggregator) -> str:
    """Return the aggregator's whole state, closed days included, as JSON text.

    Text, so that NaN equals NaN.
    """
    state = aggregator.to_json(history=False)
    state["history"] = [day.to_json() for day in aggregator.history]
    return json.dumps(state, sort_keys=True, default=repr)


def _twin(hass: HomeAssistant, collector: Collector) -> TelemetryAggregator:
    """Return a copy of the collector's aggregator that folds each event at once."""
    twin = TelemetryAggregator.from_json(
        collector.home.inventory,
        collector.aggregator.to_json(),
        history_days=collector.retention_days,
    )
    watched = callback(lambda data: data.get("entity_id") in collector.home.watched)

    @callback
    def changed(event: Event[Any]) -> None:
        state = event.data["new_state"]
        if state is not None:
            twin.record(
                state.entity_id,
                state.state,
                state.attributes,
                state.last_updated_timestamp,
            )

    @callback
    def reported(event: Event[Any]) -> None:
        state = event.data["new_state"]
        twin.report(state.entity_id, state.last_reported_timestamp)

    hass.bus.async_listen(EVENT_STATE_CHANGED, changed, event_filter=watched)
    hass.bus.async_listen(EVENT_STATE_REPORTED, reported, event_filter=watched)
    return twin


async def test_buffered_events_fold_to_the_same_state_as_one_at_a_time(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    collector = _collector(loaded_entry)
    twin = _twin(hass, collector)
    assert _state(twin) == _state(collector.aggregator)
    # Numbers, repeats (re-reports), outages, garbage, attribute readings, a
    # removal, and two midnights, with the timer never firing in between.
    steps: list[tuple[str, str, dict[str, Any]]] = [
        (TEMPERATURE, "20.5", {}),
        (TEMPERATURE, "20.5", {}),
        (TEMPERATURE, "unavailable", {}),
        (TEMPERATURE, "21.0", {}),
        (TEMPERATURE, "not a number", {}),
        (TEMPERATURE, "inf", {}),
        ("sensor.washer_plug_power", "1e20", {}),
        ("sensor.washer_plug_power", "4.5", {"big": "x" * 10_000}),
        ("lock.front_lock_lock", "locked", {"battery_level": 55}),
        ("lock.front_lock_lock", "locked", {"battery_level": "low"}),
        ("lock.front_lock_lock", "unknown", {}),
        ("binary_sensor.kitchen_motion_motion", "on", {}),
        ("binary_sensor.kitchen_motion_motion", "off", {}),
        ("binary_sensor.kitchen_motion_motion", "off", {}),
        ("switch.washer_plug_switch", "x" * 255, {}),
    ]
    for hours in (0.0, 0.01, 13.0, 13.0):
        freezer.tick(timedelta(hours=hours))
        for entity_id, state, attributes in steps:
            hass.states.async_set(entity_id, state, attributes)
            freezer.tick(timedelta(seconds=0.4))
    hass.states.async_remove("sensor.kitchen_motion_battery")

    # No await since the first event: the loop never ran the flush timer.
    assert collector.pending == 4 * len(steps)
    assert collector.flush() == 4 * len(steps)
    await hass.async_block_till_done()
    assert collector.pending == 0
    assert collector.aggregator.history  # the days closed inside the batch
    assert _state(collector.aggregator) == _state(twin)


async def test_an_event_waits_at_most_a_second_or_a_full_batch(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    collector = _collector(loaded_entry)
    await hass.async_block_till_done()  # the set-up's scoring is done
    hass.states.async_set(TEMPERATURE, "20.0")
    assert collector.pending == 1

    freezer.tick(timedelta(seconds=FLUSH_SECONDS))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert collector.pending == 0

    for n in range(FLUSH_EVENTS - 1):
        hass.states.async_set(TEMPERATURE, f"{n / 10:.1f}")
    assert collector.pending == FLUSH_EVENTS - 1
    hass.states.async_set(TEMPERATURE, "99.0")
    assert collector.pending == 0
    # The timer of the batch folded by its size finds nothing left to do.
    freezer.tick(timedelta(seconds=FLUSH_SECONDS))
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert collector.pending == 0


async def test_scoring_saving_and_diagnostics_see_every_event(
    hass: HomeAssistant,
    home: Home,
    loaded_entry: MockConfigEntry,
) -> None:
    collector = _collector(loaded_entry)
    await hass.async_block_till_done()  # the set-up's scoring is done
    before = collector.aggregator.counters()["non_numeric"]
    hass.states.async_set("sensor.washer_plug_power", "garbage")
    assert collector.pending == 1

    diagnostics = await async_get_config_entry_diagnostics(hass, loaded_entry)
    assert diagnostics["telemetry"]["odd_input"]["non_numeric"] == before + 1

    hass.states.async_set("switch.washer_plug_switch", "off")
    assert collector.pending == 1
    await loaded_entry.runtime_data.coordinator.async_refresh()
    assert collector.pending == 0

    # The snapshot is taken in the store's writer thread: the loop folds first.
    hass.states.async_set("switch.washer_plug_switch", "on")
    assert collector.pending == 1
    loaded_entry.runtime_data.coordinator.async_save()
    assert collector.pending == 0


async def test_unloading_saves_the_pending_events(
    hass: HomeAssistant,
    home: Home,
    loaded_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    collector = _collector(loaded_entry)
    await hass.async_block_till_done()  # the set-up's scoring is done
    events = collector.aggregator.to_json()["devices"][home.plug]["counts"][EVENTS]
    hass.states.async_set("switch.washer_plug_switch", "off")
    hass.states.async_set("switch.washer_plug_switch", "on")
    assert collector.pending == 2

    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()

    saved = unpack_telemetry(hass_storage[STORAGE_KEY]["data"]["telemetry"])
    assert isinstance(saved, dict)
    assert saved["devices"][home.plug]["counts"][EVENTS] == events + 2
    assert collector.pending == 0


async def test_other_threads_read_the_aggregator_as_it_is(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    collector = _collector(loaded_entry)
    await hass.async_block_till_done()  # the set-up's scoring is done
    hass.states.async_set(TEMPERATURE, "18.0")

    # The store's writer thread reads it; only the loop folds events in.
    await hass.async_add_executor_job(lambda: collector.aggregator)
    assert collector.pending == 1


async def test_a_tap_gets_every_event_at_once(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    collector = _collector(loaded_entry)
    hass.states.async_set(TEMPERATURE, "18.0")  # before the tap: not copied
    await hass.async_block_till_done()
    with collector.tap(0.0) as later:
        assert collector.pending == 0
        hass.states.async_set(TEMPERATURE, "18.5")
        hass.states.async_set(TEMPERATURE, "18.5")  # a re-report
        await hass.async_block_till_done()
        assert collector.pending == 0
        assert [(changed, state) for changed, _, state, _, _ in later] == [
            (True, "18.5"),
            (False, None),
        ]
    hass.states.async_set(TEMPERATURE, "19.0")
    assert collector.pending == 1
    assert len(later) == 2
