"""The aggregator turns hand-made event streams into the expected daily rollups."""

import json
import math
from types import MappingProxyType

import numpy as np
import pytest

from homeiq_core.aggregator import (
    HISTORY_DAYS,
    TelemetryAggregator,
    entity_role,
    is_numeric,
    replay,
)
from homeiq_core.dataset import Entity, Event
from homeiq_core.rollups import COUNTERS, RollupError

from .telemetry_homes import at, climate, device, feed, home, motion, one_day, plug, tv

DAY = "2026-01-05"


def t(clock: str, day: str = DAY) -> float:
    return at(f"{day} {clock}")


# --- roles ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entity", "role", "numeric"),
    [
        (Entity("sensor.a_battery", "sensor", "battery", "%"), "battery", True),
        (Entity("sensor.a_rssi", "sensor", "signal_strength", "dBm"), "rssi", True),
        (Entity("sensor.a_sig", "sensor", "signal_strength", "%"), "diagnostic", True),
        (Entity("sensor.a_linkquality", "sensor", None, None), "lqi", True),
        (Entity("sensor.a_link", "sensor", None, "lqi"), "lqi", True),
        (Entity("sensor.a_power", "sensor", "power", "kW"), "power", True),
        (Entity("sensor.a_energy", "sensor", "energy", "Wh"), "energy", True),
        (Entity("sensor.a_t", "sensor", "temperature", "°C"), "activity", True),
        (Entity("sensor.a_text", "sensor", None, None), "activity", False),
        (Entity("number.a_level", "number", None, "%"), "activity", True),
        (
            Entity("binary_sensor.a_low", "binary_sensor", "battery", None),
            "diagnostic",
            False,
        ),
        (Entity("update.a_firmware", "update"), "diagnostic", False),
        (Entity("light.a", "light"), "activity", False),
        (Entity("climate.a", "climate", None, "°C"), "activity", False),
    ],
)
def test_entity_roles(entity: Entity, role: str, numeric: bool) -> None:
    assert entity_role(entity) == role
    assert is_numeric(entity) is numeric


# --- reports, intervals, last seen ------------------------------------------------


def test_reports_group_bursts_and_measure_intervals_between_them() -> None:
    rollup = one_day(
        home(climate(1)),
        [
            ("sensor.t1", "20.0", None, t("08:00")),
            ("sensor.h1", "50", None, t("08:00:00.5")),  # same radio report
            ("sensor.t1_battery", "99", None, t("08:00:01.2")),  # chained: same
            # Intervals run from report start to report start.
            ("sensor.t1", "20.5", None, t("08:05")),
            ("sensor.t1", "21.0", None, t("08:20")),
        ],
    )
    row = rollup.device("climate1")
    assert row["events"] == 5
    assert row["reports"] == 3
    assert (row["interval_n"], row["interval_sum"]) == (2, 300.0 + 900.0)
    assert row["interval_sumsq"] == 300.0**2 + 900.0**2
    assert row["interval_max"] == 900.0
    assert row["first_seen"] == t("08:00")
    assert row["last_seen"] == t("08:20")


def test_a_silent_device_has_a_row_without_data() -> None:
    rollup = one_day(
        home(climate(1), motion(1)), [("sensor.t1", "20", None, t("09:00"))]
    )
    row = rollup.device("motion1")
    assert row["events"] == row["reports"] == row["interval_n"] == 0
    assert math.isnan(row["interval_max"])
    assert math.isnan(row["first_seen"])
    assert math.isnan(row["last_seen"])
    assert math.isnan(row["value_min"])
    assert rollup.device_ids == ("climate1", "motion1")


def test_last_seen_carries_over_silent_days() -> None:
    inventory = home(climate(1))
    aggregator = TelemetryAggregator(inventory)
    aggregator.record("sensor.t1", "20", None, t("09:00"))
    aggregator.record("sensor.t1", "21", None, t("09:00", "2026-01-08"))
    days = aggregator.history
    assert [r.day for r in days] == ["2026-01-05", "2026-01-06", "2026-01-07"]
    assert [r.device("climate1")["last_seen"] for r in days] == [t("09:00")] * 3
    assert [r.device("climate1")["events"] for r in days] == [1, 0, 0]
    assert days[0].observed_s == t("00:00", "2026-01-06") - t("09:00")
    assert days[1].observed_s == 86400.0
    # The interval ending on the 8th spans the silent days.
    aggregator.advance_to(t("00:00", "2026-01-09"))
    assert aggregator.history[-1].device("climate1")["interval_max"] == 3 * 86400.0


