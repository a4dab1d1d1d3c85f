"""The HomeIQ dataset format: its vocabulary, typed records and validators.

docs/data-format.md is the specification. This module is pure Python so that the
integration (which exports datasets as JSON lines) and the trainer (which also reads
and writes Parquet, in `homeiq_trainer.dataset`) validate with the same code. Every
validator raises `DatasetError` naming the file, the field and what is wrong.
"""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
import json
import math
import re
from typing import Any, NamedTuple, Self, cast

import numpy as np

from .rollups import DayRollup, RollupError, rollups_from_json
from .telemetry import entity_domain

FORMAT_NAME = "homeiq-dataset"
FORMAT_VERSION = 3  # what writers write
READABLE_VERSIONS = (1, 2, 3)  # what readers read: version 1 has none of v2's fields
ROLLUPS_VERSION = 3  # the first version whose homes may carry daily rollups

HOME_TYPES = (
    "studio",
    "apartment",
    "condo",
    "townhouse",
    "single_family_house",
    "cottage",
    "multi_story",
    "ranch_house",
)
PROTOCOLS = (
    "zigbee",
    "z-wave",
    "wifi",
    "matter",
    "thread",
    "bluetooth",
    "ethernet",
    "other",
    "unknown",
)
POWER_SOURCES = ("battery", "mains", "unknown")
FAILURE_KINDS = (
    "battery_depletion",
    "radio_degradation",
    "intermittent_dropout",
    "stuck_sensor",
    "flapping",
    "sudden_death",
)
# "integration" (version 1's name) and "homeiq-export" both mean: exported by a live
# HomeIQ; "other" is anything converted from elsewhere.
SOURCE_KINDS = ("synthetic", "homeiq-export", "integration", "recorder", "other")
WARNING_KINDS = (
    "low_battery_code",  # reports 0 % / a low-battery code but keeps working
    "battery_replaced",  # the battery was changed (the level jumps up)
)
# Who said a failure happened: the generator's ground truth, a person (through the
# integration's services) or a named rule ("rule:<name>").
PROVENANCES = ("ground_truth", "user")
_RULE = re.compile(r"rule:[a-z0-9_.-]{1,64}")
EXTERNAL_SERIES = (
    "outdoor_temperature",
    "outdoor_humidity",
    "carbon_intensity",
    "electricity_price",
)
EVENT_COLUMNS = ("entity_id", "state", "attributes", "last_changed", "last_updated")
EXTERNAL_COLUMNS = ("time", "series", "value")
REPORT_COLUMNS = ("entity_id", "time")
MAX_STATE_LENGTH = 255  # HA's own limit for a state string

HOME_ID_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")


class DatasetError(ValueError):
    """A dataset file that does not follow the format; the message says where."""


class Event(NamedTuple):
    """One state change; times are POSIX seconds."""

    entity_id: str
    state: str
    attributes: dict[str, Any] | None
    last_changed: float
    last_updated: float


class EventColumns(NamedTuple):
    """A home's events as parallel numpy columns: the trainer's batch form.

    `entity_id` and `state` are object arrays of str, `attributes` an object array
    of JSON text or None, the times float64 POSIX seconds; rows sorted by
    `last_updated`.
    """

    entity_id: np.ndarray
    state: np.ndarray
    attributes: np.ndarray
    last_changed: np.ndarray
    last_updated: np.ndarray

    def __len__(self) -> int:
        """Return the number of events (not the number of columns)."""
        return len(self.last_updated)

    def events(self) -> Iterator[Event]:
        """Yield the rows as events, attributes parsed, for replaying one by one."""
        for entity_id, state, attributes, changed, updated in zip(
            self.entity_id.tolist(),
            self.state.tolist(),
            self.attributes.tolist(),
            self.last_changed.tolist(),
            self.last_updated.tolist(),
            strict=True,
        ):
            parsed = None if attributes is None else json.loads(attributes)
            yield Event(entity_id, state, parsed, changed, updated)


class ReportColumns(NamedTuple):
    """A home's re-reports without a change (HA's `state_reported`), as columns.

    `entity_id` is an object array of str, `time` float64 POSIX seconds, sorted.
    """

    entity_id: np.ndarray
    time: np.ndarray

    def __len__(self) -> int:
        """Return the number of reports (not the number of columns)."""
        return len(self.time)


# --- small checked accessors -------------------------------------------------


