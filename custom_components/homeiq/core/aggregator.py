"""Per-device telemetry, folded in one state event at a time.

The integration sees every state change of the home on Home Assistant's event loop,
so the work per event must be small and constant: `TelemetryAggregator.record`
costs one dict lookup to find the entity's slot, a few counter updates on
preallocated objects, and a `float()` only when a numeric entity's state changed
(a repeated state reuses the value parsed before). It never raises on odd input:
each kind of oddity is counted (`COUNTERS` in `rollups.py`) and handled as
documented there.

Memory is bounded per device whatever the event rate: a device holds fixed
counters for the current local day, its entities hold their last state (at most
255 characters), and closed days go into a history of at most `history_days`
rollups. Histories that the models need longer than a day (battery level, link
quality) are kept downsampled: one set of channel statistics per day, from which
`features.py` computes levels and slopes over trailing windows, and for the battery
a longer one: each device's last level of each of the last `LONG_DAYS` days, rolled
up daily into the long-horizon fields.

Format version 2 adds re-reports without a change (`report`, liveness only) and
observation gaps (`mark_gap`): gap seconds are neither watched time nor silence. A
running *gap clock* (gap seconds marked so far), stamped on each device report, makes
an interval or a silence net of gaps one subtraction.

Days are local days of the home's time zone (`Inventory.time_zone`, IANA). The
offset is looked up once per day, not per event: at midnight the aggregator finds
the day's bounds and the instant of a daylight-saving shift inside it, if any, so
the local hour of an event is a subtraction and a comparison.

The trainer replays a dataset through the same class (`rollups_from_columns`), so
the rollups of a home are the same numbers whether its events arrived live or
from a file.
"""

from bisect import bisect_right
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
import json
import math
from typing import Any, Self
from zoneinfo import ZoneInfo

import numpy as np

from .dataset import (
    MAX_STATE_LENGTH,
    Entity,
    Event,
    EventColumns,
    Inventory,
    ReportColumns,
)
from .rollups import (
    COUNTERS,
    DEVICE_FIELDS,
    FIELD_INDEX,
    HOURS,
    HOURS_DTYPE,
    INTERVAL_BINS,
    INTERVAL_EDGES,
    LONG_DAYS,
    V1_DEVICE_FIELDS,
    DayRollup,
    RollupError,
)

BURST_SECONDS = 1.0  # events of one device this close belong to one radio report
FLAP_SECONDS = 30.0  # a state change this soon after the previous one is a flap
HISTORY_DAYS = 28  # closed days kept by default
MAX_GAP_DAYS = 366  # silent days rolled up at most when history is unbounded
VALUE_LIMIT = 1e12  # larger numbers are taken as garbage (and would spoil sums)
MIN_TIME = 0.0  # 1970-01-01
MAX_TIME = 4102444800.0  # 2100-01-01: beyond, the clock is wrong
STATE_FORMAT = "homeiq-telemetry"
STATE_VERSION = 2  # version 1 states are migrated on restore

# What an entity contributes, decided once from the inventory (`entity_role`).
ROLES = ("activity", "battery", "lqi", "rssi", "power", "energy", "diagnostic")
NUMERIC_DOMAINS = frozenset({"sensor", "number", "input_number"})
# Attributes that carry a battery or link reading on devices lacking such an entity.
ATTRIBUTE_READINGS = {
    "battery": ("battery_level", "battery"),
    "lqi": ("linkquality", "lqi"),
    "rssi": ("rssi",),
}
_POWER_UNITS = {"mW": 1e-3, "W": 1.0, "kW": 1e3, "MW": 1e6}  # to W
_ENERGY_UNITS = {"Wh": 1e-3, "kWh": 1.0, "MWh": 1e3}  # to kWh
_NOT_VALID = {"unavailable": 1, "unknown": 2}
_COUNTER = {name: i for i, name in enumerate(COUNTERS)}
_UNKNOWN_ENTITY = _COUNTER["unknown_entity"]
_BAD_ENTITY_ID = _COUNTER["bad_entity_id"]
_BAD_STATE = _COUNTER["bad_state"]
_OVERSIZED_STATE = _COUNTER["oversized_state"]
_NON_NUMERIC = _COUNTER["non_numeric"]
_NON_FINITE = _COUNTER["non_finite"]
_OUT_OF_RANGE = _COUNTER["out_of_range"]
_BAD_ATTRIBUTES = _COUNTER["bad_attributes"]
_BAD_ATTRIBUTE_VALUE = _COUNTER["bad_attribute_value"]
_BAD_TIME = _COUNTER["bad_time"]
_CLOCK_BACKWARDS = _COUNTER["clock_backwards"]
_LATE_EVENT = _COUNTER["late_event"]
_ENERGY_RESET = _COUNTER["energy_reset"]
_SKIPPED_DAYS = _COUNTER["skipped_days"]
_BAD_GAP = _COUNTER["bad_gap"]
_INF = math.inf
# Device fields kept as plain attributes of `_Device`, in DEVICE_FIELDS order.
_COUNT_FIELDS = DEVICE_FIELDS[: DEVICE_FIELDS.index("first_seen")]
_V1_COUNT_FIELDS = V1_DEVICE_FIELDS[: V1_DEVICE_FIELDS.index("first_seen")]
_CARRIED = FIELD_INDEX["silence_s"]  # fields from here on are filled at the close
_HIST = FIELD_INDEX["interval_bin0"]
_EDGES = list(INTERVAL_EDGES)


def entity_role(entity: Entity) -> str:  # noqa: PLR0911
    """Return what `entity` tells about its device, one of `ROLES`.

    Battery level, link quality (Zigbee LQI, or RSSI in dBm), power and energy
    sensors feed numeric channels; diagnostic entities (firmware updates, low-battery
    flags, signal strength in other units) count only towards events and
    availability; every other entity is activity: its state changes are the
    device's behaviour.
    """
    device_class = entity.device_class
    unit = (entity.unit or "").lower()
    if entity.domain == "sensor":
        if device_class == "battery":
            return "battery"
        if device_class == "signal_strength":
            return "rssi" if unit in {"", "dbm"} else "diagnostic"
        if device_class in {"power", "energy"}:
            return device_class
        if unit == "lqi" or entity.entity_id.endswith(("linkquality", "_lqi")):
            return "lqi"
        return "activity"
    if entity.domain == "update" or (
        entity.domain == "binary_sensor" and device_class == "battery"
    ):
        return "diagnostic"
    return "activity"


