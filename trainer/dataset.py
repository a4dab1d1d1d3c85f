"""Read and write whole HomeIQ datasets (docs/data-format.md).

`homeiq_core.dataset` holds the records and the validators of single files; this
module puts them together: a streaming `DatasetWriter` that writes one home at a
time and the manifest last (atomically), `read_dataset` that iterates over homes
as `Home` tuples, and `validate_dataset` that checks every file of a dataset.
A home may come as events, as daily rollups (version 3: what the integration
exports), or both.

Events are stored as Parquet (pyarrow; `entity_id` and `state` dictionary-encoded,
times as `timestamp[us, UTC]`, attributes as JSON text) or as JSON lines, plain or
gzip-compressed. Every problem is reported as a `DatasetError` that names the file
and what is wrong with it.
"""

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
import gzip
import io
import json
import os
from pathlib import Path
import shutil
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from homeiq_core.dataset import (
    EVENT_COLUMNS,
    EXTERNAL_COLUMNS,
    EXTERNAL_SERIES,
    HOME_ID_PATTERN,
    MAX_STATE_LENGTH,
    REPORT_COLUMNS,
    DatasetError,
    EventColumns,
    HomeEntry,
    Inventory,
    Labels,
    Manifest,
    ReportColumns,
    check_gaps,
    check_rollups,
    format_time,
    in_gaps,
    parse_rollups,
    parse_time,
    read_events_jsonl,
    read_reports_jsonl,
    write_rollups_json,
)
from homeiq_core.rollups import DayRollup
from homeiq_core.telemetry import entity_domain

FORMATS = ("parquet", "jsonl", "jsonl.gz")
MANIFEST = "manifest.json"
HOMES_DIR = "homes"

TIME_TYPE = pa.timestamp("us", tz="UTC")
EVENT_SCHEMA = pa.schema(
    [
        pa.field("entity_id", pa.dictionary(pa.int32(), pa.string()), nullable=False),
        pa.field("state", pa.dictionary(pa.int32(), pa.string()), nullable=False),
        pa.field("attributes", pa.dictionary(pa.int32(), pa.string())),
        pa.field("last_changed", TIME_TYPE, nullable=False),
        pa.field("last_updated", TIME_TYPE, nullable=False),
    ]
)
REPORT_SCHEMA = pa.schema(
    [
        pa.field("entity_id", pa.dictionary(pa.int32(), pa.string()), nullable=False),
        pa.field("time", TIME_TYPE, nullable=False),
    ]
)
EXTERNAL_SCHEMA = pa.schema(
    [
        pa.field("time", TIME_TYPE, nullable=False),
        pa.field("series", pa.dictionary(pa.int32(), pa.string()), nullable=False),
        pa.field("value", pa.float64(), nullable=False),
    ]
)
# Dictionaries for the text columns, deltas for the times (sorted, or nearly),
# lz4 over all (measured on generated homes: 40 % faster to write than zstd, files
# 19 % larger); min/max statistics only for the time a reader filters on
# (statistics on every column double the writing time).
_PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "lz4",
    "use_dictionary": ["entity_id", "state", "attributes"],
    "column_encoding": {
        "last_changed": "DELTA_BINARY_PACKED",
        "last_updated": "DELTA_BINARY_PACKED",
    },
    "write_statistics": ["last_updated"],
}
_PARQUET_REPORTS: dict[str, Any] = {
    "compression": "lz4",
    "use_dictionary": ["entity_id"],
    "column_encoding": {"time": "DELTA_BINARY_PACKED"},
    "write_statistics": ["time"],
}
_PARQUET_EXTERNAL: dict[str, Any] = {
    "compression": "zstd",
    "use_dictionary": ["series"],
    "write_statistics": ["time"],
}


class ExternalColumns(NamedTuple):
    """A home's external series in long form: time (POSIX s), series name, value."""

    time: np.ndarray
    series: np.ndarray
    value: np.ndarray

    def __len__(self) -> int:  # type: ignore[override]
        """Return the number of samples (not the number of columns)."""
        return len(self.time)


class Home(NamedTuple):
    """One home of a dataset, read and validated.

    `reports` is None when the dataset did not record re-reports (version 1, or a
    conversion from HA's recorder): the heartbeat was not visible. `gaps` are the
    intervals [start, end) in which nothing was recorded. `rollups` are the
    home's closed days when the dataset carries them (version 3), None otherwise;
    a home that comes as rollups only has no events (an empty `events`).
    """

    entry: HomeEntry
    inventory: Inventory
    labels: Labels | None
    events: EventColumns
    external: ExternalColumns | None
    reports: ReportColumns | None = None
    gaps: tuple[tuple[float, float], ...] = ()
    rollups: tuple[DayRollup, ...] | None = None


# --- events: Arrow tables <-> EventColumns --------------------------------------


