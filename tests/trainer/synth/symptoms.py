"""Detectors of failure symptoms, computed from a home's events alone.

They read only what a dataset holds (events, inventory), never the generator's
internals, so the fault tests check what a model could see. Each detector is the
plain test of one kind of symptom; thresholds sit between what failing devices
show and what healthy devices' benign irregularities reach.
"""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from homeiq_core.dataset import Device, Inventory
from homeiq_trainer.synth.home import SyntheticHome

DAY = 86400.0
HOUR = 3600.0


def _decoded(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    array = column.combine_chunks()
    return array.indices.to_numpy(), array.dictionary.to_pylist()


@dataclass
class HomeEvents:
    """A home's events split by entity: times (s) and state strings."""

    home: SyntheticHome
    by_entity: dict[str, tuple[np.ndarray, np.ndarray]]
    restarts: np.ndarray

    @classmethod
    def of(cls, home: SyntheticHome) -> HomeEvents:
        ids, names = _decoded(home.events["entity_id"])
        codes, states = _decoded(home.events["state"])
        times = home.events["last_updated"].cast(pa.int64()).to_numpy() / 1e6
        state_text = np.array(states, dtype=object)[codes]
        order = np.argsort(ids, kind="stable")
        bounds = np.flatnonzero(np.diff(ids[order])) + 1
        by_entity = {}
        for chunk in np.split(order, bounds):
            if len(chunk):
                by_entity[names[ids[chunk[0]]]] = (times[chunk], state_text[chunk])
        return cls(home, by_entity, _restarts(by_entity, home.inventory))

    def rows(self, entity_id: str) -> tuple[np.ndarray, np.ndarray]:
        """Return the times and states of one entity (empty if it has none)."""
        empty = (np.zeros(0), np.zeros(0, dtype=object))
        return self.by_entity.get(entity_id, empty)

    def device(self, device_id: str) -> Device:
        """Return the inventory device `device_id`."""
        return next(d for d in self.home.inventory.devices if d.device_id == device_id)


def _restarts(
    by_entity: dict[str, tuple[np.ndarray, np.ndarray]], inventory: Inventory
) -> np.ndarray:
    """Return the times when most device entities went unavailable at once."""
    entities = [e.entity_id for d in inventory.devices for e in d.entities]
    seen = [e for e in entities if e in by_entity]
    stamps = [
        np.unique(np.round(by_entity[e][0][by_entity[e][1] == "unavailable"]))
        for e in seen
    ]
    if not stamps:
        return np.zeros(0)
    values, counts = np.unique(np.concatenate(stamps), return_counts=True)
    return values[counts > 0.5 * len(seen)]


def numeric(times: np.ndarray, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the rows whose state is a number, as floats."""
    ok = ~np.isin(states, ["unavailable", "unknown"])
    return times[ok], states[ok].astype(float)


def entity_of(
    device: Device, *, device_class: str | None = None, unit: str | None = None
) -> str | None:
    """Return the first entity of `device` with that device class or unit."""
    for entity in device.entities:
        if device_class is not None and entity.device_class == device_class:
            return entity.entity_id
        if unit is not None and entity.unit == unit:
            return entity.entity_id
    return None


def link_entity(device: Device) -> tuple[str | None, bool]:
    """Return the device's link-quality entity and whether it is an LQI (0-255)."""
    for entity in device.entities:
        if entity.unit == "lqi" or entity.entity_id.endswith("_lqi"):
            return entity.entity_id, True
    return entity_of(device, device_class="signal_strength"), False


# --- the detectors --------------------------------------------------------------


def dropouts(events: HomeEvents, device: Device) -> np.ndarray:
    """Return when the device alone went unavailable (home-wide restarts excluded)."""
    stamps = []
    for entity in device.entities:
        times, states = events.rows(entity.entity_id)
        stamps.append(np.round(times[states == "unavailable"]))
    out = np.unique(np.concatenate(stamps)) if stamps else np.zeros(0)
    if len(events.restarts) and len(out):
        near = np.abs(out[:, None] - events.restarts[None, :]).min(axis=1) <= 2
        out = out[~near]
    return out


def most_in_a_day(times: np.ndarray) -> int:
    """Return the most `times` that fall within any 24 hours."""
    if not len(times):
        return 0
    times = np.sort(times)
    return int((np.searchsorted(times, times + DAY) - np.arange(len(times))).max())


def battery_fall(
    events: HomeEvents, device: Device, lo: float, hi: float
) -> tuple[float, float] | None:
    """Return (drop in points, points per day) of battery % over [lo, hi)."""
    entity = entity_of(device, device_class="battery")
    if entity is None:
        return None
    times, values = numeric(*events.rows(entity))
    inside = (times >= lo) & (times < hi)
    times, values = times[inside], values[inside]
    if len(times) < 4 or times[-1] - times[0] < 0.5 * DAY:
        return None
    drop = float(np.median(values[:3]) - np.median(values[-3:]))
    return drop, drop / ((times[-1] - times[0]) / DAY)


def link_ratio(
    events: HomeEvents,
    device: Device,
    before: tuple[float, float],
    late: tuple[float, float],
) -> float | None:
    """Return how the link quality in `late` compares with `before`.

    For an LQI the ratio of the means; for an RSSI in dBm the difference mapped
    to a ratio-like scale (1 + difference / 40), so that both read "< 1 is worse".
    """
    entity, is_lqi = link_entity(device)
    if entity is None:
        return None
    times, values = numeric(*events.rows(entity))
    a = values[(times >= before[0]) & (times < before[1])]
    b = values[(times >= late[0]) & (times < late[1])]
    if len(a) < 3 or len(b) < 3:
        return None
    if is_lqi:
        return float(b.mean() / max(a.mean(), 1.0))
    return float(1 + (b.mean() - a.mean()) / 40)


def longest_freeze(events: HomeEvents, device: Device, lo: float, hi: float) -> float:
    """Return the longest time (h) in [lo, hi) without any measurement changing."""
    changes = []
    for entity in device.entities:
        if entity.device_class in {"temperature", "humidity", "power"}:
            times, states = events.rows(entity.entity_id)
            new = np.r_[True, states[1:] != states[:-1]] if len(states) else []
            changes.append(times[new])
    if not changes:
        return 0.0
    times = np.sort(np.concatenate(changes))
    times = times[(times >= lo) & (times < hi)]
    return float(np.diff(np.r_[lo, times, hi]).max() / HOUR)


def burst(events: HomeEvents, device: Device, lo: float, hi: float) -> int:
    """Return the most state changes of the main entity within any 30 s."""
    times, _ = events.rows(device.entities[0].entity_id)
    inside = (times >= lo) & (times < hi)
    times = times[inside]
    if not len(times):
        return 0
    return int((np.searchsorted(times, times + 30) - np.arange(len(times))).max())


def news_after(events: HomeEvents, device: Device, moment: float) -> list[str]:
    """Return entities that report something new after `moment`.

    "New" is any state other than "unavailable"/"unknown" that differs from the
    entity's last state before `moment` (a restart may restore the old one).
    """
    news = []
    gone = ["unavailable", "unknown"]
    for entity in device.entities:
        times, states = events.rows(entity.entity_id)
        before = states[(times < moment) & ~np.isin(states, gone)]
        last = before[-1] if len(before) else None
        after = states[times >= moment]
        fresh = ~np.isin(after, gone) & (after != last)
        if fresh.any():
            news.append(entity.entity_id)
    return news


def device_rows(events: HomeEvents, device: Device) -> tuple[np.ndarray, np.ndarray]:
    """Return the times and states of all the device's entities, in time order."""
    parts = [events.rows(entity.entity_id) for entity in device.entities]
    times = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0)
    states = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0)
    order = np.argsort(times, kind="stable")
    return times[order], states[order]


def longest_silence(events: HomeEvents, device: Device) -> float:
    """Return the longest time (h) the device wrote no row, gaps left out."""
    home = events.home
    times, states = device_rows(events, device)
    times = times[~np.isin(states, ["unavailable", "unknown"])]
    edges = np.r_[home.start, times, home.end]
    spans = np.diff(edges)
    for start, end in home.gaps:
        inside = np.minimum(edges[1:], end) - np.maximum(edges[:-1], start)
        spans = spans - np.clip(inside, 0, None)
    return float(spans.max() / HOUR)


def unavailable_after(events: HomeEvents, device: Device, moment: float) -> bool:
    """Return True when the device shows "unavailable" after `moment` (no restart)."""
    times = dropouts(events, device)
    return bool((times >= moment).any())
