"""Feature rows of whole datasets: worker processes per home, a cache per home.

Replaying a home's events into rollups is the expensive step (about a microsecond
or three per event), so homes are replayed in parallel worker processes, each
returning one home's compact `HomeRows`; the parent keeps those only. Memory is
bounded by the rows (float32) plus one home per worker, never a whole dataset of
events. A home that carries its daily rollups (format version 3, e.g. exported by
the integration) is not replayed: its features come from those rollups directly.

The feature rows of a home (device rows for every day and home rows for every
day) are cached as `.npz` (no pickles) under `<dataset>/.homeiq-cache/`, keyed by
the feature schemas' fingerprints and the home's manifest entry (for a home of
rollups, also the digest of its rollups file, which a new pull rewrites under the
same name), so a second run over the same dataset skips the replay. Targets are
always recomputed from the labels (cheap). A dataset directory that is not
writable is simply not cached.
"""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
import functools
import hashlib
import json
import multiprocessing
import os
from pathlib import Path
import sys
import tempfile

import numpy as np
from tqdm import tqdm

from homeiq_core.dataset import HomeEntry, Inventory
from homeiq_core.features import (
    DEVICE_SCHEMA,
    HOME_SCHEMA,
    device_feature_rows,
    home_features,
)
from homeiq_core.rollups import DayRollup
from homeiq_trainer.dataset import Dataset, read_dataset
from homeiq_trainer.generate import setup_worker

from .rows import OBSERVATION_DAYS, HomeRows, replay, rows_from_arrays

CACHE_DIR = ".homeiq-cache"
ROWS_VERSION = 1


class Bar(tqdm):
    """A progress bar on stderr without tqdm's monitor thread."""

    monitor_interval = 0

    def __init__(self, *args: object, **kwargs: object) -> None:
        """Open a bar with the trainer's defaults."""
        kwargs.setdefault("file", sys.stderr)
        kwargs.setdefault("dynamic_ncols", True)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Task:
    """One home to turn into rows: its dataset and manifest position."""

    root: str
    index: int
    cache: bool
    replay_events: bool = False  # replay events even when rollups are carried


def cache_key(entry: HomeEntry, rollups_digest: str | None = None) -> str:
    """Return the cache file stem of a home: schemas and entry fingerprint.

    A home of rollups adds its rollups file, day count and `rollups_digest` (the
    file's SHA-256, see `rollups_digest`).
    """
    parts: list[object] = [
        ROWS_VERSION,
        DEVICE_SCHEMA.fingerprint(),
        HOME_SCHEMA.fingerprint(),
        entry.home_id,
        entry.events,
        entry.n_events,
        entry.start,
        entry.end,
    ]
    if entry.rollups is not None:
        parts += [entry.rollups, entry.n_days, rollups_digest]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]


def rollups_digest(root: Path, entry: HomeEntry) -> str | None:
    """Return the SHA-256 of a home's rollups file, None without one (or unreadable).

    An unreadable file gives None here; reading the home then says what is wrong.
    """
    if entry.rollups is None:
        return None
    digest = hashlib.sha256()
    try:
        with (root / entry.rollups).open("rb") as file:
            while chunk := file.read(1 << 20):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def _cache_path(root: Path, entry: HomeEntry, key: str) -> Path:
    return root / CACHE_DIR / f"{entry.home_id}-{key}.npz"