# --- state changes, hours of day, flapping ----------------------------------------


def test_changes_by_local_hour_and_flaps() -> None:
    rollup = one_day(
        home(motion(1), climate(1)),
        [
            ("binary_sensor.m1", "off", None, t("07:59")),  # first state: no change
            ("binary_sensor.m1", "on", None, t("08:10")),
            ("binary_sensor.m1", "off", None, t("08:10:20")),  # 20 s later: a flap
            ("binary_sensor.m1", "off", None, t("08:30")),  # repeated: no change
            ("binary_sensor.m1", "on", None, t("23:59:59")),
            # Link quality and battery changes are not activity.
            ("sensor.t1_linkquality", "100", None, t("12:00")),
            ("sensor.t1_linkquality", "90", None, t("13:00")),
        ],
    )
    row = rollup.device("motion1")
    assert (row["changes"], row["flaps"]) == (3, 1)
    hours = np.zeros(24, dtype=np.int64)
    hours[8], hours[23] = 2, 1
    assert rollup.hours[rollup.device_ids.index("motion1")].tolist() == hours.tolist()
    assert rollup.home_hours.tolist() == hours.tolist()
    assert rollup.home_changes == 3
    assert rollup.home_events == 7
    assert rollup.device("climate1")["changes"] == 0


def test_unavailability_does_not_count_as_a_change() -> None:
    rollup = one_day(
        home(motion(1)),
        [
            ("binary_sensor.m1", "on", None, t("10:00")),
            ("binary_sensor.m1", "unavailable", None, t("10:01")),
            ("binary_sensor.m1", "unavailable", None, t("10:01:30")),  # still
            ("binary_sensor.m1", "unknown", None, t("10:01:40")),  # switches kind
            ("binary_sensor.m1", "on", None, t("10:02")),  # back, same state
            ("binary_sensor.m1", "unknown", None, t("11:00")),
            ("binary_sensor.m1", "off", None, t("11:10")),  # back, new state
        ],
    )
    row = rollup.device("motion1")
    assert row["changes"] == 1
    assert row["flaps"] == 0
    assert (row["unavailable_n"], row["unavailable_s"]) == (1, 40.0)
    assert (row["unknown_n"], row["unknown_s"]) == (2, 620.0)
    assert row["events"] == 7
    assert row["unavailable_at_end"] == 0


# --- numeric values, frozen values ------------------------------------------------


def test_primary_value_statistics_and_frozen_runs() -> None:
    rollup = one_day(
        home(climate(1)),
        [
            ("sensor.t1", "20.0", None, t("06:00")),
            ("sensor.h1", "55", None, t("06:00")),  # humidity is not the primary
            ("sensor.t1", "20.0", None, t("06:10")),
            ("sensor.t1", "20.0", {"x": 1}, t("06:30")),  # attribute-only update
            ("sensor.t1", "22.5", None, t("07:00")),
            ("sensor.t1", "18", None, t("07:30")),
        ],
    )
    row = rollup.device("climate1")
    values = [20.0, 20.0, 20.0, 22.5, 18.0]
    times = [t(c) - t("00:00") for c in ("06:00", "06:10", "06:30", "07:00", "07:30")]
    assert row["value_n"] == 5
    assert row["value_sum"] == sum(values)
    assert row["value_sumsq"] == sum(v * v for v in values)
    assert (row["value_min"], row["value_max"], row["value_last"]) == (18, 22.5, 18)
    assert row["value_tsum"] == sum(times)
    assert row["numeric_reports"] == 6  # humidity counts as a numeric report
    assert row["numeric_repeats"] == 2
    assert row["frozen_max"] == 1800.0  # 20.0 held from 06:00 to 06:30
    assert row["changes"] == 2


