"""Format version 2: re-reports, gaps, richer labels; version 1 still reads."""

import dataclasses
import gzip
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from homeiq_core.dataset import (
    DatasetError,
    Device,
    DeviceWarning,
    Failure,
    Inventory,
    Labels,
    Manifest,
    ReportColumns,
    read_reports_jsonl,
    write_reports_jsonl,
)
from homeiq_trainer.dataset import (
    FORMATS,
    TIME_TYPE,
    DatasetWriter,
    read_dataset,
    reports_table,
    validate_dataset,
)

from .test_dataset import END, EVENTS, EXTERNAL, INVENTORY, START

REPORTS = ReportColumns(
    np.array(
        ["binary_sensor.hall_motion", "sun.sun", "binary_sensor.hall_motion"],
        dtype=object,
    ),
    np.array([START + 20.0, START + 3600.0, START + 7200.5]),
)
GAPS = ((START + 100.0, START + 3000.0), (START + 10_000.0, START + 20_000.0))
LABELS = Labels(
    "condo",
    None,
    (
        Failure("d1", "intermittent_dropout", START + 5, START + 9, END + 50, "user"),
        Failure("d1", "stuck_sensor", START + 50, END, None, "rule:frozen_value"),
    ),
    (DeviceWarning("d1", "low_battery_code", START + 60),),
    annotated=False,
)


def write(root: Path, fmt: str = "parquet", **home: object) -> Path:
    arguments = {
        "start": START,
        "end": END,
        "labels": LABELS,
        "external": EXTERNAL,
        "reports": REPORTS,
        "gaps": GAPS,
        **home,
    }
    with DatasetWriter(
        root, source_kind="homeiq-export", producer="test", created=END, fmt=fmt
    ) as writer:
        writer.write_home(INVENTORY, EVENTS, **arguments)  # type: ignore[arg-type]
    return root


@pytest.mark.parametrize("fmt", FORMATS)
def test_version_2_round_trips(tmp_path: Path, fmt: str) -> None:
    root = write(tmp_path / "ds", fmt)
    dataset = read_dataset(root)
    assert dataset.manifest.format_version == 3  # writers write the latest
    assert dataset.manifest.source_kind == "homeiq-export"
    (home,) = list(dataset)
    assert home.labels == LABELS
    assert home.gaps == GAPS
    assert home.entry.n_reports == 3
    assert home.reports is not None
    assert home.reports.entity_id.tolist() == REPORTS.entity_id.tolist()
    np.testing.assert_array_equal(home.reports.time, REPORTS.time)
    summary = validate_dataset(root).describe()
    assert "3 re-reports in 1 homes" in summary
    assert "2 gaps (0.1 days)" in summary
    assert "warnings: low_battery_code 1" in summary
    assert "1 homes without failure annotations" in summary


def test_report_json_lines_are_what_the_core_reads(tmp_path: Path) -> None:
    root = write(tmp_path / "ds", "jsonl.gz")
    with gzip.open(root / "homes/home-a/reports.jsonl.gz", "rt") as stream:
        text = stream.read()
    rows = list(read_reports_jsonl(text.splitlines()))
    assert rows == list(zip(REPORTS.entity_id, REPORTS.time, strict=True))
    assert "".join(write_reports_jsonl(rows)) == text


def test_no_reports_means_not_recorded_and_empty_means_none_happened(
    tmp_path: Path,
) -> None:
    root = write(tmp_path / "none", reports=None, gaps=())
    (home,) = list(read_dataset(root))
    assert home.reports is None
    assert home.gaps == ()
    assert "no re-reports recorded" in validate_dataset(root).describe()
    empty = ReportColumns(np.array([], dtype=object), np.array([]))
    (home,) = list(read_dataset(write(tmp_path / "empty", reports=empty)))
    assert home.reports is not None
    assert len(home.reports) == 0