def is_numeric(entity: Entity) -> bool:
    """Return True when `entity`'s states are numbers (HA: a sensor with a unit)."""
    return entity_role(entity) in {"battery", "lqi", "rssi", "power", "energy"} or (
        entity.domain in NUMERIC_DOMAINS and entity.unit is not None
    )


def _scale(entity: Entity, role: str) -> float:
    """Return the factor to W (power) or kWh (energy); 1 for everything else."""
    units = {"power": _POWER_UNITS, "energy": _ENERGY_UNITS}.get(role, {})
    return units.get(entity.unit or "", 1.0)


class _Stats:
    """Count, sum, sum of squares, min, max, last and time sum of one day's values."""

    __slots__ = ("last", "max", "min", "n", "sum", "sumsq", "tlast", "tsum")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.n = 0
        self.sum = 0.0
        self.sumsq = 0.0
        self.min = _INF
        self.max = -_INF
        self.last = math.nan
        self.tsum = 0.0
        self.tlast = math.nan  # seconds after the day's start of `last`

    def add(self, value: float, seconds: float) -> None:
        self.n += 1
        self.sum += value
        self.sumsq += value * value
        # Comparisons, not min()/max(): this runs per event and calls cost more.
        if value < self.min:  # noqa: PLR1730
            self.min = value
        if value > self.max:  # noqa: PLR1730
            self.max = value
        self.last = value
        self.tsum += seconds
        self.tlast = seconds

    def row(self) -> list[float]:
        if self.n == 0:
            return [0.0, 0.0, 0.0, math.nan, math.nan, math.nan, 0.0]
        return [
            float(self.n),
            self.sum,
            self.sumsq,
            self.min,
            self.max,
            self.last,
            self.tsum,
        ]

    def restore(self, row: list[float]) -> None:
        self.n = int(row[0])
        self.sum, self.sumsq = row[1], row[2]
        self.min = row[3] if self.n else _INF
        self.max = row[4] if self.n else -_INF
        self.last, self.tsum = row[5], row[6]
        self.tlast = row[7] if len(row) > 7 else math.nan


class _Device:
    """One device's counters for the current day, plus what carries across days."""

    __slots__ = (
        *_COUNT_FIELDS,
        "battery",
        "battery_at",
        "battery_level",
        "burst_at",
        "burst_clock",
        "changed_at",
        "changed_clock",
        "first_seen",
        "hist",
        "hours",
        "last_seen",
        "lqi",
        "power",
        "rssi",
        "value",
    )
    # Integer counters of _COUNT_FIELDS that reset() sets by name (setattr); the
    # float ones are assigned there directly. Annotations only: no class attributes.
    events: int
    reports: int
    interval_n: int
    reported: int
    changes: int
    flaps: int
    binary_changes: int
    binary_flaps: int
    numeric_reports: int
    numeric_repeats: int
    unavailable_n: int
    unknown_n: int
    unavailable_at_end: int
    non_numeric: int

    def __init__(self) -> None:
        self.first_seen = math.nan
        self.last_seen = -_INF
        self.burst_at = -_INF  # when the latest report (burst of events) began
        # The aggregator's gap clock (gap seconds so far) at `burst_at`: an
        # interval or a silence minus the gap seconds inside it is watched time.
        self.burst_clock = 0.0
        self.changed_at = math.nan  # latest change of an activity entity's state
        self.changed_clock = 0.0
        self.battery_at = math.nan  # latest battery reading ever, and its level
        self.battery_level = math.nan
        self.value = _Stats()
        self.battery = _Stats()
        self.lqi = _Stats()
        self.rssi = _Stats()
        self.power = _Stats()
        self.reset()

    def reset(self) -> None:
        for name in _COUNT_FIELDS:
            setattr(self, name, 0)
        self.interval_sum = self.interval_sumsq = self.interval_max = 0.0
        self.frozen_max = self.unavailable_s = self.unknown_s = 0.0
        self.energy_kwh = 0.0
        self.hours = [0] * HOURS
        self.hist = [0] * INTERVAL_BINS
        for stats in self.channels():
            stats.reset()

    def channels(self) -> tuple[_Stats, ...]:
        return (self.value, self.battery, self.lqi, self.rssi, self.power)

    def row(self) -> list[float]:
        row = [float(getattr(self, name)) for name in _COUNT_FIELDS]
        if self.interval_n == 0:
            row[_COUNT_FIELDS.index("interval_max")] = math.nan
        row.append(self.first_seen)
        row.append(self.last_seen if self.last_seen > -_INF else math.nan)
        for stats in self.channels():
            row.extend(stats.row())
        row.extend(map(float, self.hist))
        row.extend([math.nan] * (len(DEVICE_FIELDS) - len(row)))  # at the close
        return row


# What an entity reads from its state attributes: (attribute keys, channel) pairs.
type _AttributeReadings = tuple[tuple[tuple[str, ...], _Stats], ...]
# One tuple object per distinct set of attribute keys read, shared by the entities.
_SHARED_KEYS: dict[tuple[str, ...], tuple[str, ...]] = {}


class _Entity:
    """What the aggregator remembers of one entity between its events."""

    __slots__ = (
        "activity",
        "attributes",
        "avail",
        "changed",
        "channel",
        "device",
        "energy",
        "keys",
        "meter",
        "numeric",
        "scale",
        "since",
        "state",
        "valid",
        "value",
    )

    def __init__(
        self, device: _Device, entity: Entity, attributes: _AttributeReadings
    ) -> None:
        role = entity_role(entity)
        self.device = device
        self.activity = role == "activity"
        self.numeric = is_numeric(entity)
        self.energy = role == "energy"
        self.scale = _scale(entity, role)
        self.attributes = attributes  # ((keys, stats), …) read from attributes
        # Every key of `attributes` in one tuple shared by all entities reading the
        # same keys: most events carry none of them, and one hot tuple tells.
        keys = tuple(key for names, _ in attributes for key in names)
        self.keys = _SHARED_KEYS.setdefault(keys, keys)
        self.channel: _Stats | None = None
        if role in {"battery", "lqi", "rssi", "power"}:
            self.channel = getattr(device, role)
        self.state: str | None = None  # last state as reported
        self.valid: str | None = None  # last state other than unavailable/unknown
        self.changed = -_INF  # when `valid` took its current value
        self.value: float | None = None  # `valid` as a number
        self.meter: float | None = None  # last reading of an energy meter
        self.avail = 0  # 0 available, 1 unavailable, 2 unknown
        self.since = 0.0  # when `avail` took its current value (or the day began)


