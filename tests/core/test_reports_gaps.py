"""Re-reports, observation gaps and the fields carried across days (format v2)."""

import json
import math

import numpy as np
import pytest

from homeiq_core.aggregator import (
    TelemetryAggregator,
    battery_history_fields,
    rollups_from_columns,
)
from homeiq_core.dataset import EventColumns, ReportColumns
from homeiq_core.rollups import (
    DEVICE_FIELDS,
    INTERVAL_EDGES,
    V1_DEVICE_FIELDS,
    DayRollup,
    RollupError,
)

from .telemetry_homes import at, climate, feed, home, motion

DAY = "2026-01-05"
H = 3600.0


def t(clock: str, day: str = DAY) -> float:
    return at(f"{day} {clock}")


def watched(inventory, start: str = "00:00", **kwargs) -> TelemetryAggregator:
    return TelemetryAggregator(inventory, start=t(start), **kwargs)


# --- report() -------------------------------------------------------------------


def test_a_report_is_liveness_and_a_repeat_of_the_current_value() -> None:
    aggregator = watched(home(climate(1)))
    feed(aggregator, [("sensor.t1", "20.5", None, t("08:00"))])
    assert aggregator.reports_visible is False
    assert aggregator.report("sensor.t1", t("09:00"))
    assert aggregator.report("sensor.t1_battery", t("09:30"))  # no level yet
    assert aggregator.report("sensor.t1", t("11:00"))
    aggregator.advance_to(t("00:00", "2026-01-06"))
    (rollup,) = aggregator.history
    row = rollup.device("climate1")
    assert rollup.reports_visible is True
    assert rollup.home_reports == 3
    assert rollup.home_events == 1
    assert row["events"] == 1
    assert row["reported"] == 3
    assert row["reports"] == 4
    assert row["interval_n"] == 3
    assert row["last_seen"] == t("11:00")
    assert row["numeric_reports"] == 3  # the change and its two repeats
    assert row["numeric_repeats"] == 2
    assert row["frozen_max"] == 3 * H
    assert row["value_n"] == 3
    assert row["unchanged_s"] == 3 * H  # changed 08:00, still reported 11:00
    assert row["silence_s"] == t("00:00", "2026-01-06") - t("11:00")


def test_reports_of_odd_input_are_counted_not_raised() -> None:
    aggregator = watched(home(climate(1)))
    assert not aggregator.report("sensor.nobody", t("08:00"))
    assert not aggregator.report(["unhashable"], t("08:00"))
    assert not aggregator.report(42, t("08:00"))
    assert not aggregator.report("sensor.t1", "noon")
    assert not aggregator.report("sensor.t1", math.inf)
    assert aggregator.report("sensor.t1", 1767600000)  # an int is a time too
    feed(aggregator, [("sensor.t1", "unavailable", None, t("10:00"))])
    assert aggregator.report("sensor.t1", t("10:30"))  # still unavailable
    counters = aggregator.counters()
    assert counters["unknown_entity"] == 1
    assert counters["bad_entity_id"] == 2
    assert counters["bad_time"] == 2


def test_a_report_without_a_stream_means_the_heartbeat_is_visible() -> None:
    aggregator = watched(home(motion(1)), reports=True)
    aggregator.advance_to(t("00:00", "2026-01-06"))
    assert aggregator.history[0].reports_visible is True
    assert aggregator.history[0].home_reports == 0


# --- mark_gap() -------------------------------------------------------------------


def test_a_gap_is_neither_watched_time_nor_silence_nor_an_interval() -> None:
    aggregator = watched(home(climate(1)))
    feed(aggregator, [("sensor.t1", "20", None, t("06:00"))])
    assert aggregator.mark_gap(t("08:00"), t("14:00"))
    feed(aggregator, [("sensor.t1", "21", None, t("16:00"))])
    aggregator.advance_to(t("00:00", "2026-01-06"))
    (rollup,) = aggregator.history
    row = rollup.device("climate1")
    assert rollup.gap_s == 6 * H
    assert rollup.observed_s == 18 * H
    assert row["interval_max"] == 10 * H - 6 * H
    assert row["silence_s"] == 8 * H


