"""Back-fill from the recorder: real recorded states, read in its executor."""

import asyncio
from datetime import UTC, datetime, timedelta
import time
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder import Recorder
from homeassistant.const import EVENT_STATE_REPORTED
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.homeiq import backfill
from custom_components.homeiq.backfill import async_backfill
from custom_components.homeiq.const import CONF_BACKFILL_DAYS, DOMAIN

from .conftest import Home, add_device


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


def _events(entry: MockConfigEntry, device_id: str) -> int:
    """Return the device's events: closed days and the current one."""
    aggregator = entry.runtime_data.collector.aggregator
    closed = sum(day.device(device_id)["events"] for day in aggregator.history)
    today = aggregator.to_json()["devices"][device_id]["counts"][0]
    return int(closed + today)


async def test_events_arriving_during_the_backfill_count_once(
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    freezer.move_to(START - timedelta(minutes=30))
    home: Home = await _home(hass)
    await _record_history(hass, freezer)
    freezer.move_to(START + timedelta(days=DAYS, minutes=10))
    real = backfill._replay_chunk
    fired: list[float] = []

    async def fire() -> None:
        freezer.tick(timedelta(seconds=1))
        fired.append(time.time())
        hass.states.async_set(
            "sensor.bedroom_thermometer_temperature", str(30 + len(fired))
        )
        hass.bus.async_fire(
            EVENT_STATE_REPORTED,
            {
                "entity_id": "sensor.kitchen_motion_battery",
                "old_last_reported": dt_util.utcnow(),
                "new_state": hass.states.get("sensor.kitchen_motion_battery"),
            },
        )
        await recorder_mock.async_block_till_done()

    def during(*args: Any) -> int:
        # Events before the read, and after it (before the take-over).
        asyncio.run_coroutine_threadsafe(fire(), hass.loop).result()
        read = real(*args)
        asyncio.run_coroutine_threadsafe(fire(), hass.loop).result()
        return read

    monkeypatch.setattr(backfill, "_replay_chunk", during)
    entry = MockConfigEntry(
        domain=DOMAIN, data={}, options={CONF_BACKFILL_DAYS: DAYS + 1}
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    assert entry.runtime_data.state["backfill"]["done"] is True
    chunks = DAYS + 1 + 1  # whole days, and the rest up to the cut-off
    assert len(fired) == 2 * chunks
    # Each recorded reading once (the state the home began with, then one an
    # hour), and each one fired meanwhile once: those before the cut-off from
    # the recorder, the later ones kept aside.
    assert _events(entry, home.thermometer) == 1 + 24 * DAYS + len(fired)
    assert entry.runtime_data.collector.aggregator.history
    # The taps are closed: later events reach the live aggregator only.
    assert entry.runtime_data.collector._later is None


@pytest.mark.parametrize("changed_at_read", [1, DAYS + 1])  # a whole day; the last
async def test_an_inventory_change_during_the_backfill_keeps_live_telemetry(  # noqa: PLR0917 - fixtures and a case
    recorder_mock: Recorder,
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    changed_at_read: int,
) -> None:
    freezer.move_to(START - timedelta(minutes=30))
    home: Home = await _home(hass)
    await _record_history(hass, freezer)
    freezer.move_to(START + timedelta(days=DAYS, minutes=10))
    real = backfill._replay_chunk
    reads: list[int] = []
    entry = MockConfigEntry(
        domain=DOMAIN, data={}, options={CONF_BACKFILL_DAYS: DAYS + 1}
    )

    async def add_a_device() -> None:
        add_device(
            hass,
            home.zha,
            "Cellar leak",
            [("binary_sensor", "moisture", None, "off")],
            via=home.hub,
        )
        assert entry.runtime_data.collector.async_rebuild()

    def during(*args: Any) -> int:
        reads.append(1)
        if len(reads) == changed_at_read:
            asyncio.run_coroutine_threadsafe(add_a_device(), hass.loop).result()
        return real(*args)

    monkeypatch.setattr(backfill, "_replay_chunk", during)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    live = entry.runtime_data.collector
    await hass.async_block_till_done(wait_background_tasks=True)

    assert "Inventory changed during back-fill" in caplog.text
    assert entry.runtime_data.state["backfill"]["done"] is True
    assert len(reads) == changed_at_read
    # The live telemetry stays: no recorded day was taken over.
    assert live.aggregator.history == ()
