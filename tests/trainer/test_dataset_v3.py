"""Dataset format version 3: homes that carry daily rollups instead of (or next to)
their events, written by the trainer's writer and read back with every check."""

from dataclasses import replace
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from homeiq_core.aggregator import rollups_from_columns
from homeiq_core.dataset import (
    DatasetError,
    Labels,
    Manifest,
    check_rollups,
    parse_rollups,
    write_rollups_json,
)
from homeiq_core.rollups import DayRollup
from homeiq_trainer import validate
from homeiq_trainer.dataset import (
    FORMATS,
    DatasetWriter,
    read_dataset,
    table_to_events,
    validate_dataset,
)
from homeiq_trainer.synth.home import SyntheticHome, generate_home
from homeiq_trainer.synth.options import GeneratorOptions

DAY = 86400.0


@pytest.fixture(scope="module")
def synthetic() -> SyntheticHome:
    """A small generated home: about 50 devices, 4 days."""
    return generate_home(GeneratorOptions(homes=1, days=4, seed=3), 0)


@pytest.fixture(scope="module")
def rollups(synthetic: SyntheticHome) -> list[DayRollup]:
    """The home's closed days, replayed from its events."""
    return rollups_from_columns(
        synthetic.inventory,
        table_to_events(synthetic.events),
        start=synthetic.start,
        end=synthetic.end,
        reports=synthetic.reports,
        gaps=synthetic.gaps,
    )


def write(
    root: Path,
    home: SyntheticHome,
    rollups: list[DayRollup] | None,
    *,
    events: bool = False,
    fmt: str = "parquet",
) -> Path:
    """Write `home` as a one-home dataset of rollups (and events, if asked)."""
    with DatasetWriter(
        root, source_kind="homeiq-export", producer="test", created=home.end, fmt=fmt
    ) as writer:
        writer.write_home(
            home.inventory,
            home.events if events else None,
            start=home.start,
            end=home.end,
            labels=home.labels,
            rollups=rollups,
        )
    return root


def edit_manifest(root: Path, **fields: Any) -> None:
    """Change fields of the first home's manifest entry."""
    path = root / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["homes"][0].update(fields)
    path.write_text(json.dumps(manifest))


def edit_rollups(root: Path, change: Any) -> None:
    """Rewrite the first home's rollups.json through `change(list) -> list`."""
    entry = read_dataset(root).manifest.homes[0]
    assert entry.rollups is not None
    path = root / entry.rollups
    path.write_text(json.dumps(change(json.loads(path.read_text()))))


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_home_of_rollups_only_round_trips(
    tmp_path: Path, synthetic: SyntheticHome, rollups: list[DayRollup], fmt: str
) -> None:
    root = write(tmp_path / "ds", synthetic, rollups, fmt=fmt)

    dataset = read_dataset(root)
    (home,) = list(dataset)

    assert dataset.manifest.format_version == 3
    assert home.entry.events is None
    assert home.entry.n_events == 0
    assert home.entry.rollups == "homes/home-0000/rollups.json"
    assert home.entry.n_days == len(rollups) == 4
    assert len(home.events) == 0
    assert home.rollups is not None
    assert list(home.rollups) == rollups
    assert home.labels is not None
    assert home.labels.to_json() == synthetic.labels.to_json()
    assert not (root / "homes" / "home-0000" / f"events.{fmt}").exists()


def test_a_home_with_events_and_rollups_keeps_both(
    tmp_path: Path, synthetic: SyntheticHome, rollups: list[DayRollup]
) -> None:
    root = write(tmp_path / "ds", synthetic, rollups, events=True)

    (home,) = list(read_dataset(root))

    assert home.entry.n_events == synthetic.events.num_rows
    assert len(home.events) == synthetic.events.num_rows
    assert home.rollups is not None
    assert list(home.rollups) == rollups


def test_validate_describes_the_rollups(
    tmp_path: Path, synthetic: SyntheticHome, rollups: list[DayRollup]
) -> None:
    root = write(tmp_path / "ds", synthetic, rollups)

    summary = validate_dataset(root)

    assert summary.n_events == 0
    assert summary.n_days == 4
    assert summary.homes_with_rollups == 1
    assert summary.formats == {"rollups": 1}
    assert "format version 3" in summary.describe()
    assert "4 daily rollups in 1 homes" in summary.describe()


def test_the_rollups_file_is_one_json_list(rollups: list[DayRollup]) -> None:
    text = "".join(write_rollups_json(rollups))

    assert parse_rollups(json.loads(text)) == rollups
    assert text.count("\n") == len(rollups) + 2  # "[", one line per day, "]"
    assert json.loads("".join(write_rollups_json([]))) == []


