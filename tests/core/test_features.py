"""Every feature of both schemas, checked on hand-made homes with hand-worked values."""

import math
import statistics

import numpy as np
import pytest

from homeiq_core import features as features_module
from homeiq_core.aggregator import TelemetryAggregator
from homeiq_core.dataset import PROTOCOLS, Area, Entity, Floor, Inventory
from homeiq_core.features import (
    DEVICE_KINDS,
    DEVICE_SCHEMA,
    HOME_SCHEMA,
    LONG_WINDOW_DAYS,
    FeatureSchema,
    FeatureSpec,
    device_feature_rows,
    device_features,
    device_kind,
    home_feature_rows,
    home_features,
)

from .telemetry_homes import at, device, feed

DAY0 = at("2026-01-01 00:00", "UTC")  # a Thursday


def T(day: int, hour: int, minute: int = 0, second: float = 0.0) -> float:
    return DAY0 + day * 86400 + hour * 3600 + minute * 60 + second


# --- the device scenario: 14 UTC days, features as of the end of day 13 ----------

CLIMATE = device(
    "climate",
    Entity("sensor.a_t", "sensor", "temperature", "°C"),
    Entity("sensor.a_battery", "sensor", "battery", "%"),
    Entity("sensor.a_linkquality", "sensor", None, "lqi"),
)
PLUG = device(
    "plug",
    Entity("switch.b", "switch"),
    Entity("sensor.b_power", "sensor", "power", "W"),
    Entity("sensor.b_energy", "sensor", "energy", "kWh"),
    Entity("sensor.b_rssi", "sensor", "signal_strength", "dBm"),
    protocol="wifi",
    power_source="mains",
)
DOOR = device(
    "door",
    Entity("binary_sensor.c", "binary_sensor", "door", None),
    protocol="z-wave",
)
STEP = device(  # a value that did not move for 13 days, then stepped up
    "step",
    Entity("sensor.e_t", "sensor", "temperature", "°C"),
    Entity("sensor.e_battery", "sensor", "battery", "%"),
)
FLAT = device("flat", Entity("sensor.g_t", "sensor", "temperature", "°C"))
NEW = device("new", Entity("light.n", "light"), power_source="mains")


def _events() -> list[tuple]:
    events = []
    for d in range(14):
        # climate: hourly temperature alternating 20/22, stuck at 25 on day 13;
        # battery falling 2 %/day and LQI 5/day, both in the noon report.
        for h in range(24):
            value = "25.0" if d == 13 else ("20.0" if h % 2 == 0 else "22.0")
            events.append(("sensor.a_t", value, None, T(d, h)))
        events.append(("sensor.a_battery", str(100 - 2 * d), None, T(d, 12, 0, 0.5)))
        events.append(
            ("sensor.a_linkquality", str(200 - 5 * d), None, T(d, 12, 0, 0.7))
        )
        # plug: on/off at 08:00 (a flap), on 20:00-22:00 drawing 100 W; its meter
        # gains 0.2 kWh a day; RSSI falls 1 dB a day.
        events += [
            ("switch.b", "on", None, T(d, 8)),
            ("switch.b", "off", None, T(d, 8, 0, 10)),
            ("switch.b", "on", None, T(d, 20)),
            ("sensor.b_power", "100", None, T(d, 20, 0, 0.2)),
            ("sensor.b_rssi", str(-50 - d), None, T(d, 20, 0, 0.6)),
            ("switch.b", "off", None, T(d, 22)),
            ("sensor.b_power", "0", None, T(d, 22, 0, 0.2)),
            # the meter restarts on day 13 and reads 0.1
            (
                "sensor.b_energy",
                "0.1" if d == 13 else f"{0.2 * (d + 1):.1f}",
                None,
                T(d, 22, 0, 0.4),
            ),
        ]
        if d in {1, 3}:  # two outages 8-14 days back
            events += [
                ("switch.b", "unavailable", None, T(d, 12)),
                ("switch.b", "off", None, T(d, 13)),
            ]
        # step: constant 10 for 13 days then 11; battery steady at 90
        events.append(("sensor.e_t", "11" if d == 13 else "10", None, T(d, 6)))
        events.append(("sensor.e_battery", "90", None, T(d, 6, 0, 0.5)))
        events.append(("sensor.g_t", "5", None, T(d, 12)))
    events += [
        ("sensor.b_power", "unknown", None, T(10, 21)),  # unknown until 22:00:00.2
        ("sensor.b_power", "garbage", None, T(12, 21)),
        ("switch.b", "unavailable", None, T(13, 23)),  # and stays so
    ]
    return sorted(events, key=lambda event: event[3])


INVENTORY = Inventory("features", "UTC", devices=(CLIMATE, PLUG, DOOR, STEP, FLAT, NEW))


