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
ROLLUP_VERSION = 2

# Bin edges (s) of the report-interval histograms: 1, 5, 15, 30 min, 1, 2, 4, 8,
# 16, 32 and 64 h.
INTERVAL_EDGES = (
    60.0,
    300.0,
    900.0,
    1800.0,
    3600.0,
    7200.0,
    14400.0,
    28800.0,
    57600.0,
    115200.0,
    230400.0,
)
INTERVAL_BINS = len(INTERVAL_EDGES) + 1
LONG_DAYS = 180  # days of daily battery levels kept for the long-horizon fields

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
    "reported",  # re-reports without a change (HA's state_reported)
    "changes",  # state changes between valid states of activity entities
    "flaps",  # changes less than FLAP_SECONDS after the entity's previous one
    "binary_changes",  # changes of non-numeric activity entities (on/off, open …)
    "binary_flaps",  # ... less than FLAP_SECONDS after the entity's previous one
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
    # Gaps between reports, ending today, by length: bin i counts those in
    # [INTERVAL_EDGES[i-1], INTERVAL_EDGES[i]) seconds (open at both ends).
    *(f"interval_bin{i}" for i in range(INTERVAL_BINS)),
    # Carried across days, as of the day's end (gaps in the record excluded):
    "silence_s",  # watched seconds since the latest event or re-report, NaN: never
    "unchanged_s",  # watched seconds from the latest activity change to the latest
    # event or re-report (a stuck value keeps being reported), NaN: no activity seen
    "battery_at",  # POSIX s of the latest battery reading ever, NaN: none
    "battery_level",  # that reading (%)
    # The long battery history: the last level of each of the last LONG_DAYS days.
    "battery_long_days",  # days with a reading
    "battery_long_levels",  # distinct levels read
    "battery_long_step",  # smallest step between distinct levels (coarseness)
    "battery_long_slope",  # least-squares trend (%/day), NaN below 3 levels
)
FIELD_INDEX = {name: i for i, name in enumerate(DEVICE_FIELDS)}
# Version 1 rows had these fields; reading one fills the others with NaN or 0.
V1_DEVICE_FIELDS = tuple(
    name
    for name in DEVICE_FIELDS[: FIELD_INDEX["interval_bin0"]]
    if name not in {"reported", "binary_changes", "binary_flaps"}
)
_V1_COUNTS = ("reported", "binary_changes", "binary_flaps")

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
    "bad_gap": "gap not an interval of valid times; ignored",
}
HOURS = 24
# A device's state changes in one hour of one day: int32 holds 596 a second, and
# halves the largest part of 30 kept days after the device rows.
HOURS_DTYPE = np.int32


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
    hours: np.ndarray  # HOURS_DTYPE (devices, 24)
    home_events: int
    home_changes: int
    home_hours: np.ndarray  # int64 (24,)
    counters: dict[str, int]
    gap_s: float = 0.0  # seconds of the day inside gaps (nothing was recorded)
    home_reports: int = 0  # re-reports without a change, whole home
    reports_visible: bool = False  # the source records re-reports at all

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
            and (self.home_events, self.home_changes, self.gap_s)
            == (other.home_events, other.home_changes, other.gap_s)
            and (self.home_reports, self.reports_visible)
            == (other.home_reports, other.reports_visible)
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
            **self.header_json(),
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

    def header_json(self) -> dict[str, Any]:
        """Return the JSON form without its device rows (see `from_arrays`)."""
        return {
            "format": ROLLUP_FORMAT,
            "version": ROLLUP_VERSION,
            "day": self.day,
            "time_zone": self.time_zone,
            "start": self.start,
            "end": self.end,
            "observed_s": self.observed_s,
            "gap_s": self.gap_s,
            "home": {
                "events": self.home_events,
                "changes": self.home_changes,
                "hours": self.home_hours.tolist(),
                "reports": self.home_reports,
                "reports_visible": self.reports_visible,
            },
            "counters": dict(self.counters),
            "device_fields": list(DEVICE_FIELDS),
        }

    @classmethod
    def from_json(cls, obj: object) -> Self:
        """Read the JSON form back; raise `RollupError` saying what is wrong."""
        data, version, where = _header(obj)
        fields = DEVICE_FIELDS if version == ROLLUP_VERSION else V1_DEVICE_FIELDS
        devices = _mapping(data.get("devices"), f"{where} devices")
        rows = []
        hours = []
        for device_id, item in devices.items():
            entry = _mapping(item, f"{where} device {device_id}")
            row = _floats(entry.get("values"), len(fields), f"{where} {device_id}")
            rows.append(row if version == ROLLUP_VERSION else _from_v1(row))
            hours.append(_counts(entry.get("hours"), HOURS, f"{where} {device_id}"))
        return cls(
            device_ids=tuple(devices),
            values=_frozen(
                np.array(rows, dtype=np.float64).reshape(len(rows), len(DEVICE_FIELDS))
            ),
            hours=_frozen(_hour_counts(np.array(hours, np.int64), where, len(rows))),
            **_header_values(data, version, where),
        )

    @classmethod
    def from_arrays(
        cls,
        header: object,
        device_ids: object,
        values: np.ndarray,
        hours: np.ndarray,
    ) -> Self:
        """Read a rollup kept as its `header_json` and its two matrices.

        The compact form of storage: the rows are checked in bulk (no infinities,
        hour counts whole and non-negative), not value by value as `from_json`
        must, which makes restoring 30 days of 1,000 devices take milliseconds.
        """
        data, version, where = _header(header)
        fields = DEVICE_FIELDS if version == ROLLUP_VERSION else V1_DEVICE_FIELDS
        if (
            not isinstance(device_ids, list)
            or not all(item.__class__ is str for item in device_ids)
            or len(set(device_ids)) != len(device_ids)
        ):
            raise RollupError(f"{where}: device ids must be distinct strings")
        n = len(device_ids)
        if values.dtype != np.float64 or values.shape != (n, len(fields)):
            raise RollupError(f"{where}: expected {n} rows of {len(fields)} floats")
        if np.isinf(values).any():
            raise RollupError(f"{where}: device rows hold an infinite number")
        if hours.dtype.kind not in "iu" or hours.shape != (n, HOURS):
            raise RollupError(f"{where}: expected {n} rows of {HOURS} hour counts")
        if n and hours.min() < 0:
            raise RollupError(f"{where}: hour counts must be non-negative")
        if version != ROLLUP_VERSION:
            values = _from_v1_matrix(values)
        return cls(
            device_ids=tuple(device_ids),
            values=_frozen(np.array(values, dtype=np.float64)),
            hours=_frozen(_hour_counts(hours, where, n)),
            **_header_values(data, version, where),
        )