def _read_cache(path: Path) -> dict[str, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except OSError, ValueError, KeyError:
        return None


def _write_cache(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write atomically; give up quietly where the dataset is read-only."""
    try:
        path.parent.mkdir(exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(handle, "wb") as file:
            np.savez(file, **arrays)  # type: ignore[arg-type]
        os.replace(temporary, path)
    except OSError:
        return


def _dataset(root: str) -> Dataset:
    """Return a dataset read once per process and manifest version.

    Re-reading a 1,000-home manifest for each home took 85 % of a cached home's
    time (30 ms of 35). The manifest's size and mtime key the memo, so a dataset
    rewritten in place is read again.
    """
    stat = (Path(root) / "manifest.json").stat()
    return _read_once(root, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _read_once(root: str, mtime_ns: int, size: int) -> Dataset:
    del mtime_ns, size  # the memo's key only
    return read_dataset(root)


def home_rows_of(task: Task) -> HomeRows:
    """Return the rows of one dataset home (runs in a worker)."""
    dataset = _dataset(task.root)
    entry = dataset.manifest.homes[task.index]
    digest = rollups_digest(dataset.root, entry)
    if task.replay_events and entry.events is not None and digest is not None:
        digest = "replayed"  # the events' rows, whatever the rollups file says
    key = cache_key(entry, digest)
    path = _cache_path(dataset.root, entry, key)
    arrays = _read_cache(path) if task.cache else None
    inventory = dataset.read_inventory(entry)
    labels = dataset.read_labels(entry, inventory)
    if arrays is None:
        rollups = _rollups(dataset, entry, inventory, task.replay_events)
        arrays = observed_arrays(inventory, rollups)
        if task.cache:
            _write_cache(path, arrays)
    return rows_from_arrays(
        entry.home_id,
        inventory,
        labels,
        arrays,
        start=entry.start,
        end=entry.end,
        key=f"{entry.home_id}-{key[:12]}",
    )


def observed_arrays(
    inventory: Inventory, rollups: Sequence[DayRollup]
) -> dict[str, np.ndarray]:
    """Return `rows.feature_arrays` with home rows only where the rows read them.

    `rows_from_arrays` keeps the home rows as of the OBSERVATION_DAYS lengths
    only; each is `home_features` of the first n days, as in `home_feature_rows`,
    which computes every day's (a fifth of a home's extraction time at 30 days).
    The other days' home rows are NaN.
    """
    home_all = np.full((len(rollups), len(HOME_SCHEMA)), np.nan, dtype=np.float32)
    for n in OBSERVATION_DAYS:
        if n <= len(rollups):
            home_all[n - 1] = home_features(inventory, rollups[:n])
    return {
        "times": np.array([r.end for r in rollups], dtype=np.float64),
        "device_x": device_feature_rows(inventory, rollups).astype(np.float32),
        "home_all": home_all,
    }


def _rollups(
    dataset: Dataset, entry: HomeEntry, inventory: Inventory, replay_events: bool
) -> Sequence[DayRollup]:
    """Return a home's daily rollups: as carried by the dataset, else replayed.

    With `replay_events`, a home that has events is replayed even when it also
    carries rollups (to time or check the replay; the rows are the same).
    """
    if not (replay_events and entry.events is not None):
        carried = dataset.read_rollups(entry, inventory)
        if carried is not None:
            return carried
    return replay(dataset.read_home(entry))


def extract(
    roots: Sequence[str | os.PathLike[str]],
    *,
    jobs: int = 1,
    cache: bool = True,
    progress: bool = True,
    homes: set[str] | None = None,
    replay_events: bool = False,
) -> list[HomeRows]:
    """Return the rows of every home of the datasets `roots` (or of `homes` only).

    `replay_events`: replay a home's events even when it carries its rollups.
    """
    tasks = []
    for root in roots:
        dataset = read_dataset(root)
        for index, entry in enumerate(dataset.manifest.homes):
            if homes is None or entry.home_id in homes:
                tasks.append(Task(str(dataset.root), index, cache, replay_events))
    out = []
    with Bar(
        total=len(tasks), unit="home", desc="features", disable=not progress
    ) as bar:
        for rows in _run(tasks, jobs):
            out.append(rows)
            bar.update()
    return out


def with_closed_days(homes: Sequence[HomeRows]) -> tuple[list[HomeRows], list[str]]:
    """Split off the homes without a closed day (no row to learn or judge from).

    Returns the homes that have rows and the ids of those left out, e.g. an export
    made the day HomeIQ was installed.
    """
    kept = [home for home in homes if len(home.times)]
    return kept, [home.home_id for home in homes if not len(home.times)]


def _run(tasks: list[Task], jobs: int) -> Iterator[HomeRows]:
    if jobs <= 1 or len(tasks) <= 1:
        yield from map(home_rows_of, tasks)
        return
    context = multiprocessing.get_context("spawn")
    pool = context.Pool(min(jobs, len(tasks)), initializer=setup_worker)
    try:
        yield from pool.imap(home_rows_of, tasks, chunksize=2)
    finally:
        pool.terminate()
        pool.join()
