"""Daily rollups survive JSON exactly, and damaged rollup JSON is refused clearly."""

import copy
import json
import math

import numpy as np
import pytest

from homeiq_core.aggregator import TelemetryAggregator
from homeiq_core.rollups import (
    COUNTERS,
    DEVICE_FIELDS,
    DayRollup,
    RollupError,
    rollups_from_json,
    rollups_to_json,
)

from .telemetry_homes import at, climate, feed, home, motion, plug


def _rollups() -> list[DayRollup]:
    aggregator = TelemetryAggregator(home(climate(1), motion(1), plug(1)))
    feed(
        aggregator,
        [
            ("sensor.t1", "-0.0", None, at("2026-01-05 06:00")),  # a negative zero
            ("sensor.t1", "0.1", None, at("2026-01-05 06:10:00.123456")),
            ("sensor.t1", "0.2", None, at("2026-01-05 06:20")),  # 0.1 + 0.2 sums
            ("sensor.t1_battery", "97", None, at("2026-01-05 07:00")),
            ("binary_sensor.m1", "on", None, at("2026-01-05 08:00")),
            ("binary_sensor.m1", "unavailable", None, at("2026-01-05 23:00")),
            ("sensor.p1_power", "1e-7", None, at("2026-01-06 01:00")),
            ("sensor.nobody", "x", None, at("2026-01-06 01:00")),
        ],
    )
    aggregator.advance_to(at("2026-01-07 00:00"))
    return list(aggregator.history)


def test_rollups_round_trip_through_json_text_exactly() -> None:
    rollups = _rollups()
    text = json.dumps(rollups_to_json(rollups), allow_nan=False)
    again = rollups_from_json(json.loads(text))
    assert again == rollups
    for before, after in zip(rollups, again, strict=True):
        # Bit for bit, signed zero and NaN positions included.
        assert before.values.tobytes() == after.values.tobytes()
        assert after.values.dtype == np.float64
        assert after.hours.dtype == before.hours.dtype == np.int32
    assert rollups[0].device("climate1")["value_min"] == 0.0
    assert math.copysign(1, rollups[0].device("climate1")["value_min"]) == -1


def test_rollups_are_read_only() -> None:
    rollup = _rollups()[0]
    with pytest.raises(ValueError, match="read-only"):
        rollup.values[0, 0] = 1.0
    again = DayRollup.from_json(rollup.to_json())
    with pytest.raises(ValueError, match="read-only"):
        again.hours[0, 0] = 1


def test_missing_numbers_are_null_in_json() -> None:
    data = _rollups()[0].to_json()
    row = dict(zip(DEVICE_FIELDS, data["devices"]["plug1"]["values"], strict=True))
    assert row["power_min"] is None
    assert row["power_n"] == 0.0
    assert data["device_fields"] == list(DEVICE_FIELDS)
    assert list(data["counters"]) == list(COUNTERS)


def test_equality_notices_any_difference() -> None:
    first, second = _rollups()
    assert first != second
    assert first != "2026-01-05"
    data = first.to_json()
    changed = copy.deepcopy(data)
    changed["devices"]["climate1"]["values"][0] += 1
    assert DayRollup.from_json(changed) != first
    zero = copy.deepcopy(data)
    index = DEVICE_FIELDS.index("value_min")
    zero["devices"]["climate1"]["values"][index] = 0.0  # +0.0 instead of -0.0
    assert DayRollup.from_json(zero) != first
    hours = copy.deepcopy(data)
    hours["home"]["hours"][8] += 1
    assert DayRollup.from_json(hours) != first
    with pytest.raises(TypeError):
        hash(first)


def test_device_rows_by_id() -> None:
    rollup = _rollups()[0]
    assert rollup.device("motion1")["changes"] == 0
    assert rollup.device("motion1")["unavailable_at_end"] == 1
    with pytest.raises(KeyError, match="nobody"):
        rollup.device("nobody")


def _break(path: str, value: object):
    def change(data: dict) -> None:
        *parents, last = path.split("/")
        target = data
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        if value is KeyError:
            del target[last]
        elif isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value

    return change


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_break("format", "something"), "'format'"),
        (_break("version", 3), "version 3"),
        (_break("version", 1), "device_fields"),
        (_break("gap_s", None), "gap_s"),
        (_break("home/reports", -1), "home reports"),
        (_break("home/reports_visible", 1), "reports_visible"),
        (_break("device_fields", ["events"]), "device_fields"),
        (_break("day", ""), "day"),
        (_break("time_zone", None), "time_zone"),
        (_break("start", math.inf), "start"),
        (_break("end", "noon"), "end"),
        (_break("observed_s", True), "observed_s"),
        (_break("home", []), "home"),
        (_break("home/events", -1), "home events"),
        (_break("home/hours", [0] * 23), "home hours"),
        (_break("devices", None), "devices"),
        (_break("devices/climate1", [1]), "climate1"),
        (_break("devices/climate1/values", [0.0]), "climate1"),
        (_break("devices/climate1/values/3", "7"), "climate1"),
        (_break("devices/climate1/hours/0", 1.5), "climate1"),
        (_break("counters", KeyError), "counters"),
        (_break("counters/late_event", KeyError), "counters"),
        (_break("counters/late_event", -3), "counters"),
    ],
)
def test_damaged_rollups_are_refused(change: object, message: str) -> None:
    data = json.loads(json.dumps(_rollups()[0].to_json()))
    change(data)  # type: ignore[operator]
    with pytest.raises(RollupError, match=message):
        DayRollup.from_json(data)


