"""`homeiq-trainer import-recorder`: convert HA's recorder database into a dataset.

Home Assistant's recorder (SQLite, schema 43 or newer: `states`, `states_meta`,
`state_attributes`, `recorder_runs`) keeps the home's history of state changes. This
command reads it read-only, in chunks, and writes one home in the dataset format
(docs/data-format.md, docs/recorder-import.md):

- events: one per recorded state row (rows of removed entities are left out);
  `last_changed_ts` NULL means "equals last_updated", as the recorder writes it;
- re-reports: none by default (the heartbeat is not visible, as the data format
  expects of a recorder conversion). The recorder keeps only the LAST re-report of
  each state (it writes the row's `last_reported_ts` when the next change comes);
  `--reports last` writes those as report rows, a partial heartbeat;
- gaps: recorder downtime between runs (`recorder_runs`); a run HA did not close
  (a crash or power cut) ends at its last recorded row;
- the inventory from the registries in `<config>/.storage` when `--config-dir` is
  given, otherwise only device-less entities (no devices, areas or floors);
- labels: not annotated (the recorder knows no ground truth).
"""

import argparse
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
import itertools
import json
import os
from pathlib import Path
import sqlite3
import sys
import time
from typing import Any
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from tqdm import tqdm

from homeiq_core.dataset import (
    Area as HomeArea,
    DatasetError,
    Device,
    Entity,
    Floor as HomeFloor,
    HomeEntry,
    Inventory,
    Labels,
    ReportColumns,
)
from homeiq_core.telemetry import entity_domain, shows_liveness

from . import __version__
from .dataset import EVENT_SCHEMA, TIME_TYPE, DatasetWriter
from .errors import CommandError

MIN_SCHEMA_VERSION = 43  # HA 2024.3: states.last_reported_ts
REQUIRED_COLUMNS = {
    "states": {
        "state_id",
        "metadata_id",
        "state",
        "attributes_id",
        "last_changed_ts",
        "last_updated_ts",
        "last_reported_ts",
        "old_state_id",
    },
    "states_meta": {"metadata_id", "entity_id"},
    "state_attributes": {"attributes_id", "shared_attrs"},
    "recorder_runs": {"start", "end", "closed_incorrect"},
}
CHUNK_ROWS = 50_000
BUSY_TIMEOUT = 5.0  # seconds to wait for a writer holding the database
DAY = 86_400.0
# Attributes the inventory carries (or nobody reads): left out of the events.
DROPPED_ATTRIBUTES = frozenset(
    {
        "friendly_name",
        "unit_of_measurement",
        "device_class",
        "icon",
        "entity_picture",
        "attribution",
        "supported_features",
        "restored",
    }
)
# Radio of a device, from its integration's domain when its connections do not say.
PROTOCOL_OF_DOMAIN = {
    "zha": "zigbee",
    "deconz": "zigbee",
    "hue": "zigbee",
    "zigbee2mqtt": "zigbee",
    "zwave_js": "z-wave",
    "zwave_me": "z-wave",
    "matter": "matter",
    "thread": "thread",
    "tradfri": "zigbee",
    "homekit_controller": "thread",
    "bluetooth": "bluetooth",
    "bthome": "bluetooth",
    "xiaomi_ble": "bluetooth",
    "switchbot": "bluetooth",
    "govee_ble": "bluetooth",
    "inkbird": "bluetooth",
    "esphome": "wifi",
    "shelly": "wifi",
    "tplink": "wifi",
    "tuya": "wifi",
    "wled": "wifi",
    "tasmota": "wifi",
    "sonos": "wifi",
    "cast": "wifi",
    "wiz": "wifi",
    "lifx": "wifi",
    "nest": "wifi",
    "ecobee": "wifi",
}
PROTOCOL_OF_CONNECTION = {"zigbee": "zigbee", "bluetooth": "bluetooth"}


class _Bar(tqdm):
    """A progress bar without tqdm's monitor thread (nothing left running)."""

    monitor_interval = 0


@dataclass(frozen=True, slots=True)
class ImportOptions:
    """What to import and how."""

    db: Path
    out: Path
    config_dir: Path | None = None
    days: float | None = None
    home_id: str = "home"
    time_zone: str | None = None
    reports: str = "none"  # "none": not recorded; "last": each state's last one
    overwrite: bool = False
    progress: bool = False


@dataclass(frozen=True, slots=True)
class ImportStats:
    """What an import read and wrote, and how long it took."""

    entry: HomeEntry
    rows_read: int
    seconds: float
    devices: int
    entities: int

    @property
    def rows_per_second(self) -> float:
        """Return the read-and-convert throughput."""
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0


