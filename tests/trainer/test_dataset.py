"""Datasets round-trip through Parquet and JSON lines; bad files give clear errors."""

import gzip
import json
from pathlib import Path
import shutil

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from homeiq_core.dataset import (
    DatasetError,
    EventColumns,
    Failure,
    Inventory,
    Labels,
    read_events_jsonl,
)
from homeiq_trainer.dataset import (
    FORMATS,
    TIME_TYPE,
    DatasetWriter,
    ExternalColumns,
    events_table,
    read_dataset,
    read_manifest,
    validate_dataset,
    write_home_files,
)
from homeiq_trainer.synth.home import generate_home
from homeiq_trainer.synth.options import GeneratorOptions

START = 1_767_571_200.0  # 2026-01-05T00:00:00Z
END = START + 86400

INVENTORY = Inventory.from_json(
    {
        "home_id": "home-a",
        "time_zone": "Europe/Amsterdam",
        "floors": [{"floor_id": "ground", "name": "Ground floor", "level": 0}],
        "areas": [{"area_id": "hall", "name": "Hall", "floor_id": "ground"}],
        "devices": [
            {
                "device_id": "d1",
                "name": "Hall motion",
                "manufacturer": "Aqara",
                "model": "RTCGQ11LM",
                "protocol": "zigbee",
                "power_source": "battery",
                "area_id": "hall",
                "entities": [
                    {
                        "entity_id": "binary_sensor.hall_motion",
                        "domain": "binary_sensor",
                        "device_class": "motion",
                        "unit": None,
                    }
                ],
            }
        ],
        "entities": [{"entity_id": "sun.sun", "domain": "sun"}],
    }
)
EVENTS = EventColumns(
    np.array(
        [
            "sun.sun",
            "binary_sensor.hall_motion",
            "binary_sensor.hall_motion",
            "light.x",
        ],
        dtype=object,
    ),
    np.array(["below_horizon", "on", "off", 'say "hi"\n'], dtype=object),
    np.array([None, '{"a": [1, 2]}', None, '{"é":"ü"}'], dtype=object),
    np.array([START, START + 10.5, START + 10.5, START + 99.000001]),
    np.array([START, START + 10.5, START + 70.25, START + 99.000001]),
)
EXTERNAL = ExternalColumns(
    np.array([START, START + 3600]),
    np.array(["outdoor_temperature", "carbon_intensity"], dtype=object),
    np.array([-1.5, 231.0]),
)
LABELS = Labels(
    "condo", "apartment", (Failure("d1", "battery_depletion", START + 5, END + 9),)
)


def write(root: Path, fmt: str = "parquet", **kwargs: object) -> Path:
    with DatasetWriter(
        root, source_kind="integration", producer="test", created=END, fmt=fmt, **kwargs
    ) as writer:
        writer.write_home(
            INVENTORY, EVENTS, start=START, end=END, labels=LABELS, external=EXTERNAL
        )
    return root


def assert_same_events(a: EventColumns, b: EventColumns) -> None:
    assert a.entity_id.tolist() == b.entity_id.tolist()
    assert a.state.tolist() == b.state.tolist()
    parsed = [None if x is None else json.loads(x) for x in a.attributes]
    assert parsed == [None if x is None else json.loads(x) for x in b.attributes]
    np.testing.assert_array_equal(a.last_changed, b.last_changed)
    np.testing.assert_array_equal(a.last_updated, b.last_updated)


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip(tmp_path: Path, fmt: str) -> None:
    root = write(tmp_path / "ds", fmt)
    dataset = read_dataset(root)
    assert len(dataset) == 1
    (home,) = list(dataset)
    assert home.inventory == INVENTORY
    assert home.labels == LABELS
    assert_same_events(home.events, EVENTS)
    np.testing.assert_array_equal(home.external.time, EXTERNAL.time)
    assert home.external.series.tolist() == EXTERNAL.series.tolist()
    np.testing.assert_array_equal(home.external.value, EXTERNAL.value)
    assert home.entry.n_events == 4
    assert dataset.manifest.created == END
    summary = validate_dataset(root).describe()
    assert "1 homes, 4 events" in summary
    assert "condo 1" in summary
    assert "battery_depletion 1" in summary