@pytest.fixture(scope="module")
def rollups() -> tuple:
    watched = Inventory("features", "UTC", devices=(CLIMATE, PLUG, DOOR, STEP, FLAT))
    aggregator = TelemetryAggregator(watched, start=DAY0)
    feed(aggregator, _events())
    aggregator.advance_to(T(14, 0))
    assert len(aggregator.history) == 14
    return aggregator.history


@pytest.fixture(scope="module")
def features(rollups: tuple) -> dict[str, dict[str, float]]:
    matrix = device_features(INVENTORY, rollups)
    return {
        d.device_id: dict(zip(DEVICE_SCHEMA.names, row.tolist(), strict=True))
        for d, row in zip(INVENTORY.devices, matrix, strict=True)
    }


NAN = math.nan
CLIMATE_WEEK = [20.0, 22.0] * 12 * 6 + [25.0] * 24
EXPECTED: list[tuple[str, str, float]] = [
    # inventory
    ("climate", "battery_powered", 1),
    ("climate", "mains_powered", 0),
    ("climate", "protocol", PROTOCOLS.index("zigbee")),
    ("plug", "protocol", PROTOCOLS.index("wifi")),
    ("plug", "battery_powered", 0),
    ("plug", "mains_powered", 1),
    ("climate", "entities", 3),
    ("plug", "entities", 4),
    ("climate", "numeric_entities", 3),
    ("door", "numeric_entities", 0),
    # kinds, from the entities alone
    ("climate", "kind_climate_sensor", 1),
    ("door", "kind_contact", 1),
    ("plug", "kind_plug", 1),
    ("new", "kind_light", 1),
    *(
        ("climate", f"kind_{kind}", 0)
        for kind in ("motion", "leak_smoke", "thermostat", "lock", "cover")
    ),
    ("climate", "kind_button", 0),
    ("climate", "kind_other", 0),
    # coverage
    ("climate", "observed_days_14d", 14),
    ("new", "observed_days_14d", 0),  # not in the home's rollups (yet)
    ("climate", "age_days", 14),
    ("door", "age_days", NAN),
    ("climate", "silence_h", 1),  # last report 23:00
    ("plug", "silence_h", 1),
    ("door", "silence_h", NAN),
    # heartbeat and the device's own rhythm
    ("climate", "reports_visible", 0),  # replayed without a re-report stream
    ("climate", "heartbeat_visible_14d", 1),  # its repeated values
    ("door", "heartbeat_visible_14d", 0),
    ("climate", "reported_7d", 0),
    ("new", "reported_7d", NAN),
    # every gap is 1 h: all in the [1 h, 2 h) bin, read log-linearly
    ("climate", "interval_p50_h", 2**0.5),
    ("climate", "interval_p95_h", 2**0.95),
    ("door", "interval_p50_h", NAN),
    ("climate", "silence_ratio_p50", 2**-0.5),
    ("climate", "silence_ratio_p95", 2**-0.95),
    ("door", "silence_ratio_p95", NAN),
    ("climate", "unchanged_h", 23),  # 25 °C since 00:00, still reported at 23:00
    ("flat", "unchanged_h", 13 * 24),
    ("step", "unchanged_h", 0.5 / 3600),  # stepped at 06:00, battery 0.5 s later
    ("door", "unchanged_h", NAN),
    # reports and their gaps: 24 hourly bursts a day, 26 events
    ("climate", "reports_1d", 24),
    ("climate", "reports_7d", 24),
    ("climate", "reports_ratio_1d_7d", 1),
    ("door", "reports_1d", 0),
    ("door", "reports_ratio_1d_7d", NAN),
    ("new", "reports_1d", NAN),
    ("climate", "events_per_report_7d", 26 / 24),
    ("door", "events_per_report_7d", NAN),
    ("climate", "interval_mean_7d", 3600),
    ("climate", "interval_cv_7d", 0),
    ("door", "interval_cv_7d", NAN),
    ("climate", "interval_max_1d", 3600),
    ("climate", "interval_max_7d", 3600),
    ("door", "interval_max_7d", NAN),
    ("climate", "interval_max_ratio_1d", 1),
    # availability
    ("plug", "unavailable_1d", 1),
    ("plug", "unavailable_7d", 1 / 7),
    ("plug", "unavailable_trend", 1 / 7 - 2 / 7),
    ("climate", "unavailable_trend", 0),
    ("plug", "unavailable_frac_1d", 3600 / (4 * 86400)),
    ("plug", "unavailable_frac_7d", 3600 / (4 * 7 * 86400)),
    ("plug", "unknown_7d", 1 / 7),
    ("plug", "unknown_frac_7d", 3600.2 / (4 * 7 * 86400)),
    ("plug", "unavailable_at_end", 1 / 4),
    ("climate", "unavailable_at_end", 0),
    ("new", "unavailable_at_end", NAN),
    # activity: climate changes every hour until it sticks on day 13
    ("climate", "changes_1d", 1),
    ("climate", "changes_7d", (6 * 24 + 1) / 7),
    ("climate", "changes_ratio_1d_7d", 7 / 145),
    ("plug", "changes_1d", 4),
    ("climate", "night_changes_frac_7d", (6 * 6 + 1) / 145),
    ("door", "night_changes_frac_7d", NAN),
    ("climate", "hour_profile_shift_1d", 23 / 24),  # all at 00:00 vs even spread
    ("plug", "hour_profile_shift_1d", 0),
    ("door", "hour_profile_shift_1d", NAN),
    ("plug", "flaps_1d", 1),
    ("plug", "flaps_7d", 1),
    ("plug", "flap_frac_7d", 0.25),
    ("climate", "flaps_7d", 0),
    ("plug", "binary_flaps_1d", 1),
    ("plug", "binary_flaps_7d", 1),
    ("plug", "binary_flap_frac_7d", 0.25),
    ("plug", "binary_flaps_ratio_1d", 1),  # as many as on the days before
    ("climate", "binary_flap_frac_7d", NAN),
    ("new", "binary_flaps_ratio_1d", NAN),
    # frozen values
    ("climate", "frozen_max_1d", 23),
    ("climate", "frozen_max_7d", 23),
    ("flat", "frozen_max_1d", 13 * 24),  # the same 5 °C since day 0
    ("plug", "frozen_max_1d", NAN),  # no numeric activity entity
    ("climate", "repeat_frac_1d", 23 / 24),
    ("climate", "repeat_frac_7d", 23 / 168),
    ("plug", "repeat_frac_7d", NAN),
    ("plug", "non_numeric_frac_7d", 1 / 59),
    ("climate", "non_numeric_frac_7d", 0),
    # the primary value
    ("climate", "value_mean_1d", 25),
    ("climate", "value_std_1d", 0),
    ("climate", "value_range_1d", 0),
    ("climate", "value_std_7d", statistics.pstdev(CLIMATE_WEEK)),
    ("climate", "value_z_1d", (25 - 21) / 1),
    ("step", "value_z_1d", 1000),  # moved after a week without any spread
    ("flat", "value_z_1d", 0),
    ("climate", "value_std_ratio_1d_7d", 0),
    ("flat", "value_std_ratio_1d_7d", NAN),
    # battery
    ("climate", "battery_last", 74),
    ("climate", "battery_min_7d", 74),
    ("climate", "battery_slope_7d", -2),
    ("climate", "battery_slope_14d", -2),
    ("climate", "battery_days_left", 37),
    ("step", "battery_slope_14d", 0),
    ("step", "battery_days_left", 3650),
    ("door", "battery_days_left", NAN),
    ("climate", "battery_reports_7d", 1),
    ("door", "battery_reports_7d", 0),
    ("climate", "battery_level", 74),
    ("step", "battery_level", 90),
    ("door", "battery_level", NAN),
    ("climate", "battery_stale_h", 12 - 0.5 / 3600),  # read at 12:00:00.5
    ("door", "battery_stale_h", NAN),
    ("climate", "battery_levels_180d", 14),
    ("step", "battery_levels_180d", 1),
    ("climate", "battery_step", 2),
    ("step", "battery_step", NAN),
    ("climate", "battery_slope_180d", -2),
    ("step", "battery_slope_180d", 0),
    ("door", "battery_slope_180d", NAN),
    # link
    ("climate", "lqi_mean_1d", 135),
    ("climate", "lqi_mean_7d", 150),
    ("climate", "lqi_min_1d", 135),
    ("climate", "lqi_slope_14d", -5),
    ("plug", "lqi_mean_1d", NAN),
    ("plug", "rssi_mean_1d", -63),
    ("plug", "rssi_mean_7d", -60),
    ("plug", "rssi_min_1d", -63),
    ("plug", "rssi_slope_14d", -1),
    # power and energy
    ("plug", "power_mean_1d", 50),
    ("plug", "power_max_1d", 100),
    ("climate", "power_mean_1d", NAN),
    ("plug", "energy_1d", 0.1),  # the restart's first 0.1 kWh
    ("plug", "energy_7d", (6 * 0.2 + 0.1) / 7),
    ("climate", "energy_7d", NAN),
    # against the device's own days 8-28 back (here days 0-6)
    ("climate", "lqi_drop_1d", 1 - 135 / 185),  # LQI 200 - 5 d: 185 on days 0-6
    ("climate", "lqi_drop_7d", 1 - 150 / 185),
    ("plug", "lqi_drop_1d", NAN),
    ("plug", "rssi_drop_1d", -53 - -63),  # RSSI -50 - d: -53 on days 0-6
    ("plug", "rssi_drop_7d", -53 - -60),
    ("climate", "rssi_drop_7d", NAN),
    ("climate", "reports_ratio_1d_base", 1),
    ("climate", "reports_ratio_7d_base", 1),
    # 4 reports a day, 2 more on days 1 and 3; 5 on day 13; 31 in days 7-13
    ("plug", "reports_ratio_1d_base", 5 / (32 / 7)),
    ("plug", "reports_ratio_7d_base", 31 / 32),
    ("door", "reports_ratio_7d_base", NAN),  # never reported
    ("climate", "long_gaps_1d", 0),  # every gap 1 h, none above the 95th percentile
    ("climate", "long_gaps_7d", 0),
    ("climate", "long_gap_frac_7d", 0),
    ("door", "long_gaps_7d", NAN),
    ("climate", "gap_max_ratio_1d", 2**-0.95),
    ("door", "gap_max_ratio_1d", NAN),
    ("plug", "unavailable_excess_7d", 1 / 7 - 2 / 7),
    ("climate", "unavailable_excess_7d", 0),
    ("plug", "binary_flaps_ratio_7d_base", 1),  # one flap a day, as before
    ("new", "binary_flaps_ratio_7d_base", NAN),
    ("climate", "changes_ratio_7d_base", (145 / 7) / (167 / 7)),
    ("flat", "changes_ratio_7d_base", NAN),
    ("flat", "frozen_ratio_1d", 13 / 6),  # held 13 days, 6 at most by day 6
    ("flat", "frozen_ratio_7d", 13 / 6),
    ("step", "frozen_ratio_1d", 0),  # stepped on day 13
    ("step", "frozen_ratio_7d", 12 / 6),
    ("climate", "frozen_ratio_1d", NAN),  # never held a value on days 0-6
    ("climate", "battery_fall_7d", 88 - 74),
    ("climate", "battery_fall_28d", 100 - 74),
    ("climate", "battery_days_left_7d", 74 / 2),
    ("step", "battery_fall_7d", 0),
    ("step", "battery_fall_28d", 0),
    ("step", "battery_days_left_7d", 3650),
    ("door", "battery_days_left_7d", NAN),
]