def _require(cond: bool, where: str, message: str) -> None:
    if not cond:
        raise DatasetError(f"{where}: {message}")


def _object(value: object, where: str) -> Mapping[str, Any]:
    _require(isinstance(value, Mapping), where, "expected a JSON object")
    return value  # type: ignore[return-value]


def _list(obj: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = obj.get(key, [])
    _require(isinstance(value, list), where, f"'{key}' must be a list")
    return cast("list[Any]", value)


def _str(
    obj: Mapping[str, Any], key: str, where: str, *, optional: bool = False
) -> Any:
    value = obj.get(key)
    if value is None and optional:
        return None
    _require(
        isinstance(value, str) and value != "",
        where,
        f"'{key}' must be a non-empty string",
    )
    return value


def _choice(
    obj: Mapping[str, Any], key: str, choices: tuple[str, ...], where: str
) -> str:
    value = obj.get(key)
    _require(
        value in choices,
        where,
        f"'{key}' is {value!r}, expected one of {', '.join(choices)}",
    )
    return value  # type: ignore[return-value]


def parse_time(value: object, where: str) -> float:
    """Return POSIX seconds for an ISO 8601 time that carries an offset."""
    _require(
        isinstance(value, str), where, f"time must be an ISO 8601 string, got {value!r}"
    )
    try:
        moment = datetime.fromisoformat(value)  # type: ignore[arg-type]
    except ValueError:
        raise DatasetError(f"{where}: {value!r} is not an ISO 8601 time") from None
    _require(moment.tzinfo is not None, where, f"{value!r} has no UTC offset")
    return moment.timestamp()


def format_time(seconds: float) -> str:
    """Return the ISO 8601 UTC form of POSIX `seconds`, to the microsecond."""
    return datetime.fromtimestamp(round(seconds, 6), UTC).isoformat(
        timespec="microseconds"
    )


# --- inventory ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Entity:
    """An entity as HA's entity registry knows it."""

    entity_id: str
    domain: str
    device_class: str | None = None
    unit: str | None = None

    @classmethod
    def from_json(cls, obj: object, where: str) -> Self:
        """Validate and build from the JSON form."""
        data = _object(obj, where)
        entity_id = data.get("entity_id")
        domain = entity_domain(entity_id)
        _require(
            domain is not None,
            where,
            f"'entity_id' {entity_id!r} is not domain.object_id",
        )
        _require(
            data.get("domain") == domain,
            where,
            f"'domain' of {entity_id} must be {domain!r}",
        )
        return cls(
            entity_id,  # type: ignore[arg-type]
            domain,  # type: ignore[arg-type]
            _str(data, "device_class", where, optional=True),
            _str(data, "unit", where, optional=True),
        )

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "entity_id": self.entity_id,
            "domain": self.domain,
            "device_class": self.device_class,
            "unit": self.unit,
        }


@dataclass(frozen=True, slots=True)
class Device:
    """A device as HA's device registry knows it, with its entities."""

    device_id: str
    name: str | None
    manufacturer: str | None
    model: str | None
    protocol: str
    power_source: str
    area_id: str | None
    entities: tuple[Entity, ...]
    integration: str | None = None  # HA domain of the owning config entry ("zha" …)
    via_device: str | None = None  # its hub or bridge, a device of the same home

    @classmethod
    def from_json(cls, obj: object, where: str) -> Self:
        """Validate and build from the JSON form."""
        data = _object(obj, where)
        device_id = _str(data, "device_id", where)
        where = f"{where} ({device_id})"
        via_device = _str(data, "via_device", where, optional=True)
        _require(via_device != device_id, where, "'via_device' is the device itself")
        return cls(
            device_id,
            _str(data, "name", where, optional=True),
            _str(data, "manufacturer", where, optional=True),
            _str(data, "model", where, optional=True),
            _choice(data, "protocol", PROTOCOLS, where),
            _choice(data, "power_source", POWER_SOURCES, where),
            _str(data, "area_id", where, optional=True),
            tuple(
                Entity.from_json(entity, f"{where} entities[{i}]")
                for i, entity in enumerate(_list(data, "entities", where))
            ),
            _str(data, "integration", where, optional=True),
            via_device,
        )

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "device_id": self.device_id,
            "name": self.name,
            "manufacturer": self.manufacturer,
            "model": self.model,
            "protocol": self.protocol,
            "power_source": self.power_source,
            "area_id": self.area_id,
            "integration": self.integration,
            "via_device": self.via_device,
            "entities": [entity.to_json() for entity in self.entities],
        }