class TelemetryAggregator:
    """Fold a home's state events into per-device daily rollups.

    `inventory` maps entities to devices and gives the time zone. `start` (POSIX
    seconds), when given, is when watching began: the first day counts as observed
    from then, and earlier events are late. `history_days` bounds the closed days
    kept (None: keep all, for the trainer's batch replay). `reports` says that the
    source records re-reports without a change (`report`); the first `report` call
    says so too. The rollups carry it, so features can tell a device whose
    heartbeat was not visible from a silent one.
    """

    def __init__(
        self,
        inventory: Inventory,
        *,
        start: float | None = None,
        history_days: int | None = HISTORY_DAYS,
        reports: bool = False,
    ) -> None:
        """Prepare slots for every device and entity of `inventory`."""
        self.inventory = inventory
        self.reports_visible = reports
        self._home_reports = 0
        self._gaps: list[tuple[float, float]] = []  # those that may reach today
        self._gap_clock = 0.0  # gap seconds marked so far
        self._gap_until = -_INF  # events before this fell in a marked gap
        # The last battery level of each closed day (days, devices), NaN: none; at
        # most LONG_DAYS rows. One float64 matrix, not a list of floats per day: 8
        # bytes a level instead of 32, and nothing for the garbage collector to walk.
        self._battery_days = np.empty((0, len(inventory.devices)))
        try:
            self._zone = ZoneInfo(inventory.time_zone)
            self.time_zone = inventory.time_zone
        except KeyError, ValueError, OSError:
            # Not an IANA name this system knows (ZoneInfoNotFoundError is a
            # KeyError): days fall back to UTC, and diagnostics say so.
            self._zone = ZoneInfo("UTC")
            self.time_zone = "UTC"
        self._history: deque[DayRollup] = deque(maxlen=history_days)
        self.days_closed = 0
        self._totals = [0] * len(COUNTERS)
        self._odd = [0] * len(COUNTERS)  # the current day's counters
        self._devices = [_Device() for _ in inventory.devices]
        self._device_ids = tuple(device.device_id for device in inventory.devices)
        self._unattached = _Device()  # device-less entities' (never rolled up)
        self._entities: dict[str, _Entity] = {}
        for device, slot in zip(inventory.devices, self._devices, strict=True):
            roles = {entity_role(entity) for entity in device.entities}
            attributes = tuple(
                (keys, getattr(slot, channel))
                for channel, keys in ATTRIBUTE_READINGS.items()
                if channel not in roles
            )
            primary = next(
                (
                    entity
                    for entity in device.entities
                    if entity_role(entity) == "activity" and is_numeric(entity)
                ),
                None,
            )
            for entity in device.entities:
                item = _Entity(slot, entity, attributes)
                if entity is primary:
                    item.channel = slot.value
                self._entities[entity.entity_id] = item
        for entity in inventory.entities:
            self._entities[entity.entity_id] = _Entity(self._unattached, entity, ())
        self._entity_list = list(self._entities.values())
        self._home_events = 0
        self._home_changes = 0
        self._home_hours = [0] * HOURS
        self._date: date | None = None
        self._day_start = -_INF
        self._day_end = -_INF
        self._shift_at = _INF
        self._shift = 0.0
        self._now = -_INF
        self._floor = -_INF  # events before this are late
        self._watch_from = -_INF  # when observation began
        if start is not None and _valid_time(start):
            self._begin(start)

    # --- the per-event path ---------------------------------------------------

    def record(  # noqa: PLR0911, PLR0912, PLR0915 - one flat hot path on purpose
        self,
        entity_id: object,
        state: object,
        attributes: object,
        timestamp: object,
    ) -> bool:
        """Fold one state event in; return False when it was skipped.

        `timestamp` is POSIX seconds (HA's `State.last_updated_timestamp`),
        `attributes` the state's attributes mapping or None. Never raises.
        """
        e: _Entity | None
        try:
            e = self._entities.get(entity_id)  # type: ignore[call-overload]
        except TypeError:  # unhashable
            e = None
        if e is None:
            self._odd[
                _UNKNOWN_ENTITY if entity_id.__class__ is str else _BAD_ENTITY_ID
            ] += 1
            return False
        if state.__class__ is not str:
            self._odd[_BAD_STATE] += 1
            return False
        if timestamp.__class__ is not float:
            timestamp = _as_time(timestamp)
            if timestamp is None:
                self._odd[_BAD_TIME] += 1
                return False
        if not self._now <= timestamp < self._day_end:
            timestamp = self._off_clock(timestamp)
            if timestamp is None:
                return False
        self._now = timestamp
        if len(state) > MAX_STATE_LENGTH:
            state = state[:MAX_STATE_LENGTH]
            self._odd[_OVERSIZED_STATE] += 1
        self._home_events += 1
        dev = e.device
        dev.events += 1
        if timestamp - dev.last_seen > BURST_SECONDS:
            # A new report (`_burst`, inlined: this is the hot path).
            dev.reports += 1
            clock = self._gap_clock
            gap = timestamp - dev.burst_at - (clock - dev.burst_clock)
            dev.burst_at = timestamp
            dev.burst_clock = clock
            if gap != _INF:
                dev.interval_n += 1
                dev.interval_sum += gap
                dev.interval_sumsq += gap * gap
                if gap > dev.interval_max:  # noqa: PLR1730
                    dev.interval_max = gap
                dev.hist[bisect_right(_EDGES, gap)] += 1
            else:
                dev.first_seen = timestamp
        dev.last_seen = timestamp
        if e.keys and attributes is not None:
            if isinstance(attributes, dict):
                for key in e.keys:
                    if key in attributes:
                        self._read_attributes(e, attributes, timestamp)
                        break
            else:
                self._read_attributes(e, attributes, timestamp)

        if state != e.state:
            e.state = state
            kind = _NOT_VALID.get(state)
            if kind is not None:
                self._unavailable(e, kind, timestamp)
                return True
            if e.avail:
                self._available(e, timestamp)
            if state != e.valid:
                if e.activity:
                    dev.changed_at = timestamp
                    dev.changed_clock = self._gap_clock
                    if e.valid is not None:
                        dev.changes += 1
                        since = timestamp - self._day_start
                        if timestamp >= self._shift_at:
                            since += self._shift
                        hour = int(since / 3600.0)
                        if not 0 <= hour < HOURS:  # pragma: no cover - odd zones only
                            hour = 0 if hour < 0 else HOURS - 1
                        dev.hours[hour] += 1
                        self._home_hours[hour] += 1
                        self._home_changes += 1
                        if e.numeric:
                            if timestamp - e.changed < FLAP_SECONDS:
                                dev.flaps += 1
                        else:
                            dev.binary_changes += 1
                            if timestamp - e.changed < FLAP_SECONDS:
                                dev.flaps += 1
                                dev.binary_flaps += 1
                e.valid = state
                e.changed = timestamp
                if not e.numeric:
                    return True
                value: float | None  # e.value's type; a bare annotation costs nothing
                try:
                    value = float(state) * e.scale
                except ValueError:
                    return self._not_a_number(e, None)
                if not -VALUE_LIMIT <= value <= VALUE_LIMIT:
                    return self._not_a_number(e, value)
                e.value = value
                if e.activity:
                    dev.numeric_reports += 1
                elif e.energy:
                    self._meter(e, value)
                channel = e.channel
                if channel is not None:  # `_Stats.add`, inlined: the hot path
                    seconds = timestamp - self._day_start
                    channel.n += 1
                    channel.sum += value
                    channel.sumsq += value * value
                    if value < channel.min:  # noqa: PLR1730
                        channel.min = value
                    if value > channel.max:  # noqa: PLR1730
                        channel.max = value
                    channel.last = value
                    channel.tsum += seconds
                    channel.tlast = seconds
                return True
        elif e.avail:
            return True  # still unavailable or unknown
        # The current valid state again: a periodic report, or back from a dropout.
        value = e.value
        if value is not None:
            self._repeat(e, dev, value, timestamp)
        return True

    def _repeat(self, e: _Entity, dev: _Device, value: float, timestamp: float) -> None:
        """Count a numeric value reported again unchanged (a repeat, a frozen run)."""
        if e.activity:
            dev.numeric_reports += 1
            dev.numeric_repeats += 1
            run = timestamp - e.changed
            if run > dev.frozen_max:  # noqa: PLR1730
                dev.frozen_max = run
        channel = e.channel
        if channel is not None:
            channel.add(value, timestamp - self._day_start)

    def _burst(self, dev: _Device, timestamp: float) -> None:
        """Count a new report; its interval runs from the previous report's start."""
        dev.reports += 1
        # Watched time only: gap seconds marked since the previous report are out.
        gap = timestamp - dev.burst_at - (self._gap_clock - dev.burst_clock)
        dev.burst_at = timestamp
        dev.burst_clock = self._gap_clock
        if gap != _INF:
            dev.interval_n += 1
            dev.interval_sum += gap
            dev.interval_sumsq += gap * gap
            if gap > dev.interval_max:  # noqa: PLR1730
                dev.interval_max = gap
            dev.hist[bisect_right(_EDGES, gap)] += 1
        else:
            dev.first_seen = timestamp

    def report(self, entity_id: object, timestamp: object) -> bool:
        """Fold in a re-report without a change (HA's `state_reported`).

        Liveness only: the device was heard (reports, intervals, silence), and a
        numeric entity re-reported its current value (repeats, how long it stayed
        unchanged, a reading on its channel). Return False when skipped; never raises.
        """
        e: _Entity | None
        try:
            e = self._entities.get(entity_id)  # type: ignore[call-overload]
        except TypeError:  # unhashable
            e = None
        if e is None:
            self._odd[
                _UNKNOWN_ENTITY if entity_id.__class__ is str else _BAD_ENTITY_ID
            ] += 1
            return False
        if timestamp.__class__ is not float:
            timestamp = _as_time(timestamp)
            if timestamp is None:
                self._odd[_BAD_TIME] += 1
                return False
        if not self._now <= timestamp < self._day_end:
            timestamp = self._off_clock(timestamp)
            if timestamp is None:
                return False
        self._now = timestamp
        self.reports_visible = True
        self._home_reports += 1
        dev = e.device
        dev.reported += 1
        if timestamp - dev.last_seen > BURST_SECONDS:
            self._burst(dev, timestamp)
        dev.last_seen = timestamp
        value = e.value
        if e.avail or value is None or e.state != e.valid:
            return True  # unavailable, or nothing numeric to repeat
        self._repeat(e, dev, value, timestamp)
        return True

    def mark_gap(self, start: object, end: object) -> bool:
        """Mark [start, end) as a time nothing was observed (HA or a hub down).

        Gap seconds count neither as watched time (`DayRollup.observed_s`) nor as
        silence, intervals or outages. The part of a gap before the latest event
        is ignored (what was seen was seen); events inside a gap that arrive later
        are late. Return False when nothing was marked; never raises.
        """
        first, last = _as_time(start), _as_time(end)
        if (
            first is None
            or last is None
            or not (_valid_time(first) and _valid_time(last))
            or last <= first
        ):
            self._odd[_BAD_GAP] += 1
            return False
        if self._date is None:
            self._begin(first)
        first = max(first, self._now)
        if last <= first:
            return False
        if first >= self._day_end:
            self._roll(first)
        for e in self._entity_list:
            if e.avail:
                self._close_outage(e, first)
                e.since = last  # the outage resumes when the gap ends
        self._gaps.append((first, last))
        self._gap_clock += last - first
        self._gap_until = max(self._gap_until, last)
        self._now = last
        return True

    def _gap_seconds(self, low: float, high: float) -> float:
        """Return the seconds of [low, high) inside the gaps kept."""
        total = 0.0
        for first, last in self._gaps:
            overlap = min(last, high) - max(first, low)
            if overlap > 0:
                total += overlap
        return total

    def _clock_at(self, moment: float) -> float:
        """Return the gap clock as of `moment` (at or after the current day's start)."""
        return self._gap_clock - self._gap_seconds(moment, _INF)

    def record_event(self, event: Event) -> bool:
        """Fold in one dataset `Event` (its `last_updated` is the event's time)."""
        return self.record(
            event.entity_id, event.state, event.attributes, event.last_updated
        )

    def reads_attributes(self, entity_id: object) -> bool:
        """Return True when `entity_id`'s attributes can carry a reading."""
        entity = self._entities.get(entity_id) if isinstance(entity_id, str) else None
        return entity is not None and bool(entity.attributes)

    # --- the rarer paths ----------------------------------------------------------

    def _unavailable(self, e: _Entity, kind: int, timestamp: float) -> None:
        dev = e.device
        if e.avail:  # unavailable <-> unknown: close the one, open the other
            self._close_outage(e, timestamp)
        if kind == 1:
            dev.unavailable_n += 1
        else:
            dev.unknown_n += 1
        e.avail = kind
        e.since = timestamp

    def _available(self, e: _Entity, timestamp: float) -> None:
        self._close_outage(e, timestamp)
        e.avail = 0

    @staticmethod
    def _close_outage(e: _Entity, until: float) -> None:
        if until <= e.since:  # inside a gap: the outage resumes at its end
            return
        if e.avail == 1:
            e.device.unavailable_s += until - e.since
        else:
            e.device.unknown_s += until - e.since
        e.since = until

    def _not_a_number(self, e: _Entity, value: float | None) -> bool:
        """Count a numeric entity's state that gave no usable number."""
        e.value = None
        if value is None:  # the text was not a number
            self._odd[_NON_NUMERIC] += 1
            e.device.non_numeric += 1
        elif not math.isfinite(value):
            self._odd[_NON_FINITE] += 1
        else:
            self._odd[_OUT_OF_RANGE] += 1
        return True

    def _meter(self, e: _Entity, value: float) -> None:
        """Add what a cumulative energy meter counted since its previous reading."""
        previous = e.meter
        e.meter = value
        if previous is None:
            return
        if value >= previous:
            e.device.energy_kwh += value - previous
        else:  # the meter restarted from zero
            e.device.energy_kwh += max(value, 0.0)
            self._odd[_ENERGY_RESET] += 1

    def _read_attributes(
        self, e: _Entity, attributes: object, timestamp: float
    ) -> None:
        # isinstance(dict) first: HA's ReadOnlyDict is a dict, and the Mapping ABC
        # check alone costs about a microsecond per event.
        if not isinstance(attributes, dict) and not isinstance(attributes, Mapping):
            self._odd[_BAD_ATTRIBUTES] += 1
            return
        for keys, stats in e.attributes:
            for key in keys:
                raw = attributes.get(key)
                if raw is None:
                    continue
                value = _number(raw)
                if value is None:
                    self._odd[_BAD_ATTRIBUTE_VALUE] += 1
                else:
                    stats.add(value, timestamp - self._day_start)
                break

    def _off_clock(self, timestamp: float) -> float | None:
        """Handle an event outside [now, end of day): new day, late, or bad time."""
        if not _valid_time(timestamp):
            self._odd[_BAD_TIME] += 1
            return None
        if timestamp < self._gap_until:  # inside a marked gap, whatever the day
            self._odd[_LATE_EVENT] += 1
            return None
        if timestamp >= self._day_end:
            if self._date is None:
                self._begin(timestamp)
            else:
                self._roll(timestamp)
            return timestamp
        if timestamp < self._floor:
            self._odd[_LATE_EVENT] += 1
            return None
        self._odd[_CLOCK_BACKWARDS] += 1
        return self._now

    def advance_to(self, timestamp: object) -> int:
        """Close every day that ended by `timestamp`; return how many were closed.

        The integration calls this from a timer after midnight, so a quiet home's
        day is still closed on time. Bad or earlier times change nothing.
        """
        before = self.days_closed
        moment = _as_time(timestamp)
        if (
            self._date is not None
            and moment is not None
            and _valid_time(moment)
            and moment >= self._day_end
        ):
            self._roll(moment)
        return self.days_closed - before

    # --- days -----------------------------------------------------------------

    def _begin(self, timestamp: float) -> None:
        """Start watching at `timestamp`: open the local day that contains it."""
        self._watch_from = timestamp
        day = datetime.fromtimestamp(timestamp, self._zone).date()
        self._open(day, None)
        self._day_start = min(self._day_start, timestamp)  # odd zones only
        self._floor = self._now = timestamp

    def _midnight(self, day: date) -> float:
        return datetime(day.year, day.month, day.day, tzinfo=self._zone).timestamp()

    def _offset(self, timestamp: float) -> float:
        offset = datetime.fromtimestamp(timestamp, self._zone).utcoffset()
        return offset.total_seconds() if offset is not None else 0.0

    def _open(self, day: date, start: float | None) -> None:
        """Make `day` current: its bounds and its daylight-saving shift, if any."""
        if start is None:
            start = self._midnight(day)
        end = max(self._midnight(day + timedelta(days=1)), start + 3600.0)
        self._date = day
        self._day_start = start
        self._day_end = end
        if self._gaps:  # gaps that ended before today matter no more
            self._gaps = [gap for gap in self._gaps if gap[1] > start]
        self._floor = start
        self._now = max(self._now, start)
        first = self._offset(start)
        last = self._offset(end - 1.0)
        if first == last:
            self._shift_at = _INF
            self._shift = 0.0
            return
        low, high = math.floor(start), math.ceil(end - 1.0)
        while high - low > 1:  # tz transitions fall on whole seconds
            middle = (low + high) // 2
            if self._offset(middle) == first:
                low = middle
            else:
                high = middle
        self._shift_at = float(high)
        self._shift = last - first

    def _roll(self, timestamp: float) -> None:
        """Close days until `timestamp` falls in the current one."""
        self._close_day()
        if timestamp < self._day_end:
            return
        assert self._date is not None
        target = datetime.fromtimestamp(timestamp, self._zone).date()
        limit = self._history.maxlen or MAX_GAP_DAYS
        silent = (target - self._date).days
        if silent > limit:
            # Nobody will see days that fall off the history: jump over them.
            skipped = silent - limit
            self._odd[_SKIPPED_DAYS] += skipped
            self._open(self._date + timedelta(days=skipped), None)
            for e in self._entity_list:
                if e.avail:
                    e.since = max(e.since, self._day_start)
        while timestamp >= self._day_end:
            self._close_day()

    def _close_day(self) -> None:
        """Roll the current day up into the history and open the next one."""
        assert self._date is not None
        end = self._day_end
        for e in self._entity_list:
            if e.avail:
                self._close_outage(e, end)
                e.device.unavailable_at_end += 1
        self._history.append(self._rollup())
        self.days_closed += 1
        self._home_reports = 0
        for i, count in enumerate(self._odd):
            self._totals[i] += count
        self._odd = [0] * len(COUNTERS)
        for device in (*self._devices, self._unattached):
            device.reset()
        self._home_events = self._home_changes = 0
        self._home_hours = [0] * HOURS
        self._open(self._date + timedelta(days=1), end)

    def _rollup(self) -> DayRollup:
        assert self._date is not None
        values = np.array(
            [device.row() for device in self._devices], dtype=np.float64
        ).reshape(len(self._devices), len(DEVICE_FIELDS))
        self._carry(values)
        watched_from = max(self._day_start, self._watch_from)
        gap_s = self._gap_seconds(watched_from, self._day_end)
        hours = np.array(
            [device.hours for device in self._devices], dtype=HOURS_DTYPE
        ).reshape(len(self._devices), HOURS)
        home_hours = np.array(self._home_hours, dtype=np.int64)
        for array in (values, hours, home_hours):
            array.flags.writeable = False
        return DayRollup(
            day=self._date.isoformat(),
            time_zone=self.time_zone,
            start=self._day_start,
            end=self._day_end,
            observed_s=max(self._day_end - watched_from - gap_s, 0.0),
            device_ids=self._device_ids,
            values=values,
            hours=hours,
            home_events=self._home_events,
            home_changes=self._home_changes,
            home_hours=home_hours,
            counters=dict(zip(COUNTERS, self._odd, strict=True)),
            gap_s=gap_s,
            home_reports=self._home_reports,
            reports_visible=self.reports_visible,
        )

    def _carry(self, values: np.ndarray) -> None:
        """Fill the fields carried across days into the closing day's `values`."""
        end = self._day_end
        clock = self._clock_at(end)
        today = []
        for i, dev in enumerate(self._devices):
            row = values[i]
            seen = dev.last_seen
            if seen > -_INF:
                row[_CARRIED] = end - seen - (clock - dev.burst_clock)
                if dev.changed_at == dev.changed_at:  # not NaN
                    row[_CARRIED + 1] = max(
                        seen - dev.changed_at - (dev.burst_clock - dev.changed_clock),
                        0.0,
                    )
            battery = dev.battery
            if battery.n:
                dev.battery_at = self._day_start + battery.tlast
                dev.battery_level = battery.last
            row[_CARRIED + 2] = dev.battery_at
            row[_CARRIED + 3] = dev.battery_level
            today.append(battery.last if battery.n else math.nan)
        self._battery_days = np.concatenate(
            [
                self._battery_days[max(len(self._battery_days) + 1 - LONG_DAYS, 0) :],
                np.array(today, dtype=np.float64).reshape(1, len(self._devices)),
            ]
        )
        values[:, _CARRIED + 4 :] = battery_history_fields(self._battery_days)

    # --- what callers read --------------------------------------------------------

    @property
    def history(self) -> tuple[DayRollup, ...]:
        """Return the closed days kept, oldest first."""
        return tuple(self._history)

    @property
    def day(self) -> str | None:
        """Return the current local day (ISO date), None before the first event."""
        return None if self._date is None else self._date.isoformat()

    @property
    def now(self) -> float | None:
        """Return the latest time observed (event, re-report, gap end), None before.

        After a restart the integration marks the time it was down as a gap:
        `mark_gap(<when it last ran>, <now>)`; this is a lower bound of the former.
        """
        return self._now if self._now > -_INF else None

    def counters(self) -> dict[str, int]:
        """Return the odd input counted since watching began, for diagnostics."""
        return {
            name: total + today
            for name, total, today in zip(
                COUNTERS, self._totals, self._odd, strict=True
            )
        }

    # --- persistence --------------------------------------------------------------

    def to_json(self, *, history: bool = True) -> dict[str, Any]:
        """Return the whole state as JSON, so a restart carries on where it stopped.

        Floats are exact; a missing or not-yet-set number is null. Without
        `history`, the closed days are left out (`"history": []`), for a caller
        that stores them in its own form (`from_json` takes `DayRollup`s too).
        """
        devices = {}
        for device_id, device in zip(self._device_ids, self._devices, strict=True):
            devices[device_id] = {
                "counts": [getattr(device, name) for name in _COUNT_FIELDS],
                "first_seen": _null(device.first_seen),
                "last_seen": _null(device.last_seen),
                "burst_at": _null(device.burst_at),
                "hours": list(device.hours),
                "channels": [
                    [*_nulls(stats.row()), _null(stats.tlast)]
                    for stats in device.channels()
                ],
                "hist": list(device.hist),
                "carried": _nulls(
                    [
                        device.burst_clock,
                        device.changed_at,
                        device.changed_clock,
                        device.battery_at,
                        device.battery_level,
                    ]
                ),
            }
        entities = {
            entity_id: [
                e.state,
                e.valid,
                _null(e.changed),
                e.value,
                e.meter,
                e.avail,
                e.since,
            ]
            for entity_id, e in self._entities.items()
            if e.state is not None
        }
        battery_days = self._battery_days.T.tolist()
        return {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "day": self.day,
            "clock": [
                _null(self._day_start),
                _null(self._now),
                _null(self._floor),
                _null(self._watch_from),
            ],
            "days_closed": self.days_closed,
            "totals": dict(zip(COUNTERS, self._totals, strict=True)),
            "counters": dict(zip(COUNTERS, self._odd, strict=True)),
            "home": {
                "events": self._home_events,
                "changes": self._home_changes,
                "hours": list(self._home_hours),
                "reports": self._home_reports,
            },
            "reports_visible": self.reports_visible,
            "gaps": [list(gap) for gap in self._gaps],
            "gap_clock": self._gap_clock,
            "gap_until": _null(self._gap_until),
            "battery_days": {
                device_id: _nulls(levels)
                for device_id, levels in zip(
                    self._device_ids, battery_days, strict=True
                )
            },
            "devices": devices,
            "entities": entities,
            "history": [rollup.to_json() for rollup in self._history]
            if history
            else [],
        }

    @classmethod
    def from_json(
        cls,
        inventory: Inventory,
        obj: object,
        *,
        history_days: int | None = HISTORY_DAYS,
    ) -> Self:
        """Rebuild an aggregator saved by `to_json`, for `inventory` as it is now.

        Devices and entities no longer in the inventory are dropped; new ones
        start empty. Raises `RollupError` when `obj` is not a saved state.
        """
        self = cls(inventory, history_days=history_days)
        try:
            self._restore(obj)
        except (AttributeError, IndexError, KeyError, TypeError, ValueError) as error:
            if isinstance(error, RollupError):
                raise
            raise RollupError(f"telemetry state: malformed ({error!r})") from None
        return self

    def _restore_v2(self, obj: dict[str, Any]) -> None:
        """Restore what version 2 added: reports, gaps, the long battery history."""
        visible = obj["reports_visible"]
        if not isinstance(visible, bool):
            raise ValueError("'reports_visible' must be true or false")
        self.reports_visible = visible
        self._home_reports = _count(obj["home"]["reports"])
        self._gaps = [
            (_real(first, math.nan), _real(last, math.nan))
            for first, last in obj["gaps"]
        ]
        self._gap_clock = _real(obj["gap_clock"], math.nan)
        self._gap_until = _real(obj["gap_until"], -_INF)
        saved = obj["battery_days"]
        days = max((len(levels) for levels in saved.values()), default=0)
        columns = [
            [_real(value, math.nan) for value in saved.get(device_id, [None] * days)]
            for device_id in self._device_ids
        ]
        if any(len(column) != days for column in columns):
            raise ValueError("battery_days differ in length")
        levels = np.array(columns, dtype=np.float64).reshape(len(columns), days)
        self._battery_days = np.ascontiguousarray(levels.T[max(days - LONG_DAYS, 0) :])

    def _restore(self, obj: object) -> None:
        if not isinstance(obj, dict) or obj.get("format") != STATE_FORMAT:
            raise RollupError(f"telemetry state: 'format' must be {STATE_FORMAT!r}")
        version = obj.get("version")
        if version not in {1, STATE_VERSION} or isinstance(version, bool):
            raise RollupError(
                f"telemetry state: version {version!r} is not supported"
                f" (known: 1, {STATE_VERSION})"
            )
        for item in obj["history"]:
            self._history.append(
                item if isinstance(item, DayRollup) else DayRollup.from_json(item)
            )
        self.days_closed = _count(obj["days_closed"])
        self._totals = [_count(obj["totals"].get(name, 0)) for name in COUNTERS]
        self._odd = [_count(obj["counters"].get(name, 0)) for name in COUNTERS]
        if version == STATE_VERSION:
            self._restore_v2(obj)
        if obj["day"] is None:
            return
        day_start, now, floor, watch_from = (
            _real(value, -_INF) for value in obj["clock"]
        )
        self._open(date.fromisoformat(obj["day"]), day_start)
        self._now, self._floor, self._watch_from = now, floor, watch_from
        home = obj["home"]
        self._home_events = _count(home["events"])
        self._home_changes = _count(home["changes"])
        self._home_hours = _counts(home["hours"], HOURS)
        for device_id, device in zip(self._device_ids, self._devices, strict=True):
            saved = obj["devices"].get(device_id)
            if saved is None:
                continue
            names = _COUNT_FIELDS if version == STATE_VERSION else _V1_COUNT_FIELDS
            for name, value in zip(names, saved["counts"], strict=True):
                setattr(device, name, _real(value, math.nan))
            device.first_seen = _real(saved["first_seen"], math.nan)
            device.last_seen = _real(saved["last_seen"], -_INF)
            device.burst_at = _real(saved["burst_at"], -_INF)
            device.hours = _counts(saved["hours"], HOURS)
            for stats, row in zip(device.channels(), saved["channels"], strict=True):
                stats.restore([_real(value, math.nan) for value in row])
            if version == STATE_VERSION:
                device.hist = _counts(saved["hist"], INTERVAL_BINS)
                (
                    device.burst_clock,
                    device.changed_at,
                    device.changed_clock,
                    device.battery_at,
                    device.battery_level,
                ) = (_real(value, math.nan) for value in saved["carried"])
        for entity_id, saved in obj["entities"].items():
            e = self._entities.get(entity_id)
            if e is None:
                continue
            state, valid, changed, value, meter, avail, since = saved
            e.state, e.valid = _text(state), _text(valid)
            e.changed = _real(changed, -_INF)
            e.value = None if value is None else _real(value, math.nan)
            e.meter = None if meter is None else _real(meter, math.nan)
            e.avail = _count(avail) % 3
            e.since = _real(since, 0.0)