# --- the database ---------------------------------------------------------------


def open_recorder(path: Path) -> sqlite3.Connection:
    """Open the recorder database read-only and check its schema.

    Raises `DatasetError` with one line for a missing file, a file that is no
    SQLite database (or is corrupt), a database that is no recorder's, a schema
    older than `MIN_SCHEMA_VERSION`, or a database locked by a writer.
    """
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    # mode=ro: never write (a running HA keeps its database); the URI is quoted.
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    connection = None
    try:
        connection = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT)
        tables = {
            name: _columns(connection, name)
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
        }
        _check_schema(connection, tables, path)
    except sqlite3.DatabaseError as error:
        if connection is not None:
            connection.close()
        raise DatasetError(f"{path}: {_database_problem(error)}") from None
    except DatasetError:
        connection.close()
        raise
    return connection


def _database_problem(error: sqlite3.DatabaseError) -> str:
    text = str(error)
    if "locked" in text or "busy" in text:
        return f"the database is locked by another program ({text}); try again"
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return f"not a readable SQLite database, or corrupt ({text})"
    return f"cannot read the database ({text})"


def _columns(connection: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')}


def _check_schema(
    connection: sqlite3.Connection, tables: Mapping[str, set[str]], path: Path
) -> None:
    if "states" not in tables or "schema_changes" not in tables:
        raise DatasetError(
            f"{path}: not a Home Assistant recorder database (no states and "
            "schema_changes tables)"
        )
    (version,) = connection.execute(
        "SELECT MAX(schema_version) FROM schema_changes"
    ).fetchone()
    missing = [
        f"{table}.{column}"
        for table, columns in REQUIRED_COLUMNS.items()
        for column in sorted(columns - tables.get(table, set()))
    ]
    if version is None or version < MIN_SCHEMA_VERSION or missing:
        raise DatasetError(
            f"{path}: recorder schema {version} is too old (needs "
            f"{MIN_SCHEMA_VERSION} or newer, HA 2024.3+; missing "
            f"{', '.join(missing) or 'nothing'}); let Home Assistant upgrade it first"
        )


def _entity_table(connection: sqlite3.Connection) -> np.ndarray:
    """Return an array indexed by metadata_id holding the entity id (or None)."""
    rows = connection.execute(
        "SELECT metadata_id, entity_id FROM states_meta WHERE metadata_id >= 0"
    ).fetchall()
    table = np.full(max((i for i, _ in rows), default=0) + 1, None, dtype=object)
    for metadata_id, entity_id in rows:
        if entity_domain(entity_id) is not None:
            table[metadata_id] = entity_id
    return table


_ROWS = """
    FROM states
    WHERE last_updated_ts >= ? AND metadata_id IS NOT NULL
      AND state IS NOT NULL AND state != ''
"""


def _window(
    connection: sqlite3.Connection, days: float | None, path: Path
) -> tuple[float, float, int]:
    """Return (start, end, rows): the window the import covers, in POSIX seconds.

    The window ends a microsecond after the latest row (or re-report) and starts
    at the earliest row, or `days` before the end.
    """
    first, last, reported = connection.execute(
        "SELECT MIN(last_updated_ts), MAX(last_updated_ts), MAX(last_reported_ts)"
        + _ROWS,
        (float("-inf"),),
    ).fetchone()
    if first is None:
        raise DatasetError(f"{path}: the recorder holds no states (nothing to import)")
    end = (round(max(last, reported or last) * 1e6) + 1) / 1e6
    start = first if days is None else max(first, end - days * DAY)
    (rows,) = connection.execute("SELECT COUNT(*)" + _ROWS, (start,)).fetchone()
    return start, end, rows


def _runs(connection: sqlite3.Connection) -> list[tuple[float, float | None, bool]]:
    """Return the recorder's runs as (start, end or None, closed_incorrect)."""
    rows = connection.execute(
        'SELECT start, "end", closed_incorrect FROM recorder_runs ORDER BY start'
    ).fetchall()
    return [
        (_utc_seconds(a), None if b is None else _utc_seconds(b), bool(bad))
        for a, b, bad in rows
    ]


def _utc_seconds(value: str) -> float:
    """Return a recorder DATETIME (naive UTC text in SQLite) as POSIX seconds."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


# --- events and re-reports, streamed --------------------------------------------


@dataclass
class _Collected:
    """What the chunks produced: event tables, re-reports, attributes seen."""

    tables: list[pa.Table] = field(default_factory=list)
    updated_us: list[np.ndarray] = field(default_factory=list)
    report_ids: list[np.ndarray] = field(default_factory=list)
    report_us: list[np.ndarray] = field(default_factory=list)
    # Per entity, the device class and unit its latest attributes named.
    described: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    rows: int = 0


def _chunks(
    connection: sqlite3.Connection, start: float
) -> Iterator[list[tuple[Any, ...]]]:
    # Ordered by the last_updated_ts index: ties come in state_id (rowid) order.
    cursor = connection.execute(
        "SELECT s.metadata_id, s.state, a.shared_attrs, s.last_changed_ts, "
        "s.last_updated_ts, s.last_reported_ts "
        "FROM states AS s LEFT JOIN state_attributes AS a "
        "ON a.attributes_id = s.attributes_id "
        "WHERE s.last_updated_ts >= ? AND s.metadata_id IS NOT NULL "
        "AND s.state IS NOT NULL AND s.state != '' "
        "ORDER BY s.last_updated_ts",
        (start,),
    )
    while rows := cursor.fetchmany(CHUNK_ROWS):
        yield rows


def _micros(values: Sequence[float | None], fill: np.ndarray) -> np.ndarray:
    """Return POSIX seconds as whole microseconds, `fill` where a value is None."""
    array = np.array(values, dtype=np.float64)  # None becomes NaN
    array = np.where(np.isnan(array), fill, array)
    return np.round(array * 1e6).astype(np.int64)


def _clean_attributes(text: str | None) -> tuple[str | None, str | None, str | None]:
    """Return (attributes JSON kept, device class, unit) of a stored attributes text.

    Unreadable attributes are dropped (the row keeps its state).
    """
    try:
        parsed = json.loads(text) if text else None
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        return None, None, None
    kept = {k: v for k, v in parsed.items() if k not in DROPPED_ATTRIBUTES}
    device_class, unit = parsed.get("device_class"), parsed.get("unit_of_measurement")
    return (
        json.dumps(kept, separators=(",", ":"), ensure_ascii=False) if kept else None,
        device_class if isinstance(device_class, str) else None,
        unit if isinstance(unit, str) else None,
    )


def _convert_chunk(
    rows: list[tuple[Any, ...]], entities: np.ndarray, collected: _Collected
) -> None:
    """Turn one chunk of state rows into an event table and re-reports."""
    metadata_ids, states, attributes, changed, updated, reported = zip(
        *rows, strict=True
    )
    ids = np.array(metadata_ids, dtype=np.int64)
    known = (ids < len(entities)) & (ids >= 0)
    known[known] = entities[ids[known]] != None  # noqa: E711 (object array)
    updated_us = _micros(updated, np.nan)
    # NULL last_changed_ts: the state changed when it was updated.
    changed_us = np.minimum(_micros(changed, np.asarray(updated)), updated_us)
    entity_ids = entities[np.where(known, ids, 0)]
    # Each distinct attributes text of the chunk is parsed once.
    texts = pa.array(attributes, pa.string()).dictionary_encode()
    cleaned = [_clean_attributes(text) for text in texts.dictionary.to_pylist()]
    kept = pc.take(
        pa.array([c[0] for c in cleaned], pa.string()), texts.indices
    ).dictionary_encode()
    _remember_descriptions(entity_ids[known], texts.indices, known, cleaned, collected)
    mask = pa.array(known)
    table = pa.table(
        [
            pa.array(entity_ids, pa.string()).dictionary_encode(),
            pa.array(states, pa.string()).dictionary_encode(),
            kept,
            pa.array(changed_us, pa.int64()).cast(TIME_TYPE),
            pa.array(updated_us, pa.int64()).cast(TIME_TYPE),
        ],
        schema=EVENT_SCHEMA,
    ).filter(mask)
    collected.tables.append(table)
    collected.updated_us.append(updated_us[known])
    # NULL last_reported_ts: never re-reported (0 is before any update).
    reported_us = _micros(reported, np.zeros(len(rows)))
    moved = known & (reported_us > updated_us)
    collected.report_ids.append(ids[moved])
    collected.report_us.append(reported_us[moved])
    collected.rows += len(rows)


def _remember_descriptions(
    entity_ids: np.ndarray,
    indices: pa.Array,
    known: np.ndarray,
    cleaned: list[tuple[str | None, str | None, str | None]],
    collected: _Collected,
) -> None:
    """Keep, per entity, the device class and unit of its latest attributes."""
    positions = indices.to_numpy(zero_copy_only=False)[known]
    # The last row of each entity in this chunk: unique over the reversed order.
    names, first = np.unique(entity_ids[::-1].astype(str), return_index=True)
    last = len(entity_ids) - 1 - first
    for name, row in zip(names.tolist(), last.tolist(), strict=True):
        position = positions[row]
        if not np.isnan(position):  # NaN: no attributes on that row
            _, device_class, unit = cleaned[int(position)]
            collected.described[name] = (device_class, unit)


def read_states(
    connection: sqlite3.Connection, start: float, total: int, *, progress: bool
) -> _Collected:
    """Stream the states of the window in chunks; return what they converted to."""
    entities = _entity_table(connection)
    collected = _Collected()
    with _Bar(
        total=total,
        unit="row",
        unit_scale=True,
        file=sys.stderr,
        disable=not progress,
        dynamic_ncols=True,
    ) as bar:
        for rows in _chunks(connection, start):
            _convert_chunk(rows, entities, collected)
            bar.update(len(rows))
    collected.report_ids = [
        np.asarray(entities[ids], dtype=object) for ids in collected.report_ids
    ]
    return collected


def _reports(collected: _Collected, end_us: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the re-reports (entity ids, µs) sorted by time, inside the window."""
    ids = np.concatenate([np.empty(0, object), *collected.report_ids])
    times = np.concatenate([np.empty(0, np.int64), *collected.report_us])
    keep = times < end_us
    ids, times = ids[keep], times[keep]
    order = np.argsort(times, kind="stable")
    return ids[order], times[order]


# --- gaps -----------------------------------------------------------------------


def downtime(
    runs: Sequence[tuple[float, float | None, bool]],
    observed_us: np.ndarray,
    start_us: int,
    end_us: int,
) -> list[tuple[int, int]]:
    """Return the gaps (µs) between recorder runs that hold no observed row.

    A run closed incorrectly (HA crashed; the next start closed it) is taken to
    end at its last observed row. Each gap is clipped to the window and shrunk to
    start after any row inside it (rows are never inside a gap).
    """
    observed = np.sort(observed_us)
    gaps = []
    for (a0, b0, bad), (a1, _, _) in itertools.pairwise(runs):
        run_start, run_end, next_start = (
            round(a0 * 1e6),
            round((b0 if b0 is not None else a1) * 1e6),
            round(a1 * 1e6),
        )
        if bad:
            last = np.searchsorted(observed, run_end, side="right") - 1
            inside_run = last >= 0 and observed[last] >= run_start
            run_end = int(observed[last]) + 1 if inside_run else run_start
        gap_start, gap_end = max(run_end, start_us), min(next_start, end_us)
        # Rows inside the interval (written at a stop, or clocks that moved back).
        last = np.searchsorted(observed, gap_end, side="left") - 1
        if last >= 0 and observed[last] >= gap_start:
            gap_start = int(observed[last]) + 1
        if gap_start < gap_end:
            gaps.append((gap_start, gap_end))
    return gaps


# --- the inventory --------------------------------------------------------------


def _storage(config_dir: Path, key: str, *, required: bool = True) -> dict[str, Any]:
    path = config_dir / ".storage" / key
    if not path.is_file():
        if required:
            raise DatasetError(f"{path}: missing (is {config_dir} HA's config dir?)")
        return {}
    try:
        document = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as error:
        raise DatasetError(f"{path}: unreadable ({error})") from None
    data = document.get("data") if isinstance(document, dict) else None
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: not an HA storage file (no 'data' object)")
    return data


def _protocol(device: Mapping[str, Any], integration: str | None) -> str:
    for kind, _ in device.get("connections") or ():
        if kind in PROTOCOL_OF_CONNECTION:
            return PROTOCOL_OF_CONNECTION[kind]
    if integration is None:
        return "unknown"
    return PROTOCOL_OF_DOMAIN.get(integration, "other")


def _integration(device: Mapping[str, Any], domains: Mapping[str, str]) -> str | None:
    primary = device.get("primary_config_entry")
    entries = [primary, *(device.get("config_entries") or ())]
    return next((domains[e] for e in entries if e in domains), None)


def _entity(
    entity_id: str,
    registered: Mapping[str, Any] | None,
    described: Mapping[str, tuple[str | None, str | None]],
) -> Entity:
    """Return an inventory entity: the registry's class and unit, else the DB's."""
    seen_class, seen_unit = described.get(entity_id, (None, None))
    registered = registered or {}
    return Entity(
        entity_id,
        entity_id.partition(".")[0],
        registered.get("device_class")
        or registered.get("original_device_class")
        or seen_class,
        registered.get("unit_of_measurement") or seen_unit,
    )


def registry_inventory(
    config_dir: Path,
    home_id: str,
    recorded: Sequence[str],
    described: Mapping[str, tuple[str | None, str | None]],
    time_zone: str | None,
) -> Inventory:
    """Return the inventory from HA's registries in `config_dir`/.storage.

    Devices with their integration (the domain of their primary config entry), hub
    (`via_device`), area and entities; power source "battery" when an entity is a
    battery, else "unknown". As the integration watches a home: disabled entities,
    entities of action domains (`ACTION_DOMAINS`: buttons, scenes …), and
    disabled, service or entity-less devices (with their entities), are left out.
    Recorded entities no registry places on a device are device-less entities.
    """
    devices = _storage(config_dir, "core.device_registry").get("devices", [])
    entities = _storage(config_dir, "core.entity_registry").get("entities", [])
    areas = _storage(config_dir, "core.area_registry").get("areas", [])
    floors = _storage(config_dir, "core.floor_registry", required=False)
    entries = _storage(config_dir, "core.config_entries", required=False)
    core = _storage(config_dir, "core.config", required=False)
    domains = {e["entry_id"]: e["domain"] for e in entries.get("entries", [])}
    floor_list = tuple(
        HomeFloor(f["floor_id"], f.get("name") or f["floor_id"], f.get("level"))
        for f in floors.get("floors", [])
    )
    floor_ids = {f.floor_id for f in floor_list}
    area_list = tuple(
        HomeArea(
            a["id"],
            a.get("name") or a["id"],
            a.get("floor_id") if a.get("floor_id") in floor_ids else None,
        )
        for a in areas
    )
    area_ids = {a.area_id for a in area_list}
    by_device: dict[str, list[Entity]] = {}
    placed, disabled = set(), set()
    for registered in entities:
        entity_id = registered.get("entity_id")
        if entity_domain(entity_id) is None:
            continue
        if registered.get("disabled_by") is not None:
            disabled.add(entity_id)
        elif registered.get("device_id"):
            placed.add(entity_id)
            if shows_liveness(entity_id):  # as the integration: no action entities
                entity = _entity(entity_id, registered, described)
                by_device.setdefault(registered["device_id"], []).append(entity)
    # As the integration watches them: enabled, physical devices with entities.
    watched = [
        d
        for d in devices
        if by_device.get(d["id"])
        and d.get("disabled_by") is None
        and d.get("entry_type") != "service"
    ]
    watched_ids = {d["id"] for d in watched}
    device_list = tuple(
        _device(d, by_device[d["id"]], domains, area_ids, watched_ids) for d in watched
    )
    registered_by_id = {e.get("entity_id"): e for e in entities}
    # Entities of unwatched devices are left out, like disabled ones.
    loose = tuple(
        _entity(entity_id, registered_by_id.get(entity_id), described)
        for entity_id in sorted(set(recorded) - placed - disabled)
    )
    return Inventory(
        home_id,
        time_zone or core.get("time_zone") or "UTC",
        floor_list,
        area_list,
        device_list,
        loose,
    )


def _device(
    device: Mapping[str, Any],
    entities: list[Entity],
    domains: Mapping[str, str],
    area_ids: set[str],
    device_ids: set[str],
) -> Device:
    integration = _integration(device, domains)
    battery = any(e.device_class == "battery" for e in entities)
    via = device.get("via_device_id")
    return Device(
        device["id"],
        device.get("name_by_user") or device.get("name"),
        device.get("manufacturer"),
        device.get("model"),
        _protocol(device, integration),
        "battery" if battery else "unknown",
        device.get("area_id") if device.get("area_id") in area_ids else None,
        tuple(sorted(entities, key=lambda e: e.entity_id)),
        integration,
        via if via in device_ids and via != device["id"] else None,
    )


def loose_inventory(
    home_id: str,
    recorded: Sequence[str],
    described: Mapping[str, tuple[str | None, str | None]],
    time_zone: str | None,
) -> Inventory:
    """Return an inventory of device-less entities only (no registries given)."""
    return Inventory(
        home_id,
        time_zone or "UTC",
        entities=tuple(
            _entity(entity_id, None, described) for entity_id in sorted(recorded)
        ),
    )


# --- the whole import -----------------------------------------------------------


def import_recorder(options: ImportOptions) -> ImportStats:
    """Convert the recorder database of `options` into a one-home dataset."""
    began = time.perf_counter()
    connection = open_recorder(options.db)
    try:
        start, end, total = _window(connection, options.days, options.db)
        runs = _runs(connection)
        collected = read_states(connection, start, total, progress=options.progress)
    except sqlite3.DatabaseError as error:
        raise DatasetError(f"{options.db}: {_database_problem(error)}") from None
    finally:
        connection.close()
    start_us, end_us = round(start * 1e6), round(end * 1e6)
    # One dictionary per column across chunks: the writer keeps it as it is.
    events = pa.concat_tables(collected.tables)
    report_ids, report_us = _reports(collected, end_us)
    observed = np.concatenate([*collected.updated_us, report_us])
    gaps = downtime(runs, observed, start_us, end_us)
    recorded = sorted(
        set(pc.unique(events["entity_id"].cast(pa.string())).to_pylist())
        | set(report_ids.tolist())
    )
    if options.config_dir is not None:
        inventory = registry_inventory(
            options.config_dir,
            options.home_id,
            recorded,
            collected.described,
            options.time_zone,
        )
    else:
        inventory = loose_inventory(
            options.home_id, recorded, collected.described, options.time_zone
        )
    reports = None
    if options.reports == "last":
        reports = ReportColumns(report_ids, report_us / 1e6)
    writer = DatasetWriter(
        options.out,
        source_kind="recorder",
        producer=f"homeiq-trainer {__version__}",
        created=time.time(),
        options={
            "database": options.db.name,
            "registries": options.config_dir is not None,
            "days": options.days,
            "reports": "last re-report per state" if reports is not None else None,
            "recorder_runs": len(runs),
        },
        overwrite=options.overwrite,
    )
    entry = writer.write_home(
        inventory,
        events,
        start=start,
        end=end,
        labels=Labels(annotated=False),
        reports=reports,
        gaps=[(a / 1e6, b / 1e6) for a, b in gaps],
    )
    writer.close()
    return ImportStats(
        entry,
        collected.rows,
        time.perf_counter() - began,
        len(inventory.devices),
        sum(1 for _ in inventory.all_entities()),
    )


# --- the command ----------------------------------------------------------------


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register the `import-recorder` subcommand."""
    parser = subparsers.add_parser(
        "import-recorder",
        help="convert Home Assistant's recorder database into a dataset",
        description=(
            "Read Home Assistant's recorder database (SQLite, read-only) and write "
            "its history as a one-home dataset (docs/recorder-import.md). With "
            "--config-dir, devices, areas and floors come from HA's registries."
        ),
    )
    parser.add_argument("--db", required=True, help="home-assistant_v2.db")
    parser.add_argument("--out", required=True, help="dataset directory to create")
    parser.add_argument(
        "--config-dir", help="HA's config directory (its .storage registries)"
    )
    parser.add_argument(
        "--days", type=_positive_float, help="only the last N days (default: all)"
    )
    parser.add_argument("--home-id", default="home", help="the home's id")
    parser.add_argument(
        "--time-zone",
        help="IANA time zone (default: HA's, from --config-dir; else UTC)",
    )
    parser.add_argument(
        "--reports",
        choices=("none", "last"),
        default="none",
        help=(
            "re-reports to write: none (default: the heartbeat is not visible), or "
            "each state's last one, all the recorder keeps (a partial heartbeat)"
        ),
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a dataset in --out"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def run(args: argparse.Namespace) -> int:
    """Run the import and print one summary line."""
    options = ImportOptions(
        db=Path(args.db),
        out=Path(args.out),
        config_dir=None if args.config_dir is None else Path(args.config_dir),
        days=args.days,
        home_id=args.home_id,
        time_zone=args.time_zone,
        reports=args.reports,
        overwrite=args.overwrite,
        progress=not args.quiet and sys.stderr.isatty(),
    )
    try:
        stats = import_recorder(options)
    except DatasetError as error:
        raise CommandError(str(error)) from None
    entry = stats.entry
    where = "" if options.config_dir else " (no --config-dir: no devices, areas)"
    print(
        f"Imported {entry.n_events:,} events, {entry.n_reports:,} re-reports, "
        f"{len(entry.gaps)} gaps, {stats.devices} devices, {stats.entities} "
        f"entities{where} into {os.fspath(options.out)} in {stats.seconds:.1f} s "
        f"({stats.rows_per_second:,.0f} rows/s)"
    )
    return 0