def test_version_1_datasets_still_read(tmp_path: Path) -> None:
    root = write(tmp_path / "ds", reports=None, gaps=(), labels=None)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["format_version"] = 1
    manifest["source"]["kind"] = "integration"
    for key in ("reports", "n_reports", "gaps"):
        del manifest["homes"][0][key]
    (root / "manifest.json").write_text(json.dumps(manifest))
    inventory = json.loads((root / "homes/home-a/inventory.json").read_text())
    for device in inventory["devices"]:
        del device["integration"], device["via_device"]
    (root / "homes/home-a/inventory.json").write_text(json.dumps(inventory))
    v1_labels = {
        "home_type": "condo",
        "failures": [
            {
                "device_id": "d1",
                "kind": "sudden_death",
                "onset": "2026-01-05T10:00:00+00:00",
                "failure_time": "2026-01-05T10:00:00+00:00",
            }
        ],
    }
    (root / "homes/home-a/labels.json").write_text(json.dumps(v1_labels))
    manifest["homes"][0]["labels"] = "homes/home-a/labels.json"
    (root / "manifest.json").write_text(json.dumps(manifest))
    dataset = read_dataset(root)
    assert dataset.manifest.format_version == 1
    (home,) = list(dataset)
    assert home.reports is None
    assert home.gaps == ()
    assert home.inventory.devices[0].integration is None
    assert home.labels is not None
    assert home.labels.annotated is True
    (failure,) = home.labels.failures
    assert (failure.recovered, failure.provenance) == (None, "ground_truth")


def _device(**changes: object) -> Inventory:
    device = dataclasses.replace(INVENTORY.devices[0], **changes)
    return dataclasses.replace(INVENTORY, devices=(device,))


@pytest.mark.parametrize(
    ("home", "message"),
    [
        (
            {"labels": Labels(failures=(Failure("d9", "flapping", START, START),))},
            "failure of unknown device 'd9'",
        ),
        (
            {
                "labels": Labels(
                    warnings=(DeviceWarning("d9", "low_battery_code", 1.0),)
                )
            },
            "warning of unknown device 'd9'",
        ),
        (
            {"labels": Labels(failures=(Failure("d1", "fire", START, START),))},
            "'kind' is 'fire'",
        ),
        (
            {
                "labels": Labels(
                    failures=(Failure("d1", "flapping", START, END, START),)
                )
            },
            "'recovered' is before 'failure_time'",
        ),
        (
            {"labels": Labels(failures=(Failure("d1", "flapping", 1, 2, None, "me"),))},
            "'provenance' is 'me'",
        ),
        (
            {"labels": Labels(warnings=(DeviceWarning("d1", "meh", 1.0),))},
            "'kind' is 'meh'",
        ),
        ({"gaps": ((START + 10, START + 5),)}, "a gap must end after it starts"),
        (
            {"gaps": ((START + 10, START + 50), (START + 40, START + 60))},
            "must not overlap",
        ),
        ({"gaps": ((START - 10, START + 5),)}, "must start in the window"),
        ({"gaps": ((START + 10, END + 5),)}, "the gap ends after the window"),
        ({"gaps": ((START + 10.0, START + 11.0),)}, "falls inside a gap"),
        ({"gaps": ((START + 7000.0, START + 7300.0),)}, "reports.* inside a gap"),
        (
            {"reports": ReportColumns(REPORTS.entity_id, REPORTS.time[::-1])},
            "not sorted by time",
        ),
        (
            {"reports": ReportColumns(REPORTS.entity_id, REPORTS.time + 86400)},
            "outside the window",
        ),
        (
            {
                "reports": ReportColumns(
                    np.array(["Bad"], dtype=object), np.array([START])
                )
            },
            "bad entity_id 'Bad'",
        ),
        (
            {"reports": ReportColumns(REPORTS.entity_id, REPORTS.time[:2])},
            "3 entity ids for 2 times",
        ),
        ({"start": END + 1}, "'start' is after 'end'"),
    ],
)
def test_the_writer_refuses_what_the_reader_would(
    tmp_path: Path, home: dict, message: str
) -> None:
    with pytest.raises(DatasetError, match=message):
        write(tmp_path / "ds", **home)