def test_a_gap_across_midnight_is_split_between_the_days() -> None:
    aggregator = watched(home(climate(1)))
    feed(aggregator, [("sensor.t1", "20", None, t("20:00"))])
    aggregator.mark_gap(t("22:00"), t("04:00", "2026-01-07"))
    feed(aggregator, [("sensor.t1", "21", None, t("05:00", "2026-01-07"))])
    aggregator.advance_to(t("00:00", "2026-01-08"))
    first, second, third = aggregator.history
    assert (first.gap_s, second.gap_s, third.gap_s) == (2 * H, 24 * H, 4 * H)
    assert second.observed_s == 0.0
    # Silent from 20:00: 2 h watched on day one, none on day two.
    assert first.device("climate1")["silence_s"] == 2 * H
    assert second.device("climate1")["silence_s"] == 2 * H
    assert third.device("climate1")["silence_s"] == 19 * H
    assert third.device("climate1")["interval_max"] == 3 * H


def test_events_inside_a_gap_are_late_and_bad_gaps_are_counted() -> None:
    aggregator = watched(home(climate(1)))
    aggregator.mark_gap(t("08:00"), t("09:00"))
    assert not aggregator.record("sensor.t1", "20", None, t("08:30"))
    assert not aggregator.report("sensor.t1", t("08:59"))
    assert aggregator.record("sensor.t1", "20", None, t("09:00"))
    assert not aggregator.mark_gap(t("10:00"), t("09:30"))
    assert not aggregator.mark_gap("soon", t("11:00"))
    assert not aggregator.mark_gap(t("07:00"), t("08:30"))  # all before now
    counters = aggregator.counters()
    assert counters["late_event"] == 2
    assert counters["bad_gap"] == 2


def test_a_gap_before_any_event_starts_watching() -> None:
    aggregator = TelemetryAggregator(home(climate(1)))
    assert aggregator.mark_gap(t("10:00"), t("12:00"))
    aggregator.advance_to(t("00:00", "2026-01-06"))
    (rollup,) = aggregator.history
    assert rollup.observed_s == 12 * H
    assert rollup.gap_s == 2 * H


def test_outages_pause_during_a_gap() -> None:
    aggregator = watched(home(motion(1)))
    feed(aggregator, [("binary_sensor.m1", "unavailable", None, t("06:00"))])
    aggregator.mark_gap(t("08:00"), t("20:00"))
    feed(aggregator, [("binary_sensor.m1", "off", None, t("21:00"))])
    aggregator.advance_to(t("00:00", "2026-01-06"))
    assert aggregator.history[0].device("motion1")["unavailable_s"] == 3 * H


# --- carried fields ----------------------------------------------------------------


def test_binary_flaps_are_counted_apart_from_numeric_ones() -> None:
    aggregator = watched(home(climate(1), motion(1)))
    feed(
        aggregator,
        [
            ("sensor.t1", "20", None, t("08:00")),
            ("sensor.t1", "21", None, t("08:00:10")),  # numeric flap
            ("binary_sensor.m1", "on", None, t("09:00")),
            ("binary_sensor.m1", "off", None, t("09:00:05")),  # binary flap
            ("binary_sensor.m1", "on", None, t("10:00")),
        ],
    )
    aggregator.advance_to(t("00:00", "2026-01-06"))
    rollup = aggregator.history[0]
    assert rollup.device("climate1")["flaps"] == 1
    assert rollup.device("climate1")["binary_flaps"] == 0
    motion_row = rollup.device("motion1")
    assert (motion_row["binary_changes"], motion_row["binary_flaps"]) == (2, 1)
    assert motion_row["unchanged_s"] == 0.0  # last seen at its last change


def test_intervals_fall_in_their_histogram_bins() -> None:
    aggregator = watched(home(climate(1)))
    times = [t("01:00"), t("01:00:30"), t("01:10"), t("03:10"), t("23:10")]
    for i, moment in enumerate(times):
        aggregator.record("sensor.t1", str(i), None, moment)
    aggregator.advance_to(t("00:00", "2026-01-06"))
    row = aggregator.history[0].device("climate1")
    bins = [row[f"interval_bin{i}"] for i in range(len(INTERVAL_EDGES) + 1)]
    # 30 s, 9.5 min, 2 h, 20 h
    assert bins == [1, 0, 1, 0, 0, 0, 1, 0, 0, 1, 0, 0]


