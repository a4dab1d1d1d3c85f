"""Back-fill from the recorder: real recorded states, read in its executor."""

from datetime import UTC, datetime, timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.homeiq.backfill import async_backfill
from custom_components.homeiq.const import CONF_BACKFILL_DAYS, DOMAIN

from .conftest import Home


@pytest.fixture(autouse=True)
def mock_recorder_before_hass(async_test_recorder: object) -> None:
    """Prepare the recorder's database before `hass` starts (phcc's hook)."""


START = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
DAYS = 4


async def _record_history(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> int:
    """Record DAYS days of the test home: a reading per hour per entity."""
    written = 0
    for hour in range(DAYS * 24):
        freezer.move_to(START + timedelta(hours=hour, minutes=5))
        hass.states.async_set(
            "sensor.bedroom_thermometer_temperature", str(18 + hour % 4)
        )
        hass.states.async_set("sensor.washer_plug_power", str(hour % 7))
        hass.states.async_set(
            "binary_sensor.kitchen_motion_motion", "on" if hour % 2 else "off"
        )
        written += 3
        if hour % 12 == 0:
            hass.states.async_set("sensor.kitchen_motion_battery", str(90 - hour / 24))
            written += 1
        await async_wait_recording_done(hass)
    return written


async def test_backfill_replays_recorded_days(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
) -> None:
    freezer.move_to(START - timedelta(minutes=30))
    home: Home = await _home(hass)
    written = await _record_history(hass, freezer)
    freezer.move_to(START + timedelta(days=DAYS, minutes=10))

    entry = MockConfigEntry(
        domain=DOMAIN, data={}, options={CONF_BACKFILL_DAYS: DAYS + 1}
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    state = entry.runtime_data.state["backfill"]
    assert state["done"] is True
    assert state["progress"] == 100.0
    assert state["events"] >= written
    aggregator = entry.runtime_data.collector.aggregator
    history = aggregator.history
    assert len(history) >= DAYS
    assert history[-1].device(home.thermometer)["events"] == 24
    assert hass.states.get("sensor.homeiq_back_fill_progress").state == "100.0"
    assert entry.runtime_data.coordinator.watch_start < START.timestamp()
    # The back-fill ran once: a restart does not redo it.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.runtime_data.state["backfill"]["events"] == state["events"]


async def test_watching_begins_where_the_recorders_history_does(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
) -> None:
    # HA (and its recorder) began a day ago; the back-fill window is 14 days.
    began = START - timedelta(minutes=30)
    freezer.move_to(began)
    await _home(hass)
    freezer.move_to(START)
    hass.states.async_set("sensor.bedroom_thermometer_temperature", "19")
    hass.states.async_set("binary_sensor.kitchen_motion_motion", "off")
    await async_wait_recording_done(hass)
    freezer.move_to(START + timedelta(days=1))
    entry = MockConfigEntry(domain=DOMAIN, data={}, options={CONF_BACKFILL_DAYS: 14})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    watch_start = entry.runtime_data.coordinator.watch_start
    assert began.timestamp() <= watch_start < began.timestamp() + 60
    health = entry.runtime_data.coordinator.data.health
    for device_id, scores in health.devices.items():
        assert not any("14 days" in reason for reason in scores.reasons), device_id


async def test_without_a_recorder_backfill_is_skipped(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    await hass.async_block_till_done(wait_background_tasks=True)
    assert await async_backfill(hass, loaded_entry) == 0
    assert loaded_entry.runtime_data.state["backfill"]["done"] is True


async def _home(hass: HomeAssistant) -> Home:
    from .conftest import home as make_home  # noqa: PLC0415

    return await make_home.__wrapped__(hass)