def battery_history_fields(levels: np.ndarray) -> np.ndarray:
    """Return (devices, 4): days read, distinct levels, smallest step, trend.

    `levels` is (days, devices): each day's last battery level, NaN for a day
    without a reading, oldest first. The trend (least squares, %/day) is 0 for
    one level read on two days or more, NaN for a single step (100 -> 90 says
    nothing of a rate), and fitted from three distinct levels on.
    """
    read = ~np.isnan(levels)
    days = read.sum(axis=0)
    ordered = np.sort(levels, axis=0)  # NaN last
    with np.errstate(invalid="ignore"):
        steps = np.diff(ordered, axis=0)
        rises = steps > 0  # NaN compares False
        distinct = np.where(days > 0, rises.sum(axis=0) + 1, np.nan)
        step = np.where(rises, steps, np.inf).min(axis=0, initial=np.inf)
        x = np.arange(levels.shape[0], dtype=np.float64)[:, None]
        mean_x = (x * read).sum(axis=0) / days
        mean_y = np.where(read, levels, 0.0).sum(axis=0) / days
        dx = np.where(read, x - mean_x, 0.0)
        dy = np.where(read, levels - mean_y, 0.0)
        slope = (dx * dy).sum(axis=0) / (dx * dx).sum(axis=0)
    return np.stack(
        [
            days.astype(np.float64),
            distinct,
            np.where(np.isfinite(step), step, np.nan),
            np.where(
                distinct >= 3,
                slope,
                np.where((distinct == 1) & (days >= 2), 0.0, np.nan),
            ),
        ],
        axis=1,
    )


