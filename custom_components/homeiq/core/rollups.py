"""Daily rollups: one home-day of per-device telemetry, and its JSON form.

The aggregator (`aggregator.py`) folds every state event into counters for the
current local day; at midnight it closes the day into a `DayRollup`. Rollups are
what the features read, what the integration persists in Home Assistant's storage
and what it exports next to a dataset, so the same rollup must come back from JSON
bit for bit: every number is either a finite float (JSON keeps Python's shortest
repr, which reads back to the same float) or missing (NaN in memory, `null` in
JSON). Nothing infinite is ever stored, so `null` always means NaN.

A rollup is dense: one row of `DEVICE_FIELDS` per device of the inventory, also
for devices that said nothing that day, so features can be computed "as of" the
end of any day from a fixed window of rollups.
"""

from dataclasses import dataclass
import math
from typing import Any, Self

import numpy as np

ROLLUP_FORMAT = "homeiq-rollup"
ROLLUP_VERSION = 1

# Numeric channels kept per device: the device's primary measurement, its battery
# level (%), Zigbee link quality (LQI, 0-255), radio signal strength (RSSI, dBm) and
# electrical power (W).
CHANNELS = ("value", "battery", "lqi", "rssi", "power")
# Per channel and day: count, sum, sum of squares, min, max, last value, and the
# sum of the sample times in seconds after the day's start (for time centroids).
CHANNEL_STATS = ("n", "sum", "sumsq", "min", "max", "last", "tsum")

# What each device row holds, in order. Counts are per day; `first_seen` and
# `last_seen` carry the device's first and latest event ever (POSIX seconds).
DEVICE_FIELDS: tuple[str, ...] = (
    "events",  # events of any of the device's entities
    "reports",  # bursts: events more than BURST_SECONDS after the previous one
    "interval_n",  # gaps between the starts of consecutive reports, ending today
    "interval_sum",  # their sum (s)
    "interval_sumsq",  # sum of squares (s²)
    "interval_max",  # the longest (s), NaN without any
    "changes",  # state changes between valid states of activity entities
    "flaps",  # changes less than FLAP_SECONDS after the entity's previous one
    "numeric_reports",  # numeric reports of activity entities
    "numeric_repeats",  # ... that repeated the entity's current value
    "frozen_max",  # longest time a numeric value stayed unchanged while reported (s)
    "unavailable_n",  # entity transitions into "unavailable"
    "unavailable_s",  # entity-seconds spent "unavailable" this day
    "unknown_n",  # entity transitions into "unknown"
    "unknown_s",  # entity-seconds spent "unknown" this day
    "unavailable_at_end",  # entities unavailable or unknown at the day's end
    "non_numeric",  # states of numeric entities that were not numbers
    "energy_kwh",  # energy consumed per the device's cumulative meters (kWh)
    "first_seen",  # POSIX s of the device's first event ever, NaN if none yet
    "last_seen",  # POSIX s of its latest event, NaN if none yet
    *(f"{channel}_{stat}" for channel in CHANNELS for stat in CHANNEL_STATS),
)
FIELD_INDEX = {name: i for i, name in enumerate(DEVICE_FIELDS)}

# Odd input, counted per day: what it is and what the aggregator did with it.
COUNTERS: dict[str, str] = {
    "unknown_entity": "entity not in the inventory; event skipped",
    "bad_entity_id": "entity id not a string; event skipped",
    "bad_state": "state not a string; event skipped",
    "oversized_state": "state longer than 255 characters; truncated",
    "non_numeric": "a numeric entity's state is not a number; no value taken",
    "non_finite": "NaN or infinite number; no value taken",
    "out_of_range": "number beyond ±1e12; no value taken",
    "bad_attributes": "attributes not a mapping where a reading was due; ignored",
    "bad_attribute_value": "battery or link attribute not a usable number; ignored",
    "bad_time": "timestamp not a finite time in 1970-2100; event skipped",
    "clock_backwards": "older than the previous event of the day; time clamped",
    "late_event": "older than the current day or than watching; event skipped",
    "energy_reset": "cumulative energy meter went down; taken as a reset",
    "skipped_days": "silent days beyond the kept history; not rolled up",
}
HOURS = 24


class RollupError(ValueError):
    """Rollup JSON that is not in the format this version writes."""