def test_a_home_needs_events_or_rollups(
    tmp_path: Path, synthetic: SyntheticHome
) -> None:
    with pytest.raises(DatasetError, match="needs events or rollups"):
        write(tmp_path / "ds", synthetic, None)


def test_the_manifest_refuses_a_home_without_events_and_rollups(
    tmp_path: Path, synthetic: SyntheticHome, rollups: list[DayRollup]
) -> None:
    root = write(tmp_path / "ds", synthetic, rollups)
    edit_manifest(root, rollups=None)

    with pytest.raises(DatasetError, match=r"needs 'events' or 'rollups' \(or both\)"):
        read_dataset(root)


def test_events_null_needs_n_events_zero(
    tmp_path: Path, synthetic: SyntheticHome, rollups: list[DayRollup]
) -> None:
    root = write(tmp_path / "ds", synthetic, rollups)
    edit_manifest(root, n_events=5)

    with pytest.raises(DatasetError, match="'n_events' must be 0"):
        read_dataset(root)


def test_n_events_may_be_left_out_without_events(
    tmp_path: Path, synthetic: SyntheticHome, rollups: list[DayRollup]
) -> None:
    root = write(tmp_path / "ds", synthetic, rollups)
    path = root / "manifest.json"
    manifest = json.loads(path.read_text())
    del manifest["homes"][0]["n_events"]
    path.write_text(json.dumps(manifest))

    assert read_dataset(root).manifest.homes[0].n_events == 0


@pytest.mark.parametrize("version", [1, 2])
def test_older_versions_know_no_rollups(
    tmp_path: Path, synthetic: SyntheticHome, rollups: list[DayRollup], version: int
) -> None:
    root = write(tmp_path / "ds", synthetic, rollups)
    path = root / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["format_version"] = version
    path.write_text(json.dumps(manifest))

    with pytest.raises(DatasetError, match="'rollups' needs format_version 3"):
        read_dataset(root)


def test_n_days_is_checked(
    tmp_path: Path, synthetic: SyntheticHome, rollups: list[DayRollup]
) -> None:
    root = write(tmp_path / "ds", synthetic, rollups)
    edit_manifest(root, n_days=7)

    with pytest.raises(DatasetError, match="has 4 days, the manifest says n_days 7"):
        list(read_dataset(root))


def test_unknown_device_in_a_rollup_is_refused_on_read(
    tmp_path: Path, synthetic: SyntheticHome, rollups: list[DayRollup]
) -> None:
    root = write(tmp_path / "ds", synthetic, rollups)

    def add_stranger(days: list[dict[str, Any]]) -> list[dict[str, Any]]:
        first = next(iter(days[1]["devices"].values()))
        days[1]["devices"]["d-stranger"] = first
        return days

    edit_rollups(root, add_stranger)

    with pytest.raises(
        DatasetError,
        match=r"rollups.json day 2026-01-06: unknown device 'd-stranger' "
        r"\(not in the inventory\)",
    ):
        list(read_dataset(root))


def test_unknown_device_in_a_rollup_is_refused_on_write(
    tmp_path: Path, synthetic: SyntheticHome, rollups: list[DayRollup]
) -> None:
    fewer = replace(
        synthetic,
        inventory=replace(synthetic.inventory, devices=()),
        labels=Labels(),
    )

    with pytest.raises(DatasetError, match="rollups day 2026-01-05: unknown device"):
        write(tmp_path / "ds", fewer, rollups)
    assert not (tmp_path / "ds" / "manifest.json").exists()


def test_days_out_of_order_are_refused(
    tmp_path: Path, synthetic: SyntheticHome, rollups: list[DayRollup]
) -> None:
    with pytest.raises(DatasetError, match="day 2026-01-06: days out of order"):
        write(tmp_path / "ds", synthetic, [rollups[0], rollups[2], rollups[1]])


def test_a_day_given_twice_is_refused(
    tmp_path: Path, synthetic: SyntheticHome, rollups: list[DayRollup]
) -> None:
    root = write(tmp_path / "ds", synthetic, rollups)
    edit_rollups(root, lambda days: [days[0], days[0], *days[1:3]])

    with pytest.raises(DatasetError, match="day 2026-01-05: days out of order or"):
        list(read_dataset(root))


def test_overlapping_days_are_refused(
    synthetic: SyntheticHome, rollups: list[DayRollup]
) -> None:
    stretched = replace(rollups[0], end=rollups[0].end + 3600)

    with pytest.raises(DatasetError, match="day 2026-01-06: days out of order or"):
        check_rollups(
            [stretched, rollups[1]],
            synthetic.inventory,
            start=synthetic.start,
            end=synthetic.end,
        )


