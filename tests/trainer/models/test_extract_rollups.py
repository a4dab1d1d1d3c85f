"""Homes that carry daily rollups (format version 3) give the rows of a replay."""

import json
from pathlib import Path

import numpy as np
import pytest

from homeiq_core.dataset import DatasetError
from homeiq_trainer.dataset import DatasetWriter, read_dataset
from homeiq_trainer.generate import generate_dataset
from homeiq_trainer.models.extract import CACHE_DIR, extract, observed_arrays
from homeiq_trainer.models.rows import HomeRows, home_rows, replay, rows_from_arrays
from homeiq_trainer.synth.options import GeneratorOptions


@pytest.fixture(scope="module")
def from_events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two synthetic homes over eight days, with events (and failures)."""
    root = tmp_path_factory.mktemp("extract") / "events"
    generate_dataset(GeneratorOptions(homes=2, days=8, seed=11, failure_rate=0.3), root)
    return root


def rollups_dataset(source: Path, out: Path) -> Path:
    """Write `source`'s homes as rollups only, as the integration exports them."""
    dataset = read_dataset(source)
    with DatasetWriter(
        out,
        source_kind="homeiq-export",
        producer="test",
        created=dataset.manifest.created,
    ) as writer:
        for home in dataset:
            writer.write_home(
                home.inventory,
                None,
                start=home.entry.start,
                end=home.entry.end,
                labels=home.labels,
                rollups=replay(home),
            )
    return out


def assert_same_rows(a: HomeRows, b: HomeRows) -> None:
    """Every array and label of two homes' rows is the same, NaN equal to NaN."""
    assert (a.home_id, a.home_type, a.true_home_type) == (
        b.home_id,
        b.home_type,
        b.true_home_type,
    )
    assert a.device_ids == b.device_ids
    assert (a.start, a.end) == (b.start, b.end)
    for name in ("times", "device_x", "battery_days", "home_x", "home_days"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), name)
    for name in ("target", "kind", "lead_h", "symptoms", "healthy"):
        np.testing.assert_array_equal(
            getattr(a.failure, name), getattr(b.failure, name), name
        )


def test_rollups_give_the_same_rows_as_replaying_the_events(
    from_events: Path, tmp_path: Path
) -> None:
    root = rollups_dataset(from_events, tmp_path / "rollups")

    replayed = extract([from_events], progress=False, cache=False, replay_events=True)
    carried = extract([root], progress=False, jobs=2)

    assert len(carried) == 2
    assert any(home.failure.target.max() == 1 for home in carried)
    assert all(home.device_x.shape[0] == 8 for home in carried)
    for a, b in zip(replayed, carried, strict=True):
        assert_same_rows(a, b)


def test_the_cache_of_a_rollups_home_follows_its_file(
    from_events: Path, tmp_path: Path
) -> None:
    root = rollups_dataset(from_events, tmp_path / "rollups")
    first = extract([root], progress=False)
    assert len(list((root / CACHE_DIR).glob("*.npz"))) == 2
    assert [h.identity for h in extract([root], progress=False)] == [
        h.identity for h in first
    ]

    # A new pull rewrites rollups.json under the same name: the cache must not
    # serve the old rows.
    entry = read_dataset(root).manifest.homes[0]
    assert entry.rollups is not None
    path = root / entry.rollups
    days = json.loads(path.read_text())
    device = next(iter(days[-1]["devices"]))
    days[-1]["devices"][device]["values"][0] += 1000.0  # events of the last day
    path.write_text(json.dumps(days))

    again = extract([root], progress=False)

    assert again[0].identity != first[0].identity
    assert again[1].identity == first[1].identity
    assert len(list((root / CACHE_DIR).glob("*.npz"))) == 3
    assert not np.array_equal(again[0].device_x, first[0].device_x, equal_nan=True)


def test_a_missing_rollups_file_is_a_clear_error(
    from_events: Path, tmp_path: Path
) -> None:
    root = rollups_dataset(from_events, tmp_path / "rollups")
    entry = read_dataset(root).manifest.homes[0]
    assert entry.rollups is not None
    (root / entry.rollups).unlink()

    with pytest.raises(DatasetError, match=r"rollups\.json: file is missing"):
        extract([root], progress=False)


def test_rows_are_those_of_every_day_home_rows(from_events: Path) -> None:
    """Home rows computed at the observation lengths only: the same rows."""
    dataset = read_dataset(from_events)
    for index, home in enumerate(dataset):
        rollups = replay(home)
        expected = home_rows(
            home.entry.home_id,
            home.inventory,
            home.labels,
            rollups,
            start=home.entry.start,
            end=home.entry.end,
        )
        got = rows_from_arrays(
            home.entry.home_id,
            home.inventory,
            home.labels,
            observed_arrays(home.inventory, rollups),
            start=home.entry.start,
            end=home.entry.end,
        )
        assert len(got.home_days) == 3  # days 1, 3 and 7 of 8
        assert_same_rows(got, expected)
        assert index < 2
