"""Homes split into train, validation and test groups; rows as matrices.

Homes, never rows, are split: a home is in exactly one group, chosen by a hash of
its id and the split seed, so the same home lands in the same group in every run
and in `evaluate`. Failure and battery rows are also split in time: training rows
end before a home's split time, test rows after it (`time_split`), so a model is
scored on later days of homes it never saw.
"""

from collections.abc import Collection, Sequence
from dataclasses import dataclass
import hashlib

import numpy as np

from .rows import BATTERY_CAP_DAYS, DAY, EXCLUDED, HORIZON_DAYS, HomeRows

TEST_SHARE = 0.25
VALIDATION_SHARE = 0.15
GROUPS = ("train", "validation", "test")


def group_of(home_id: str, seed: int) -> str:
    """Return "train", "validation" or "test" for a home, from its id and `seed`."""
    digest = hashlib.sha256(f"{seed}:{home_id}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2.0**64
    if u < TEST_SHARE:
        return "test"
    if u < TEST_SHARE + VALIDATION_SHARE:
        return "validation"
    return "train"


def split_homes(
    homes: Sequence[HomeRows], seed: int, *, train_only: Collection[str] = ()
) -> dict[str, list[HomeRows]]:
    """Return the homes by group; raises ValueError if any group is empty.

    A home's group follows a hash of its id, except the homes whose `identity` is
    in `train_only`, which always train: a real home pulled from HomeIQ is the one
    home like those the models will serve, too precious to be only judged on.
    """
    groups: dict[str, list[HomeRows]] = {name: [] for name in GROUPS}
    for home in homes:
        name = "train" if home.identity in train_only else group_of(home.home_id, seed)
        groups[name].append(home)
    empty = [name for name, members in groups.items() if not members]
    if empty:
        raise ValueError(
            f"{len(homes)} homes leave the {', '.join(empty)} group empty: "
            "use more homes"
        )
    check_disjoint(groups)
    return groups


def check_disjoint(groups: dict[str, list[HomeRows]]) -> None:
    """Raise ValueError when a home id appears in two groups."""
    seen: dict[str, str] = {}
    for name, members in groups.items():
        for home in members:
            other = seen.setdefault(home.home_id, name)
            if other != name:
                raise ValueError(f"home {home.home_id} is in both {other} and {name}")


def time_split(home: HomeRows, label_days: float) -> float:
    """Return the home's split time: the whole day nearest the middle of its rows.

    Rows carry labels up to `label_days` ahead, so the labelled rows of a window
    end `label_days` before it; training rows lie at or before the split, test rows
    after.
    """
    span = max(home.end - label_days * DAY - home.start, 0.0)
    return home.start + np.floor(span / 2 / DAY) * DAY


@dataclass(frozen=True, slots=True)
class DeviceRows:
    """Device rows stacked over homes: features, targets and what evaluation needs."""

    x: np.ndarray  # float32 (rows, features)
    target: np.ndarray  # int8 failure target (0/1; -1 excluded)
    kind: np.ndarray  # int8 failure kind of a positive
    lead_h: np.ndarray  # float32 hours to the failure of a positive
    symptoms: np.ndarray  # bool: between onset and failure
    healthy: np.ndarray  # bool: the device has no failure labelled
    battery_days: np.ndarray  # float32 days left (NaN unknown)
    home: np.ndarray  # int: index of the home in the list given
    day: np.ndarray  # int: day index within the home
    unseen: np.ndarray  # bool: a positive whose failure shows nothing yet (label)

    def __len__(self) -> int:
        """Return the number of rows."""
        return len(self.x)

    def take(self, mask: np.ndarray) -> DeviceRows:
        """Return the rows where `mask` holds."""
        return DeviceRows(*(getattr(self, f)[mask] for f in self.__slots__))


def device_rows(
    homes: Sequence[HomeRows], *, part: str | None = None, label_days: float = 0.0
) -> DeviceRows:
    """Stack the device rows of `homes`, all days or one side of the time split.

    `part` is None (all days), "before" (days at or before each home's split) or
    "after" (days after it); the split depends on `label_days` (`time_split`).
    """
    pieces: dict[str, list[np.ndarray]] = {f: [] for f in DeviceRows.__slots__}
    for index, home in enumerate(homes):
        days, devices = home.failure.target.shape
        keep = np.ones(days, dtype=bool)
        if part is not None:
            split = time_split(home, label_days)
            keep = home.times <= split if part == "before" else home.times > split
        grid = np.broadcast_to(keep[:, None], (days, devices))
        rows = np.flatnonzero(grid.ravel())
        f = home.failure
        values = {
            "x": home.device_x.reshape(days * devices, -1),
            "target": f.target.ravel(),
            "kind": f.kind.ravel(),
            "lead_h": f.lead_h.ravel(),
            "symptoms": f.symptoms.ravel(),
            "healthy": np.broadcast_to(f.healthy[None, :], (days, devices)).ravel(),
            "battery_days": home.battery_days.ravel(),
            "home": np.full(days * devices, index),
            "day": np.repeat(np.arange(days), devices),
            "unseen": f.unseen.ravel(),
        }
        for name, array in values.items():
            pieces[name].append(array[rows])
    return DeviceRows(
        *(
            np.concatenate(pieces[f])
            if pieces[f]
            else np.zeros((0, 0) if f == "x" else 0)
            for f in DeviceRows.__slots__
        )
    )


def failure_rows(homes: Sequence[HomeRows], part: str | None) -> DeviceRows:
    """Return the device rows with a failure target (not excluded)."""
    rows = device_rows(homes, part=part, label_days=HORIZON_DAYS)
    return rows.take(rows.target != EXCLUDED)


def battery_rows(homes: Sequence[HomeRows], part: str | None) -> DeviceRows:
    """Return the battery device rows whose days left are known."""
    rows = device_rows(homes, part=part, label_days=BATTERY_CAP_DAYS)
    return rows.take(~np.isnan(rows.battery_days))


@dataclass(frozen=True, slots=True)
class HomeTypeRows:
    """Home rows at several observation lengths, with their labels."""

    x: np.ndarray  # float32 (rows, HOME_SCHEMA)
    label: np.ndarray  # str: the dataset's home type (training target)
    truth: np.ndarray  # str: the true type when known, else the label
    days: np.ndarray  # int: observation length of the row
    home: np.ndarray  # int: index of the home

    def take(self, mask: np.ndarray) -> HomeTypeRows:
        """Return the rows where `mask` holds."""
        return HomeTypeRows(*(getattr(self, f)[mask] for f in self.__slots__))


def home_type_rows(homes: Sequence[HomeRows]) -> HomeTypeRows:
    """Stack the home rows of the homes that carry a home-type label."""
    xs, labels, truths, days, index = [], [], [], [], []
    for i, home in enumerate(homes):
        if home.home_type is None or not len(home.home_days):
            continue
        n = len(home.home_days)
        xs.append(home.home_x)
        labels += [home.home_type] * n
        truths += [home.true_home_type or home.home_type] * n
        days.append(home.home_days)
        index += [i] * n
    width = homes[0].home_x.shape[1] if homes and len(homes[0].home_x) else 0
    return HomeTypeRows(
        np.concatenate(xs) if xs else np.zeros((0, width), dtype=np.float32),
        np.array(labels, dtype=object),
        np.array(truths, dtype=object),
        np.concatenate(days) if days else np.zeros(0, dtype=np.int64),
        np.array(index, dtype=np.int64),
    )