def _header(obj: object) -> tuple[dict[str, Any], int, str]:
    """Return a rollup's JSON object, its version and a name for errors."""
    data = _mapping(obj, "rollup")
    if data.get("format") != ROLLUP_FORMAT:
        raise RollupError(f"rollup: 'format' must be {ROLLUP_FORMAT!r}")
    version = data.get("version")
    if version not in {1, ROLLUP_VERSION} or isinstance(version, bool):
        raise RollupError(
            f"rollup: version {version!r} is not supported (known: 1, {ROLLUP_VERSION})"
        )
    where = f"rollup {data.get('day')}"
    fields = DEVICE_FIELDS if version == ROLLUP_VERSION else V1_DEVICE_FIELDS
    if data.get("device_fields") != list(fields):
        raise RollupError(f"{where}: 'device_fields' differ from this version's")
    return data, version, where


def _header_values(data: dict[str, Any], version: int, where: str) -> dict[str, Any]:
    """Return a rollup's fields other than its device rows, checked."""
    home = _mapping(data.get("home"), f"{where} home")
    counters = _mapping(data.get("counters"), f"{where} counters")
    if version == 1:
        counters = {"bad_gap": 0, **counters}
    if set(counters) != set(COUNTERS):
        raise RollupError(f"{where}: 'counters' must name {', '.join(COUNTERS)}")
    return {
        "day": _text(data.get("day"), "rollup day"),
        "time_zone": _text(data.get("time_zone"), f"{where} time_zone"),
        "start": _finite(data.get("start"), f"{where} start"),
        "end": _finite(data.get("end"), f"{where} end"),
        "observed_s": _finite(data.get("observed_s"), f"{where} observed_s"),
        "home_events": _counts([home.get("events")], 1, f"{where} home events")[0],
        "home_changes": _counts([home.get("changes")], 1, f"{where} home changes")[0],
        "home_hours": _frozen(
            np.array(
                _counts(home.get("hours"), HOURS, f"{where} home hours"),
                dtype=np.int64,
            )
        ),
        "counters": {
            name: _counts([counters[name]], 1, f"{where} counters")[0]
            for name in COUNTERS
        },
        "gap_s": _finite(data.get("gap_s", 0.0), f"{where} gap_s"),
        "home_reports": _counts([home.get("reports", 0)], 1, f"{where} home reports")[
            0
        ],
        "reports_visible": _flag(home.get("reports_visible", False), where),
    }


def _hour_counts(hours: np.ndarray, where: str, rows: int) -> np.ndarray:
    """Return (rows, 24) hour counts as HOURS_DTYPE; refuse what does not fit."""
    hours = hours.reshape(rows, HOURS)
    if rows and hours.max() > np.iinfo(HOURS_DTYPE).max:
        raise RollupError(f"{where}: an hour count is beyond {HOURS_DTYPE.__name__}")
    return hours.astype(HOURS_DTYPE)


def _from_v1_matrix(values: np.ndarray) -> np.ndarray:
    """Return version-1 rows in this version's fields, as `_from_v1` does one."""
    out = np.full((values.shape[0], len(DEVICE_FIELDS)), math.nan)
    out[:, [FIELD_INDEX[name] for name in _V1_COUNTS]] = 0.0
    out[:, [FIELD_INDEX[name] for name in V1_DEVICE_FIELDS]] = values
    return out


def _from_v1(row: list[float]) -> list[float]:
    """Return a version-1 row in this version's fields (new counts 0, others NaN)."""
    old = dict(zip(V1_DEVICE_FIELDS, row, strict=True))
    return [
        old.get(name, 0.0 if name in _V1_COUNTS else math.nan) for name in DEVICE_FIELDS
    ]


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise RollupError(f"{where}: 'reports_visible' must be true or false")
    return value


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
    if all(item.__class__ is float or item is None for item in value):
        # The saved form: checked in bulk (a restart reads millions of these).
        array = np.array(value, dtype=np.float64)
        odd = np.flatnonzero(~np.isfinite(array)).tolist()
        if all(value[i] is None for i in odd):
            return array.tolist()  # type: ignore[no-any-return]
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