@dataclass(frozen=True, slots=True)
class Area:
    """An area of the home, optionally on a floor."""

    area_id: str
    name: str
    floor_id: str | None = None


@dataclass(frozen=True, slots=True)
class Floor:
    """A floor of the home; level 0 is the ground floor."""

    floor_id: str
    name: str
    level: int | None = None


@dataclass(frozen=True, slots=True)
class Inventory:
    """Floors, areas, devices and entities of one home."""

    home_id: str
    time_zone: str
    floors: tuple[Floor, ...] = ()
    areas: tuple[Area, ...] = ()
    devices: tuple[Device, ...] = ()
    entities: tuple[Entity, ...] = ()  # entities without a device
    _device_of: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        """Index entity ids to their device ids."""
        for device in self.devices:
            for entity in device.entities:
                self._device_of[entity.entity_id] = device.device_id

    def device_of(self, entity_id: str) -> str | None:
        """Return the device id of `entity_id`, None for device-less or unknown ones."""
        return self._device_of.get(entity_id)

    def all_entities(self) -> Iterator[Entity]:
        """Yield every entity: those on devices, then the device-less ones."""
        for device in self.devices:
            yield from device.entities
        yield from self.entities

    @classmethod
    def from_json(cls, obj: object, where: str = "inventory.json") -> Self:
        """Validate and build from the JSON form, checking cross-references."""
        data = _object(obj, where)
        floors = tuple(
            _floor(item, f"{where} floors[{i}]")
            for i, item in enumerate(_list(data, "floors", where))
        )
        floor_ids = {floor.floor_id for floor in floors}
        areas = tuple(
            _area(item, f"{where} areas[{i}]", floor_ids)
            for i, item in enumerate(_list(data, "areas", where))
        )
        area_ids = {area.area_id for area in areas}
        devices = tuple(
            Device.from_json(item, f"{where} devices[{i}]")
            for i, item in enumerate(_list(data, "devices", where))
        )
        entities = tuple(
            Entity.from_json(item, f"{where} entities[{i}]")
            for i, item in enumerate(_list(data, "entities", where))
        )
        _unique([f.floor_id for f in floors], where, "floor_id")
        _unique([a.area_id for a in areas], where, "area_id")
        _unique([d.device_id for d in devices], where, "device_id")
        for device in devices:
            _require(
                device.area_id is None or device.area_id in area_ids,
                where,
                f"device {device.device_id} is in unknown area {device.area_id!r}",
            )
        device_ids = {device.device_id for device in devices}
        for device in devices:
            _require(
                device.via_device is None or device.via_device in device_ids,
                where,
                f"device {device.device_id} is via unknown device "
                f"{device.via_device!r}",
            )
        inventory = cls(
            _str(data, "home_id", where),
            _str(data, "time_zone", where),
            floors,
            areas,
            devices,
            entities,
        )
        _unique([e.entity_id for e in inventory.all_entities()], where, "entity_id")
        return inventory

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "home_id": self.home_id,
            "time_zone": self.time_zone,
            "floors": [
                {"floor_id": f.floor_id, "name": f.name, "level": f.level}
                for f in self.floors
            ],
            "areas": [
                {"area_id": a.area_id, "name": a.name, "floor_id": a.floor_id}
                for a in self.areas
            ],
            "devices": [device.to_json() for device in self.devices],
            "entities": [entity.to_json() for entity in self.entities],
        }


def _floor(obj: object, where: str) -> Floor:
    data = _object(obj, where)
    level = data.get("level")
    _require(
        level is None or (isinstance(level, int) and not isinstance(level, bool)),
        where,
        "'level' must be an integer or null",
    )
    return Floor(_str(data, "floor_id", where), _str(data, "name", where), level)


def _area(obj: object, where: str, floor_ids: set[str]) -> Area:
    data = _object(obj, where)
    floor_id = _str(data, "floor_id", where, optional=True)
    _require(
        floor_id is None or floor_id in floor_ids, where, f"unknown floor {floor_id!r}"
    )
    return Area(_str(data, "area_id", where), _str(data, "name", where), floor_id)


def _unique(values: list[str], where: str, what: str) -> None:
    seen: set[str] = set()
    for value in values:
        _require(value not in seen, where, f"{what} {value!r} appears twice")
        seen.add(value)