def test_the_long_battery_history_says_how_coarse_and_stale_the_level_is() -> None:
    aggregator = watched(home(climate(1), motion(1)), history_days=None)
    levels = {0: "100", 3: "100", 10: "90", 40: "80", 70: "70"}
    for day in range(80):
        moment = t("12:00") + day * 86400
        if day in levels:
            aggregator.record("sensor.t1_battery", levels[day], None, moment)
        aggregator.record("sensor.t1", str(day % 3), None, moment + 60)
    aggregator.advance_to(t("12:00") + 80 * 86400)
    last = aggregator.history[-1]
    row = last.device("climate1")
    assert row["battery_level"] == 70.0
    assert row["battery_at"] == t("12:00") + 70 * 86400
    assert row["battery_long_days"] == 5
    assert row["battery_long_levels"] == 4
    assert row["battery_long_step"] == 10.0
    assert row["battery_long_slope"] == pytest.approx(-30 / 70, rel=0.2)
    early = aggregator.history[10].device("climate1")
    assert early["battery_long_levels"] == 2
    assert math.isnan(early["battery_long_slope"])  # one step is no trend
    motion_row = last.device("motion1")
    assert motion_row["battery_long_days"] == 0
    assert math.isnan(motion_row["battery_long_levels"])
    assert math.isnan(motion_row["battery_at"])


def test_battery_history_fields_need_three_levels_for_a_slope() -> None:
    nan = math.nan
    levels = np.array(
        [[100, nan, 50, nan], [100, nan, 49.5, 7], [90, nan, 49, nan]],
        dtype=np.float64,
    )
    out = battery_history_fields(levels)
    np.testing.assert_array_equal(out[:, 0], [3, 0, 3, 1])
    np.testing.assert_array_equal(out[:, 1], [2, nan, 3, 1])
    np.testing.assert_array_equal(out[:, 2], [10, nan, 0.5, nan])
    assert math.isnan(out[0, 3])
    assert out[2, 3] == pytest.approx(-0.5)


# --- batch replay ---------------------------------------------------------------------


def _columns(rows: list[tuple[str, str, float]]) -> EventColumns:
    return EventColumns(
        np.array([r[0] for r in rows], dtype=object),
        np.array([r[1] for r in rows], dtype=object),
        np.array([None] * len(rows), dtype=object),
        np.array([r[2] for r in rows], dtype=np.float64),
        np.array([r[2] for r in rows], dtype=np.float64),
    )


def test_batch_replay_merges_reports_and_gaps_like_the_live_calls() -> None:
    inventory = home(climate(1), motion(1))
    events = [
        ("sensor.t1", "20", t("06:00")),
        ("binary_sensor.m1", "on", t("07:00")),
        ("sensor.t1", "21", t("15:00")),
        ("sensor.t1", "22", t("10:00", "2026-01-06")),
    ]
    reports = ReportColumns(
        np.array(["sensor.t1", "sensor.t1", "binary_sensor.m1"], dtype=object),
        np.array([t("06:00"), t("07:30"), t("20:00")]),
    )
    gaps = [(t("09:00"), t("12:00")), (t("22:00"), t("02:00", "2026-01-06"))]
    end = t("00:00", "2026-01-07")
    batch = rollups_from_columns(
        inventory,
        _columns(events),
        start=t("00:00"),
        end=end,
        reports=reports,
        gaps=gaps,
    )
    live = watched(inventory)
    live.record("sensor.t1", "20", None, t("06:00"))
    live.report("sensor.t1", t("06:00"))
    live.record("binary_sensor.m1", "on", None, t("07:00"))
    live.report("sensor.t1", t("07:30"))
    live.mark_gap(t("09:00"), t("12:00"))
    live.record("sensor.t1", "21", None, t("15:00"))
    live.report("binary_sensor.m1", t("20:00"))
    live.mark_gap(t("22:00"), t("02:00", "2026-01-06"))
    live.record("sensor.t1", "22", None, t("10:00", "2026-01-06"))
    live.advance_to(end)
    assert list(live.history) == batch
    assert batch[0].gap_s == 5 * H
    assert batch[0].home_reports == 3
    without = rollups_from_columns(inventory, _columns(events), start=t("00:00"))
    assert without[0].reports_visible is False
    assert without[0].gap_s == 0.0
    empty = ReportColumns(np.array([], dtype=object), np.array([]))
    assert rollups_from_columns(
        inventory, _columns(events), start=t("00:00"), reports=empty
    )[0].reports_visible


# --- persistence and migration --------------------------------------------------------