def events_table(events: EventColumns) -> pa.Table:
    """Return `events` as an Arrow table in the dataset's event schema."""
    n = len(events)
    for name, column in zip(EVENT_COLUMNS, events, strict=True):
        if len(column) != n:
            raise DatasetError(
                f"events: column {name!r} has {len(column)} rows, not {n}"
            )
    return pa.table(
        [
            pa.array(events.entity_id, pa.string()).dictionary_encode(),
            pa.array(events.state, pa.string()).dictionary_encode(),
            pa.array(events.attributes, pa.string()).dictionary_encode(),
            _times_array(events.last_changed),
            _times_array(events.last_updated),
        ],
        schema=EVENT_SCHEMA,
    )


def empty_events_table() -> pa.Table:
    """Return an event table without rows (a home that comes as rollups only)."""
    return EVENT_SCHEMA.empty_table()


def _times_array(seconds: np.ndarray) -> pa.Array:
    micros = np.round(np.asarray(seconds, dtype=np.float64) * 1e6).astype(np.int64)
    return pa.array(micros, TIME_TYPE)


def _seconds(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    micros = column.cast(TIME_TYPE).cast(pa.int64())
    return micros.to_numpy().astype(np.float64) / 1e6


def _strings(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    array = column.to_numpy(zero_copy_only=False)
    return array.astype(object) if array.dtype != object else array


def table_to_events(table: pa.Table) -> EventColumns:
    """Return the columns of a checked event table as `EventColumns`."""
    attributes = table["attributes"]
    if pa.types.is_null(attributes.type):
        attributes = attributes.cast(pa.string())
    return EventColumns(
        _strings(table["entity_id"]),
        _strings(table["state"]),
        _strings(attributes),
        _seconds(table["last_changed"]),
        _seconds(table["last_updated"]),
    )


def reports_table(reports: ReportColumns) -> pa.Table:
    """Return `reports` as an Arrow table in the dataset's report schema."""
    if len(reports.entity_id) != len(reports.time):
        raise DatasetError(
            f"reports: {len(reports.entity_id)} entity ids for "
            f"{len(reports.time)} times"
        )
    return pa.table(
        [
            pa.array(reports.entity_id, pa.string()).dictionary_encode(),
            _times_array(reports.time),
        ],
        schema=REPORT_SCHEMA,
    )


def table_to_reports(table: pa.Table) -> ReportColumns:
    """Return the columns of a checked report table as `ReportColumns`."""
    return ReportColumns(_strings(table["entity_id"]), _seconds(table["time"]))


def external_table(external: ExternalColumns) -> pa.Table:
    """Return `external` as an Arrow table in the dataset's external schema."""
    return pa.table(
        [
            _times_array(external.time),
            pa.array(external.series, pa.string()).dictionary_encode(),
            pa.array(np.asarray(external.value, dtype=np.float64), pa.float64()),
        ],
        schema=EXTERNAL_SCHEMA,
    )


def table_to_external(table: pa.Table) -> ExternalColumns:
    """Return the columns of a checked external-series table."""
    return ExternalColumns(
        _seconds(table["time"]),
        _strings(table["series"]),
        table["value"].to_numpy().astype(np.float64),
    )


# --- checks on Arrow tables ------------------------------------------------------


def _is_text(kind: pa.DataType) -> bool:
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _is_utc_time(kind: pa.DataType) -> bool:
    return pa.types.is_timestamp(kind) and kind.tz in {"UTC", "+00:00", "Etc/UTC"}


def _check_columns(
    table: pa.Table, where: str, names: tuple[str, ...], checks: dict[str, Any]
) -> None:
    missing = [name for name in names if name not in table.column_names]
    if missing:
        raise DatasetError(f"{where}: missing column(s) {', '.join(missing)}")
    for name in names:
        kind = table.schema.field(name).type
        check, expected = checks[name]
        if not check(kind):
            raise DatasetError(
                f"{where}: column {name!r} is {kind}, expected {expected}"
            )
    for name in names:
        if name != "attributes" and table[name].null_count:
            raise DatasetError(f"{where}: column {name!r} has null values")


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def check_events_table(
    table: pa.Table,
    where: str,
    *,
    start: float | None = None,
    end: float | None = None,
    gaps: tuple[tuple[float, float], ...] = (),
) -> pa.Table:
    """Check an event table thoroughly; return it with its times as µs UTC.

    Raises `DatasetError` naming `where` and the first problem: a missing or
    mistyped column, nulls, a bad entity id, a too long state, attributes that are
    not JSON objects, times not sorted by `last_updated`, `last_changed` after
    `last_updated`, times outside the window [`start`, `end`) or inside a gap.
    """
    text = (_is_text, "string")
    utc = (_is_utc_time, "timestamp with time zone UTC")
    _check_columns(
        table,
        where,
        EVENT_COLUMNS,
        {
            "entity_id": text,
            "state": text,
            "attributes": (lambda k: _is_text(k) or pa.types.is_null(k), "string"),
            "last_changed": utc,
            "last_updated": utc,
        },
    )
    table = table.select(list(EVENT_COLUMNS))
    table = _utc_times(table, "last_changed", "last_updated")
    _check_entity_ids(table, where)
    states = _unique_strings(table["state"])
    too_long = pc.greater(pc.utf8_length(states), MAX_STATE_LENGTH)
    if pc.any(too_long).as_py():
        state = pc.filter(states, too_long)[0]
        raise DatasetError(
            f"{where}: state {state.as_py()[:20]!r}… is longer than {MAX_STATE_LENGTH}"
        )
    attributes = table["attributes"]
    if not pa.types.is_null(attributes.type):
        for text_value in _unique_strings(attributes).to_pylist():
            try:
                parsed = json.loads(text_value)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                raise DatasetError(
                    f"{where}: attributes {text_value[:40]!r} is not a JSON object"
                )
    changed = table["last_changed"].cast(pa.int64()).to_numpy()
    updated = table["last_updated"].cast(pa.int64()).to_numpy()
    _check_sorted(updated, where, "events are not sorted by last_updated")
    if (late := changed > updated).any():
        raise DatasetError(
            f"{where}: row {_first_bad(late)} has last_changed after last_updated"
        )
    _check_window(updated, where, "last_updated", start, end)
    _check_gaps(updated, where, "last_updated", gaps)
    return table


def check_reports_table(
    table: pa.Table,
    where: str,
    *,
    start: float | None = None,
    end: float | None = None,
    gaps: tuple[tuple[float, float], ...] = (),
) -> pa.Table:
    """Check a report table: columns, entity ids, sorted times in the window."""
    _check_columns(
        table,
        where,
        REPORT_COLUMNS,
        {
            "entity_id": (_is_text, "string"),
            "time": (_is_utc_time, "timestamp with time zone UTC"),
        },
    )
    table = _utc_times(table.select(list(REPORT_COLUMNS)), "time")
    _check_entity_ids(table, where)
    times = table["time"].cast(pa.int64()).to_numpy()
    _check_sorted(times, where, "reports are not sorted by time")
    _check_window(times, where, "time", start, end)
    _check_gaps(times, where, "time", gaps)
    return table


def _utc_times(table: pa.Table, *names: str) -> pa.Table:
    """Return `table` with the time columns `names` as µs UTC."""
    for name in names:
        if table.schema.field(name).type != TIME_TYPE:
            table = table.set_column(
                table.column_names.index(name), name, table[name].cast(TIME_TYPE)
            )
    return table


def _check_entity_ids(table: pa.Table, where: str) -> None:
    for entity_id in _unique_strings(table["entity_id"]).to_pylist():
        if entity_domain(entity_id) is None:
            raise DatasetError(f"{where}: bad entity_id {entity_id!r}")


def _check_sorted(micros: np.ndarray, where: str, problem: str) -> None:
    if len(micros) and (unsorted := np.diff(micros) < 0).any():
        raise DatasetError(f"{where}: {problem} (row {_first_bad(unsorted) + 1})")


def _check_gaps(
    micros: np.ndarray, where: str, name: str, gaps: tuple[tuple[float, float], ...]
) -> None:
    # Compared in whole microseconds, as stored: a row at a gap's end is outside.
    inside = in_gaps(
        micros.astype(np.float64), [(round(a * 1e6), round(b * 1e6)) for a, b in gaps]
    )
    if inside is not None:
        row = _first_bad(inside)
        raise DatasetError(
            f"{where}: row {row} ({name} {format_time(micros[row] / 1e6)}) "
            "falls inside a gap, when nothing was recorded"
        )


def _check_window(
    micros: np.ndarray, where: str, name: str, start: float | None, end: float | None
) -> None:
    if not len(micros) or start is None or end is None:
        return
    first, last = int(micros.min()), int(micros.max())
    if first < round(start * 1e6) or last >= round(end * 1e6):
        raise DatasetError(
            f"{where}: {name} from {format_time(first / 1e6)} to "
            f"{format_time(last / 1e6)} is outside the window "
            f"[{format_time(start)}, {format_time(end)})"
        )


def _unique_strings(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Return the distinct non-null strings of `column` (of its dictionaries)."""
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    if pa.types.is_dictionary(column.type):
        # Every dictionary entry is checked, used or not: cheaper, and stricter.
        chunks = [chunk.dictionary for chunk in chunks]
    values = pa.concat_arrays(chunks) if chunks else pa.array([], pa.string())
    return pc.unique(values.drop_null())


def check_external_table(table: pa.Table, where: str) -> pa.Table:
    """Check an external-series table; return it with its times as µs UTC.

    External series may extend beyond the event window (a forecast, a warm-up).
    """
    _check_columns(
        table,
        where,
        EXTERNAL_COLUMNS,
        {
            "time": (_is_utc_time, "timestamp with time zone UTC"),
            "series": (_is_text, "string"),
            "value": (pa.types.is_floating, "float64"),
        },
    )
    table = table.select(list(EXTERNAL_COLUMNS))
    if table.schema.field("time").type != TIME_TYPE:
        table = table.set_column(0, "time", table["time"].cast(TIME_TYPE))
    for name in _unique_strings(table["series"]).to_pylist():
        if name not in EXTERNAL_SERIES:
            raise DatasetError(
                f"{where}: unknown series {name!r} "
                f"(known: {', '.join(EXTERNAL_SERIES)})"
            )
    values = table["value"].to_numpy().astype(np.float64)
    if not np.isfinite(values).all():
        raise DatasetError(f"{where}: values must be finite numbers")
    return table


# --- file I/O ------------------------------------------------------------------


def _read_parquet(path: Path, where: str) -> pa.Table:
    try:
        return pq.read_table(path)
    except FileNotFoundError:
        raise DatasetError(f"{where}: file is missing") from None
    except (pa.ArrowException, OSError) as error:
        raise DatasetError(f"{where}: not a readable Parquet file ({error})") from None


def _open_text(path: Path, where: str) -> io.TextIOBase:
    try:
        if path.name.endswith(".gz"):
            return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
        return path.open(encoding="utf-8")
    except FileNotFoundError:
        raise DatasetError(f"{where}: file is missing") from None


def _read_lines(path: Path, where: str) -> Iterator[str]:
    with _open_text(path, where) as stream:
        try:
            yield from stream
        except (OSError, EOFError, UnicodeDecodeError) as error:
            raise DatasetError(f"{where}: cannot be read ({error})") from None


def _read_json(path: Path, where: str) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{where}: file is missing") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise DatasetError(f"{where}: not JSON ({error})") from None


def _events_from_jsonl(path: Path, where: str) -> pa.Table:
    rows = list(read_events_jsonl(_read_lines(path, where), where))
    return events_table(
        EventColumns(
            np.array([r.entity_id for r in rows], dtype=object),
            np.array([r.state for r in rows], dtype=object),
            np.array(
                [
                    None
                    if r.attributes is None
                    else json.dumps(r.attributes, separators=(",", ":"))
                    for r in rows
                ],
                dtype=object,
            ),
            np.array([r.last_changed for r in rows], dtype=np.float64),
            np.array([r.last_updated for r in rows], dtype=np.float64),
        )
    )


def _reports_from_jsonl(path: Path, where: str) -> pa.Table:
    rows = list(read_reports_jsonl(_read_lines(path, where), where))
    return reports_table(
        ReportColumns(
            np.array([entity_id for entity_id, _ in rows], dtype=object),
            np.array([time for _, time in rows], dtype=np.float64),
        )
    )


def _external_from_jsonl(path: Path, where: str) -> pa.Table:
    times: list[float] = []
    names: list[str] = []
    values: list[float] = []
    for number, line in enumerate(_read_lines(path, where), start=1):
        if not line.strip():
            continue
        here = f"{where} line {number}"
        try:
            obj = json.loads(line)
        except ValueError as error:
            raise DatasetError(f"{here}: not JSON ({error})") from None
        if not isinstance(obj, dict):
            raise DatasetError(f"{here}: expected a JSON object")
        value = obj.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise DatasetError(f"{here}: 'value' must be a number")
        series = obj.get("series")
        if not isinstance(series, str):
            raise DatasetError(f"{here}: 'series' must be a string")
        times.append(parse_time(obj.get("time"), f"{here} time"))
        names.append(series)
        values.append(float(value))
    return external_table(
        ExternalColumns(
            np.array(times, dtype=np.float64),
            np.array(names, dtype=object),
            np.array(values, dtype=np.float64),
        )
    )


def _json_strings(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Return `column`'s strings as JSON string literals, null for null."""
    encoded = pc.dictionary_encode(
        column.cast(column.type.value_type)
        if pa.types.is_dictionary(column.type)
        else column
    )
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    literals = pa.array(
        [json.dumps(v) for v in encoded.dictionary.to_pylist()], pa.string()
    )
    return pa.DictionaryArray.from_arrays(encoded.indices, literals).cast(pa.string())


def _json_objects(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Return attribute texts re-serialised compactly, "null" for null."""
    if pa.types.is_null(column.type):
        return pa.array(["null"] * len(column), pa.string())
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    encoded = pc.dictionary_encode(column)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    literals = pa.array(
        [
            json.dumps(json.loads(v), separators=(",", ":"))
            for v in encoded.dictionary.to_pylist()
        ],
        pa.string(),
    )
    text = pa.DictionaryArray.from_arrays(encoded.indices, literals).cast(pa.string())
    return pc.fill_null(text, "null")


def _iso(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(
        pc.strftime(column, format="%Y-%m-%dT%H:%M:%S"), "+00:00", ""
    )


def _jsonl_bytes(keys: tuple[str, ...], values: list[pa.Array]) -> bytes:
    """Join columns of JSON literals into JSON lines, without a loop per row."""
    parts: list[Any] = []
    for i, (key, value) in enumerate(zip(keys, values, strict=True)):
        parts.append(("{" if i == 0 else ",") + json.dumps(key) + ":")
        parts.append(value)
    parts.append("}\n")
    lines = pc.binary_join_element_wise(*parts, "")
    if isinstance(lines, pa.ChunkedArray):
        lines = lines.combine_chunks()
    if not len(lines):
        return b""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)
    first, last = offsets[lines.offset], offsets[lines.offset + len(lines)]
    return lines.buffers()[2].to_pybytes()[first:last]


def _write_bytes(path: Path, data: bytes, compress: bool) -> None:
    with path.open("wb") as raw:
        if compress:
            # mtime=0 and no file name: the same content gives the same bytes.
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as zipped:
                zipped.write(data)
        else:
            raw.write(data)


def _write_events(path: Path, table: pa.Table, fmt: str) -> None:
    if fmt == "parquet":
        pq.write_table(table, path, **_PARQUET_OPTIONS)
        return
    data = _jsonl_bytes(
        EVENT_COLUMNS,
        [
            _json_strings(table["entity_id"]),
            _json_strings(table["state"]),
            _json_objects(table["attributes"]),
            pc.binary_join_element_wise('"', _iso(table["last_changed"]), '"', ""),
            pc.binary_join_element_wise('"', _iso(table["last_updated"]), '"', ""),
        ],
    )
    _write_bytes(path, data, fmt == "jsonl.gz")


def _write_reports(path: Path, table: pa.Table, fmt: str) -> None:
    if fmt == "parquet":
        pq.write_table(table, path, **_PARQUET_REPORTS)
        return
    data = _jsonl_bytes(
        REPORT_COLUMNS,
        [
            _json_strings(table["entity_id"]),
            pc.binary_join_element_wise('"', _iso(table["time"]), '"', ""),
        ],
    )
    _write_bytes(path, data, fmt == "jsonl.gz")


def _write_external(path: Path, table: pa.Table, fmt: str) -> None:
    if fmt == "parquet":
        pq.write_table(table, path, **_PARQUET_EXTERNAL)
        return
    data = _jsonl_bytes(
        EXTERNAL_COLUMNS,
        [
            pc.binary_join_element_wise('"', _iso(table["time"]), '"', ""),
            _json_strings(table["series"]),
            table["value"].cast(pa.string()),
        ],
    )
    _write_bytes(path, data, fmt == "jsonl.gz")


def _write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj, indent=1, ensure_ascii=False) + "\n", "utf-8")


def _write_rollups(path: Path, rollups: Sequence[DayRollup]) -> None:
    with path.open("w", encoding="utf-8") as file:
        file.writelines(write_rollups_json(rollups))


def _format_of(path: str) -> str:
    for fmt in ("jsonl.gz", "jsonl", "parquet"):
        if path.endswith(f".{fmt}"):
            return fmt
    raise DatasetError(
        f"{path}: unknown file type (expected .parquet, .jsonl or .jsonl.gz)"
    )


# --- writing ---------------------------------------------------------------------


def write_home_files(
    root: str | os.PathLike[str],
    inventory: Inventory,
    events: EventColumns | pa.Table | None,
    *,
    start: float,
    end: float,
    labels: Labels | None = None,
    external: ExternalColumns | pa.Table | None = None,
    reports: ReportColumns | pa.Table | None = None,
    gaps: Sequence[tuple[float, float]] = (),
    fmt: str = "parquet",
    rollups: Sequence[DayRollup] | None = None,
) -> HomeEntry:
    """Write one home's files under `root`/homes/<home_id>/; return its entry.

    Everything is checked first, by the reader's own checks (inventory, labels
    against the inventory, events, reports, rollups, external series, gaps), so a
    writer never produces a dataset that its own reader refuses. Use this directly
    to write homes from several processes, and `DatasetWriter.add` to list them.
    `reports` None means re-reports were not recorded; an empty table means they
    were, and there were none. `events` None writes a home of `rollups` only.
    """
    if fmt not in FORMATS:
        raise DatasetError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})")
    home_id = inventory.home_id
    where = f"home {home_id}"
    if HOME_ID_PATTERN.fullmatch(home_id) is None:
        raise DatasetError(f"{where}: 'home_id' must match {HOME_ID_PATTERN.pattern}")
    inventory_json = inventory.to_json()
    Inventory.from_json(inventory_json, f"{where} inventory")
    labels_json = None
    if labels is not None:
        labels_json = labels.to_json()
        Labels.from_json(labels_json, f"{where} labels").check_devices(
            inventory, f"{where} labels"
        )
    # Gaps as they will read back (whole microseconds).
    gaps = tuple(
        (parse_time(format_time(a), where), parse_time(format_time(b), where))
        for a, b in gaps
    )
    start, end = (parse_time(format_time(t), where) for t in (start, end))
    if start > end:
        raise DatasetError(f"{where}: 'start' is after 'end'")
    check_gaps(gaps, start, end, f"{where} gaps")
    if events is None and rollups is None:
        raise DatasetError(f"{where}: a home needs events or rollups (or both)")
    if rollups is not None:
        check_rollups(
            rollups, inventory, start=start, end=end, where=f"{where} rollups"
        )
    table, report_table, ext = _checked_tables(
        where, events, reports, external, start=start, end=end, gaps=gaps
    )
    relative = f"{HOMES_DIR}/{home_id}"
    directory = Path(root, relative)
    directory.mkdir(parents=True, exist_ok=True)
    _write_json(directory / "inventory.json", inventory_json)
    events_path = rollups_path = None
    if table is not None:
        events_path = f"{relative}/events.{fmt}"
        _write_events(directory / f"events.{fmt}", table, fmt)
    if rollups is not None:
        rollups_path = f"{relative}/rollups.json"
        _write_rollups(directory / "rollups.json", rollups)
    labels_path = external_path = reports_path = None
    if labels_json is not None:
        labels_path = f"{relative}/labels.json"
        _write_json(directory / "labels.json", labels_json)
    if ext is not None:
        external_path = f"{relative}/external.{fmt}"
        _write_external(directory / f"external.{fmt}", ext, fmt)
    if report_table is not None:
        reports_path = f"{relative}/reports.{fmt}"
        _write_reports(directory / f"reports.{fmt}", report_table, fmt)
    return HomeEntry(
        home_id=home_id,
        inventory=f"{relative}/inventory.json",
        events=events_path,
        n_events=0 if table is None else table.num_rows,
        start=start,
        end=end,
        labels=labels_path,
        external=external_path,
        reports=reports_path,
        n_reports=0 if report_table is None else report_table.num_rows,
        gaps=gaps,
        rollups=rollups_path,
        n_days=0 if rollups is None else len(rollups),
    )


def _checked_tables(
    where: str,
    events: EventColumns | pa.Table | None,
    reports: ReportColumns | pa.Table | None,
    external: ExternalColumns | pa.Table | None,
    *,
    start: float,
    end: float,
    gaps: tuple[tuple[float, float], ...],
) -> tuple[pa.Table | None, pa.Table | None, pa.Table | None]:
    """Return a home's events, reports and external series as checked tables."""
    table = None
    if events is not None:
        table = events if isinstance(events, pa.Table) else events_table(events)
        table = _unique_dictionaries(
            check_events_table(
                table, f"{where} events", start=start, end=end, gaps=gaps
            )
        )
    report_table = None
    if reports is not None:
        report_table = (
            reports if isinstance(reports, pa.Table) else reports_table(reports)
        )
        report_table = _unique_dictionaries(
            check_reports_table(
                report_table, f"{where} reports", start=start, end=end, gaps=gaps
            )
        )
    ext = None
    if external is not None:
        ext = external if isinstance(external, pa.Table) else external_table(external)
        ext = check_external_table(ext, f"{where} external")
    return table, report_table, ext


def _unique_dictionaries(table: pa.Table) -> pa.Table:
    """Return `table` with no dictionary column repeating a value.

    Parquet dictionaries must be unique; pyarrow writes an Arrow dictionary
    with repeated values without complaint, but in bytes that vary from run to
    run, which would break "same seed, same bytes".
    """
    for index, name in enumerate(table.column_names):
        column = table[name]
        if not pa.types.is_dictionary(column.type):
            continue
        if all(
            len(chunk.dictionary) == pc.count_distinct(chunk.dictionary).as_py()
            for chunk in column.chunks
        ):
            continue
        plain = column.cast(column.type.value_type)
        table = table.set_column(index, name, pc.dictionary_encode(plain))
    return table


def prepare_directory(root: str | os.PathLike[str], *, overwrite: bool) -> Path:
    """Create `root` for a new dataset; refuse a non-empty one unless `overwrite`.

    Overwriting removes only a previous dataset (its manifest and homes/), and
    refuses a non-empty directory that holds no dataset.
    """
    path = Path(root)
    if path.exists() and not path.is_dir():
        raise DatasetError(f"{path}: exists and is not a directory")
    if path.is_dir() and any(path.iterdir()):
        if not overwrite:
            raise DatasetError(f"{path}: directory is not empty (overwrite it?)")
        if not (path / MANIFEST).is_file():
            raise DatasetError(
                f"{path}: not empty and holds no dataset ({MANIFEST}); "
                "refusing to overwrite it"
            )
        (path / MANIFEST).unlink()
        shutil.rmtree(path / HOMES_DIR, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class DatasetWriter:
    """Write a dataset home by home; the manifest comes last, atomically.

    Memory is bounded by one home: each home's files are written as soon as the
    home is handed over. Without `close` (e.g. after an error) no manifest is
    written and readers refuse the directory.
    """

    root: Path
    source_kind: str
    producer: str
    created: float
    options: dict[str, Any] = field(default_factory=dict)
    fmt: str = "parquet"
    overwrite: bool = False
    homes: list[HomeEntry] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        """Check the format and prepare the directory."""
        if self.fmt not in FORMATS:
            raise DatasetError(
                f"unknown format {self.fmt!r} (known: {', '.join(FORMATS)})"
            )
        self.root = prepare_directory(self.root, overwrite=self.overwrite)

    def write_home(
        self,
        inventory: Inventory,
        events: EventColumns | pa.Table | None,
        *,
        start: float,
        end: float,
        labels: Labels | None = None,
        external: ExternalColumns | pa.Table | None = None,
        reports: ReportColumns | pa.Table | None = None,
        gaps: Sequence[tuple[float, float]] = (),
        rollups: Sequence[DayRollup] | None = None,
    ) -> HomeEntry:
        """Write one home's files now and remember its manifest entry."""
        entry = write_home_files(
            self.root,
            inventory,
            events,
            start=start,
            end=end,
            labels=labels,
            external=external,
            reports=reports,
            gaps=gaps,
            fmt=self.fmt,
            rollups=rollups,
        )
        self.add(entry)
        return entry

    def add(self, entry: HomeEntry) -> None:
        """List a home whose files are already written (e.g. by another process)."""
        if any(home.home_id == entry.home_id for home in self.homes):
            raise DatasetError(f"home {entry.home_id} is written twice")
        self.homes.append(entry)

    def close(self) -> Manifest:
        """Write manifest.json (via a temporary file and a rename) and return it."""
        manifest = Manifest(
            created=self.created,
            source_kind=self.source_kind,
            producer=self.producer,
            homes=tuple(self.homes),
            options=self.options,
        )
        Manifest.from_json(manifest.to_json())  # never write what we cannot read
        temporary = self.root / f".{MANIFEST}.tmp"
        _write_json(temporary, manifest.to_json())
        temporary.replace(self.root / MANIFEST)
        return manifest

    def __enter__(self) -> DatasetWriter:
        """Return the writer."""
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        """Write the manifest, unless the block raised."""
        if kind is None:
            self.close()


# --- reading ---------------------------------------------------------------------


def read_manifest(root: str | os.PathLike[str]) -> Manifest:
    """Read and validate `root`/manifest.json."""
    path = Path(root)
    if not path.is_dir():
        raise DatasetError(f"{path}: not a directory")
    return Manifest.from_json(_read_json(path / MANIFEST, f"{path / MANIFEST}"))


@dataclass(frozen=True)
class Dataset:
    """A dataset on disk: its manifest, and its homes read one at a time."""

    root: Path
    manifest: Manifest

    def __len__(self) -> int:
        """Return the number of homes."""
        return len(self.manifest.homes)

    def __iter__(self) -> Iterator[Home]:
        """Yield every home, read and validated, in manifest order."""
        for entry in self.manifest.homes:
            yield self.read_home(entry)

    def path(self, relative: str, where: str) -> Path:
        """Return the file `relative` names, refusing one outside the dataset."""
        root = self.root.resolve()
        path = (root / relative).resolve()
        if not path.is_relative_to(root):
            raise DatasetError(f"{where}: {relative!r} points outside the dataset")
        return path

    def read_events_table(self, entry: HomeEntry) -> pa.Table:
        """Return a home's checked events as an Arrow table (the fast path).

        A home of rollups only has an empty table.
        """
        if entry.events is None:
            return empty_events_table()
        return self._read_checked_table(
            entry.events, entry, _events_from_jsonl, check_events_table, "events"
        )

    def read_inventory(self, entry: HomeEntry) -> Inventory:
        """Return a home's validated inventory."""
        where = str(self.root / entry.inventory)
        inventory = Inventory.from_json(
            _read_json(self.path(entry.inventory, where), where), where
        )
        if inventory.home_id != entry.home_id:
            raise DatasetError(
                f"{where}: home_id {inventory.home_id!r} is not "
                f"the manifest's {entry.home_id!r}"
            )
        return inventory

    def read_labels(self, entry: HomeEntry, inventory: Inventory) -> Labels | None:
        """Return a home's validated labels, or None when it has none."""
        if entry.labels is None:
            return None
        where = str(self.root / entry.labels)
        labels = Labels.from_json(
            _read_json(self.path(entry.labels, where), where), where
        )
        labels.check_devices(inventory, where)
        return labels

    def read_reports_table(self, entry: HomeEntry) -> pa.Table | None:
        """Return a home's checked re-reports, None when they were not recorded."""
        if entry.reports is None:
            return None
        return self._read_checked_table(
            entry.reports, entry, _reports_from_jsonl, check_reports_table, "reports"
        )

    def _read_checked_table(
        self,
        relative: str,
        entry: HomeEntry,
        from_jsonl: Callable[[Path, str], pa.Table],
        check: Callable[..., pa.Table],
        what: str,
    ) -> pa.Table:
        """Read a home's events or re-reports, check them and their count."""
        where = str(self.root / relative)
        path = self.path(relative, where)
        if _format_of(relative) == "parquet":
            table = _read_parquet(path, where)
        else:
            table = from_jsonl(path, where)
        table = check(table, where, start=entry.start, end=entry.end, gaps=entry.gaps)
        expected = getattr(entry, f"n_{what}")
        if table.num_rows != expected:
            raise DatasetError(
                f"{where}: has {table.num_rows} {what}, "
                f"the manifest says n_{what} {expected}"
            )
        return table

    def read_rollups(
        self, entry: HomeEntry, inventory: Inventory
    ) -> tuple[DayRollup, ...] | None:
        """Return a home's checked daily rollups, None when it has none."""
        if entry.rollups is None:
            return None
        where = str(self.root / entry.rollups)
        rollups = parse_rollups(
            _read_json(self.path(entry.rollups, where), where), where
        )
        check_rollups(rollups, inventory, start=entry.start, end=entry.end, where=where)
        if len(rollups) != entry.n_days:
            raise DatasetError(
                f"{where}: has {len(rollups)} days, the manifest says n_days "
                f"{entry.n_days}"
            )
        return tuple(rollups)

    def read_reports(self, entry: HomeEntry) -> ReportColumns | None:
        """Return a home's validated re-reports, or None when not recorded."""
        table = self.read_reports_table(entry)
        return None if table is None else table_to_reports(table)

    def read_external(self, entry: HomeEntry) -> ExternalColumns | None:
        """Return a home's validated external series, or None."""
        if entry.external is None:
            return None
        where = str(self.root / entry.external)
        path = self.path(entry.external, where)
        if _format_of(entry.external) == "parquet":
            table = _read_parquet(path, where)
        else:
            table = _external_from_jsonl(path, where)
        return table_to_external(check_external_table(table, where))

    def read_home(self, entry: HomeEntry) -> Home:
        """Read and validate every file of one home."""
        inventory = self.read_inventory(entry)
        return Home(
            entry,
            inventory,
            self.read_labels(entry, inventory),
            table_to_events(self.read_events_table(entry)),
            self.read_external(entry),
            self.read_reports(entry),
            entry.gaps,
            self.read_rollups(entry, inventory),
        )


def read_dataset(root: str | os.PathLike[str]) -> Dataset:
    """Open the dataset in `root`; its homes are read when iterated."""
    return Dataset(Path(root), read_manifest(root))


# --- validation summary ------------------------------------------------------------


@dataclass(frozen=True)
class DatasetSummary:
    """What `validate_dataset` found in a valid dataset."""

    root: Path
    manifest: Manifest
    n_events: int
    home_types: Counter[str]
    failures: Counter[str]
    formats: Counter[str]
    n_reports: int = 0
    homes_with_reports: int = 0
    gaps: int = 0
    gap_days: float = 0.0
    warnings: Counter[str] = field(default_factory=Counter)
    unannotated: int = 0
    n_days: int = 0  # daily rollups (version 3)
    homes_with_rollups: int = 0

    def describe(self) -> str:
        """Return a one-paragraph description."""
        homes = self.manifest.homes
        if homes:
            start = min(home.start for home in homes)
            end = max(home.end for home in homes)
            days = (end - start) / 86400
            window = (
                f"from {format_time(start)[:10]} to {format_time(end)[:10]} "
                f"({days:g} days)"
            )
        else:
            window = "in no window"
        types = ", ".join(f"{k} {v}" for k, v in sorted(self.home_types.items()))
        failures = ", ".join(f"{k} {v}" for k, v in sorted(self.failures.items()))
        return (
            f"{self.root}: valid HomeIQ dataset, {self.manifest.source_kind} "
            f"({self.manifest.producer}); {len(homes)} homes, "
            f"{self.n_events:,} events {window}, "
            f"{', '.join(sorted(self.formats))}; "
            f"home types: {types or 'unlabelled'}; "
            f"{sum(self.failures.values())} labelled failures"
            f"{f' ({failures})' if failures else ''}"
            f"{self._v2_details()}."
        )

    def _v2_details(self) -> str:
        parts = [f"format version {self.manifest.format_version}"]
        if self.homes_with_reports:
            parts.append(
                f"{self.n_reports:,} re-reports in {self.homes_with_reports} homes"
            )
        else:
            parts.append("no re-reports recorded")
        if self.homes_with_rollups:
            parts.append(
                f"{self.n_days:,} daily rollups in {self.homes_with_rollups} homes"
            )
        if self.gaps:
            parts.append(f"{self.gaps} gaps ({self.gap_days:.1f} days)")
        if self.warnings:
            parts.append(
                "warnings: "
                + ", ".join(f"{k} {v}" for k, v in sorted(self.warnings.items()))
            )
        if self.unannotated:
            parts.append(f"{self.unannotated} homes without failure annotations")
        return "; " + "; ".join(parts)


def validate_dataset(root: str | os.PathLike[str]) -> DatasetSummary:
    """Read and check every file of the dataset in `root`; summarise it."""
    dataset = read_dataset(root)
    n_events = 0
    types: Counter[str] = Counter()
    failures: Counter[str] = Counter()
    formats: Counter[str] = Counter()
    warnings: Counter[str] = Counter()
    n_reports = with_reports = unannotated = n_days = with_rollups = 0
    for entry in dataset.manifest.homes:
        inventory = dataset.read_inventory(entry)
        labels = dataset.read_labels(entry, inventory)
        n_events += dataset.read_events_table(entry).num_rows
        reports = dataset.read_reports_table(entry)
        if reports is not None:
            n_reports += reports.num_rows
            with_reports += 1
        dataset.read_external(entry)
        rollups = dataset.read_rollups(entry, inventory)
        if rollups is not None:
            n_days += len(rollups)
            with_rollups += 1
        formats[_format_of(entry.events) if entry.events else "rollups"] += 1
        if labels is not None:
            if labels.home_type is not None:
                types[labels.home_type] += 1
            failures.update(failure.kind for failure in labels.failures)
            warnings.update(warning.kind for warning in labels.warnings)
            unannotated += not labels.annotated
    homes = dataset.manifest.homes
    return DatasetSummary(
        Path(root),
        dataset.manifest,
        n_events,
        types,
        failures,
        formats,
        n_reports=n_reports,
        homes_with_reports=with_reports,
        gaps=sum(len(home.gaps) for home in homes),
        gap_days=sum(b - a for home in homes for a, b in home.gaps) / 86400,
        warnings=warnings,
        unannotated=unannotated,
        n_days=n_days,
        homes_with_rollups=with_rollups,
    )