def test_a_stuck_value_keeps_its_frozen_run_across_midnight_and_dropouts() -> None:
    aggregator = TelemetryAggregator(home(climate(1)))
    feed(
        aggregator,
        [
            ("sensor.t1", "20.0", None, t("22:00")),
            ("sensor.t1", "unavailable", None, t("23:00")),
            ("sensor.t1", "20.0", None, t("23:30")),
            ("sensor.t1", "20.0", None, t("02:00", "2026-01-06")),
        ],
    )
    aggregator.advance_to(t("00:00", "2026-01-07"))
    first, second = (r.device("climate1") for r in aggregator.history)
    assert first["frozen_max"] == 5400.0
    assert second["frozen_max"] == 4 * 3600.0
    assert second["numeric_repeats"] == 1


def test_non_numbers_from_numeric_entities_are_counted_not_raised() -> None:
    inventory = home(climate(1))
    aggregator = TelemetryAggregator(inventory, start=t("00:00"))
    feed(
        aggregator,
        [
            ("sensor.t1", "abc", None, t("01:00")),
            ("sensor.t1", "abc", None, t("01:10")),  # a repeat is not parsed again
            ("sensor.t1", "nan", None, t("01:20")),
            ("sensor.t1", "-inf", None, t("01:30")),
            ("sensor.t1", "1e13", None, t("01:40")),
            ("sensor.t1", " 21.5 ", None, t("01:50")),  # float() accepts spaces
        ],
    )
    counters = aggregator.counters()
    assert (counters["non_numeric"], counters["non_finite"]) == (1, 2)
    assert counters["out_of_range"] == 1
    aggregator.advance_to(t("00:00", "2026-01-06"))
    row = aggregator.history[0].device("climate1")
    assert row["non_numeric"] == 1
    assert (row["value_n"], row["value_sum"]) == (1, 21.5)


# --- battery, link quality, power, energy -----------------------------------------


def test_battery_and_link_quality_channels() -> None:
    rollup = one_day(
        home(climate(1), tv(1)),
        [
            ("sensor.t1_battery", "80", None, t("06:00")),
            ("sensor.t1_battery", "79", None, t("18:00")),
            ("sensor.t1_linkquality", "120", None, t("06:00")),
            ("sensor.t1_linkquality", "120", None, t("07:00")),
            ("sensor.tv1_rssi", "-60", None, t("06:00")),
            ("sensor.tv1_rssi", "-75", None, t("06:30")),
        ],
    )
    row = rollup.device("climate1")
    assert (row["battery_n"], row["battery_sum"], row["battery_last"]) == (2, 159, 79)
    assert row["battery_tsum"] == 6 * 3600 + 18 * 3600
    assert (row["lqi_n"], row["lqi_min"], row["lqi_max"]) == (2, 120, 120)
    tv_row = rollup.device("tv1")
    assert (tv_row["rssi_n"], tv_row["rssi_min"], tv_row["rssi_last"]) == (2, -75, -75)
    assert tv_row["rssi_sum"] == -135


def test_readings_from_attributes_only_where_no_entity_has_them() -> None:
    light = device(
        "bulb", Entity("light.bulb", "light"), protocol="zigbee", power_source="mains"
    )
    rollup = one_day(
        home(light, climate(1)),
        [
            ("light.bulb", "on", {"linkquality": 90, "rssi": "-70.5"}, t("06:00")),
            ("light.bulb", "on", {"battery_level": True}, t("06:01")),  # not a level
            ("light.bulb", "on", {"battery": "x" * 300}, t("06:02")),
            ("light.bulb", "on", {"linkquality": 10**400}, t("06:03")),
            ("light.bulb", "off", {"linkquality": [1]}, t("06:04")),
            ("light.bulb", "off", "not a mapping", t("06:05")),
            ("light.bulb", "off", {"lqi": 80.5}, t("06:06")),
            ("light.bulb", "off", {"rssi": "strong"}, t("06:07")),
            ("light.bulb", "on", MappingProxyType({"linkquality": 50}), t("06:08")),
            # The climate sensor has battery and LQI entities: attributes unused.
            ("sensor.t1", "20", {"battery": 10, "linkquality": 5}, t("06:00")),
        ],
    )
    row = rollup.device("light.bulb".replace("light.", ""))
    assert (row["lqi_n"], row["lqi_sum"]) == (3, 220.5)
    assert (row["rssi_n"], row["rssi_sum"]) == (1, -70.5)
    assert row["battery_n"] == 0
    assert rollup.counters["bad_attribute_value"] == 5
    assert rollup.counters["bad_attributes"] == 1
    climate_row = rollup.device("climate1")
    assert climate_row["battery_n"] == climate_row["lqi_n"] == 0