def test_json_lines_are_what_the_core_reads(tmp_path: Path) -> None:
    root = write(tmp_path / "ds", "jsonl.gz")
    with gzip.open(root / "homes/home-a/events.jsonl.gz", "rt", encoding="utf-8") as f:
        events = list(read_events_jsonl(f))
    assert [e.state for e in events] == EVENTS.state.tolist()
    assert events[1].attributes == {"a": [1, 2]}
    assert [e.last_updated for e in events] == EVENTS.last_updated.tolist()


def test_formats_convert_into_each_other(tmp_path: Path) -> None:
    home = generate_home(GeneratorOptions(homes=1, days=2, seed=3), 0)
    tables = {}
    for fmt in FORMATS:
        with DatasetWriter(
            tmp_path / fmt,
            source_kind="synthetic",
            producer="t",
            created=home.end,
            fmt=fmt,
        ) as writer:
            writer.write_home(
                home.inventory,
                home.events,
                start=home.start,
                end=home.end,
                labels=home.labels,
                external=home.external,
            )
        (read,) = list(read_dataset(tmp_path / fmt))
        tables[fmt] = read
    base = tables["parquet"]
    for fmt in ("jsonl", "jsonl.gz"):
        assert_same_events(tables[fmt].events, base.events)
        np.testing.assert_array_equal(tables[fmt].external.value, base.external.value)
    # And back: JSON lines read in, written as Parquet, read again.
    with DatasetWriter(
        tmp_path / "again", source_kind="synthetic", producer="t", created=home.end
    ) as writer:
        writer.write_home(
            base.inventory, tables["jsonl"].events, start=home.start, end=home.end
        )
    (again,) = list(read_dataset(tmp_path / "again"))
    assert_same_events(again.events, base.events)
    assert again.labels is None
    assert again.external is None


def test_same_content_same_bytes(tmp_path: Path) -> None:
    for fmt in FORMATS:
        a = write(tmp_path / f"a-{fmt}", fmt)
        b = write(tmp_path / f"b-{fmt}", fmt)
        for path in a.rglob("*"):
            if path.is_file():
                assert path.read_bytes() == (b / path.relative_to(a)).read_bytes()


def _interrupted_write(root: Path) -> None:
    with DatasetWriter(root, source_kind="synthetic", producer="t", created=END) as w:
        w.write_home(INVENTORY, EVENTS, start=START, end=END)
        assert (root / "homes/home-a/events.parquet").is_file()
        assert not (root / "manifest.json").exists()
        raise RuntimeError("interrupted")


def test_manifest_comes_last(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    with pytest.raises(RuntimeError):
        _interrupted_write(root)
    assert not (root / "manifest.json").exists()
    with pytest.raises(DatasetError, match=r"manifest\.json: file is missing"):
        read_dataset(root)


def test_writer_refuses_what_it_should(tmp_path: Path) -> None:
    root = write(tmp_path / "ds")
    with pytest.raises(DatasetError, match="not empty"):
        write(root)
    write(root, overwrite=True)  # a dataset may be replaced
    assert len(read_dataset(root)) == 1
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(DatasetError, match="holds no dataset"):
        write(other, overwrite=True)
    assert (other / "notes.txt").read_text() == "mine"
    (tmp_path / "file").write_text("x")
    with pytest.raises(DatasetError, match="not a directory"):
        write(tmp_path / "file")
    with pytest.raises(DatasetError, match="unknown format 'csv'"):
        write(tmp_path / "csv", "csv")
    with DatasetWriter(
        tmp_path / "twice", source_kind="synthetic", producer="t", created=END
    ) as writer:
        entry = writer.write_home(INVENTORY, EVENTS, start=START, end=END)
        with pytest.raises(DatasetError, match="written twice"):
            writer.add(entry)


def test_writer_checks_the_events(tmp_path: Path) -> None:
    # (EventColumns' own __len__ counts events, so _replace cannot rebuild it.)
    late = EventColumns(*EVENTS[:4], EVENTS.last_updated + 86400)
    short = EventColumns(EVENTS.entity_id, EVENTS.state[:3], *EVENTS[2:])
    with DatasetWriter(
        tmp_path / "ds", source_kind="synthetic", producer="t", created=END
    ) as w:
        with pytest.raises(DatasetError, match="outside the window"):
            w.write_home(INVENTORY, late, start=START, end=END)
        with pytest.raises(DatasetError, match="has 3 rows, not 4"):
            w.write_home(INVENTORY, short, start=START, end=END)


def test_empty_dataset(tmp_path: Path) -> None:
    DatasetWriter(
        tmp_path / "ds", source_kind="recorder", producer="t", created=END
    ).close()
    summary = validate_dataset(tmp_path / "ds")
    assert summary.n_events == 0
    assert "0 homes" in summary.describe()
    assert "unlabelled" in summary.describe()


# --- bad files ----------------------------------------------------------------------


def events_file(root: Path) -> Path:
    return root / "homes/home-a/events.parquet"


def rewrite_events(root: Path, table: pa.Table) -> None:
    pq.write_table(table, events_file(root))


def read_all(root: Path) -> None:
    validate_dataset(root)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return write(tmp_path / "ds")


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="not a directory"):
        read_manifest(tmp_path / "nothing")