def test_a_day_that_ends_after_the_window_is_refused(
    synthetic: SyntheticHome, rollups: list[DayRollup]
) -> None:
    with pytest.raises(DatasetError, match="is not inside the home's window"):
        check_rollups(
            rollups,
            synthetic.inventory,
            start=synthetic.start,
            end=synthetic.end - DAY,
        )


def test_a_day_before_the_window_is_refused(
    synthetic: SyntheticHome, rollups: list[DayRollup]
) -> None:
    with pytest.raises(DatasetError, match="day 2026-01-05: the day"):
        check_rollups(
            rollups,
            synthetic.inventory,
            start=synthetic.start + DAY,
            end=synthetic.end,
        )


def test_a_day_without_length_is_refused(
    synthetic: SyntheticHome, rollups: list[DayRollup]
) -> None:
    empty = replace(rollups[0], end=rollups[0].start)

    with pytest.raises(DatasetError, match="'end' is not after 'start'"):
        check_rollups(
            [empty], synthetic.inventory, start=synthetic.start, end=synthetic.end
        )


def test_the_first_day_may_begin_before_the_window(
    synthetic: SyntheticHome, rollups: list[DayRollup]
) -> None:
    check_rollups(
        rollups,
        synthetic.inventory,
        start=rollups[0].start + 3600,
        end=synthetic.end,
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda days: {"not": "a list"}, "rollups: expected a JSON list"),
        (
            lambda days: [{**days[0], "format": "other"}],
            "rollup: 'format' must be 'homeiq-rollup'",
        ),
        (
            lambda days: [{**days[0], "device_fields": ["events"]}],
            "rollup 2026-01-05: 'device_fields' differ",
        ),
    ],
)
def test_malformed_rollups_name_the_file(
    tmp_path: Path,
    synthetic: SyntheticHome,
    rollups: list[DayRollup],
    change: Any,
    message: str,
) -> None:
    root = write(tmp_path / "ds", synthetic, rollups)
    edit_rollups(root, change)

    with pytest.raises(DatasetError, match=f"rollups.json: {message}"):
        list(read_dataset(root))


def test_rollups_that_are_not_json_are_refused(
    tmp_path: Path, synthetic: SyntheticHome, rollups: list[DayRollup]
) -> None:
    root = write(tmp_path / "ds", synthetic, rollups)
    (root / "homes" / "home-0000" / "rollups.json").write_text("[{")

    with pytest.raises(DatasetError, match=r"rollups\.json: not JSON"):
        list(read_dataset(root))


def test_a_rollups_path_outside_the_dataset_is_refused(
    tmp_path: Path, synthetic: SyntheticHome, rollups: list[DayRollup]
) -> None:
    root = write(tmp_path / "ds", synthetic, rollups)
    edit_manifest(root, rollups="../elsewhere.json")

    with pytest.raises(DatasetError, match="must be a relative path inside"):
        read_dataset(root)


def test_the_manifest_writes_version_3_fields() -> None:
    manifest = Manifest.from_json(
        {
            "format": "homeiq-dataset",
            "format_version": 3,
            "created": "2026-01-05T00:00:00+00:00",
            "source": {"kind": "homeiq-export", "producer": "test"},
            "homes": [
                {
                    "home_id": "home",
                    "inventory": "homes/home/inventory.json",
                    "events": None,
                    "rollups": "homes/home/rollups.json",
                    "n_days": 2,
                    "start": "2026-01-05T00:00:00+00:00",
                    "end": "2026-01-07T00:00:00+00:00",
                }
            ],
        }
    )

    (entry,) = manifest.homes
    assert (entry.events, entry.n_events, entry.n_days) == (None, 0, 2)
    written = manifest.to_json()["homes"][0]
    assert written["rollups"] == "homes/home/rollups.json"
    assert written["n_days"] == 2
    assert written["events"] is None
    assert np.isclose(entry.end - entry.start, 2 * DAY)


def test_statistics_read_a_home_of_rollups_like_its_events(
    tmp_path: Path,
    synthetic: SyntheticHome,
    rollups: list[DayRollup],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(validate, "WARM_UP_DAYS", 1)  # the home has four days
    with_rollups = read_dataset(write(tmp_path / "r", synthetic, rollups))
    with_events = read_dataset(write(tmp_path / "e", synthetic, None, events=True))

    of_rollups = validate.kind_statistics(with_rollups)

    assert of_rollups
    assert repr(of_rollups) == repr(validate.kind_statistics(with_events))