def test_power_in_kilowatts_and_energy_meter_increments_with_a_reset() -> None:
    rollup = one_day(
        home(plug(1, power_unit="kW", energy_unit="Wh")),
        [
            ("sensor.p1_power", "0.5", None, t("06:00")),
            ("sensor.p1_power", "1.25", None, t("07:00")),
            ("sensor.p1_energy", "1000", None, t("06:00")),  # first reading: a base
            ("sensor.p1_energy", "1500", None, t("07:00")),
            ("sensor.p1_energy", "1500", None, t("07:30")),
            ("sensor.p1_energy", "unavailable", None, t("08:00")),
            ("sensor.p1_energy", "1750", None, t("09:00")),
            ("sensor.p1_energy", "200", None, t("10:00")),  # reset to zero, then 200
            ("switch.p1", "on", None, t("06:00")),
        ],
    )
    row = rollup.device("plug1")
    assert (row["power_n"], row["power_sum"], row["power_max"]) == (2, 1750.0, 1250.0)
    assert row["energy_kwh"] == pytest.approx(0.5 + 0.25 + 0.2, abs=1e-12)
    assert rollup.counters["energy_reset"] == 1
    assert row["numeric_reports"] == 0  # meters are not activity


def test_device_less_entities_count_for_the_home_only() -> None:
    rollup = one_day(
        home(motion(1), loose=(Entity("person.anna", "person"),)),
        [
            ("person.anna", "home", None, t("07:00")),
            ("person.anna", "not_home", None, t("08:00")),
        ],
    )
    assert rollup.home_events == 2
    assert rollup.home_changes == 1
    assert rollup.home_hours[8] == 1
    assert rollup.device("motion1")["events"] == 0


# --- unavailability over days -----------------------------------------------------


def test_outages_are_split_at_midnight_and_fill_silent_days() -> None:
    aggregator = TelemetryAggregator(home(motion(1)))
    feed(
        aggregator,
        [
            ("binary_sensor.m1", "on", None, t("21:00")),
            ("binary_sensor.m1", "unavailable", None, t("22:00")),
            ("binary_sensor.m1", "off", None, t("02:00", "2026-01-08")),
        ],
    )
    aggregator.advance_to(t("00:00", "2026-01-09"))
    rows = [r.device("motion1") for r in aggregator.history]
    assert [r["unavailable_s"] for r in rows] == [7200.0, 86400.0, 86400.0, 7200.0]
    assert [r["unavailable_n"] for r in rows] == [1, 0, 0, 0]
    assert [r["unavailable_at_end"] for r in rows] == [1, 1, 1, 0]


def test_history_is_bounded_and_long_silences_are_skipped() -> None:
    aggregator = TelemetryAggregator(home(motion(1)), history_days=5)
    aggregator.record("binary_sensor.m1", "unknown", None, t("12:00"))
    aggregator.record("binary_sensor.m1", "on", None, t("12:00", "2026-02-05"))
    days = [r.day for r in aggregator.history]
    assert days == [f"2026-01-{d:02d}" for d in range(31, 32)] + [
        f"2026-02-{d:02d}" for d in range(1, 5)
    ]
    # Jan 5 closed and fell off; Jan 6-30 were jumped over.
    assert aggregator.days_closed == 6
    assert aggregator.counters()["skipped_days"] == 25
    # The outage goes on through the kept days, from the jump on.
    assert [r.device("motion1")["unknown_s"] for r in aggregator.history] == [
        86400.0
    ] * 5
    assert len(aggregator.history) <= 5


def test_unbounded_history_rolls_up_every_day_of_a_long_gap() -> None:
    aggregator = TelemetryAggregator(home(motion(1)), history_days=None)
    aggregator.record("binary_sensor.m1", "on", None, t("12:00"))
    aggregator.record("binary_sensor.m1", "off", None, t("12:00", "2026-03-01"))
    assert len(aggregator.history) == 55
    assert aggregator.counters()["skipped_days"] == 0
    assert HISTORY_DAYS == 28


