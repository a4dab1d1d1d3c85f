"""The dataset format's records validate, round-trip and name what is wrong."""

import copy
import json
from typing import Any

import numpy as np
import pytest

from homeiq_core.dataset import (
    FORMAT_VERSION,
    DatasetError,
    Event,
    EventColumns,
    Inventory,
    Labels,
    Manifest,
    format_time,
    parse_time,
    read_events_jsonl,
    write_events_jsonl,
)

INVENTORY: dict[str, Any] = {
    "home_id": "home-0000",
    "time_zone": "Europe/Amsterdam",
    "floors": [{"floor_id": "ground", "name": "Ground floor", "level": 0}],
    "areas": [{"area_id": "kitchen", "name": "Kitchen", "floor_id": "ground"}],
    "devices": [
        {
            "device_id": "d0003",
            "name": "Kitchen motion sensor",
            "manufacturer": "Aqara",
            "model": "RTCGQ11LM",
            "protocol": "zigbee",
            "power_source": "battery",
            "area_id": "kitchen",
            "integration": "zha",
            "via_device": None,
            "entities": [
                {
                    "entity_id": "binary_sensor.kitchen_motion",
                    "domain": "binary_sensor",
                    "device_class": "motion",
                    "unit": None,
                },
                {
                    "entity_id": "sensor.kitchen_motion_battery",
                    "domain": "sensor",
                    "device_class": "battery",
                    "unit": "%",
                },
            ],
        }
    ],
    "entities": [
        {"entity_id": "sun.sun", "domain": "sun", "device_class": None, "unit": None}
    ],
}

MANIFEST: dict[str, Any] = {
    "format": "homeiq-dataset",
    "format_version": FORMAT_VERSION,
    "created": "2026-11-25T06:00:00+00:00",
    "source": {"kind": "synthetic", "producer": "homeiq-trainer 0.1.0", "options": {}},
    "homes": [
        {
            "home_id": "home-0000",
            "inventory": "homes/home-0000/inventory.json",
            "events": "homes/home-0000/events.parquet",
            "labels": None,
            "external": None,
            "n_events": 3,
            "start": "2026-01-05T00:00:00+00:00",
            "end": "2026-02-04T00:00:00+00:00",
        }
    ],
}

LABELS: dict[str, Any] = {
    "home_type": "townhouse",
    "true_home_type": "apartment",
    "failures": [
        {
            "device_id": "d0003",
            "kind": "battery_depletion",
            "onset": "2026-01-20T03:00:00+00:00",
            "failure_time": "2026-01-27T14:10:00+00:00",
        }
    ],
}


def _changed(document: dict[str, Any], path: str, value: object) -> dict[str, Any]:
    """Return a deep copy of `document` with the dotted `path` set to `value`."""
    changed = copy.deepcopy(document)
    *parents, last = path.split(".")
    target: Any = changed
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    target[int(last) if last.isdigit() else last] = value
    return changed


def test_inventory_round_trips_and_maps_entities_to_devices() -> None:
    inventory = Inventory.from_json(INVENTORY)
    assert Inventory.from_json(json.loads(json.dumps(inventory.to_json()))) == inventory
    assert inventory.to_json() == INVENTORY
    assert inventory.device_of("sensor.kitchen_motion_battery") == "d0003"
    assert inventory.device_of("sun.sun") is None
    assert [e.entity_id for e in inventory.all_entities()] == [
        "binary_sensor.kitchen_motion",
        "sensor.kitchen_motion_battery",
        "sun.sun",
    ]


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("devices.0.protocol", "lora", "'protocol' is 'lora', expected one of zigbee"),
        ("devices.0.power_source", None, "'power_source' is None"),
        ("devices.0.area_id", "attic", "unknown area 'attic'"),
        ("areas.0.floor_id", "roof", "unknown floor 'roof'"),
        ("floors.0.level", "0", "'level' must be an integer or null"),
        ("devices.0.entities.0.entity_id", "Motion", "is not domain.object_id"),
        ("devices.0.entities.0.domain", "sensor", "must be 'binary_sensor'"),
        ("entities.0", INVENTORY["devices"][0]["entities"][1], "appears twice"),
        ("devices.0.entities", {}, "'entities' must be a list"),
        ("time_zone", "", "'time_zone' must be a non-empty string"),
        ("devices.0", [], "expected a JSON object"),
    ],
)
def test_inventory_errors_name_the_field(
    path: str, value: object, message: str
) -> None:
    with pytest.raises(DatasetError, match=r"^inventory\.json") as error:
        Inventory.from_json(_changed(INVENTORY, path, value))
    assert message in str(error.value)


def test_duplicate_ids_are_refused() -> None:
    twice = _changed(INVENTORY, "areas", INVENTORY["areas"] * 2)
    with pytest.raises(DatasetError, match="area_id 'kitchen' appears twice"):
        Inventory.from_json(twice)