def test_manifest_not_json(dataset: Path) -> None:
    (dataset / "manifest.json").write_text("{")
    with pytest.raises(DatasetError, match=r"manifest.json: not JSON"):
        read_all(dataset)


def test_unknown_format_version(dataset: Path) -> None:
    manifest = json.loads((dataset / "manifest.json").read_text())
    manifest["format_version"] = 4
    (dataset / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(DatasetError, match="format_version 4 is not supported"):
        read_all(dataset)


def _edit_manifest(root: Path, **changes: object) -> None:
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["homes"][0].update(changes)
    (root / "manifest.json").write_text(json.dumps(manifest))


def test_paths_may_not_escape(dataset: Path, tmp_path: Path) -> None:
    _edit_manifest(dataset, events="../outside.parquet")
    with pytest.raises(DatasetError, match="must be a relative path inside"):
        read_all(dataset)
    shutil.copy(events_file(dataset), tmp_path / "outside.parquet")
    (dataset / "link.parquet").symlink_to(tmp_path / "outside.parquet")
    _edit_manifest(dataset, events="link.parquet")
    with pytest.raises(DatasetError, match="points outside the dataset"):
        read_all(dataset)


def test_missing_files(dataset: Path) -> None:
    events_file(dataset).unlink()
    with pytest.raises(DatasetError, match=r"events.parquet: file is missing"):
        read_all(dataset)
    (dataset / "homes/home-a/inventory.json").unlink()
    with pytest.raises(DatasetError, match=r"inventory.json: file is missing"):
        read_all(dataset)


def test_unknown_file_type(dataset: Path) -> None:
    events_file(dataset).rename(dataset / "homes/home-a/events.csv")
    _edit_manifest(dataset, events="homes/home-a/events.csv")
    with pytest.raises(DatasetError, match="unknown file type"):
        read_all(dataset)


def test_corrupt_parquet(dataset: Path) -> None:
    data = events_file(dataset).read_bytes()
    events_file(dataset).write_bytes(data[: len(data) // 2])
    with pytest.raises(
        DatasetError, match=r"events\.parquet: not a readable Parquet file"
    ):
        read_all(dataset)


def test_n_events_mismatch(dataset: Path) -> None:
    _edit_manifest(dataset, n_events=5)
    with pytest.raises(
        DatasetError, match="has 4 events, the manifest says n_events 5"
    ):
        read_all(dataset)


def _table() -> pa.Table:
    return events_table(EVENTS)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop_columns(["state"]), "missing column"),
        (
            lambda t: t.set_column(1, "state", pa.array([1, 2, 3, 4])),
            "column 'state' is int64, expected string",
        ),
        (
            lambda t: t.set_column(
                4, "last_updated", t["last_updated"].cast(pa.timestamp("us"))
            ),
            "expected timestamp with time zone UTC",
        ),
        (
            lambda t: t.set_column(1, "state", pa.array(["a", None, "b", "c"])),
            "column 'state' has null values",
        ),
        (
            lambda t: t.set_column(
                0, "entity_id", pa.array(["sun.sun", "Bad.Id", "a.b", "c.d"])
            ),
            "bad entity_id 'Bad.Id'",
        ),
        (
            lambda t: t.set_column(1, "state", pa.array(["x" * 256, "a", "b", "c"])),
            "is longer than 255",
        ),
        (
            lambda t: t.set_column(
                2, "attributes", pa.array([None, "[1]", None, None])
            ),
            "attributes '\\[1\\]' is not a JSON object",
        ),
        (
            lambda t: t.set_column(2, "attributes", pa.array([None, "{", None, None])),
            "attributes '\\{' is not a JSON object",
        ),
        (lambda t: t.take([0, 2, 1, 3]), "not sorted by last_updated \\(row 2\\)"),
        (
            lambda t: t.set_column(
                3,
                "last_changed",
                pa.array(
                    t["last_updated"].cast(pa.int64()).to_numpy() + 10**6,
                    pa.timestamp("us", tz="UTC"),
                ),
            ),
            "row 0 has last_changed after last_updated",
        ),
    ],
)
def test_bad_event_tables(dataset: Path, change, message: str) -> None:
    rewrite_events(dataset, change(_table()))
    with pytest.raises(DatasetError, match=message) as error:
        read_all(dataset)
    assert "events.parquet" in str(error.value)