def rollups_from_columns(
    inventory: Inventory,
    columns: EventColumns,
    *,
    start: float | None = None,
    end: float | None = None,
    reports: ReportColumns | None = None,
    gaps: Sequence[tuple[float, float]] = (),
) -> list[DayRollup]:
    """Replay a dataset home's events; return every day that closed by `end`.

    This is the trainer's batch path: the same `record` the integration calls,
    fed from the columns. `start` and `end` are the window the dataset covers
    (`HomeEntry.start`/`.end`). `reports` (None: not recorded) are merged in by
    time, after events of the same time; each gap is marked before the first
    event or report at or after its start. Attributes are parsed from their JSON
    text only for entities that read them, with parsed texts reused.
    """
    aggregator = TelemetryAggregator(
        inventory, start=start, history_days=None, reports=reports is not None
    )
    record = aggregator.record
    entity_ids = columns.entity_id.tolist()
    reads = {
        entity_id: aggregator.reads_attributes(entity_id)
        for entity_id in entity_ids
        if entity_id.__class__ is str
    }
    parsed: dict[str, object] = {}
    rows = zip(
        entity_ids,
        columns.state.tolist(),
        columns.attributes.tolist(),
        columns.last_updated.tolist(),
        strict=True,
    )
    for kind, row in _merged(columns.last_updated, reports, gaps, rows):
        if kind == _EVENT:
            entity_id, state, text, timestamp = row
            attributes = None
            if text is not None and entity_id.__class__ is str and reads[entity_id]:
                attributes = parsed.get(text)
                if attributes is None:
                    attributes = _parse_attributes(text)
                    if len(parsed) < 65536:
                        parsed[text] = attributes
            record(entity_id, state, attributes, timestamp)
        elif kind == _REPORT:
            aggregator.report(*row)
        else:
            aggregator.mark_gap(*row)
    if end is not None:
        aggregator.advance_to(end)
    return list(aggregator.history)