@dataclass(frozen=True, slots=True, eq=False)
class DayRollup:
    """One local day of a home's telemetry, dense over the inventory's devices.

    `values[i]` is the `DEVICE_FIELDS` row of `device_ids[i]` (NaN: no data),
    `hours[i]` its state changes by local hour of day. The home part counts every
    entity in the inventory, device-less ones (`person.*`, helpers) included.
    """

    day: str  # local date, ISO (YYYY-MM-DD)
    time_zone: str
    start: float  # POSIX s of local midnight
    end: float  # POSIX s of the next local midnight (23, 24 or 25 h later)
    observed_s: float  # seconds of the day the aggregator was watching
    device_ids: tuple[str, ...]
    values: np.ndarray  # float64 (devices, DEVICE_FIELDS)
    hours: np.ndarray  # int64 (devices, 24)
    home_events: int
    home_changes: int
    home_hours: np.ndarray  # int64 (24,)
    counters: dict[str, int]

    def __eq__(self, other: object) -> bool:
        """Return True when both hold the same numbers, NaN equal to NaN."""
        if not isinstance(other, DayRollup):
            return NotImplemented
        return (
            (self.day, self.time_zone, self.device_ids, self.counters)
            == (other.day, other.time_zone, other.device_ids, other.counters)
            and _identical(
                np.array([self.start, self.end, self.observed_s]),
                np.array([other.start, other.end, other.observed_s]),
            )
            and (self.home_events, self.home_changes)
            == (other.home_events, other.home_changes)
            and np.array_equal(self.home_hours, other.home_hours)
            and np.array_equal(self.hours, other.hours)
            and _identical(self.values, other.values)
        )

    __hash__ = None  # type: ignore[assignment]

    def device(self, device_id: str) -> dict[str, float]:
        """Return one device's row as {field: value}; KeyError if absent."""
        if device_id not in self.device_ids:
            raise KeyError(f"no device {device_id!r} in the rollup of {self.day}")
        row = self.values[self.device_ids.index(device_id)]
        return dict(zip(DEVICE_FIELDS, row.tolist(), strict=True))

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form: NaN becomes null, every other float is exact."""
        return {
            "format": ROLLUP_FORMAT,
            "version": ROLLUP_VERSION,
            "day": self.day,
            "time_zone": self.time_zone,
            "start": self.start,
            "end": self.end,
            "observed_s": self.observed_s,
            "home": {
                "events": self.home_events,
                "changes": self.home_changes,
                "hours": self.home_hours.tolist(),
            },
            "counters": dict(self.counters),
            "device_fields": list(DEVICE_FIELDS),
            "devices": {
                device_id: {"values": _nulls(row), "hours": hours}
                for device_id, row, hours in zip(
                    self.device_ids,
                    self.values.tolist(),
                    self.hours.tolist(),
                    strict=True,
                )
            },
        }

    @classmethod
    def from_json(cls, obj: object) -> Self:
        """Read the JSON form back; raise `RollupError` saying what is wrong."""
        data = _mapping(obj, "rollup")
        if data.get("format") != ROLLUP_FORMAT:
            raise RollupError(f"rollup: 'format' must be {ROLLUP_FORMAT!r}")
        if data.get("version") != ROLLUP_VERSION:
            raise RollupError(
                f"rollup: version {data.get('version')!r} is not supported"
                f" (known: {ROLLUP_VERSION})"
            )
        day = data.get("day")
        where = f"rollup {day}"
        if data.get("device_fields") != list(DEVICE_FIELDS):
            raise RollupError(f"{where}: 'device_fields' differ from this version's")
        home = _mapping(data.get("home"), f"{where} home")
        devices = _mapping(data.get("devices"), f"{where} devices")
        rows = []
        hours = []
        for device_id, item in devices.items():
            entry = _mapping(item, f"{where} device {device_id}")
            rows.append(
                _floats(entry.get("values"), len(DEVICE_FIELDS), f"{where} {device_id}")
            )
            hours.append(_counts(entry.get("hours"), HOURS, f"{where} {device_id}"))
        counters = _mapping(data.get("counters"), f"{where} counters")
        if set(counters) != set(COUNTERS):
            raise RollupError(f"{where}: 'counters' must name {', '.join(COUNTERS)}")
        return cls(
            day=_text(day, "rollup day"),
            time_zone=_text(data.get("time_zone"), f"{where} time_zone"),
            start=_finite(data.get("start"), f"{where} start"),
            end=_finite(data.get("end"), f"{where} end"),
            observed_s=_finite(data.get("observed_s"), f"{where} observed_s"),
            device_ids=tuple(devices),
            values=_frozen(
                np.array(rows, dtype=np.float64).reshape(len(rows), len(DEVICE_FIELDS))
            ),
            hours=_frozen(np.array(hours, dtype=np.int64).reshape(len(rows), HOURS)),
            home_events=_counts([home.get("events")], 1, f"{where} home events")[0],
            home_changes=_counts([home.get("changes")], 1, f"{where} home changes")[0],
            home_hours=_frozen(
                np.array(
                    _counts(home.get("hours"), HOURS, f"{where} home hours"),
                    dtype=np.int64,
                )
            ),
            counters={
                name: _counts([counters[name]], 1, f"{where} counters")[0]
                for name in COUNTERS
            },
        )


def rollups_to_json(rollups: list[DayRollup]) -> list[dict[str, Any]]:
    """Return the JSON form of several rollups, oldest first."""
    return [rollup.to_json() for rollup in rollups]


def rollups_from_json(obj: object) -> list[DayRollup]:
    """Read a list of rollups written by `rollups_to_json`."""
    if not isinstance(obj, list):
        raise RollupError("rollups: expected a JSON list")
    return [DayRollup.from_json(item) for item in obj]


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _identical(a: np.ndarray, b: np.ndarray) -> bool:
    """Return True when the float arrays are identical, NaN and signed zeros too."""
    return a.shape == b.shape and bool(
        np.array_equal(a, b, equal_nan=True)
        and np.array_equal(np.signbit(a), np.signbit(b))
    )


def _nulls(row: list[float]) -> list[float | None]:
    return [value if math.isfinite(value) else None for value in row]


def _mapping(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RollupError(f"{where}: expected a JSON object")
    return value


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise RollupError(f"{where}: expected a non-empty string")
    return value


def _finite(value: object, where: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
    ):
        raise RollupError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


def _floats(value: object, length: int, where: str) -> list[float]:
    if not isinstance(value, list) or len(value) != length:
        raise RollupError(f"{where}: expected a list of {length} numbers or nulls")
    return [math.nan if item is None else _finite(item, where) for item in value]


def _counts(value: object, length: int, where: str) -> list[int]:
    if (
        not isinstance(value, list)
        or len(value) != length
        or not all(
            isinstance(item, int) and not isinstance(item, bool) and item >= 0
            for item in value
        )
    ):
        raise RollupError(f"{where}: expected {length} non-negative integers")
    return value