def _busy() -> TelemetryAggregator:
    aggregator = watched(home(climate(1), motion(1)))
    feed(
        aggregator,
        [
            ("sensor.t1", "20", None, t("06:00")),
            ("sensor.t1_battery", "90", None, t("06:00")),
            ("binary_sensor.m1", "unavailable", None, t("07:00")),
        ],
    )
    aggregator.mark_gap(t("08:00"), t("02:00", "2026-01-06"))
    aggregator.report("sensor.t1", t("03:00", "2026-01-06"))
    return aggregator


def test_the_v2_state_round_trips_and_carries_on_identically() -> None:
    aggregator = _busy()
    text = json.dumps(aggregator.to_json(), allow_nan=False)
    again = TelemetryAggregator.from_json(aggregator.inventory, json.loads(text))
    assert again.to_json() == aggregator.to_json()
    for each in (aggregator, again):
        each.record("binary_sensor.m1", "on", None, t("05:00", "2026-01-06"))
        each.report("sensor.t1", t("06:00", "2026-01-06"))
        each.advance_to(t("00:00", "2026-01-08"))
    assert list(again.history) == list(aggregator.history)


def _as_v1(state: dict) -> dict:
    """Return `state` as a version-1 writer would have saved it."""
    old = json.loads(json.dumps(state))
    old["version"] = 1
    for key in ("reports_visible", "gaps", "gap_clock", "gap_until", "battery_days"):
        del old[key]
    del old["home"]["reports"]
    counts = DEVICE_FIELDS[: DEVICE_FIELDS.index("first_seen")]
    for device in old["devices"].values():
        device["counts"] = [
            value
            for name, value in zip(counts, device["counts"], strict=True)
            if name in V1_DEVICE_FIELDS
        ]
        device["channels"] = [row[:7] for row in device["channels"]]
        del device["hist"], device["carried"]
    for name in ("totals", "counters"):
        del old[name]["bad_gap"]
    old["history"] = [_rollup_as_v1(item) for item in old["history"]]
    return old


def _rollup_as_v1(item: dict) -> dict:
    item = json.loads(json.dumps(item))
    item["version"] = 1
    del item["gap_s"], item["home"]["reports"], item["home"]["reports_visible"]
    del item["counters"]["bad_gap"]
    item["device_fields"] = list(V1_DEVICE_FIELDS)
    for device in item["devices"].values():
        values = dict(zip(DEVICE_FIELDS, device["values"], strict=True))
        device["values"] = [values[name] for name in V1_DEVICE_FIELDS]
    return item


def test_a_version_1_state_is_migrated() -> None:
    aggregator = watched(home(climate(1), motion(1)))
    feed(
        aggregator,
        [
            ("sensor.t1", "20", None, t("06:00")),
            ("binary_sensor.m1", "on", None, t("07:00")),
            ("sensor.t1", "21", None, t("07:00", "2026-01-06")),
        ],
    )
    old = _as_v1(aggregator.to_json())
    again = TelemetryAggregator.from_json(aggregator.inventory, old)
    (day,) = again.history
    assert day.device("climate1")["events"] == 1
    assert day.device("climate1")["binary_flaps"] == 0
    assert math.isnan(day.device("climate1")["silence_s"])
    assert day.gap_s == 0.0
    assert day.reports_visible is False
    again.record("sensor.t1", "22", None, t("08:00", "2026-01-06"))
    again.advance_to(t("00:00", "2026-01-07"))
    row = again.history[-1].device("climate1")
    assert row["events"] == 2
    assert row["silence_s"] == 16 * H


def test_a_version_1_rollup_reads_with_the_new_fields_empty() -> None:
    rollup = _busy()
    rollup.advance_to(t("00:00", "2026-01-07"))
    old = _rollup_as_v1(rollup.history[0].to_json())
    again = DayRollup.from_json(old)
    assert (
        again.device("climate1")["events"]
        == rollup.history[0].device("climate1")["events"]
    )
    assert again.device("climate1")["reported"] == 0
    assert math.isnan(again.device("climate1")["battery_level"])


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("reports_visible", "yes"),
        ("gap_clock", "x"),
        ("battery_days", {"climate1": [1.0], "motion1": []}),
        ("version", 3),
    ],
)
def test_damaged_v2_states_are_refused(key: str, value: object) -> None:
    state = _busy().to_json()
    state[key] = value
    with pytest.raises(RollupError):
        TelemetryAggregator.from_json(_busy().inventory, state)