# --- time: days, daylight saving, clocks --------------------------------------------


@pytest.mark.parametrize(
    ("day", "hours", "late_hour"),
    [
        ("2026-03-29", 23, "03:30"),  # spring forward at 02:00 -> 03:00
        ("2026-10-25", 25, "03:30"),  # fall back at 03:00 -> 02:00
        ("2026-06-01", 24, "03:30"),
    ],
)
def test_daylight_saving_days_and_local_hours(
    day: str, hours: int, late_hour: str
) -> None:
    rollup = one_day(
        home(motion(1)),
        [
            ("binary_sensor.m1", "off", None, at(f"{day} 00:30")),
            ("binary_sensor.m1", "on", None, at(f"{day} 01:30")),
            ("binary_sensor.m1", "off", None, at(f"{day} {late_hour}")),
            ("binary_sensor.m1", "on", None, at(f"{day} 23:30")),
        ],
        day=day,
    )
    assert rollup.end - rollup.start == hours * 3600
    assert rollup.observed_s == hours * 3600
    assert np.flatnonzero(rollup.home_hours).tolist() == [1, 3, 23]


def test_the_repeated_hour_of_a_fall_back_day_counts_in_its_local_hour() -> None:
    first = at("2026-10-25 02:30")  # fold 0: CEST, 00:30 UTC
    second = first + 3600  # the same wall-clock time again, in CET
    rollup = one_day(
        home(motion(1)),
        [
            ("binary_sensor.m1", "off", None, first - 60),
            ("binary_sensor.m1", "on", None, first),
            ("binary_sensor.m1", "off", None, second),
        ],
        day="2026-10-25",
    )
    assert rollup.home_hours[2] == 2
    assert rollup.home_hours.sum() == 2


def test_a_half_hour_daylight_shift_is_followed() -> None:
    zone = "Australia/Lord_Howe"  # +11 -> +10:30 on 2026-04-05 at 02:00
    inventory = home(motion(1), zone=zone)
    rollup = one_day(
        inventory,
        [
            ("binary_sensor.m1", "off", None, at("2026-04-05 00:10", zone)),
            ("binary_sensor.m1", "on", None, at("2026-04-05 01:45", zone)),
            ("binary_sensor.m1", "off", None, at("2026-04-05 02:10", zone) + 1800),
            ("binary_sensor.m1", "on", None, at("2026-04-05 23:50", zone)),
        ],
        day="2026-04-05",
    )
    assert rollup.end - rollup.start == 24.5 * 3600
    assert np.flatnonzero(rollup.home_hours).tolist() == [1, 2, 23]


def test_an_unknown_time_zone_falls_back_to_utc() -> None:
    aggregator = TelemetryAggregator(home(motion(1), zone="Mars/Olympus_Mons"))
    assert aggregator.time_zone == "UTC"
    aggregator.record("binary_sensor.m1", "on", None, at("2026-01-05 23:30", "UTC"))
    assert aggregator.day == "2026-01-05"


def test_clock_going_backwards_is_clamped_and_late_events_are_dropped() -> None:
    aggregator = TelemetryAggregator(home(climate(1)), start=t("06:00"))
    assert aggregator.day == DAY
    results = feed(
        aggregator,
        [
            ("sensor.t1", "20", None, t("05:00")),  # before watching began: late
            ("sensor.t1", "20", None, t("08:00")),
            ("sensor.t1", "21", None, t("07:00")),  # backwards: taken as 08:00
            ("sensor.t1", "22", None, t("00:30", "2026-01-06")),  # next day
            ("sensor.t1", "23", None, t("23:00")),  # the day before: late
        ],
    )
    assert results == [False, True, True, True, False]
    counters = aggregator.counters()
    assert (counters["late_event"], counters["clock_backwards"]) == (2, 1)
    (rollup,) = aggregator.history
    row = rollup.device("climate1")
    assert row["last_seen"] == t("08:00")
    assert (row["reports"], row["interval_n"]) == (1, 0)  # clamped: same burst
    assert row["changes"] == 1
    assert rollup.counters["late_event"] == 1
    assert rollup.observed_s == t("00:00", "2026-01-06") - t("06:00")