@pytest.mark.parametrize(
    ("device_id", "name", "expected"),
    EXPECTED,
    ids=[f"{d}-{n}" for d, n, _ in EXPECTED],
)
def test_device_feature(
    features: dict[str, dict[str, float]], device_id: str, name: str, expected: float
) -> None:
    value = features[device_id][name]
    if math.isnan(expected):
        assert math.isnan(value)
    else:
        assert value == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_every_device_feature_is_checked() -> None:
    assert {name for _, name, _ in EXPECTED} == set(DEVICE_SCHEMA.names)


def test_rows_per_day_equal_features_as_of_each_day(rollups: tuple) -> None:
    rows = device_feature_rows(INVENTORY, rollups)
    assert rows.shape == (14, len(INVENTORY.devices), len(DEVICE_SCHEMA))
    for i in range(len(rollups)):
        assert np.array_equal(
            rows[i], device_features(INVENTORY, rollups[: i + 1]), equal_nan=True
        )
    # As of day 0 nothing from later days leaks in: day 0 had 23 changes.
    changes = DEVICE_SCHEMA.index("changes_1d")
    assert rows[0, 0, changes] == 23
    assert rows[12, 0, DEVICE_SCHEMA.index("value_mean_1d")] == 21


def test_only_the_last_window_of_days_is_read(rollups: tuple) -> None:
    # Days in front of the last LONG_WINDOW_DAYS change nothing.
    window = (*rollups, *rollups)
    assert len(window) == LONG_WINDOW_DAYS
    assert np.array_equal(
        device_features(INVENTORY, (*rollups[:5], *window)),
        device_features(INVENTORY, window),
        equal_nan=True,
    )