_EVENT, _REPORT, _GAP = 0, 1, 2


def _merged(
    event_times: np.ndarray,
    reports: ReportColumns | None,
    gaps: Sequence[tuple[float, float]],
    rows: Iterable[tuple[Any, ...]],
) -> Iterable[tuple[int, tuple[Any, ...]]]:
    """Yield (kind, row) for events, reports and gaps in the order they happened.

    Without reports or gaps this is the events alone (the fast path). Ties: a gap
    comes before what starts with it, an event before a report of the same time.
    """
    n_reports = 0 if reports is None else len(reports)
    if not n_reports and not gaps:
        for row in rows:
            yield _EVENT, row
        return
    times = [np.asarray(event_times, dtype=np.float64)]
    kinds = [np.full(len(event_times), _EVENT)]
    if reports is not None and n_reports:
        times.append(np.asarray(reports.time, dtype=np.float64))
        kinds.append(np.full(n_reports, _REPORT))
    if gaps:
        times.append(np.array([a for a, _ in gaps], dtype=np.float64))
        kinds.append(np.full(len(gaps), _GAP))
    time = np.concatenate(times)
    kind = np.concatenate(kinds)
    rank = np.where(kind == _GAP, 0, np.where(kind == _EVENT, 1, 2))
    order = np.lexsort((rank, time))  # stable: each stream keeps its order
    events = iter(rows)
    report_rows = (
        iter(zip(reports.entity_id.tolist(), reports.time.tolist(), strict=True))
        if reports is not None
        else iter(())
    )
    gap_rows = iter(gaps)
    for k in kind[order].tolist():
        if k == _EVENT:
            yield k, next(events)
        elif k == _REPORT:
            yield k, next(report_rows)
        else:
            yield k, tuple(next(gap_rows))