# --- labels -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Failure:
    """A device failure: symptoms from `onset`, broken from `failure_time`.

    `recovered` is when the device worked again (a dropout that ended, a battery
    replaced), None if it did not within what is known. `provenance` says who
    labelled it: "ground_truth", "user" or "rule:<name>".
    """

    device_id: str
    kind: str
    onset: float
    failure_time: float
    recovered: float | None = None
    provenance: str = "ground_truth"

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "device_id": self.device_id,
            "kind": self.kind,
            "onset": format_time(self.onset),
            "failure_time": format_time(self.failure_time),
            "recovered": None
            if self.recovered is None
            else format_time(self.recovered),
            "provenance": self.provenance,
        }


@dataclass(frozen=True, slots=True)
class DeviceWarning:
    """Something notable that is not a failure, e.g. a low-battery code at `time`."""

    device_id: str
    kind: str
    time: float

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "device_id": self.device_id,
            "kind": self.kind,
            "time": format_time(self.time),
        }


@dataclass(frozen=True, slots=True)
class Labels:
    """Ground truth for one home, kept apart from its events.

    `annotated` False means failures were not annotated: a device without a listed
    failure may still have failed (as opposed to "annotated, no failures").
    """

    home_type: str | None = None
    true_home_type: str | None = None
    failures: tuple[Failure, ...] = ()
    warnings: tuple[DeviceWarning, ...] = ()
    annotated: bool = True

    @classmethod
    def from_json(cls, obj: object, where: str = "labels.json") -> Self:
        """Validate and build from the JSON form (version 1 or 2)."""
        data = _object(obj, where)
        types: list[str | None] = []
        for key in ("home_type", "true_home_type"):
            value = data.get(key)
            if value is not None:
                value = _choice(data, key, HOME_TYPES, where)
            types.append(value)
        annotated = data.get("annotated", True)
        _require(isinstance(annotated, bool), where, "'annotated' must be a boolean")
        return cls(
            types[0],
            types[1],
            tuple(
                _failure(item, f"{where} failures[{i}]")
                for i, item in enumerate(_list(data, "failures", where))
            ),
            tuple(
                _warning(item, f"{where} warnings[{i}]")
                for i, item in enumerate(_list(data, "warnings", where))
            ),
            annotated,
        )

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "home_type": self.home_type,
            "true_home_type": self.true_home_type,
            "annotated": self.annotated,
            "failures": [failure.to_json() for failure in self.failures],
            "warnings": [warning.to_json() for warning in self.warnings],
        }

    def check_devices(self, inventory: Inventory, where: str = "labels.json") -> None:
        """Raise `DatasetError` when a failure or warning names an unknown device."""
        devices = {device.device_id for device in inventory.devices}
        for what, items in (("failure", self.failures), ("warning", self.warnings)):
            for item in items:
                _require(
                    item.device_id in devices,
                    where,
                    f"{what} of unknown device {item.device_id!r}",
                )


def _failure(obj: object, where: str) -> Failure:
    data = _object(obj, where)
    onset = parse_time(data.get("onset"), f"{where} onset")
    failure_time = parse_time(data.get("failure_time"), f"{where} failure_time")
    _require(onset <= failure_time, where, "'onset' is after 'failure_time'")
    recovered = data.get("recovered")
    if recovered is not None:
        recovered = parse_time(recovered, f"{where} recovered")
        _require(
            recovered >= failure_time, where, "'recovered' is before 'failure_time'"
        )
    provenance = data.get("provenance", "ground_truth")
    _require(
        provenance in PROVENANCES
        or (isinstance(provenance, str) and _RULE.fullmatch(provenance) is not None),
        where,
        f"'provenance' is {provenance!r}, expected ground_truth, user or rule:<name>",
    )
    return Failure(
        _str(data, "device_id", where),
        _choice(data, "kind", FAILURE_KINDS, where),
        onset,
        failure_time,
        recovered,
        provenance,
    )


def _warning(obj: object, where: str) -> DeviceWarning:
    data = _object(obj, where)
    return DeviceWarning(
        _str(data, "device_id", where),
        _choice(data, "kind", WARNING_KINDS, where),
        parse_time(data.get("time"), f"{where} time"),
    )