@pytest.mark.parametrize(
    ("inventory", "message"),
    [
        (_device(via_device="d7"), "via unknown device 'd7'"),
        (_device(via_device="d1"), "'via_device' is the device itself"),
        (_device(protocol="lora"), "'protocol' is 'lora'"),
        (_device(integration=""), "'integration' must be a non-empty string"),
        (dataclasses.replace(INVENTORY, home_id="a/b"), "'home_id' must match"),
    ],
)
def test_the_writer_validates_the_inventory(
    tmp_path: Path, inventory: Inventory, message: str
) -> None:
    with (
        DatasetWriter(
            tmp_path / "ds", source_kind="synthetic", producer="t", created=END
        ) as writer,
        pytest.raises(DatasetError, match=message),
    ):
        writer.write_home(inventory, EVENTS, start=START, end=END)


def test_a_hub_and_its_devices_round_trip(tmp_path: Path) -> None:
    hub = Device("hub", "Hub", None, None, "zigbee", "mains", None, (), "zha")
    device = dataclasses.replace(
        INVENTORY.devices[0], integration="zha", via_device="hub"
    )
    inventory = dataclasses.replace(INVENTORY, devices=(hub, device))
    with DatasetWriter(
        tmp_path / "ds", source_kind="synthetic", producer="t", created=END
    ) as writer:
        writer.write_home(inventory, EVENTS, start=START, end=END)
    (home,) = list(read_dataset(tmp_path / "ds"))
    assert home.inventory == inventory
    assert home.inventory.devices[1].via_device == "hub"


def test_bad_report_files_are_refused(tmp_path: Path) -> None:
    root = write(tmp_path / "ds")
    path = root / "homes/home-a/reports.parquet"
    table = reports_table(REPORTS)
    pq.write_table(table.slice(0, 2), path)
    with pytest.raises(DatasetError, match="says n_reports 3"):
        validate_dataset(root)
    pq.write_table(pa.table({"entity_id": ["sun.sun"]}), path)
    with pytest.raises(DatasetError, match="missing column"):
        validate_dataset(root)
    seconds = pa.array([int(START)], pa.timestamp("s", tz="UTC"))
    pq.write_table(pa.table({"entity_id": ["sun.sun"], "time": seconds}), path)
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["homes"][0]["n_reports"] = 1
    (root / "manifest.json").write_text(json.dumps(manifest))
    (home,) = list(read_dataset(root))  # another time unit reads as µs
    assert home.reports is not None
    assert home.reports.time.tolist() == [START]
    assert TIME_TYPE.unit == "us"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{", "line 1: not JSON"),
        ("[]", "expected a JSON object"),
        ('{"entity_id": "x", "time": "2026-01-05T00:00:00+00:00"}', "bad entity_id"),
        ('{"entity_id": "sun.sun", "time": 5}', "must be an ISO 8601 string"),
    ],
)
def test_bad_report_lines(line: str, message: str) -> None:
    with pytest.raises(DatasetError, match=message):
        list(read_reports_jsonl([line]))


def test_unsorted_report_lines_and_blank_ones() -> None:
    lines = list(write_reports_jsonl([("sun.sun", START + 5), ("sun.sun", START)]))
    assert list(read_reports_jsonl(["\n", lines[0]])) == [("sun.sun", START + 5)]
    with pytest.raises(DatasetError, match="line 2: reports are not sorted"):
        list(read_reports_jsonl(lines))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"gaps": "soon"}, "expected a list of"),
        (
            {"gaps": [["2026-01-05T01:00:00+00:00"]]},
            r"gaps\[0\]: expected \[start, end\]",
        ),
        ({"reports": "r.parquet", "n_reports": -1}, "'n_reports' must be"),
    ],
)
def test_bad_manifest_entries(change: dict, message: str) -> None:
    home = {
        "home_id": "h",
        "inventory": "i.json",
        "events": "e.parquet",
        "n_events": 0,
        "start": "2026-01-05T00:00:00+00:00",
        "end": "2026-01-06T00:00:00+00:00",
        **change,
    }
    manifest = {
        "format": "homeiq-dataset",
        "format_version": 2,
        "created": "2026-01-06T00:00:00+00:00",
        "source": {"kind": "recorder", "producer": "t"},
        "homes": [home],
    }
    with pytest.raises(DatasetError, match=message):
        Manifest.from_json(manifest)


def test_labels_annotated_must_be_a_flag() -> None:
    with pytest.raises(DatasetError, match="'annotated' must be a boolean"):
        Labels.from_json({"annotated": "no"})