def replay(
    inventory: Inventory,
    events: Iterable[Event],
    *,
    start: float | None = None,
    end: float | None = None,
) -> TelemetryAggregator:
    """Return an aggregator (unbounded history) fed `events` one by one."""
    aggregator = TelemetryAggregator(inventory, start=start, history_days=None)
    for event in events:
        aggregator.record_event(event)
    if end is not None:
        aggregator.advance_to(end)
    return aggregator


def _parse_attributes(text: object) -> object:
    """Return the parsed JSON object, or the text itself when it is not JSON."""
    try:
        return json.loads(text)  # type: ignore[arg-type]
    except TypeError, ValueError:
        return text


def _valid_time(timestamp: float) -> bool:
    return MIN_TIME <= timestamp < MAX_TIME


def _as_time(value: object) -> float | None:
    """Return `value` as float seconds, None unless it is a real number."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return None
    try:
        return float(value)
    except OverflowError, TypeError, ValueError:
        return None


def _number(raw: object) -> float | None:
    """Return an attribute's reading as a float in range, else None."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, str):
        if len(raw) > MAX_STATE_LENGTH:
            return None
        try:
            raw = float(raw)
        except ValueError:
            return None
    if not isinstance(raw, int | float):
        return None
    try:
        value = float(raw)
    except OverflowError:
        return None
    return value if -VALUE_LIMIT <= value <= VALUE_LIMIT else None


def _null(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _nulls(row: list[float]) -> list[float | None]:
    return [_null(value) for value in row]


def _real(value: object, missing: float) -> float:
    """Return a saved number; `missing` for null; ValueError for anything else."""
    if value is None:
        return missing
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
    ):
        raise ValueError(f"expected a finite number, got {value!r}")
    return float(value) if isinstance(value, float) else value


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"expected a count, got {value!r}")
    return value


def _counts(value: object, length: int) -> list[int]:
    if not isinstance(value, list) or len(value) != length:
        raise ValueError(f"expected {length} counts")
    return [_count(item) for item in value]


def _text(value: object) -> str | None:
    if value is not None and (
        not isinstance(value, str) or len(value) > MAX_STATE_LENGTH
    ):
        raise ValueError(f"expected a state string, got {value!r}")
    return value


__all__ = [
    "ATTRIBUTE_READINGS",
    "BURST_SECONDS",
    "FLAP_SECONDS",
    "HISTORY_DAYS",
    "ROLES",
    "TelemetryAggregator",
    "entity_role",
    "is_numeric",
    "replay",
    "rollups_from_columns",
]