# --- manifest -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HomeEntry:
    """Where one home's files are, relative to the dataset directory.

    A home has events, daily rollups (version 3), or both: `events` None means the
    home comes as rollups only (`n_events` 0), e.g. exported by the integration,
    which keeps closed days, not events.
    """

    home_id: str
    inventory: str
    events: str | None
    n_events: int
    start: float
    end: float
    labels: str | None = None
    external: str | None = None
    reports: str | None = None  # re-reports without a change (version 2)
    n_reports: int = 0
    gaps: tuple[tuple[float, float], ...] = ()  # nothing recorded (version 2)
    rollups: str | None = None  # closed days as DayRollup JSON (version 3)
    n_days: int = 0  # how many rollups that file holds

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "home_id": self.home_id,
            "inventory": self.inventory,
            "events": self.events,
            "rollups": self.rollups,
            "labels": self.labels,
            "external": self.external,
            "reports": self.reports,
            "n_events": self.n_events,
            "n_reports": self.n_reports,
            "n_days": self.n_days,
            "start": format_time(self.start),
            "end": format_time(self.end),
            "gaps": [[format_time(a), format_time(b)] for a, b in self.gaps],
        }


@dataclass(frozen=True, slots=True)
class Manifest:
    """What a dataset is and which homes it holds."""

    created: float
    source_kind: str
    producer: str
    homes: tuple[HomeEntry, ...]
    options: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION  # as read; writers always write the latest

    @classmethod
    def from_json(cls, obj: object, where: str = "manifest.json") -> Self:
        """Validate and build from the JSON form."""
        data = _object(obj, where)
        _require(
            data.get("format") == FORMAT_NAME,
            where,
            f"'format' must be {FORMAT_NAME!r}",
        )
        version = data.get("format_version")
        _require(
            version in READABLE_VERSIONS and not isinstance(version, bool),
            where,
            f"format_version {version!r} is not supported "
            f"(known: {', '.join(map(str, READABLE_VERSIONS))})",
        )
        source = _object(data.get("source"), f"{where} source")
        options = _object(source.get("options", {}), f"{where} source.options")
        homes = tuple(
            _home_entry(item, f"{where} homes[{i}]", version)  # type: ignore[arg-type]
            for i, item in enumerate(_list(data, "homes", where))
        )
        _unique([home.home_id for home in homes], where, "home_id")
        return cls(
            parse_time(data.get("created"), f"{where} created"),
            _choice(source, "kind", SOURCE_KINDS, f"{where} source"),
            _str(source, "producer", f"{where} source"),
            homes,
            dict(options),
            version,  # type: ignore[arg-type]
        )

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "created": format_time(self.created),
            "source": {
                "kind": self.source_kind,
                "producer": self.producer,
                "options": self.options,
            },
            "homes": [home.to_json() for home in self.homes],
        }


def _home_entry(obj: object, where: str, version: int = FORMAT_VERSION) -> HomeEntry:
    data = _object(obj, where)
    home_id = data.get("home_id")
    _require(
        isinstance(home_id, str) and HOME_ID_PATTERN.fullmatch(home_id) is not None,
        where,
        f"'home_id' {home_id!r} must match {HOME_ID_PATTERN.pattern}",
    )
    events, rollups, n_days = _events_or_rollups(data, where, version)
    n_events = _count(data, "n_events", where) if "n_events" in data or events else 0
    _require(
        events is not None or n_events == 0,
        where,
        "'n_events' must be 0 when 'events' is null",
    )
    start = parse_time(data.get("start"), f"{where} start")
    end = parse_time(data.get("end"), f"{where} end")
    _require(start <= end, where, "'start' is after 'end'")
    reports = _relative_path(data, "reports", where, optional=True)
    n_reports = _count(data, "n_reports", where) if reports is not None else 0
    return HomeEntry(
        home_id,  # type: ignore[arg-type]
        _relative_path(data, "inventory", where),  # type: ignore[arg-type]
        events,
        n_events,
        start,
        end,
        _relative_path(data, "labels", where, optional=True),
        _relative_path(data, "external", where, optional=True),
        reports,
        n_reports,
        parse_gaps(data.get("gaps", []), start, end, f"{where} gaps"),
        rollups,
        n_days,
    )


