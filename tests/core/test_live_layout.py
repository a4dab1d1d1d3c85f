"""The live aggregator's compact layout and the scorer's fast paths: same numbers.

The battery history is one float64 matrix (not a list of floats per day), state
attributes are read from any mapping, and rollups whose devices line up with the
inventory are stacked without a per-device lookup; each must give exactly what the
general path gives.
"""

from dataclasses import replace
import json
import math
from types import MappingProxyType

import numpy as np

from homeiq_core.aggregator import TelemetryAggregator, battery_history_fields
from homeiq_core.features import device_features, home_features
from homeiq_core.health import LiveState, score_home
from homeiq_core.rollups import FIELD_INDEX, LONG_DAYS

from .telemetry_homes import at, climate, home, motion

DAY_S = 86400.0
START = at("2026-01-05 00:00")
LONG_FIELDS = [
    "battery_long_days",
    "battery_long_levels",
    "battery_long_step",
    "battery_long_slope",
]


def _level(day: int) -> str | None:
    """Return the battery level read on `day` (every third day, falling)."""
    return f"{100 - day // 9}" if day % 3 == 0 else None


def _feed(aggregator: TelemetryAggregator, days: range) -> None:
    for day in days:
        moment = START + day * DAY_S + 43200.0
        level = _level(day)
        if level is not None:
            aggregator.record("sensor.t1_battery", level, None, moment)
        aggregator.record("sensor.t1", str(day % 4), None, moment + 60.0)
    aggregator.advance_to(START + days.stop * DAY_S)


def test_the_long_battery_history_keeps_the_last_long_days_exactly() -> None:
    days = LONG_DAYS + 25
    aggregator = TelemetryAggregator(
        home(climate(1), motion(1)), start=START, history_days=None
    )
    _feed(aggregator, range(days))
    levels = np.array(
        [
            [math.nan if _level(d) is None else float(_level(d)), math.nan]
            for d in range(days)
        ]
    )
    for closed in (10, LONG_DAYS - 1, LONG_DAYS, days - 1):
        window = levels[max(closed + 1 - LONG_DAYS, 0) : closed + 1]
        expected = battery_history_fields(window)
        row = aggregator.history[closed].values
        got = row[:, [FIELD_INDEX[name] for name in LONG_FIELDS]]
        np.testing.assert_array_equal(got, expected)
    saved = aggregator.to_json()
    assert len(saved["battery_days"]["climate1"]) == LONG_DAYS
    assert saved["battery_days"]["motion1"] == [None] * LONG_DAYS


def test_a_restored_long_battery_history_carries_on_identically() -> None:
    inventory = home(climate(1), motion(1))
    aggregator = TelemetryAggregator(inventory, start=START, history_days=None)
    _feed(aggregator, range(LONG_DAYS + 5))
    text = json.dumps(aggregator.to_json(), allow_nan=False)
    saved = json.loads(text)
    # A longer history than kept (an older writer, or a hand edit) keeps its end.
    saved["battery_days"] = {
        device_id: [None, 50.0, *levels]
        for device_id, levels in saved["battery_days"].items()
    }
    again = TelemetryAggregator.from_json(inventory, saved, history_days=None)
    assert again.to_json()["battery_days"] == aggregator.to_json()["battery_days"]
    for each in (aggregator, again):
        _feed(each, range(LONG_DAYS + 5, LONG_DAYS + 12))
    assert list(again.history)[-7:] == list(aggregator.history)[-7:]


def test_a_state_without_devices_or_days_restores() -> None:
    empty = TelemetryAggregator(home(), start=START)
    empty.advance_to(START + 2 * DAY_S)
    again = TelemetryAggregator.from_json(home(), empty.to_json())
    assert again.to_json() == empty.to_json()
    assert again.to_json()["battery_days"] == {}


def test_attributes_read_the_same_from_any_mapping() -> None:
    class StateAttributes(dict):  # what Home Assistant hands over: a dict subclass
        pass

    inventory = home(motion(1))  # a motion sensor reads its battery attribute
    rollups = []
    for wrap in (dict, StateAttributes, MappingProxyType):
        aggregator = TelemetryAggregator(inventory, start=START)
        for k in range(6):
            attributes = wrap({"battery": 90 - k, "friendly_name": "Motion"})
            aggregator.record(
                "binary_sensor.m1", "on" if k % 2 else "off", attributes, START + k
            )
        aggregator.advance_to(START + DAY_S)
        rollups.append(aggregator.history[0])
    assert rollups[0] == rollups[1] == rollups[2]
    assert rollups[0].device("motion1")["battery_n"] == 6
    odd = TelemetryAggregator(inventory, start=START)
    odd.record("binary_sensor.m1", "on", ["battery", 50], START + 1)
    assert odd.counters()["bad_attributes"] == 1


def test_rollups_in_another_device_order_score_the_same() -> None:
    inventory = home(climate(1), climate(2), motion(1))
    aggregator = TelemetryAggregator(inventory, start=START, history_days=None)
    for day in range(9):
        for n in (1, 2):
            moment = START + day * DAY_S + 3600.0 * n
            aggregator.record(f"sensor.t{n}", str(day + n), None, moment)
            level = f"{100 - 3 * day * n}"
            aggregator.record(f"sensor.t{n}_battery", level, None, moment + 1)
    aggregator.advance_to(START + 9 * DAY_S)
    history = aggregator.history
    # The same home with its devices listed the other way round: every rollup
    # goes through the per-device lookup instead of the aligned fast path.
    flipped = replace(inventory, devices=inventory.devices[::-1])
    np.testing.assert_array_equal(
        device_features(flipped, history), device_features(inventory, history)[::-1]
    )
    np.testing.assert_array_equal(
        home_features(flipped, history), home_features(inventory, history)
    )
    now = START + 9 * DAY_S + 60.0
    live = LiveState.quiet(3)
    straight = score_home(inventory, history, live, now, watch_start=START)
    other = score_home(flipped, history, live, now, watch_start=START)
    assert straight.devices == other.devices
    assert straight.devices["climate2"].battery_days_left is not None