def test_labels_round_trip() -> None:
    labels = Labels.from_json(LABELS)
    assert labels.to_json() == {
        **LABELS,
        "annotated": True,
        "warnings": [],
        "failures": [
            {
                **LABELS["failures"][0],
                "onset": "2026-01-20T03:00:00.000000+00:00",
                "failure_time": "2026-01-27T14:10:00.000000+00:00",
                "recovered": None,
                "provenance": "ground_truth",
            }
        ],
    }
    assert Labels.from_json(labels.to_json()) == labels
    assert Labels.from_json({}) == Labels()


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("home_type", "castle", "'home_type' is 'castle'"),
        ("failures.0.kind", "fire", "'kind' is 'fire'"),
        ("failures.0.onset", "2026-02-01T00:00:00+00:00", "'onset' is after"),
        ("failures.0.onset", "2026-02-01T00:00:00", "has no UTC offset"),
        ("failures.0.failure_time", "soon", "is not an ISO 8601 time"),
        ("failures.0.failure_time", 1.5e9, "must be an ISO 8601 string"),
    ],
)
def test_label_errors(path: str, value: object, message: str) -> None:
    with pytest.raises(DatasetError) as error:
        Labels.from_json(_changed(LABELS, path, value))
    assert message in str(error.value)


def test_manifest_round_trips() -> None:
    manifest = Manifest.from_json(MANIFEST)
    assert manifest.homes[0].n_events == 3
    assert Manifest.from_json(manifest.to_json()) == manifest


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("format_version", 4, "format_version 4 is not supported"),
        ("format_version", True, "format_version True is not supported"),
        ("format", "csv", "'format' must be 'homeiq-dataset'"),
        ("source.kind", "guess", "'kind' is 'guess'"),
        ("homes.0.home_id", "../etc", "'home_id' '../etc' must match"),
        ("homes.0.events", "../../etc/passwd", "must be a relative path inside"),
        ("homes.0.events", "/etc/passwd", "must be a relative path inside"),
        ("homes.0.labels", "C:\\labels.json", "must be a relative path inside"),
        ("homes.0.n_events", -1, "'n_events' must be a non-negative integer"),
        ("homes.0.n_events", True, "'n_events' must be a non-negative integer"),
        ("homes.0.start", "2026-03-01T00:00:00+00:00", "'start' is after 'end'"),
        ("homes", MANIFEST["homes"] * 2, "home_id 'home-0000' appears twice"),
    ],
)
def test_manifest_errors(path: str, value: object, message: str) -> None:
    with pytest.raises(DatasetError) as error:
        Manifest.from_json(_changed(MANIFEST, path, value))
    assert message in str(error.value)


def test_events_round_trip_through_json_lines() -> None:
    events = [
        Event("sensor.a", "21.5", None, 1_767_225_600.0, 1_767_225_600.0),
        Event("light.b", "on", {"brightness": 128}, 1_767_225_600.5, 1_767_225_601.25),
        Event(
            "sensor.a", "unavailable", None, 1_767_225_700.123456, 1_767_225_700.123456
        ),
    ]
    lines = list(write_events_jsonl(events))
    assert all(line.endswith("\n") for line in lines)
    assert list(read_events_jsonl(lines)) == events


def test_json_line_errors_carry_line_numbers() -> None:
    good = next(write_events_jsonl([Event("sensor.a", "1", None, 10.0, 10.0)]))
    earlier = next(write_events_jsonl([Event("sensor.a", "1", None, 5.0, 5.0)]))
    cases = {
        "{not json": "line 2: not JSON",
        earlier: "line 2: events are not sorted",
        good.replace('"state":"1"', '"state":1'): "'state' must be a string",
        good.replace('"state":"1"', '"state":"' + "x" * 256 + '"'): "at most 255",
        good.replace('"attributes":null', '"attributes":[1]'): "'attributes' must be",
        good.replace('"sensor.a"', '"sensor"'): "bad entity_id 'sensor'",
        good.replace(
            '"last_changed":"1970-01-01T00:00:10', '"last_changed":"1970-01-01T00:00:11'
        ): ("'last_changed' is after 'last_updated'"),
    }
    for bad, message in cases.items():
        with pytest.raises(DatasetError, match=r"^events\.jsonl line 2") as error:
            list(read_events_jsonl([good, bad, good]))
        assert message in str(error.value)


def test_blank_lines_are_skipped() -> None:
    line = next(write_events_jsonl([Event("sensor.a", "1", None, 1.0, 1.0)]))
    assert len(list(read_events_jsonl(["\n", line, "  \n"]))) == 1


def test_times_round_trip_to_the_microsecond() -> None:
    for seconds in (0.0, 1_767_225_600.000001, 1_767_225_600.999999, 2_000_000_000.5):
        assert parse_time(format_time(seconds), "t") == pytest.approx(seconds, abs=5e-7)
    assert parse_time("2026-01-01T01:00:00+01:00", "t") == 1_767_225_600.0


def test_event_columns_replay_as_events() -> None:
    columns = EventColumns(
        np.array(["sensor.a", "light.b"], dtype=object),
        np.array(["1", "on"], dtype=object),
        np.array([None, '{"brightness": 3}'], dtype=object),
        np.array([1.0, 2.0]),
        np.array([1.0, 2.5]),
    )
    assert len(columns) == 2
    assert list(columns.events()) == [
        Event("sensor.a", "1", None, 1.0, 1.0),
        Event("light.b", "on", {"brightness": 3}, 2.0, 2.5),
    ]