def _events_or_rollups(
    data: Mapping[str, Any], where: str, version: int
) -> tuple[str | None, str | None, int]:
    """Return the home's events path, rollups path and day count.

    Before version 3 a home has events and nothing else; from version 3 it has
    events, rollups or both.
    """
    if version < ROLLUPS_VERSION:
        _require(
            data.get("rollups") is None,
            where,
            f"'rollups' needs format_version {ROLLUPS_VERSION} or later",
        )
        return _relative_path(data, "events", where), None, 0
    events = _relative_path(data, "events", where, optional=True)
    rollups = _relative_path(data, "rollups", where, optional=True)
    _require(
        events is not None or rollups is not None,
        where,
        "a home needs 'events' or 'rollups' (or both)",
    )
    n_days = _count(data, "n_days", where) if rollups is not None else 0
    return events, rollups, n_days


def _count(obj: Mapping[str, Any], key: str, where: str) -> int:
    value = obj.get(key)
    _require(
        isinstance(value, int) and not isinstance(value, bool) and value >= 0,
        where,
        f"'{key}' must be a non-negative integer",
    )
    return value  # type: ignore[return-value]


def parse_gaps(
    value: object, start: float, end: float, where: str
) -> tuple[tuple[float, float], ...]:
    """Validate a list of [start, end] times: sorted, disjoint, inside the window."""
    _require(isinstance(value, list), where, "expected a list of [start, end] pairs")
    gaps = []
    for i, item in enumerate(cast("list[Any]", value)):
        here = f"{where}[{i}]"
        _require(
            isinstance(item, list) and len(item) == 2, here, "expected [start, end]"
        )
        gaps.append((parse_time(item[0], here), parse_time(item[1], here)))
    check_gaps(gaps, start, end, where)
    return tuple(gaps)


def check_gaps(
    gaps: Iterable[tuple[float, float]], start: float, end: float, where: str
) -> None:
    """Raise `DatasetError` unless `gaps` are sorted, disjoint and in [start, end]."""
    previous = start
    for i, (a, b) in enumerate(gaps):
        here = f"{where}[{i}]"
        _require(
            isinstance(a, float | int) and isinstance(b, float | int) and a < b,
            here,
            "a gap must end after it starts",
        )
        _require(
            a >= previous,
            here,
            "gaps must be sorted, must not overlap and must start in the window",
        )
        _require(b <= end, here, "the gap ends after the window")
        previous = b


def in_gaps(
    times: np.ndarray, gaps: Iterable[tuple[float, float]]
) -> np.ndarray | None:
    """Return a mask of `times` inside a gap [start, end), None when none is."""
    pairs = np.array(list(gaps), dtype=np.float64).reshape(-1, 2)
    if not len(pairs) or not len(times):
        return None
    # A time is inside when the last gap starting at or before it has not ended.
    last = np.searchsorted(pairs[:, 0], times, side="right") - 1
    inside = (last >= 0) & (times < pairs[np.maximum(last, 0), 1])
    return inside if inside.any() else None


def _relative_path(
    obj: Mapping[str, Any], key: str, where: str, *, optional: bool = False
) -> str | None:
    """Return a path that stays inside the dataset directory."""
    path: str | None = _str(obj, key, where, optional=optional)
    if path is None:
        return None
    parts = path.split("/")
    _require(
        not path.startswith("/")
        and "\\" not in path
        and ".." not in parts
        and ":" not in path,
        where,
        f"'{key}' {path!r} must be a relative path inside the dataset",
    )
    return path


# --- daily rollups (version 3) ------------------------------------------------


def parse_rollups(obj: object, where: str = "rollups.json") -> list[DayRollup]:
    """Read a JSON list of `DayRollup.to_json()`; raise `DatasetError` if bad."""
    try:
        return rollups_from_json(obj)
    except RollupError as error:
        raise DatasetError(f"{where}: {error}") from None


def check_rollups(
    rollups: Sequence[DayRollup],
    inventory: Inventory,
    *,
    start: float,
    end: float,
    where: str = "rollups.json",
) -> None:
    """Raise `DatasetError` unless `rollups` fit the home they are listed for.

    Each day names only devices of `inventory` (a device may be absent: no row,
    read as missing), days are in order without overlapping, and all lie inside
    the home's window [`start`, `end`]: closed by `end`, and only the first may
    begin before `start` (a local day whose watching began at `start`; its
    `observed_s` says so).
    """
    devices = {device.device_id for device in inventory.devices}
    previous: DayRollup | None = None
    for rollup in rollups:
        here = f"{where} day {rollup.day}"
        if unknown := set(rollup.device_ids) - devices:
            raise DatasetError(
                f"{here}: unknown device {min(unknown)!r} (not in the inventory)"
            )
        _require(rollup.start < rollup.end, here, "'end' is not after 'start'")
        if previous is not None:
            _require(
                rollup.day > previous.day and rollup.start >= previous.end,
                here,
                f"days out of order or overlapping (after {previous.day})",
            )
        _require(
            start < rollup.end <= end,
            here,
            f"the day [{format_time(rollup.start)}, {format_time(rollup.end)}) "
            f"is not inside the home's window [{format_time(start)}, "
            f"{format_time(end)}]",
        )
        previous = rollup