def test_other_timestamp_units_are_read(dataset: Path) -> None:
    table = _table()
    for i in (3, 4):
        table = table.set_column(
            i, table.column_names[i], table.column(i).cast(pa.timestamp("ns", tz="UTC"))
        )
    table = table.set_column(2, "attributes", table["attributes"].cast(pa.string()))
    rewrite_events(dataset, table)
    (home,) = list(read_dataset(dataset))
    assert_same_events(home.events, EVENTS)


def test_all_null_attributes(dataset: Path) -> None:
    table = _table().set_column(2, "attributes", pa.nulls(4))
    rewrite_events(dataset, table)
    (home,) = list(read_dataset(dataset))
    assert home.events.attributes.tolist() == [None] * 4


def test_inventory_and_labels_must_match(dataset: Path) -> None:
    labels = dataset / "homes/home-a/labels.json"
    obj = json.loads(labels.read_text())
    obj["failures"][0]["device_id"] = "d9"
    labels.write_text(json.dumps(obj))
    with pytest.raises(DatasetError, match="failure of unknown device 'd9'"):
        read_all(dataset)
    inventory = dataset / "homes/home-a/inventory.json"
    obj = json.loads(inventory.read_text())
    obj["home_id"] = "home-b"
    inventory.write_text(json.dumps(obj))
    with pytest.raises(DatasetError, match="home_id 'home-b' is not the manifest's"):
        read_all(dataset)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("not json", "line 2: not JSON"),
        ('{"entity_id": "sun.sun"}', "line 2"),
    ],
)
def test_bad_json_lines(tmp_path: Path, line: str, message: str) -> None:
    root = write(tmp_path / "ds", "jsonl")
    path = root / "homes/home-a/events.jsonl"
    lines = path.read_text().splitlines()
    lines[1] = line
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=message) as error:
        read_all(root)
    assert "events.jsonl" in str(error.value)


def test_corrupt_gzip(tmp_path: Path) -> None:
    root = write(tmp_path / "ds", "jsonl.gz")
    path = root / "homes/home-a/events.jsonl.gz"
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(DatasetError, match=r"events\.jsonl\.gz: cannot be read"):
        read_all(root)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("nope", "line 1: not JSON"),
        ("[1]", "line 1: expected a JSON object"),
        (
            '{"time": "2026-01-05T00:00:00+00:00", "series": "x", "value": "1"}',
            "'value' must be a number",
        ),
        (
            '{"time": "2026-01-05T00:00:00+00:00", "series": 3, "value": 1}',
            "'series' must be a string",
        ),
        (
            '{"time": "2026-01-05T00:00:00", "series": "x", "value": 1}',
            "has no UTC offset",
        ),
        (
            '{"time": "2026-01-05T00:00:00+00:00", "series": "rain", "value": 1}',
            "unknown series 'rain'",
        ),
        (
            '{"time": "2026-01-05T00:00:00+00:00", "series": "outdoor_humidity", '
            '"value": 1e999}',
            "finite",
        ),
    ],
)
def test_bad_external_lines(tmp_path: Path, line: str, message: str) -> None:
    root = write(tmp_path / "ds", "jsonl")
    path = root / "homes/home-a/external.jsonl"
    path.write_text(line + "\n\n")
    with pytest.raises(DatasetError, match=message) as error:
        read_all(root)
    assert "external.jsonl" in str(error.value)