def test_a_list_is_needed_for_several_rollups() -> None:
    with pytest.raises(RollupError, match="list"):
        rollups_from_json({"format": "homeiq-rollup"})
    with pytest.raises(RollupError, match="object"):
        DayRollup.from_json("rollup")


def test_a_rollup_without_devices_round_trips() -> None:
    aggregator = TelemetryAggregator(home(loose=()))
    aggregator.advance_to(0.0)
    aggregator = TelemetryAggregator(home(motion(1)))
    aggregator.record("binary_sensor.m1", "on", None, at("2026-01-05 06:00"))
    aggregator.advance_to(at("2026-01-06 00:00"))
    data = aggregator.history[0].to_json()
    data["devices"] = {}
    empty = DayRollup.from_json(data)
    assert empty.values.shape == (0, len(DEVICE_FIELDS))
    assert empty.hours.shape == (0, 24)
    assert DayRollup.from_json(empty.to_json()) == empty


# --- the compact form: header JSON and the two matrices ---------------------------


def _arrays(rollup: DayRollup) -> tuple[dict, list[str], np.ndarray, np.ndarray]:
    header = json.loads(json.dumps(rollup.header_json()))
    return header, list(rollup.device_ids), rollup.values.copy(), rollup.hours.copy()


def test_rollups_come_back_exactly_from_header_and_matrices() -> None:
    for rollup in _rollups():
        header, ids, values, hours = _arrays(rollup)
        again = DayRollup.from_arrays(header, ids, values, hours)
        assert again == rollup
        assert again.values.tobytes() == rollup.values.tobytes()  # -0.0, NaN too
        assert again.to_json() == rollup.to_json()
        assert not again.values.flags.writeable
        values[0, 0] = 123.0  # the rollup holds its own copy
        assert again == rollup
    assert "devices" not in header


def test_version_1_rows_are_widened_as_from_json_does() -> None:
    from homeiq_core.rollups import V1_DEVICE_FIELDS  # noqa: PLC0415

    rollup = _rollups()[0]
    old = json.loads(json.dumps(rollup.to_json()))
    old["version"] = 1
    del old["counters"]["bad_gap"]
    old["device_fields"] = list(V1_DEVICE_FIELDS)
    columns = [DEVICE_FIELDS.index(name) for name in V1_DEVICE_FIELDS]
    for device in old["devices"].values():
        device["values"] = [device["values"][i] for i in columns]
    header = {key: value for key, value in old.items() if key != "devices"}
    values = rollup.values[:, columns]
    again = DayRollup.from_arrays(header, list(rollup.device_ids), values, rollup.hours)
    assert again == DayRollup.from_json(old)
    assert again.device("climate1")["binary_flaps"] == 0
    assert math.isnan(again.device("climate1")["silence_s"])


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda h, i, v, o: (h, [*i[:-1], 7], v, o), "distinct strings"),
        (lambda h, i, v, o: (h, [*i[:-1], i[0]], v, o), "distinct strings"),
        (lambda h, i, v, o: (h, tuple(i), v, o), "distinct strings"),
        (lambda h, i, v, o: (h, i, v[:, :-1], o), "rows of"),
        (lambda h, i, v, o: (h, i, v.astype(np.float32), o), "rows of"),
        (lambda h, i, v, o: (h, i, np.where(v == 0, np.inf, v), o), "infinite"),
        (lambda h, i, v, o: (h, i, v, o[:, :-1]), "hour counts"),
        (lambda h, i, v, o: (h, i, v, o.astype(np.float64)), "hour counts"),
        (lambda h, i, v, o: (h, i, v, o - 1), "non-negative"),
        (lambda h, i, v, o: (h, i, v, o.astype(np.int64) + 2**31), "beyond int32"),
        (lambda h, i, v, o: ({**h, "format": "x"}, i, v, o), "format"),
        (lambda h, i, v, o: ({**h, "start": None}, i, v, o), "start"),
    ],
)
def test_damaged_matrices_are_refused(damage: object, message: str) -> None:
    arrays = _arrays(_rollups()[0])
    with pytest.raises(RollupError, match=message):
        DayRollup.from_arrays(*damage(*arrays))  # type: ignore[operator]


def test_a_day_without_devices_comes_back_from_empty_matrices() -> None:
    header, _, _, _ = _arrays(_rollups()[0])
    empty = DayRollup.from_arrays(
        header, [], np.zeros((0, len(DEVICE_FIELDS))), np.zeros((0, 24), np.int64)
    )
    assert empty.device_ids == ()
    assert empty.values.shape == (0, len(DEVICE_FIELDS))
