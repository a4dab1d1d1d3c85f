"""Scoring in a running HA: silence, dead Z-Wave nodes, outages, batteries, repairs."""

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.const import (
    EVENT_STATE_CHANGED,
    EVENT_STATE_REPORTED,
    STATE_OFF,
    STATE_ON,
    STATE_UNAVAILABLE,
)
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
)

from custom_components.homeiq.const import DOMAIN

from .conftest import Home

ALL = (
    "sensor.coordinator_sensor",
    "binary_sensor.kitchen_motion_motion",
    "sensor.kitchen_motion_battery",
    "sensor.bedroom_thermometer_temperature",
    "sensor.bedroom_thermometer_battery",
    "lock.front_lock_lock",
    "sensor.front_lock_node_status",
    "switch.washer_plug_switch",
    "sensor.washer_plug_power",
)


async def _score(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()


def _keep_alive(hass: HomeAssistant, *entity_ids: str) -> None:
    """Re-report the current state (HA fires state_reported)."""
    for entity_id in entity_ids:
        state = hass.states.get(entity_id)
        hass.states.async_set(entity_id, state.state, state.attributes)


async def test_a_silent_device_is_a_problem_with_its_reason(
    hass: HomeAssistant,
    home: Home,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    freezer.tick(timedelta(hours=72))
    _keep_alive(hass, *(e for e in ALL if "washer" not in e))
    await _score(hass, loaded_entry)

    # The plug's power sensor and switch said nothing for 3 days.
    problem = hass.states.get("binary_sensor.kitchen_washer_plug_problem")
    assert problem.state == STATE_ON
    assert problem.attributes["reasons"][0].startswith("silent for 3 days")
    assert float(hass.states.get("sensor.kitchen_washer_plug_health").state) < 50
    assert hass.states.get("binary_sensor.front_lock_problem").state == STATE_OFF
    assert hass.states.get("sensor.homeiq_devices_at_risk").state == "1"
    issues = ir.async_get(hass)
    assert issues.async_get_issue(DOMAIN, f"device_failing_{home.plug}") is not None

    # It reports again: the problem and its repair go away.
    hass.states.async_set("switch.washer_plug_switch", STATE_OFF)
    await _score(hass, loaded_entry)
    assert hass.states.get("binary_sensor.kitchen_washer_plug_problem").state == (
        STATE_OFF
    )
    assert issues.async_get_issue(DOMAIN, f"device_failing_{home.plug}") is None


async def test_a_scoring_that_changes_nothing_writes_no_device_state(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    """Only what changed is written: no re-reports for the recorder to store."""
    written: list[str] = []

    @callback
    def ours(data: Mapping[str, Any]) -> bool:
        return str(data["entity_id"]).endswith(("_health", "_problem"))

    @callback
    def note(event: Event) -> None:
        written.append(event.data["entity_id"])

    for event_type in (EVENT_STATE_CHANGED, EVENT_STATE_REPORTED):
        stop = hass.bus.async_listen(event_type, note, event_filter=ours)
        loaded_entry.async_on_unload(stop)
    # The first scoring after set-up too: the entities were written when added.
    await _score(hass, loaded_entry)
    await _score(hass, loaded_entry)
    assert written == []

    hass.states.async_set("switch.washer_plug_switch", STATE_UNAVAILABLE)
    await _score(hass, loaded_entry)
    assert set(written) == {  # its health and the reasons its problem sensor gives
        "sensor.kitchen_washer_plug_health",
        "binary_sensor.kitchen_washer_plug_problem",
    }
    # The coordinator failing makes every entity unavailable: all are written.
    written.clear()
    loaded_entry.runtime_data.coordinator.async_set_update_error(RuntimeError("x"))
    await hass.async_block_till_done()
    health = hass.states.get("sensor.kitchen_washer_plug_health")
    assert health.state == STATE_UNAVAILABLE
    assert "binary_sensor.front_lock_problem" in written


async def test_a_dead_zwave_node_is_a_problem_while_still_available(
    hass: HomeAssistant, home: Home, loaded_entry: MockConfigEntry
) -> None:
    hass.states.async_set("sensor.front_lock_node_status", "dead")
    await _score(hass, loaded_entry)

    problem = hass.states.get("binary_sensor.front_lock_problem")
    assert problem.state == STATE_ON
    assert "Z-Wave node reported dead" in problem.attributes["reasons"]
    assert hass.states.get("lock.front_lock_lock").state == "locked"


async def test_unavailable_device_lowers_health(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    hass.states.async_set("switch.washer_plug_switch", STATE_UNAVAILABLE)
    await _score(hass, loaded_entry)

    health = hass.states.get("sensor.kitchen_washer_plug_health")
    assert float(health.state) < 100
    assert "50% of its entities down" in health.attributes["reasons"]


async def test_a_hub_outage_is_one_problem_not_one_per_device(
    hass: HomeAssistant,
    home: Home,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    for entity_id in (
        "binary_sensor.kitchen_motion_motion",
        "sensor.kitchen_motion_battery",
        "sensor.bedroom_thermometer_temperature",
        "sensor.bedroom_thermometer_battery",
    ):
        hass.states.async_set(entity_id, STATE_UNAVAILABLE)
    await _score(hass, loaded_entry)

    for device in ("kitchen_kitchen_motion", "bedroom_bedroom_thermometer"):
        problem = hass.states.get(f"binary_sensor.{device}_problem")
        assert problem.state == STATE_OFF
        assert problem.attributes["outage"] == f"device:{home.hub}"
        assert problem.attributes["reasons"][0].startswith("Coordinator is down")
    issues = ir.async_get(hass)
    outage = issues.async_get_issue(DOMAIN, f"outage_device:{home.hub}")
    assert outage is not None
    assert outage.translation_placeholders == {"name": "Coordinator", "devices": "2"}
    assert [i for i in issues.issues if i[1].startswith("device_failing")] == []
    assert hass.states.get("sensor.homeiq_devices_at_risk").state == "1"


async def test_battery_forecast_and_its_reset_on_replacement(
    hass: HomeAssistant,
    home: Home,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    forecast = "sensor.kitchen_kitchen_motion_battery_days_left"
    assert hass.states.get(forecast).attributes["no_forecast"]
    level = 80.0
    for _ in range(6):
        freezer.tick(timedelta(days=1))
        level -= 2.0
        hass.states.async_set("sensor.kitchen_motion_battery", str(level))
        _keep_alive(hass, *ALL)
        async_fire_time_changed(hass)
        await _score(hass, loaded_entry)

    state = hass.states.get(forecast)
    days = float(state.state)
    assert 30 <= days <= 40  # 70 % at 2 %/day
    # The day it runs empty, in HA's time zone.
    empty = dt_util.now() + timedelta(days=days)
    assert state.attributes["predicted_empty"] in {
        (empty + timedelta(hours=h)).date().isoformat() for h in (-3, 0, 3)
    }
    assert state.attributes["no_forecast"] is None

    response = await hass.services.async_call(
        DOMAIN,
        "mark_battery_replaced",
        {"device_id": home.motion},
        blocking=True,
        return_response=True,
    )
    assert response["device_id"] == home.motion
    await _score(hass, loaded_entry)
    state = hass.states.get(forecast)
    assert state.attributes["no_forecast"] == (
        "not enough readings since the battery was last changed"
    )