def test_bad_external_parquet(dataset: Path) -> None:
    path = dataset / "homes/home-a/external.parquet"
    table = pq.read_table(path)
    pq.write_table(table.drop_columns(["value"]), path)
    with pytest.raises(DatasetError, match=r"external\.parquet: missing column"):
        read_all(dataset)
    pq.write_table(
        table.set_column(0, "time", table["time"].cast(pa.timestamp("ms", tz="UTC"))),
        path,
    )
    (home,) = list(read_dataset(dataset))
    np.testing.assert_array_equal(home.external.time, EXTERNAL.time)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_home_without_events(tmp_path: Path, fmt: str) -> None:
    empty = EventColumns(
        *(np.array([], dtype=object) for _ in range(3)), np.zeros(0), np.zeros(0)
    )
    with DatasetWriter(
        tmp_path / "ds", source_kind="integration", producer="t", created=END, fmt=fmt
    ) as writer:
        writer.write_home(INVENTORY, empty, start=START, end=END, external=EXTERNAL)
    (home,) = list(read_dataset(tmp_path / "ds"))
    assert len(home.events) == 0
    assert len(home.external) == 2


def test_null_attribute_columns_are_written(tmp_path: Path) -> None:
    table = events_table(EVENTS).set_column(2, "attributes", pa.nulls(4))
    with DatasetWriter(
        tmp_path / "ds",
        source_kind="integration",
        producer="t",
        created=END,
        fmt="jsonl",
    ) as writer:
        writer.write_home(INVENTORY, table, start=START, end=END)
    (home,) = list(read_dataset(tmp_path / "ds"))
    assert home.events.attributes.tolist() == [None] * 4


def test_repeated_dictionary_values_still_give_the_same_bytes(tmp_path: Path) -> None:
    # A state dictionary that holds "1" twice: pyarrow writes such a column in
    # bytes that vary from write to write, even within one process (measured:
    # 2 different files in 20 writes; it depends on the values).
    n = 4000
    codes = np.tile([0, 1, 2, 1], n // 4)  # 1, 1, 0, 1: both "1" entries used
    states = pa.DictionaryArray.from_arrays(
        pa.array(codes, pa.int32()), pa.array(["1", "1", "0"])
    )
    times = pa.array((START + np.arange(n)) * 1e6, pa.int64()).cast(TIME_TYPE)
    table = pa.table(
        {
            "entity_id": pa.array(["binary_sensor.hall_motion"] * n),
            "state": states,
            "attributes": pa.nulls(n, pa.string()),
            "last_changed": times,
            "last_updated": times,
        }
    )
    written = set()
    for attempt in range(20):
        root = tmp_path / str(attempt)
        entry = write_home_files(root, INVENTORY, table, start=START, end=END)
        written.add((root / entry.events).read_bytes())
    assert len(written) == 1
    assert pq.read_table(root / entry.events)["state"].to_pylist() == (
        states.to_pylist()
    )


def test_missing_json_lines_file(tmp_path: Path) -> None:
    root = write(tmp_path / "ds", "jsonl")
    (root / "homes/home-a/events.jsonl").unlink()
    with pytest.raises(DatasetError, match=r"events\.jsonl: file is missing"):
        read_all(root)


def test_home_files_refuse_unknown_formats(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="unknown format 'xml'"):
        write_home_files(tmp_path, INVENTORY, EVENTS, start=START, end=END, fmt="xml")