KINDS = [
    ("motion", [Entity("binary_sensor.x", "binary_sensor", "occupancy")]),
    ("contact", [Entity("binary_sensor.x", "binary_sensor", "window")]),
    (
        "leak_smoke",
        [
            Entity("binary_sensor.x", "binary_sensor", "moisture"),
            Entity("sensor.x_t", "sensor", "temperature", "°C"),
        ],
    ),
    ("climate_sensor", [Entity("sensor.x_h", "sensor", "humidity", "%")]),
    (
        "thermostat",
        [Entity("climate.x", "climate"), Entity("sensor.x_t", "sensor", "temperature")],
    ),
    ("plug", [Entity("switch.x", "switch"), Entity("sensor.x_w", "sensor", "power")]),
    ("light", [Entity("light.x", "light")]),
    ("lock", [Entity("lock.x", "lock"), Entity("sensor.x_b", "sensor", "battery")]),
    ("cover", [Entity("cover.x", "cover")]),
    ("button", [Entity("event.x", "event")]),
    ("button", [Entity("sensor.remote_action", "sensor")]),
    (
        "motion",  # a motion sensor that also measures temperature
        [
            Entity("binary_sensor.x", "binary_sensor", "motion"),
            Entity("sensor.x_t", "sensor", "temperature", "°C"),
        ],
    ),
    ("other", [Entity("media_player.x", "media_player")]),
    ("other", []),
]