def write_rollups_json(rollups: Iterable[DayRollup]) -> Iterator[str]:
    """Yield a JSON list of the rollups' JSON forms, one day per chunk.

    Memory is bounded by one day's JSON: write the chunks as they come.
    """
    separator = "[\n"
    for rollup in rollups:
        yield separator + json.dumps(rollup.to_json(), separators=(",", ":"))
        separator = ",\n"
    yield "[]\n" if separator == "[\n" else "\n]\n"


# --- events as JSON lines -----------------------------------------------------


def parse_event(obj: object, where: str) -> Event:
    """Validate one event in its JSON form."""
    data = _object(obj, where)
    entity_id = data.get("entity_id")
    _require(
        entity_domain(entity_id) is not None, where, f"bad entity_id {entity_id!r}"
    )
    state = data.get("state")
    _require(
        isinstance(state, str) and len(state) <= MAX_STATE_LENGTH,
        where,
        f"'state' must be a string of at most {MAX_STATE_LENGTH} characters",
    )
    attributes = data.get("attributes")
    _require(
        attributes is None or isinstance(attributes, dict),
        where,
        "'attributes' must be an object or null",
    )
    last_changed = parse_time(data.get("last_changed"), f"{where} last_changed")
    last_updated = parse_time(data.get("last_updated"), f"{where} last_updated")
    _require(
        last_changed <= last_updated, where, "'last_changed' is after 'last_updated'"
    )
    return Event(entity_id, state, attributes, last_changed, last_updated)  # type: ignore[arg-type]


def event_to_json(event: Event) -> dict[str, Any]:
    """Return the JSON form of `event`."""
    return {
        "entity_id": event.entity_id,
        "state": event.state,
        "attributes": event.attributes,
        "last_changed": format_time(event.last_changed),
        "last_updated": format_time(event.last_updated),
    }


def read_events_jsonl(
    lines: Iterable[str | bytes], where: str = "events.jsonl"
) -> Iterator[Event]:
    """Parse JSON lines into events, checking they are sorted by `last_updated`."""
    previous = -math.inf
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        here = f"{where} line {number}"
        try:
            obj = json.loads(line)
        except ValueError as error:
            raise DatasetError(f"{here}: not JSON ({error})") from None
        event = parse_event(obj, here)
        _require(
            event.last_updated >= previous,
            here,
            "events are not sorted by last_updated",
        )
        previous = event.last_updated
        yield event


def write_events_jsonl(events: Iterable[Event]) -> Iterator[str]:
    """Yield one JSON line (with its newline) per event."""
    for event in events:
        yield json.dumps(event_to_json(event), separators=(",", ":")) + "\n"


# --- reports as JSON lines (version 2) --------------------------------------------


def read_reports_jsonl(
    lines: Iterable[str | bytes], where: str = "reports.jsonl"
) -> Iterator[tuple[str, float]]:
    """Parse JSON lines of {"entity_id", "time"}; check they are sorted by time."""
    previous = -math.inf
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        here = f"{where} line {number}"
        try:
            obj = json.loads(line)
        except ValueError as error:
            raise DatasetError(f"{here}: not JSON ({error})") from None
        data = _object(obj, here)
        entity_id = data.get("entity_id")
        _require(
            entity_domain(entity_id) is not None, here, f"bad entity_id {entity_id!r}"
        )
        time = parse_time(data.get("time"), f"{here} time")
        _require(time >= previous, here, "reports are not sorted by time")
        previous = time
        yield entity_id, time  # type: ignore[misc]


def write_reports_jsonl(reports: Iterable[tuple[str, float]]) -> Iterator[str]:
    """Yield one JSON line (with its newline) per (entity_id, time) report."""
    for entity_id, time in reports:
        line = {"entity_id": entity_id, "time": format_time(time)}
        yield json.dumps(line, separators=(",", ":")) + "\n"