@pytest.mark.parametrize(
    "timestamp",
    [math.nan, math.inf, -math.inf, -1.0, 5e9, None, "1767600000", True, 10**400, []],
)
def test_bad_timestamps_are_counted_and_skipped(timestamp: object) -> None:
    aggregator = TelemetryAggregator(home(climate(1)))
    assert not aggregator.record("sensor.t1", "20", None, timestamp)
    assert aggregator.counters()["bad_time"] == 1
    assert aggregator.day is None


def test_integer_and_numpy_timestamps_are_accepted() -> None:
    aggregator = TelemetryAggregator(home(climate(1)))
    assert aggregator.record("sensor.t1", "20", None, int(t("06:00")))
    assert aggregator.record("sensor.t1", "21", None, np.float64(t("07:00")))
    assert aggregator.day == DAY


@pytest.mark.parametrize(
    ("entity_id", "counter"),
    [
        ("sensor.nobody", "unknown_entity"),
        ("x" * 100_000, "unknown_entity"),
        (None, "bad_entity_id"),
        (42, "bad_entity_id"),
        (["sensor.t1"], "bad_entity_id"),
        ({"a": 1}, "bad_entity_id"),
    ],
)
def test_odd_entity_ids_are_counted(entity_id: object, counter: str) -> None:
    aggregator = TelemetryAggregator(home(climate(1)))
    assert not aggregator.record(entity_id, "20", None, t("06:00"))
    assert aggregator.counters()[counter] == 1
    assert sum(aggregator.counters().values()) == 1


@pytest.mark.parametrize(
    "state", [None, 20.5, b"20", ["on"], type("S", (str,), {})("x")]
)
def test_states_that_are_not_strings_are_counted(state: object) -> None:
    aggregator = TelemetryAggregator(home(climate(1)))
    assert not aggregator.record("sensor.t1", state, None, t("06:00"))
    assert aggregator.counters()["bad_state"] == 1


def test_huge_states_are_truncated_and_still_compared() -> None:
    huge = "y" * 10_000
    rollup = one_day(
        home(motion(1)),
        [
            ("binary_sensor.m1", "off", None, t("06:00")),
            ("binary_sensor.m1", huge, None, t("07:00")),
            ("binary_sensor.m1", huge + "z", None, t("08:00")),  # same first 255
        ],
    )
    assert rollup.counters["oversized_state"] == 2
    assert rollup.device("motion1")["changes"] == 1


def test_advance_to_closes_quiet_days_and_ignores_nonsense() -> None:
    aggregator = TelemetryAggregator(home(motion(1)))
    assert aggregator.advance_to(t("06:00")) == 0  # nothing seen yet
    aggregator.record("binary_sensor.m1", "on", None, t("06:00"))
    assert aggregator.advance_to(t("23:59")) == 0
    assert aggregator.advance_to(math.nan) == 0
    assert aggregator.advance_to("tomorrow") == 0
    assert aggregator.advance_to(t("00:00", "2026-01-07")) == 2
    assert aggregator.day == "2026-01-07"
    # Time never runs back into a closed day.
    assert not aggregator.record(
        "binary_sensor.m1", "off", None, t("23:00", "2026-01-06")
    )


def test_counters_add_up_over_days() -> None:
    aggregator = TelemetryAggregator(home(motion(1)))
    aggregator.record("sensor.nobody", "1", None, t("06:00"))
    aggregator.record("binary_sensor.m1", "on", None, t("06:00"))
    aggregator.record("binary_sensor.m1", "off", None, t("06:00", "2026-01-06"))
    aggregator.record("sensor.nobody", "1", None, t("07:00", "2026-01-06"))
    assert aggregator.history[0].counters["unknown_entity"] == 1
    assert aggregator.counters()["unknown_entity"] == 2
    assert list(aggregator.counters()) == list(COUNTERS)


def test_reads_attributes_only_where_readings_may_be() -> None:
    bulb = device("bulb", Entity("light.bulb", "light"))
    full = device(
        "full",
        Entity("sensor.f_battery", "sensor", "battery", "%"),
        Entity("sensor.f_lqi", "sensor", None, "lqi"),
        Entity("sensor.f_rssi", "sensor", "signal_strength", "dBm"),
    )
    aggregator = TelemetryAggregator(home(bulb, climate(1), full))
    assert aggregator.reads_attributes("light.bulb")
    assert aggregator.reads_attributes("sensor.t1")  # it has no RSSI entity
    assert not aggregator.reads_attributes("sensor.f_battery")
    assert not aggregator.reads_attributes("sensor.nobody")
    assert not aggregator.reads_attributes(["light.bulb"])


