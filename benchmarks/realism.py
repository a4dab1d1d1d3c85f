"""What a device-health model reads, per device kind, healthy against failing.

Run: .venv/bin/python benchmarks/realism.py DATASET [DATASET …] [--json]

Reads any HomeIQ dataset directory (synthetic, exported by the integration or
converted from the recorder) and prints, per device kind (the primary entity's
domain and device class), the statistics a device-health model reads: rows a day,
report gaps (median and 95th percentile between a device's rows), the longest
silence, the share of devices silent for more than one and two days, battery
reports per 30 days and their step size, the battery level range, on-times under
30 s per day (binary "flaps") and the share of time unavailable — for healthy
devices and for those labelled failing. Home-level shares follow (floors, areas,
lights, radio-quality entities, gaps, reports). Two datasets side by side make a
real one comparable with a synthetic one; nothing here reads generator internals.
"""

import argparse
from collections import defaultdict
import contextlib
from dataclasses import dataclass, field
import json
import sys

import numpy as np

from homeiq_core.dataset import Device, Inventory
from homeiq_trainer.dataset import read_dataset

DAY = 86400.0
HOUR = 3600.0
DEAD = frozenset({"unavailable", "unknown"})
RADIO_CLASSES = frozenset({"signal_strength"})
RADIO_UNITS = frozenset({"lqi", "dBm"})
DIAGNOSTIC = ("battery", "lqi", "linkquality", "rssi", "signal_strength", "tamper")


def is_diagnostic(entity) -> bool:
    """Return True for battery and link-quality entities (not a device's purpose)."""
    return (
        entity.device_class in {"battery", "signal_strength", "tamper"}
        or entity.unit in RADIO_UNITS
        or entity.entity_id.rsplit("_", 1)[-1] in DIAGNOSTIC
    )


def device_kind(device: Device) -> str:
    """Return a device's kind as a model sees it: its primary entity's class."""
    primary = [e for e in device.entities if not is_diagnostic(e)]
    if not primary:
        return "battery-only" if device.entities else "no-entities"
    entity = primary[0]
    return entity.domain + (f"/{entity.device_class}" if entity.device_class else "")


@dataclass
class DeviceStats:
    """One device's statistics over its home's window."""

    kind: str
    failing: bool
    rows_per_day: float
    gap_median_h: float
    gap_p95_h: float
    longest_silence_h: float
    battery_reports_30d: float  # NaN: no battery entity
    battery_step: float  # median |change| between battery rows, NaN if < 2
    battery_level: float  # median level, NaN if none
    battery_min: float
    short_on_per_day: float  # binary on-times under 30 s
    unavailable_share: float


def _intervals(times: np.ndarray, start: float, end: float) -> np.ndarray:
    return np.diff(np.r_[start, np.sort(times), end])


def _watched(start: float, end: float, gaps: list[tuple[float, float]]) -> float:
    hidden = sum(max(0.0, min(b, end) - max(a, start)) for a, b in gaps)
    return max(end - start - hidden, 1.0)


def _silence(
    times: np.ndarray, start: float, end: float, gaps: list[tuple[float, float]]
) -> float:
    """Return the longest stretch without a row, minus the gaps inside it."""
    edges = np.r_[start, np.sort(times), end]
    spans = np.diff(edges)
    if gaps:
        for a, b in gaps:  # few gaps per home: a loop is fine
            overlap = np.clip(
                np.minimum(edges[1:], b) - np.maximum(edges[:-1], a), 0, None
            )
            spans = spans - overlap
    return float(spans.max()) if len(spans) else end - start


def _restarts(
    rows: dict[str, tuple[np.ndarray, ...]], entity_ids: list[str]
) -> np.ndarray:
    """Return the seconds at which most device entities went unavailable at once."""
    stamps = [
        np.unique(np.round(rows[e][0][rows[e][1] == "unavailable"]))
        for e in entity_ids
        if e in rows
    ]
    if not stamps:
        return np.zeros(0)
    values, counts = np.unique(np.concatenate(stamps), return_counts=True)
    return values[counts > 0.5 * len(stamps)]


def _unavailable_share(
    times: np.ndarray, states: np.ndarray, end: float, restarts: np.ndarray
) -> float:
    """Return the share of time unavailable, HA's own restarts left out."""
    if not len(times):
        return 0.0
    dead = np.isin(states, list(DEAD)) & ~np.isin(np.round(times), restarts)
    lengths = np.diff(np.r_[times, end])
    total = end - times[0]
    return float(lengths[dead].sum() / total) if total > 0 else 0.0


def _short_on(times: np.ndarray, states: np.ndarray) -> int:
    on = states == "on"
    starts = np.flatnonzero(on[:-1] & ~on[1:])
    return int((times[starts + 1] - times[starts] < 30).sum())


