"""Persistence: telemetry and labels survive restarts; older layouts are migrated."""

from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    flush_store,
)

from custom_components.homeiq.storage import (
    STORAGE_KEY,
    HomeIQStore,
    empty_state,
    pack_telemetry,
    unpack_telemetry,
)

from .conftest import Home


async def test_restart_restores_telemetry_and_marks_the_downtime(
    hass: HomeAssistant,
    home: Home,
    loaded_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    hass.states.async_set("switch.washer_plug_switch", "off")
    await loaded_entry.runtime_data.coordinator.async_refresh()
    await flush_store(loaded_entry.runtime_data.store)
    saved = hass_storage[STORAGE_KEY]
    assert saved["version"] == 1
    assert saved["minor_version"] == 3
    assert saved["data"]["saved_at"] is not None
    counts = saved["data"]["telemetry"]["devices"][home.plug]["counts"]

    await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done()

    aggregator = loaded_entry.runtime_data.collector.aggregator
    assert aggregator.to_json()["devices"][home.plug]["counts"] == counts


async def test_layout_1_1_is_migrated(
    hass: HomeAssistant,
    home: Home,
    config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    hass.states.async_set("lock.front_lock_lock", "unlocked")
    await hass.async_block_till_done()
    telemetry = config_entry.runtime_data.collector.aggregator.to_json()
    await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()
    hass_storage[STORAGE_KEY] = {
        "version": 1,
        "minor_version": 1,
        "key": STORAGE_KEY,
        "data": {"aggregator": telemetry},
    }

    state = await HomeIQStore(hass).async_load_state()

    assert state["telemetry"] == telemetry
    assert state["backfill"]["done"] is True
    assert state["labels"] == {"battery_replaced": {}, "failures": []}


async def test_a_newer_layout_is_refused(
    hass: HomeAssistant, hass_storage: dict[str, Any]
) -> None:
    hass_storage[STORAGE_KEY] = {
        "version": 1,
        "minor_version": 1,
        "key": STORAGE_KEY,
        "data": {},
    }
    store = HomeIQStore(hass)
    with pytest.raises(NotImplementedError):
        await store._async_migrate_func(2, 1, {})


async def test_unreadable_telemetry_starts_afresh(
    hass: HomeAssistant,
    home: Home,
    config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    caplog: pytest.LogCaptureFixture,
) -> None:
    hass_storage[STORAGE_KEY] = {
        "version": 1,
        "minor_version": 2,
        "key": STORAGE_KEY,
        "data": {"telemetry": {"format": "something else"}, "saved_at": None},
    }
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()

    assert "Saved telemetry unreadable" in caplog.text
    assert config_entry.runtime_data.collector.aggregator.day is not None
    assert config_entry.runtime_data.state["labels"]["failures"] == []


async def test_a_snapshot_copied_while_a_day_closes_is_retried(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    coordinator = loaded_entry.runtime_data.coordinator
    aggregator = loaded_entry.runtime_data.collector.aggregator
    real = aggregator.to_json
    closing = iter([True])
    assert aggregator.now is not None
    tomorrow = aggregator.now + 86400.0

    def racing(**kwargs: Any) -> dict[str, Any]:
        state = real(**kwargs)
        for _ in closing:  # the first copy: a day closes right after it
            aggregator.advance_to(tomorrow)
        return state

    monkeypatch.setattr(aggregator, "to_json", racing)
    snapshot = await hass.async_add_executor_job(coordinator.snapshot)
    stored = snapshot["telemetry"]
    assert stored is not None
    assert stored["day"] == aggregator.day  # the copy after the day closed
    assert len(stored["history"]) == len(aggregator.history) >= 1
    assert stored == pack_telemetry(real(history=False), aggregator.history)


async def test_a_snapshot_gives_up_after_three_failed_copies(
    hass: HomeAssistant,
    loaded_entry: MockConfigEntry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    coordinator = loaded_entry.runtime_data.coordinator
    aggregator = loaded_entry.runtime_data.collector.aggregator
    calls = []

    def failing(**kwargs: Any) -> dict[str, Any]:
        calls.append(kwargs)
        raise RuntimeError("deque mutated during iteration")

    monkeypatch.setattr(aggregator, "to_json", failing)
    with pytest.raises(RuntimeError):
        await hass.async_add_executor_job(coordinator.snapshot)
    assert len(calls) == 3
    monkeypatch.undo()  # the entry saves for real when the test unloads it


async def test_closed_days_are_stored_packed_and_read_back_exactly(
    hass: HomeAssistant,
    home: Home,
    loaded_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    for hour in range(50):
        freezer.tick(timedelta(hours=1))
        hass.states.async_set("sensor.washer_plug_power", str(hour % 5))
        hass.states.async_set("sensor.kitchen_motion_battery", str(80 - hour / 10))
    await loaded_entry.runtime_data.coordinator.async_refresh()
    history = loaded_entry.runtime_data.collector.aggregator.history
    assert len(history) >= 1
    await loaded_entry.runtime_data.coordinator.async_save_now()
    stored = hass_storage[STORAGE_KEY]["data"]["telemetry"]["history"]
    assert "devices" not in stored[0]
    assert set(stored[0]["packed"]) == {"device_ids", "values", "hours"}

    await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    restored = loaded_entry.runtime_data.collector.aggregator.history
    assert restored == history
    assert len(restored) >= 2
    # One string per device id, shared by every restored day.
    assert all(
        a is b
        for a, b in zip(restored[0].device_ids, restored[-1].device_ids, strict=True)
    )


async def test_layout_1_2_with_days_in_json_form_is_read(
    hass: HomeAssistant,
    home: Home,
    config_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
) -> None:
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    freezer.tick(timedelta(days=1, hours=1))
    hass.states.async_set("sensor.washer_plug_power", "7")
    await config_entry.runtime_data.coordinator.async_refresh()
    aggregator = config_entry.runtime_data.collector.aggregator
    history = aggregator.history
    telemetry = aggregator.to_json()  # days in their JSON form, as 1.2 stored them
    await hass.config_entries.async_unload(config_entry.entry_id)
    await hass.async_block_till_done()
    hass_storage[STORAGE_KEY] = {
        "version": 1,
        "minor_version": 2,
        "key": STORAGE_KEY,
        "data": {**empty_state(), "telemetry": telemetry, "saved_at": None},
    }

    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    assert config_entry.runtime_data.collector.aggregator.history == history


def test_unpacking_leaves_what_it_cannot_read_to_the_core() -> None:
    assert unpack_telemetry(None) is None
    assert unpack_telemetry({"history": "nope"}) == {"history": "nope"}


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: p.update(values="bm90IHpsaWI="), "unreadable"),  # not zlib
        (lambda p: p.update(values="%%%"), "unreadable"),  # not base64
        (lambda p: p.pop("hours"), "unreadable"),
        (lambda p: p.update(device_ids=p["device_ids"][:-1]), "unreadable"),
        (lambda p: p.update(device_ids=[1] * len(p["device_ids"])), "distinct"),
    ],
)
async def test_a_damaged_packed_day_starts_afresh_and_says_why(  # noqa: PLR0917 - fixtures and a case
    hass: HomeAssistant,
    home: Home,
    loaded_entry: MockConfigEntry,
    hass_storage: dict[str, Any],
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    damage: Any,
    message: str,
) -> None:
    freezer.tick(timedelta(days=1, hours=1))
    hass.states.async_set("sensor.washer_plug_power", "7")
    await loaded_entry.runtime_data.coordinator.async_refresh()
    saved = loaded_entry.runtime_data.collector.aggregator.history
    assert saved
    await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    stored = hass_storage[STORAGE_KEY]["data"]["telemetry"]["history"]
    damage(stored[0]["packed"])

    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert "Saved telemetry unreadable" in caplog.text
    assert message in caplog.text
    assert loaded_entry.runtime_data.collector.aggregator.history != saved