# --- persistence of the live state -------------------------------------------------

STREAM = [
    ("sensor.t1", "20.0", None, t("06:00")),
    ("sensor.t1_battery", "90", None, t("06:00:00.5")),
    ("sensor.p1_energy", "3.5", None, t("06:01")),
    ("binary_sensor.m1", "unavailable", None, t("07:00")),
    ("sensor.t1", "20.0", None, t("08:00")),
    ("sensor.p1_power", "12.5", None, t("09:00")),
    ("sensor.p1_energy", "3.75", None, t("10:00")),
    ("binary_sensor.m1", "on", None, t("02:00", "2026-01-06")),
    ("binary_sensor.m1", "off", None, t("02:00:10", "2026-01-06")),
    ("sensor.t1", "21.0", None, t("03:00", "2026-01-06")),
    ("sensor.nobody", "x", None, t("03:00", "2026-01-06")),
    ("sensor.t1_battery", "unknown", None, t("04:00", "2026-01-06")),
]


def test_a_saved_state_carries_on_exactly() -> None:
    inventory = home(climate(1), motion(1), plug(1))
    end = t("00:00", "2026-01-07")
    whole = replay(
        inventory, (Event(e, s, a, ts, ts) for e, s, a, ts in STREAM), end=end
    )
    for cut in range(len(STREAM) + 1):
        first = TelemetryAggregator(inventory)
        feed(first, STREAM[:cut])
        saved = json.loads(json.dumps(first.to_json(), allow_nan=False))
        second = TelemetryAggregator.from_json(inventory, saved, history_days=None)
        feed(second, STREAM[cut:])
        second.advance_to(end)
        assert second.history == whole.history, cut
        assert second.counters() == whole.counters()
        assert second.days_closed == 2


def test_a_saved_state_follows_a_changed_inventory() -> None:
    before = TelemetryAggregator(home(climate(1), motion(1)))
    feed(before, STREAM[:5])
    after = TelemetryAggregator.from_json(home(motion(1), plug(1)), before.to_json())
    after.record("binary_sensor.m1", "on", None, t("11:00"))
    after.advance_to(t("00:00", "2026-01-06"))
    (rollup,) = after.history
    assert rollup.device_ids == ("motion1", "plug1")
    assert rollup.device("motion1")["unavailable_s"] == 4 * 3600.0


def test_an_empty_state_round_trips() -> None:
    inventory = home(motion(1))
    again = TelemetryAggregator.from_json(
        inventory, TelemetryAggregator(inventory).to_json()
    )
    assert again.day is None
    assert again.history == ()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.update(format="other"), "'format'"),
        (lambda s: s.update(version=99), "version 99"),
        (lambda s: s.pop("history"), "malformed"),
        (lambda s: s.update(days_closed=-1), "malformed"),
        (lambda s: s["clock"].__setitem__(1, "noon"), "malformed"),
        (lambda s: s["entities"]["sensor.t1"].__setitem__(0, 7), "malformed"),
        (lambda s: s["entities"]["sensor.t1"].__setitem__(3, math.inf), "malformed"),
        (lambda s: s["devices"]["climate1"]["hours"].pop(), "malformed"),
        (lambda s: s.update(devices=[]), "malformed"),
        (lambda s: s["history"].append({"format": "x"}), "'format'"),
    ],
)
def test_a_damaged_state_is_refused(change: object, message: str) -> None:
    inventory = home(climate(1), motion(1))
    aggregator = TelemetryAggregator(inventory)
    feed(aggregator, STREAM[:2])
    aggregator.advance_to(t("00:00", "2026-01-06"))
    aggregator.record("sensor.t1", "19", None, t("06:00", "2026-01-06"))
    saved = json.loads(json.dumps(aggregator.to_json()))
    change(saved)  # type: ignore[operator]
    with pytest.raises(RollupError, match=message):
        TelemetryAggregator.from_json(inventory, saved)
    with pytest.raises(RollupError, match="'format'"):
        TelemetryAggregator.from_json(inventory, [])