def _numbers(states: np.ndarray) -> np.ndarray:
    out = np.full(len(states), np.nan)
    for i, text in enumerate(states.tolist()):
        with contextlib.suppress(ValueError):
            out[i] = float(text)
    return out


@dataclass
class HomeStats:
    """What one home looks like as a whole."""

    floors: int
    areas_without_floor: float
    devices_without_area: float
    lights: int
    battery_share: float
    radio_entities: int
    gap_hours: float
    has_reports: bool
    devices: list[DeviceStats] = field(default_factory=list)


def _by_entity(
    entity_ids: np.ndarray, *columns: np.ndarray
) -> dict[str, tuple[np.ndarray, ...]]:
    order = np.argsort(entity_ids, kind="stable")
    ids = entity_ids[order]
    bounds = np.flatnonzero(ids[1:] != ids[:-1]) + 1
    groups = np.split(order, bounds)
    return {
        str(entity_ids[g[0]]): tuple(c[g] for c in columns) for g in groups if len(g)
    }


def _device_stats(
    device: Device,
    rows: dict[str, tuple[np.ndarray, ...]],
    reports: dict[str, tuple[np.ndarray, ...]],
    window: tuple[float, float],
    gaps: list[tuple[float, float]],
    *,
    failing: bool,
    restarts: np.ndarray,
) -> DeviceStats:
    start, end = window
    days = _watched(start, end, gaps) / DAY
    empty = (np.zeros(0), np.zeros(0, dtype=object))
    alive: list[np.ndarray] = []
    unavailable: list[float] = []
    battery = None
    short_on = 0
    for entity in device.entities:
        times, states = rows.get(entity.entity_id, empty)
        live = ~np.isin(states, list(DEAD))
        alive.append(times[live])
        alive.append(reports.get(entity.entity_id, (np.zeros(0),))[0])
        unavailable.append(_unavailable_share(times, states, end, restarts))
        if entity.device_class == "battery" and battery is None:
            battery = _numbers(states[live]), times[live]
        if entity.domain == "binary_sensor":
            short_on += _short_on(times, states)
    seen = np.sort(np.concatenate(alive)) if alive else np.zeros(0)
    primary = [e for e in device.entities if not is_diagnostic(e)]
    main = rows.get(primary[0].entity_id, empty)[0] if primary else np.zeros(0)
    spans = np.diff(seen) / HOUR
    b_reports = b_step = b_level = b_min = np.nan
    if battery is not None:
        levels = battery[0][~np.isnan(battery[0])]
        b_reports = len(levels) / days * 30
        if len(levels):
            b_level, b_min = float(np.median(levels)), float(levels.min())
        steps = np.abs(np.diff(levels))
        steps = steps[steps > 0]
        b_step = float(np.median(steps)) if len(steps) else np.nan
    return DeviceStats(
        device_kind(device),
        failing,
        len(main) / days,
        float(np.median(spans)) if len(spans) else np.nan,
        float(np.percentile(spans, 95)) if len(spans) else np.nan,
        _silence(seen, start, end, gaps) / HOUR,
        b_reports,
        b_step,
        b_level,
        b_min,
        short_on / days,
        max(unavailable) if unavailable else 0.0,
    )


def home_stats(home) -> HomeStats:
    """Return the statistics of one home read from a dataset."""
    inventory: Inventory = home.inventory
    start, end = home.entry.start, home.entry.end
    gaps = [tuple(map(float, g)) for g in getattr(home, "gaps", ()) or ()]
    events = home.events
    rows = _by_entity(events.entity_id, events.last_updated, events.state)
    reports_columns = getattr(home, "reports", None)
    reports = (
        _by_entity(reports_columns.entity_id, reports_columns.time)
        if reports_columns is not None and len(reports_columns.time)
        else {}
    )
    failing = set()
    if home.labels is not None:
        failing = {
            f.device_id for f in home.labels.failures if f.onset < end
        }  # symptoms visible in the window
    devices = inventory.devices
    entities = [e for d in devices for e in d.entities]
    stats = HomeStats(
        floors=len(inventory.floors),
        areas_without_floor=float(
            np.mean([a.floor_id is None for a in inventory.areas])
        )
        if inventory.areas
        else 1.0,
        devices_without_area=float(np.mean([d.area_id is None for d in devices]))
        if devices
        else 0.0,
        lights=sum(e.domain == "light" for e in entities),
        battery_share=float(np.mean([d.power_source == "battery" for d in devices]))
        if devices
        else 0.0,
        radio_entities=sum(
            e.unit in RADIO_UNITS or e.device_class in RADIO_CLASSES for e in entities
        ),
        gap_hours=sum(b - a for a, b in gaps) / HOUR,
        has_reports=bool(reports),
    )
    restarts = _restarts(rows, [e.entity_id for e in entities])
    for device in devices:
        if not device.entities:  # a hub or bridge: nothing a model reads
            continue
        stats.devices.append(
            _device_stats(
                device,
                rows,
                reports,
                (start, end),
                gaps,
                failing=device.device_id in failing,
                restarts=restarts,
            )
        )
    return stats