@pytest.mark.parametrize(("kind", "entities"), KINDS)
def test_device_kinds_come_from_the_entities(kind: str, entities: list) -> None:
    assert device_kind(device("x", *entities)) == kind
    row = device_features(Inventory("h", "UTC", devices=(device("x", *entities),)), ())
    flags = [row[0, DEVICE_SCHEMA.index(f"kind_{k}")] for k in DEVICE_KINDS]
    assert flags == [float(k == kind) for k in DEVICE_KINDS]


def test_a_device_leaving_longer_gaps_than_it_used_to_is_seen() -> None:
    """Hourly for 20 days, then every 4 h: long against its own days 0-13."""
    radio = device(
        "radio",
        Entity("sensor.r_t", "sensor", "temperature", "°C"),
        Entity("sensor.r_linkquality", "sensor", None, "lqi"),
    )
    inventory = Inventory("gaps", "UTC", devices=(radio,))
    events = []
    for d in range(21):
        for h in range(0, 24, 4 if d == 20 else 1):
            events.append(("sensor.r_t", str(20 + h % 2), None, T(d, h)))
            lqi = "60" if d == 20 else "200"  # the link collapses on the last day
            events.append(("sensor.r_linkquality", lqi, None, T(d, h, 0, 0.5)))
    aggregator = TelemetryAggregator(inventory, start=DAY0)
    feed(aggregator, events)
    aggregator.advance_to(T(21, 0))
    vector = device_features(inventory, aggregator.history)[0]
    row = dict(zip(DEVICE_SCHEMA.names, vector.tolist(), strict=True))
    # Five 4-h gaps, in a bin wholly above the baseline's p95 of 2**0.95 h.
    assert row["long_gaps_1d"] == 5
    assert row["long_gaps_7d"] == pytest.approx(5 / 7)
    assert row["long_gap_frac_7d"] == pytest.approx(5 / (6 * 24 + 6))
    assert row["gap_max_ratio_1d"] == pytest.approx(4 / 2**0.95)
    assert row["reports_ratio_1d_base"] == pytest.approx(6 / 24)
    assert row["lqi_drop_1d"] == pytest.approx(1 - 60 / 200)
    assert row["lqi_drop_7d"] == pytest.approx(1 - (6 * 24 * 200 + 6 * 60) / 150 / 200)


def test_every_kind_is_tried() -> None:
    assert {kind for kind, _ in KINDS} == set(DEVICE_KINDS)


def test_features_without_rollups_keep_the_inventory_part() -> None:
    matrix = device_features(INVENTORY, ())
    assert matrix.shape == (len(INVENTORY.devices), len(DEVICE_SCHEMA))
    entities = DEVICE_SCHEMA.index("entities")
    assert matrix[:, entities].tolist() == [3, 4, 1, 2, 1, 1]
    dynamic = [DEVICE_SCHEMA.index(n) for n in ("reports_1d", "unavailable_at_end")]
    assert np.isnan(matrix[:, dynamic]).all()
    assert matrix[:, DEVICE_SCHEMA.index("observed_days_14d")].tolist() == [0] * 6