COLUMNS = (
    ("rows/d", "rows_per_day", np.median),
    ("gap50 h", "gap_median_h", np.median),
    ("gap95 h", "gap_p95_h", np.median),
    ("silence h", "longest_silence_h", np.median),
    (">24h", "longest_silence_h", lambda v: np.mean(v > 24)),
    (">48h", "longest_silence_h", lambda v: np.mean(v > 48)),
    ("batt/30d", "battery_reports_30d", np.median),
    ("no batt", "battery_reports_30d", lambda v: np.mean(v == 0)),
    ("step", "battery_step", np.median),
    ("lvl p10", "battery_level", lambda v: np.percentile(v, 10)),
    ("lvl p50", "battery_level", np.median),
    ("<30s/d", "short_on_per_day", np.median),
    ("unav", "unavailable_share", np.mean),
    ("unav>0", "unavailable_share", lambda v: np.mean(v > 0)),
)


def summarise(devices: list[DeviceStats]) -> dict[str, dict[str, dict[str, float]]]:
    """Return statistic per kind and health, aggregated over devices."""
    groups: dict[tuple[str, bool], list[DeviceStats]] = defaultdict(list)
    for device in devices:
        groups[(device.kind, device.failing)].append(device)
        groups[("ALL", device.failing)].append(device)
    table: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    for (kind, failing), members in sorted(groups.items()):
        row = {"n": float(len(members))}
        for name, attribute, reduce in COLUMNS:
            values = np.array([getattr(m, attribute) for m in members], dtype=float)
            values = values[~np.isnan(values)]
            row[name] = float(reduce(values)) if len(values) else float("nan")
        table[kind]["failing" if failing else "healthy"] = row
    return table


def home_summary(homes: list[HomeStats]) -> dict[str, float]:
    """Return home-level shares and medians."""
    if not homes:
        return {}
    return {
        "homes": len(homes),
        "share without floors": float(np.mean([h.floors == 0 for h in homes])),
        "areas without floor (mean)": float(
            np.mean([h.areas_without_floor for h in homes])
        ),
        "devices without area (mean)": float(
            np.mean([h.devices_without_area for h in homes])
        ),
        "share with <= 2 lights": float(np.mean([h.lights <= 2 for h in homes])),
        "battery device share (median)": float(
            np.median([h.battery_share for h in homes])
        ),
        "share without LQI/RSSI entities": float(
            np.mean([h.radio_entities == 0 for h in homes])
        ),
        "share with observation gaps": float(np.mean([h.gap_hours > 0 for h in homes])),
        "share with a reports stream": float(np.mean([h.has_reports for h in homes])),
    }


def measure(root: str) -> tuple[dict, dict]:
    """Return (per-kind table, home summary) of the dataset in `root`."""
    homes = [home_stats(home) for home in read_dataset(root)]
    devices = [d for h in homes for d in h.devices]
    return summarise(devices), home_summary(homes)


def _format(value: float) -> str:
    if np.isnan(value):
        return "-"
    if value == int(value) and abs(value) >= 10:
        return f"{int(value)}"
    return f"{value:.2f}" if abs(value) < 100 else f"{value:.0f}"


def render(root: str, table: dict, homes: dict, out=sys.stdout) -> None:
    """Print one dataset's tables."""
    print(f"\n== {root}", file=out)
    for name, value in homes.items():
        print(f"  {name:34s} {_format(float(value))}", file=out)
    names = ["n", *(c[0] for c in COLUMNS)]
    print(f"\n  {'kind':28s} {'':7s}" + "".join(f"{n:>9s}" for n in names), file=out)
    for kind in sorted(table, key=lambda k: (k != "ALL", k)):
        for health, row in sorted(table[kind].items()):
            cells = "".join(f"{_format(row[n]):>9s}" for n in names)
            print(f"  {kind[:28]:28s} {health:7s}{cells}", file=out)


def main(argv: list[str] | None = None) -> int:
    """Print the statistics of each dataset given."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+", help="dataset directories")
    parser.add_argument("--json", action="store_true", help="print JSON instead")
    args = parser.parse_args(argv)
    results = {root: measure(root) for root in args.datasets}
    if args.json:
        print(
            json.dumps({r: {"kinds": t, "homes": h} for r, (t, h) in results.items()})
        )
        return 0
    for root, (table, homes) in results.items():
        render(root, table, homes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