def test_what_reads_the_inventory_alone_is_kept_per_inventory(
    rollups: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Computed once per inventory, never mixed up between inventories."""
    calls: list[tuple] = []
    compute = features_module._static_columns

    def counted(devices: tuple) -> dict:
        calls.append(devices)
        return compute(devices)

    monkeypatch.setattr(features_module, "_static_columns", counted)
    devices = INVENTORY.devices
    homes = (
        [  # more homes than are kept, each its own device tuple
            Inventory("h", "UTC", devices=tuple(devices[i:] + devices[:i]))
            for i in range(len(devices))
        ]
        * 2
    )
    homes += [Inventory("h", "UTC", devices=devices[:n]) for n in range(1, 6)]
    first = [device_features(home, rollups) for home in homes]
    first[0][:] = -1.0  # the caller's matrix is its own
    again = [device_features(home, rollups) for home in reversed(homes)][::-1]
    before = len(calls)
    np.testing.assert_array_equal(device_features(homes[0], rollups), again[0])
    assert len(calls) == before  # the latest inventory's: kept, not computed again
    for home, matrix in zip(homes[1:], again[1:], strict=True):
        fresh = Inventory("h", "UTC", devices=(*home.devices,))
        assert fresh.devices is not home.devices  # computed afresh
        np.testing.assert_array_equal(matrix, device_features(fresh, rollups))
    np.testing.assert_array_equal(again[0], again[len(devices)])
    assert len(calls) > before


def test_features_fit_float32(rollups: tuple) -> None:
    matrix = device_features(INVENTORY, rollups)
    finite = matrix[np.isfinite(matrix)]
    assert np.all(np.abs(finite) < np.finfo(np.float32).max)
    assert not np.isinf(matrix).any()


def test_a_device_paired_during_the_window_counts_only_its_days() -> None:
    before = Inventory("h", "UTC", devices=(FLAT,))
    after = Inventory("h", "UTC", devices=(FLAT, NEW))
    first = TelemetryAggregator(before, start=DAY0)
    feed(first, [("sensor.g_t", "5", None, T(d, 12)) for d in range(10)])
    second = TelemetryAggregator.from_json(after, first.to_json())
    feed(
        second,
        [("light.n", "on" if d % 2 else "off", None, T(d, 12)) for d in range(10, 14)],
    )
    second.advance_to(T(14, 0))
    row = device_features(after, second.history)[1]
    named = dict(zip(DEVICE_SCHEMA.names, row.tolist(), strict=True))
    # Paired while day 9 was under way: in the rollups of days 9 to 13.
    assert named["observed_days_14d"] == 5
    assert named["changes_7d"] == 3 / 5  # first seen on day 10, then 3 changes
    assert named["age_days"] == 3.5


def test_rates_are_per_watched_day_on_daylight_saving_days() -> None:
    zone = "Europe/Amsterdam"
    inventory = Inventory("h", zone, devices=(FLAT,))
    aggregator = TelemetryAggregator(inventory, start=at("2026-03-28 00:00", zone))
    # An hourly reporter: 24 reports on the 28th, 23 on the 29th (clocks forward).
    hour = at("2026-03-28 00:00", zone)
    while hour < at("2026-03-30 00:00", zone):
        aggregator.record("sensor.g_t", "5", None, hour)
        hour += 3600
    aggregator.advance_to(at("2026-03-30 00:00", zone))
    saturday, sunday = aggregator.history
    assert sunday.device("flat")["reports"] == 23
    reports = DEVICE_SCHEMA.index("reports_1d")
    assert device_features(inventory, [saturday])[0, reports] == 24
    assert device_features(inventory, [saturday, sunday])[0, reports] == 24


# --- the home scenario: four days in Amsterdam, Friday to Monday --------------------

ZONE = "Europe/Amsterdam"
HOME = Inventory(
    "house",
    ZONE,
    floors=(
        Floor("cellar", "Cellar", -1),
        Floor("ground", "Ground floor", 0),
        Floor("first", "First floor", 1),
        Floor("attic", "Attic", 2),
        Floor("annex", "Annex", None),
    ),
    areas=(
        Area("master_bedroom", "Master Bedroom", "first"),
        Area("bedroom_2", "Bedroom 2", "first"),
        Area("kids", "Kids bedroom", "first"),
        Area("bathroom", "Bathroom", "first"),
        Area("wc", "WC", "ground"),
        Area("kitchen", "Kitchen", "ground"),
        Area("living_room", "Living room", "ground"),
        Area("garage", "Garage", "ground"),
        Area("back_yard", "Back yard", None),
        Area("garden", "Garden", None),
        Area("stairs", "Stairs", "ground"),
        Area("cellar", "Cellar", "cellar"),
        Area("office", "Home office", "attic"),
        Area("laundry", "Laundry", "cellar"),
        Area("loft", "Loft", "attic"),
        Area("balcony", "Balcony", "first"),
    ),
    devices=(
        device(
            "lamp",
            Entity("light.lamp", "light"),
            area_id="living_room",
            power_source="mains",
        ),
        device(
            "plug1",
            Entity("switch.p1", "switch"),
            Entity("sensor.p1_power", "sensor", "power", "W"),
            Entity("sensor.p1_energy", "sensor", "energy", "kWh"),
            area_id="kitchen",
            protocol="wifi",
            power_source="mains",
        ),
        device(
            "plug2",
            Entity("switch.p2", "switch"),
            Entity("sensor.p2_power", "sensor", "power", "kW"),
            area_id="garage",
            protocol="z-wave",
            power_source="mains",
        ),
        device(
            "multi",
            Entity("binary_sensor.hall_motion", "binary_sensor", "motion", None),
            Entity("sensor.hall_t", "sensor", "temperature", "°C"),
            Entity("sensor.hall_lux", "sensor", "illuminance", "lx"),
            Entity("sensor.hall_battery", "sensor", "battery", "%"),
            area_id="stairs",
        ),
        device(
            "lock",
            Entity("lock.front", "lock"),
            Entity("binary_sensor.front", "binary_sensor", "door", None),
            protocol="matter",
            power_source="unknown",
        ),
        device("thermostat", Entity("climate.living", "climate"), protocol="thread"),
        device("vacuum", Entity("vacuum.robbie", "vacuum"), protocol="wifi"),
        device("hub", Entity("update.hub_firmware", "update"), protocol="ethernet"),
    ),
    entities=(
        Entity("person.anna", "person"),
        Entity("person.ben", "person"),
        Entity("sun.sun", "sun"),
        Entity("input_boolean.guest_mode", "input_boolean"),
    ),
)
CHANGE_HOURS = {  # local hours of the lamp's changes, per day
    "2026-01-02": [7, 7, 7, 7, 19, 19],  # Friday
    "2026-01-03": [10] * 6 + [23, 23],  # Saturday
    "2026-01-04": [10] * 8,  # Sunday
    "2026-01-05": [7] * 4 + [19, 19],  # Monday
}


def _home_events() -> list[tuple]:
    events = [("light.lamp", "off", None, at("2026-01-02 00:00", ZONE))]
    on = False
    for day, hours in CHANGE_HOURS.items():
        for i, hour in enumerate(hours):
            on = not on
            events.append(
                (
                    "light.lamp",
                    "on" if on else "off",
                    None,
                    at(f"{day} {hour:02d}:{i * 2:02d}", ZONE),
                )
            )
    events += [
        ("sensor.p1_power", "80", None, at("2026-01-02 12:00", ZONE)),
        ("sensor.p1_power", "120", None, at("2026-01-05 12:00", ZONE)),
        ("sensor.p2_power", "0.05", None, at("2026-01-03 12:00", ZONE)),  # 50 W
        ("sensor.p1_energy", "1.0", None, at("2026-01-02 13:00", ZONE)),
        ("sensor.p1_energy", "3.0", None, at("2026-01-05 13:00", ZONE)),
    ]
    return sorted(events, key=lambda event: event[3])


@pytest.fixture(scope="module")
def home_vector() -> dict[str, float]:
    aggregator = TelemetryAggregator(HOME, start=at("2026-01-02 00:00", ZONE))
    feed(aggregator, _home_events())
    aggregator.advance_to(at("2026-01-06 00:00", ZONE))
    assert len(aggregator.history) == 4
    vector = home_features(HOME, aggregator.history)
    rows = home_feature_rows(HOME, aggregator.history)
    assert np.array_equal(rows[-1], vector, equal_nan=True)
    assert rows.shape == (4, len(HOME_SCHEMA))
    return dict(zip(HOME_SCHEMA.names, vector.tolist(), strict=True))


HOURS_TOTAL = [8, 14, 4, 2]  # changes at 07, 10, 19 and 23 h
HOME_EXPECTED: dict[str, float] = {
    "devices": 8,
    "entities": 15 + 4,
    "device_less_entities": 4,
    "areas": 16,
    "floors": 5,
    "floor_span": 4,  # levels -1 to 2
    "lowest_level": -1,
    "areas_per_floor": 14 / 5,  # two areas are on no floor
    "devices_per_area": 4 / 16,
    "battery_device_frac": 4 / 8,
    "mains_device_frac": 3 / 8,
    "domain_light": 1,
    "domain_switch": 2,
    "domain_sensor": 6,
    "domain_binary_sensor": 2,
    "domain_climate": 1,
    "domain_cover": 0,
    "domain_media_player": 0,
    "domain_lock": 1,
    "domain_camera": 0,
    "domain_fan": 0,
    "domain_vacuum": 1,
    "domain_person": 2,
    "domain_device_tracker": 0,
    "domain_alarm_control_panel": 0,
    "domain_water_heater": 0,
    "domain_lawn_mower": 0,
    "domain_other": 3,  # update, sun, input_boolean
    "class_motion": 1,
    "class_occupancy": 0,
    "class_door": 1,
    "class_window": 0,
    "class_garage_door": 0,
    "class_temperature": 1,
    "class_humidity": 0,
    "class_power": 2,
    "class_energy": 1,
    "class_battery": 1,
    "class_smoke": 0,
    "class_moisture": 0,
    "class_illuminance": 1,
    "class_carbon_dioxide": 0,
    "class_gas": 0,
    "protocol_zigbee": 2,
    "protocol_z_wave": 1,
    "protocol_wifi": 2,
    "protocol_matter": 1,
    "protocol_thread": 1,
    "protocol_bluetooth": 0,
    "protocol_ethernet": 1,
    "protocol_other": 0,
    "protocol_unknown": 0,
    "areas_bedroom": 3,
    "areas_bathroom": 2,
    "areas_kitchen": 1,
    "areas_living": 1,
    "areas_office": 1,
    "areas_garage": 1,
    "areas_garden": 2,
    "areas_balcony": 1,
    "areas_stairs": 1,
    "areas_basement": 1,
    "areas_attic": 1,
    "areas_laundry": 1,
    "observed_days": 4,
    "events_per_day": (1 + 28 + 5) / 4,
    "changes_per_day": 28 / 4,
    "changes_per_device_day": 28 / 4 / 8,
    "night_frac": 0,
    "morning_frac": (8 + 14) / 28,
    "afternoon_frac": 0,
    "evening_frac": (4 + 2) / 28,
    "peak_hour": 10,
    "hour_entropy": -sum(n / 28 * math.log2(n / 28) for n in HOURS_TOTAL),
    "active_hours": 4,
    "weekend_ratio": (16 / 2) / (12 / 2),
    "daily_changes_cv": statistics.pstdev([6, 8, 8, 6]) / 7,
    "total_power_w": 100 + 50,
    "energy_kwh_per_day": 2.0 / 4,
}


@pytest.mark.parametrize(("name", "expected"), HOME_EXPECTED.items())
def test_home_feature(
    home_vector: dict[str, float], name: str, expected: float
) -> None:
    assert home_vector[name] == pytest.approx(expected, rel=1e-12)


def test_every_home_feature_is_checked() -> None:
    assert list(HOME_EXPECTED) == list(HOME_SCHEMA.names)


def test_home_without_history_or_devices() -> None:
    empty = Inventory("empty", "UTC")
    vector = dict(
        zip(HOME_SCHEMA.names, home_features(empty, ()).tolist(), strict=True)
    )
    assert vector["devices"] == vector["observed_days"] == 0
    for name in (
        "floor_span",
        "areas_per_floor",
        "devices_per_area",
        "battery_device_frac",
        "changes_per_day",
        "changes_per_device_day",
        "peak_hour",
        "hour_entropy",
        "weekend_ratio",
        "daily_changes_cv",
        "total_power_w",
        "energy_kwh_per_day",
    ):
        assert math.isnan(vector[name]), name
    assert home_feature_rows(empty, ()).shape == (0, len(HOME_SCHEMA))


def test_weekend_ratio_needs_both_kinds_of_day() -> None:
    aggregator = TelemetryAggregator(HOME, start=at("2026-01-05 00:00", ZONE))
    feed(
        aggregator,
        [
            ("light.lamp", "on", None, at("2026-01-05 08:00", ZONE)),
            ("light.lamp", "off", None, at("2026-01-05 09:00", ZONE)),
        ],
    )
    aggregator.advance_to(at("2026-01-06 00:00", ZONE))
    vector = home_features(HOME, aggregator.history)
    assert math.isnan(vector[HOME_SCHEMA.index("weekend_ratio")])
    assert math.isnan(vector[HOME_SCHEMA.index("daily_changes_cv")])  # one day
    assert vector[HOME_SCHEMA.index("peak_hour")] == 9


# --- the schema object --------------------------------------------------------------


def test_schemas_are_versioned_with_units_and_descriptions() -> None:
    for schema in (HOME_SCHEMA, DEVICE_SCHEMA):
        assert schema.version >= 1
        assert all(f.unit and f.description for f in schema.features)
        assert all(f.name.isidentifier() for f in schema.features)
        data = schema.to_json()
        assert data["fingerprint"] == schema.fingerprint()
        assert [f[0] for f in data["features"]] == list(schema.names)
        assert schema.index(schema.names[-1]) == len(schema) - 1


def test_the_fingerprint_follows_names_units_and_version() -> None:
    spec = (FeatureSpec("a", "s", "x"),)
    base = FeatureSchema("device", 1, spec).fingerprint()
    assert (
        FeatureSchema("device", 1, (FeatureSpec("a", "s", "other text"),)).fingerprint()
        == base
    )
    assert FeatureSchema("device", 2, spec).fingerprint() != base
    assert (
        FeatureSchema("device", 1, (FeatureSpec("a", "h", "x"),)).fingerprint() != base
    )
    assert (
        FeatureSchema("device", 1, (FeatureSpec("b", "s", "x"),)).fingerprint() != base
    )


def test_duplicate_feature_names_are_refused() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        FeatureSchema(
            "home", 1, (FeatureSpec("a", "s", "x"), FeatureSpec("a", "h", "y"))
        )
