"""Home and device features: one definition for training and for serving.

The models see fixed-length float vectors whose order, names and units are given
by a versioned `FeatureSchema` (`HOME_SCHEMA`, `DEVICE_SCHEMA`); the schema's
fingerprint travels in each ONNX model's metadata, so a model is never fed a
vector it was not trained on. Missing values are NaN (the tree models route them);
every value fits a float32.

Features are computed "as of" the end of a day, from the inventory and the daily
rollups up to that day only (trailing windows of 1, 7 and 14 days; a device's
own rhythm, and the baseline it is compared with, read the last
`LONG_WINDOW_DAYS`). That is what makes evaluation honest: the trainer builds one
(device, day) row per day from a replayed dataset (`device_feature_rows`), each
using nothing from after its day, and the integration computes the very same row
live from its aggregator's history (`device_features`). Both call the same array
code on identically shaped windows, so the vectors are equal to the bit (numpy
sums a (days, devices) array along days in the same order whatever produced it).

Rates are per observed day (`DayRollup.observed_s`), so a first day watched from
noon, or a 23-hour daylight-saving day, does not look like half or less activity.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
import hashlib
import json
import re
import threading
from typing import Any

import numpy as np

from .aggregator import entity_role, is_numeric
from .dataset import POWER_SOURCES, PROTOCOLS, Device, Inventory
from .rollups import (
    COUNTERS,
    DEVICE_FIELDS,
    FIELD_INDEX,
    HOURS,
    INTERVAL_BINS,
    INTERVAL_EDGES,
    DayRollup,
)

WINDOW_DAYS = 14  # the longest trailing window of the short-term features
LONG_WINDOW_DAYS = 28  # a device's own rhythm (report-interval quantiles)
BASELINE_SKIP = 7  # the device's own baseline leaves out the last week
MIN_INTERVALS = 5  # fewer gaps between reports give no quantiles (NaN)
DAYS_LEFT_CAP = 3650.0  # battery days left when the level is not falling
Z_CAP = 1000.0  # |z-score| cap when the baseline did not vary at all
DAY = 86400.0


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """One feature: its name, unit and what it measures."""

    name: str
    unit: str
    description: str


@dataclass(frozen=True, slots=True)
class FeatureSchema:
    """An ordered, versioned list of features: the contract with a model."""

    kind: str  # "home" or "device"
    version: int
    features: tuple[FeatureSpec, ...]

    def __post_init__(self) -> None:
        """Refuse duplicate names."""
        names = self.names
        if len(set(names)) != len(names):
            raise ValueError(f"{self.kind} schema: duplicate feature names")

    @property
    def names(self) -> tuple[str, ...]:
        """Return the feature names in vector order."""
        return tuple(spec.name for spec in self.features)

    def __len__(self) -> int:
        """Return the number of features."""
        return len(self.features)

    def index(self, name: str) -> int:
        """Return the position of feature `name` in the vector."""
        return self.names.index(name)

    def fingerprint(self) -> str:
        """Return a short hash of kind, version, names and units."""
        text = json.dumps(
            [self.kind, self.version, [[f.name, f.unit] for f in self.features]]
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        """Return the JSON form, e.g. for a model's metadata."""
        return {
            "kind": self.kind,
            "version": self.version,
            "fingerprint": self.fingerprint(),
            "features": [[f.name, f.unit, f.description] for f in self.features],
        }


def _schema(kind: str, version: int, *specs: tuple[str, str, str]) -> FeatureSchema:
    return FeatureSchema(kind, version, tuple(FeatureSpec(*spec) for spec in specs))


# --- the device schema -----------------------------------------------------------

# What kind of device it is, from its entities only (`device_kind`), in the order
# the rules are tried.
KIND_RULES = {
    "lock": "has a `lock` entity",
    "cover": "has a `cover` entity (blinds, shutters, motorised garage doors)",
    "thermostat": "has a `climate` or `water_heater` entity",
    "light": "has a `light` entity",
    "plug": "has a `switch` entity (plugs and relays, often metering power)",
    "leak_smoke": "a `binary_sensor` of class moisture, smoke, gas, "
    "carbon_monoxide or safety",
    "motion": "a `binary_sensor` of class motion, occupancy or presence",
    "contact": "a `binary_sensor` of class door, window, garage_door or opening",
    "button": "an `event` entity, or an entity id ending in `_action` / `_click` "
    "(remotes, buttons)",
    "climate_sensor": "a `sensor` of class temperature or humidity",
    "other": "none of the above (media players, hubs, cameras …)",
}
DEVICE_KINDS = (
    "motion",
    "contact",
    "leak_smoke",
    "climate_sensor",
    "thermostat",
    "plug",
    "light",
    "lock",
    "cover",
    "button",
    "other",
)

DEVICE_SCHEMA = _schema(
    "device",
    3,
    ("battery_powered", "flag", "1 when the inventory says the device runs on battery"),
    ("mains_powered", "flag", "1 when the device is mains powered"),
    ("protocol", "code", "index of the device's protocol in dataset.PROTOCOLS"),
    ("entities", "count", "entities of the device"),
    ("numeric_entities", "count", "entities whose states are numbers"),
    *(
        (
            f"kind_{kind}",
            "flag",
            f"1 when the device is a {kind.replace('_', '/')} "
            "device (from its entities)",
        )
        for kind in DEVICE_KINDS
    ),
    ("observed_days_14d", "days", "days watched over the last 14"),
    ("age_days", "days", "since the device's first event seen"),
    ("silence_h", "h", "watched time since the latest event or re-report (no gaps)"),
    ("reports_visible", "flag", "1 when the data records re-reports without a change"),
    (
        "heartbeat_visible_14d",
        "flag",
        "1 when the device re-reported an unchanged state within 14 days",
    ),
    ("reported_7d", "1/day", "re-reports without a change per day over 7 days"),
    ("interval_p50_h", "h", "median gap between reports, 28 days"),
    ("interval_p95_h", "h", "95th percentile gap between reports, 28 days"),
    ("silence_ratio_p50", "ratio", "silence_h / interval_p50_h"),
    ("silence_ratio_p95", "ratio", "silence_h / interval_p95_h"),
    (
        "unchanged_h",
        "h",
        "watched time the activity state stayed unchanged while the device reported",
    ),
    ("reports_1d", "1/day", "radio reports (bursts of events) on the day"),
    ("reports_7d", "1/day", "radio reports per day over 7 days"),
    ("reports_ratio_1d_7d", "ratio", "reports_1d / reports_7d"),
    ("events_per_report_7d", "count", "events per report over 7 days"),
    ("interval_mean_7d", "s", "mean gap between reports over 7 days"),
    ("interval_cv_7d", "ratio", "std/mean of those gaps: 0 = perfectly regular"),
    ("interval_max_1d", "s", "longest gap between reports ending on the day"),
    ("interval_max_7d", "s", "longest gap between reports over 7 days"),
    ("interval_max_ratio_1d", "ratio", "interval_max_1d / interval_mean_7d"),
    ("unavailable_1d", "1/day", "entity transitions to 'unavailable', on the day"),
    ("unavailable_7d", "1/day", "transitions to 'unavailable' per day, 7 days"),
    ("unavailable_trend", "1/day", "unavailable_7d minus the rate 8-14 days back"),
    ("unavailable_frac_1d", "fraction", "share of entity-time 'unavailable', day"),
    ("unavailable_frac_7d", "fraction", "share of entity-time 'unavailable', 7 days"),
    ("unknown_7d", "1/day", "entity transitions to 'unknown' per day, 7 days"),
    ("unknown_frac_7d", "fraction", "share of entity-time 'unknown', 7 days"),
    ("unavailable_at_end", "fraction", "entities unavailable/unknown at the day end"),
    ("changes_1d", "1/day", "state changes of activity entities on the day"),
    ("changes_7d", "1/day", "state changes per day over 7 days"),
    ("changes_ratio_1d_7d", "ratio", "changes_1d / changes_7d"),
    ("night_changes_frac_7d", "fraction", "changes between 00:00 and 06:00, 7 days"),
    (
        "hour_profile_shift_1d",
        "fraction",
        "total variation distance of the day's changes by hour from the 7 days before",
    ),
    ("flaps_1d", "1/day", "changes within 30 s of the previous one, on the day"),
    ("flaps_7d", "1/day", "flaps per day over 7 days"),
    ("flap_frac_7d", "fraction", "flaps / changes over 7 days"),
    ("binary_flaps_1d", "1/day", "flaps of non-numeric (on/off …) entities, day"),
    ("binary_flaps_7d", "1/day", "non-numeric flaps per day over 7 days"),
    ("binary_flap_frac_7d", "fraction", "non-numeric flaps / their changes, 7 days"),
    (
        "binary_flaps_ratio_1d",
        "ratio",
        "(binary_flaps_1d + 1) / (their rate over the 7 days before + 1)",
    ),
    ("frozen_max_1d", "h", "longest a numeric value was re-reported unchanged, day"),
    ("frozen_max_7d", "h", "the same over 7 days"),
    ("repeat_frac_1d", "fraction", "numeric reports repeating the value, day"),
    ("repeat_frac_7d", "fraction", "numeric reports repeating the value, 7 days"),
    ("non_numeric_frac_7d", "fraction", "events whose numeric state was not a number"),
    ("value_mean_1d", "entity unit", "mean of the primary measurement on the day"),
    ("value_std_1d", "entity unit", "its standard deviation on the day"),
    ("value_range_1d", "entity unit", "its max - min on the day"),
    ("value_std_7d", "entity unit", "its standard deviation over 7 days"),
    ("value_z_1d", "sigma", "day mean vs the 7 days before, in their std"),
    ("value_std_ratio_1d_7d", "ratio", "value_std_1d / value_std_7d"),
    ("battery_last", "%", "latest battery level within 14 days"),
    ("battery_min_7d", "%", "lowest battery level over 7 days"),
    (
        "battery_slope_7d",
        "%/day",
        "battery trend over 7 days (daily centroids), NaN from a single step",
    ),
    (
        "battery_slope_14d",
        "%/day",
        "battery trend over 14 days (daily centroids), NaN from a single step",
    ),
    ("battery_days_left", "days", "battery_last / -battery_slope_14d, capped"),
    ("battery_reports_7d", "1/day", "battery readings per day over 7 days"),
    ("battery_level", "%", "latest battery level ever read"),
    ("battery_stale_h", "h", "since that reading"),
    ("battery_levels_180d", "count", "distinct daily levels over 180 days"),
    ("battery_step", "%", "smallest step between those levels (coarseness)"),
    (
        "battery_slope_180d",
        "%/day",
        "battery trend over 180 days of daily levels: 0 for one level, NaN for a "
        "single step",
    ),
    ("lqi_mean_1d", "LQI", "mean Zigbee link quality (0-255) on the day"),
    ("lqi_mean_7d", "LQI", "mean link quality over 7 days"),
    ("lqi_min_1d", "LQI", "lowest link quality on the day"),
    ("lqi_slope_14d", "LQI/day", "link quality trend over 14 days"),
    ("rssi_mean_1d", "dBm", "mean signal strength on the day"),
    ("rssi_mean_7d", "dBm", "mean signal strength over 7 days"),
    ("rssi_min_1d", "dBm", "weakest signal on the day"),
    ("rssi_slope_14d", "dB/day", "signal strength trend over 14 days"),
    ("power_mean_1d", "W", "mean power reading on the day"),
    ("power_max_1d", "W", "highest power reading on the day"),
    ("energy_1d", "kWh/day", "energy metered on the day"),
    ("energy_7d", "kWh/day", "energy metered per day over 7 days"),
    # Against the device's own history: its baseline is days 8-28 back, before
    # the symptoms of a failure that is a few days away.
    ("lqi_drop_1d", "fraction", "1 - lqi_mean_1d / link quality 8-28 days back"),
    ("lqi_drop_7d", "fraction", "1 - lqi_mean_7d / link quality 8-28 days back"),
    ("rssi_drop_1d", "dB", "signal strength 8-28 days back - rssi_mean_1d"),
    ("rssi_drop_7d", "dB", "signal strength 8-28 days back - rssi_mean_7d"),
    ("reports_ratio_1d_base", "ratio", "reports_1d / reports per day 8-28 days back"),
    ("reports_ratio_7d_base", "ratio", "reports_7d / reports per day 8-28 days back"),
    (
        "long_gaps_1d",
        "1/day",
        "gaps between reports, on the day, longer than the 95th percentile gap "
        "8-28 days back",
    ),
    ("long_gaps_7d", "1/day", "the same per day over 7 days"),
    ("long_gap_frac_7d", "fraction", "long_gaps_7d / gaps between reports, 7 days"),
    (
        "gap_max_ratio_1d",
        "ratio",
        "interval_max_1d / the 95th percentile gap 8-28 days back",
    ),
    (
        "unavailable_excess_7d",
        "1/day",
        "unavailable_7d minus the rate 8-28 days back",
    ),
    (
        "binary_flaps_ratio_7d_base",
        "ratio",
        "(binary_flaps_7d + 1) / (their rate 8-28 days back + 1)",
    ),
    ("changes_ratio_7d_base", "ratio", "changes_7d / changes per day 8-28 days back"),
    (
        "frozen_ratio_1d",
        "ratio",
        "frozen_max_1d / the longest hold 8-28 days back",
    ),
    ("frozen_ratio_7d", "ratio", "frozen_max_7d / the longest hold 8-28 days back"),
    ("battery_fall_7d", "%", "battery level 7 days back - battery_last"),
    ("battery_fall_28d", "%", "earliest battery level within 28 days - battery_last"),
    (
        "battery_days_left_7d",
        "days",
        "battery_last / (battery_fall_7d / 7), capped; the cap when not falling",
    ),
)

# --- the home schema -------------------------------------------------------------

HOME_DOMAINS = (
    "light",
    "switch",
    "sensor",
    "binary_sensor",
    "climate",
    "cover",
    "media_player",
    "lock",
    "camera",
    "fan",
    "vacuum",
    "person",
    "device_tracker",
    "alarm_control_panel",
    "water_heater",
    "lawn_mower",
)
HOME_DEVICE_CLASSES = (
    "motion",
    "occupancy",
    "door",
    "window",
    "garage_door",
    "temperature",
    "humidity",
    "power",
    "energy",
    "battery",
    "smoke",
    "moisture",
    "illuminance",
    "carbon_dioxide",
    "gas",
)
# Area names are matched word by word (a word starting with a keyword), in English.
AREA_KINDS: dict[str, tuple[str, ...]] = {
    "bedroom": ("bedroom", "nursery"),
    "bathroom": ("bathroom", "toilet", "wc", "shower", "restroom", "washroom"),
    "kitchen": ("kitchen",),
    "living": ("living", "lounge", "family", "den"),
    "office": ("office", "study"),
    "garage": ("garage", "carport"),
    "garden": ("garden", "yard", "backyard", "patio", "terrace", "lawn", "driveway"),
    "balcony": ("balcony",),
    "stairs": ("stair", "landing"),
    "basement": ("basement", "cellar"),
    "attic": ("attic", "loft"),
    "laundry": ("laundry", "utility"),
}
DAY_PARTS = {
    "night": (0, 6),
    "morning": (6, 12),
    "afternoon": (12, 18),
    "evening": (18, 24),
}

HOME_SCHEMA = _schema(
    "home",
    1,
    ("devices", "count", "devices in the inventory"),
    ("entities", "count", "entities, with and without a device"),
    ("device_less_entities", "count", "entities without a device (people, helpers)"),
    ("areas", "count", "areas"),
    ("floors", "count", "floors"),
    ("floor_span", "floors", "highest - lowest known floor level + 1"),
    ("lowest_level", "level", "lowest known floor level (negative: basement)"),
    ("areas_per_floor", "count", "areas on a floor / floors"),
    ("devices_per_area", "count", "devices in an area / areas"),
    ("battery_device_frac", "fraction", "devices on battery"),
    ("mains_device_frac", "fraction", "devices on mains"),
    *(
        (f"domain_{domain}", "count", f"entities of domain {domain}")
        for domain in HOME_DOMAINS
    ),
    ("domain_other", "count", "entities of any other domain"),
    *(
        (f"class_{name}", "count", f"entities of device class {name}")
        for name in HOME_DEVICE_CLASSES
    ),
    *(
        (f"protocol_{protocol.replace('-', '_')}", "count", f"{protocol} devices")
        for protocol in PROTOCOLS
    ),
    *(
        (f"areas_{kind}", "count", f"areas named like: {', '.join(words)}")
        for kind, words in AREA_KINDS.items()
    ),
    ("observed_days", "days", "days watched over the last 14"),
    ("events_per_day", "1/day", "state events per day"),
    ("changes_per_day", "1/day", "state changes of activity entities per day"),
    ("changes_per_device_day", "1/day", "changes_per_day / devices"),
    *(
        (f"{part}_frac", "fraction", f"changes between {a:02d}:00 and {b:02d}:00")
        for part, (a, b) in DAY_PARTS.items()
    ),
    ("peak_hour", "h", "local hour with the most changes"),
    ("hour_entropy", "bits", "entropy of changes by hour (max log2 24 = 4.58)"),
    ("active_hours", "h", "hours holding at least half an even share of changes"),
    ("weekend_ratio", "ratio", "changes per weekend day / per weekday"),
    ("daily_changes_cv", "ratio", "std/mean of changes per day across days"),
    ("total_power_w", "W", "sum over devices of their mean power reading"),
    ("energy_kwh_per_day", "kWh/day", "energy metered per day, all meters"),
)


# --- windows of rollups as arrays ------------------------------------------------


class _Window:
    """The trailing rollups of a home as arrays over days and devices.

    `values` is field-major, (F, k, D): the features read one field over some days
    at a time, and each such (days, devices) block is contiguous in memory.
    """

    def __init__(
        self,
        values: np.ndarray,  # (F, k, D), NaN where a device is absent
        hours: np.ndarray,  # (k, D, 24)
        days: np.ndarray,  # (k, 6): start, end, observed_s, weekday, home events,
        # reports visible
        home_hours: np.ndarray,  # (k, 24)
        home_changes: np.ndarray,  # (k,)
    ) -> None:
        self.values = values
        self.hours = hours
        self.days = days
        self.home_hours = home_hours
        self.home_changes = home_changes
        self.k = values.shape[1]
        self.present = ~np.isnan(values[FIELD_INDEX["events"]])
        self.end = days[-1, 1] if self.k else np.nan

    def rows(self, days: int, skip: int = 0) -> slice:
        """Return the last `days` rows, leaving out the final `skip`."""
        stop = max(self.k - skip, 0)
        return slice(max(stop - days, 0), stop)

    def col(self, name: str, rows: slice) -> np.ndarray:
        column: np.ndarray = self.values[FIELD_INDEX[name], rows]
        return column

    def total(self, name: str, rows: slice) -> np.ndarray:
        totals: np.ndarray = np.nansum(self.col(name, rows), axis=0)
        return totals

    def observed(self, rows: slice) -> np.ndarray:
        """Return the days watched per device over `rows`."""
        seconds = self.present[rows] * self.days[rows, 2][:, None]
        days: np.ndarray = seconds.sum(axis=0) / DAY
        return days

    def rate(self, name: str, rows: slice) -> np.ndarray:
        return _div(self.total(name, rows), self.observed(rows))

    def latest(self, name: str, rows: slice | None = None) -> np.ndarray:
        """Return each device's last non-NaN value of `name` in `rows` (all)."""
        column = self.col(name, slice(None) if rows is None else rows)
        if column.shape[0] == 0:
            return np.full(column.shape[1], np.nan)
        known = ~np.isnan(column)
        last = column.shape[0] - 1 - np.argmax(known[::-1], axis=0)
        picked = column[last, np.arange(column.shape[1])]
        return np.where(known.any(axis=0), picked, np.nan)

    def earliest(self, name: str, rows: slice) -> np.ndarray:
        """Return each device's first non-NaN value of `name` in `rows`."""
        column = self.col(name, rows)
        if column.shape[0] == 0:
            return np.full(column.shape[1], np.nan)
        known = ~np.isnan(column)
        picked = column[np.argmax(known, axis=0), np.arange(column.shape[1])]
        return np.where(known.any(axis=0), picked, np.nan)

    def gaps_above(self, limit: np.ndarray, rows: slice) -> np.ndarray:
        """Return report gaps in `rows` in histogram bins wholly above `limit` (s).

        NaN where `limit` is NaN (no baseline to compare with).
        """
        counts = self._bins(rows)
        low = np.array([0.0, *INTERVAL_EDGES])
        with np.errstate(invalid="ignore"):
            above = low[None, :] >= limit[:, None]
        total: np.ndarray = (counts * above).sum(axis=1)
        return np.where(np.isnan(limit), np.nan, total)

    def _bins(self, rows: slice) -> np.ndarray:
        """Return each device's report intervals per histogram bin over `rows`."""
        first = FIELD_INDEX["interval_bin0"]
        bins = self.values[first : first + INTERVAL_BINS, rows]  # (bins, k, D)
        counts: np.ndarray = np.ascontiguousarray(np.nansum(bins, axis=1).T)
        return counts

    def largest(self, name: str, rows: slice) -> np.ndarray:
        return _reduce(np.fmax, self.col(name, rows))

    def smallest(self, name: str, rows: slice) -> np.ndarray:
        return _reduce(np.fmin, self.col(name, rows))

    def mean(self, channel: str, rows: slice) -> np.ndarray:
        return _div(
            self.total(f"{channel}_sum", rows), self.total(f"{channel}_n", rows)
        )

    def std(self, channel: str, rows: slice) -> np.ndarray:
        """Return the pooled standard deviation; exactly 0 for a constant value."""
        n = self.total(f"{channel}_n", rows)
        mean = _div(self.total(f"{channel}_sum", rows), n)
        with np.errstate(invalid="ignore"):
            variance = np.maximum(
                _div(self.total(f"{channel}_sumsq", rows), n) - mean * mean, 0.0
            )
        spread = self.largest(f"{channel}_max", rows) - self.smallest(
            f"{channel}_min", rows
        )
        return np.where(spread == 0.0, 0.0, np.sqrt(variance))

    def last_row(self, name: str) -> np.ndarray:
        """Return `name` on the window's last day (NaN for an empty window)."""
        column = self.col(name, slice(None))
        if self.k == 0:
            return np.full(column.shape[1], np.nan)
        last: np.ndarray = column[-1]
        return last

    def quantiles(self, rows: slice, *levels: float) -> list[np.ndarray]:
        """Return report-interval quantiles (s) from the daily histograms.

        Log-linear inside a bin (the first bin starts at 1 s, the open last one
        ends at twice its start); NaN with fewer than `MIN_INTERVALS` intervals.
        """
        counts = self._bins(rows)
        total = counts.sum(axis=1)
        cumulative = np.cumsum(counts, axis=1)
        low = np.array([1.0, *INTERVAL_EDGES])
        high = np.array([*INTERVAL_EDGES, 2 * INTERVAL_EDGES[-1]])
        out = []
        for level in levels:
            target = level * total
            at = np.argmax(cumulative >= target[:, None], axis=1)
            picked = np.arange(len(at))
            before = np.where(at > 0, cumulative[picked, at - 1], 0.0)
            with np.errstate(divide="ignore", invalid="ignore"):
                share = np.clip((target - before) / counts[picked, at], 0.0, 1.0)
            value = low[at] * (high[at] / low[at]) ** share
            out.append(np.where(total >= MIN_INTERVALS, value, np.nan))
        return out

    def slope(self, channel: str, rows: slice, *, steps: bool = False) -> np.ndarray:
        """Return the least-squares trend per day of the daily centroids.

        With `steps`, a single step (exactly two distinct daily levels) gives NaN:
        a coarse battery going 100 -> 90 once tells no rate.
        """
        n = self.col(f"{channel}_n", rows)
        used = n > 0
        with np.errstate(invalid="ignore", divide="ignore"):
            y = np.where(used, self.col(f"{channel}_sum", rows) / n, 0.0)
            x = np.where(
                used,
                (
                    self.days[rows, 0][:, None]
                    - self.end
                    + self.col(f"{channel}_tsum", rows) / n
                )
                / DAY,
                0.0,
            )
        points = used.sum(axis=0)
        mean_x = _div((x * used).sum(axis=0), points)
        mean_y = _div((y * used).sum(axis=0), points)
        dx = np.where(used, x - mean_x, 0.0)
        sxx = (dx * dx).sum(axis=0)
        sxy = (dx * np.where(used, y - mean_y, 0.0)).sum(axis=0)
        slope = np.where((points >= 2) & (sxx > 0), _div(sxy, sxx), np.nan)
        if not steps:
            return slope
        ordered = np.sort(np.where(used, y, np.nan), axis=0)
        with np.errstate(invalid="ignore"):
            levels = (np.diff(ordered, axis=0) > 0).sum(axis=0) + 1
        return np.where(levels == 2, np.nan, slope)


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return a / b, NaN where b is 0 or NaN."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.true_divide(a, b)
    return np.where((b == 0) | np.isnan(b), np.nan, out)


def _reduce(ufunc: np.ufunc, array: np.ndarray) -> np.ndarray:
    """Reduce along days ignoring NaN (fmax/fmin); NaN for an empty window."""
    if array.shape[0] == 0:
        return np.full(array.shape[1:], np.nan)
    reduced: np.ndarray = ufunc.reduce(array, axis=0)
    return reduced


def _window(device_ids: Sequence[str], rollups: Sequence[DayRollup]) -> _Window:
    """Stack rollups into arrays aligned on `device_ids` (absent devices: NaN)."""
    k, d = len(rollups), len(device_ids)
    values = np.empty((len(DEVICE_FIELDS), k, d))  # every day's block is filled
    hours = np.zeros((k, d, HOURS))
    days = np.zeros((k, 6))
    home_hours = np.zeros((k, HOURS))
    home_changes = np.zeros(k)
    ids = tuple(device_ids)
    position = {device_id: i for i, device_id in enumerate(ids)}
    for r, rollup in enumerate(rollups):
        if rollup.device_ids == ids:  # the usual case: the same devices, in order
            values[:, r] = rollup.values.T
            hours[r] = rollup.hours
        else:
            values[:, r] = np.nan
            rows = [position.get(device_id, -1) for device_id in rollup.device_ids]
            known = [i for i, p in enumerate(rows) if p >= 0]
            targets = [rows[i] for i in known]
            values[:, r, targets] = rollup.values[known].T
            hours[r, targets] = rollup.hours[known]
        days[r] = (
            rollup.start,
            rollup.end,
            rollup.observed_s,
            date.fromisoformat(rollup.day).weekday(),
            rollup.home_events,
            rollup.reports_visible,
        )
        home_hours[r] = rollup.home_hours
        home_changes[r] = rollup.home_changes
    return _Window(values, hours, days, home_hours, home_changes)


# --- device features ---------------------------------------------------------------


def device_features(inventory: Inventory, rollups: Sequence[DayRollup]) -> np.ndarray:
    """Return the device features as of the end of the last rollup.

    One row per device of `inventory`, in its order; columns in `DEVICE_SCHEMA`
    order. Only the last `LONG_WINDOW_DAYS` rollups are read (most features read
    the last `WINDOW_DAYS` of them). With no rollups, the inventory's features are
    filled in and the rest is NaN.
    """
    ids = [device.device_id for device in inventory.devices]
    return _device_matrix(inventory.devices, _window(ids, rollups[-LONG_WINDOW_DAYS:]))


def device_feature_rows(
    inventory: Inventory, rollups: Sequence[DayRollup]
) -> np.ndarray:
    """Return device features as of the end of each rollup's day: (days, devices, F).

    Row `i` equals `device_features(inventory, rollups[: i + 1])` exactly; this is
    the trainer's way to get one training row per device and day.
    """
    ids = [device.device_id for device in inventory.devices]
    whole = _window(ids, rollups)
    out = np.empty((len(rollups), len(ids), len(DEVICE_SCHEMA)))
    for i in range(len(rollups)):
        rows = slice(max(i + 1 - LONG_WINDOW_DAYS, 0), i + 1)
        part = _Window(
            whole.values[:, rows],  # each field's block stays contiguous
            *(
                np.ascontiguousarray(array[rows])
                for array in (
                    whole.hours,
                    whole.days,
                    whole.home_hours,
                    whole.home_changes,
                )
            ),
        )
        out[i] = _device_matrix(inventory.devices, part)
    return out


def _device_matrix(devices: tuple[Device, ...], w: _Window) -> np.ndarray:
    static = _static_kept(devices)
    columns = dict(static.columns)
    columns.update(
        _dynamic_device_columns(w, static.columns["entities"], static.metered)
    )
    return _assemble(DEVICE_SCHEMA, columns, len(devices))


@dataclass(frozen=True, slots=True)
class _Static:
    """What device features read from the devices alone (read-only arrays)."""

    columns: dict[str, np.ndarray]  # the static features
    metered: np.ndarray  # True for a device with an energy meter


class _KeptByIdentity[K, V]:
    """`compute(key)` for immutable keys, the last few results kept by identity.

    Scoring (every few minutes) and the trainer's day-by-day rows ask again and
    again for what reads the inventory alone; hashing a whole inventory would cost
    about as much as computing it. Each kept key is held, so its id stays its own;
    two are kept (the integration scores one inventory at a time, the trainer one
    home at a time), so a rebuilt inventory keeps at most one old one alive.
    """

    def __init__(self, compute: Callable[[K], V], size: int = 2) -> None:
        self._compute = compute
        self._size = size
        self._kept: dict[int, tuple[K, V]] = {}
        self._lock = threading.Lock()  # scorings and trainer threads share it

    def __call__(self, key: K) -> V:
        with self._lock:
            kept = self._kept.get(id(key))
        if kept is not None and kept[0] is key:
            return kept[1]
        value = self._compute(key)
        with self._lock:
            if len(self._kept) >= self._size:
                del self._kept[next(iter(self._kept))]  # the oldest
            self._kept[id(key)] = (key, value)
        return value


def _static(devices: tuple[Device, ...]) -> _Static:
    columns = _static_columns(devices)
    metered = np.array(
        [any(entity_role(e) == "energy" for e in d.entities) for d in devices],
        dtype=bool,
    )
    for array in (*columns.values(), metered):
        array.flags.writeable = False
    return _Static(columns, metered)


_static_kept = _KeptByIdentity(_static)  # computed once per device tuple


def _static_columns(devices: Sequence[Device]) -> dict[str, np.ndarray]:
    return {
        "battery_powered": np.array(
            [d.power_source == "battery" for d in devices], dtype=np.float64
        ),
        "mains_powered": np.array(
            [d.power_source == "mains" for d in devices], dtype=np.float64
        ),
        "protocol": np.array(
            [PROTOCOLS.index(d.protocol) for d in devices], dtype=np.float64
        ),
        "entities": np.array([len(d.entities) for d in devices], dtype=np.float64),
        "numeric_entities": np.array(
            [sum(is_numeric(e) for e in d.entities) for d in devices], dtype=np.float64
        ),
        **_kind_columns(devices),
    }


_MOTION = frozenset({"motion", "occupancy", "presence"})
_CONTACT = frozenset({"door", "window", "garage_door", "opening"})
_HAZARD = frozenset({"moisture", "smoke", "gas", "carbon_monoxide", "safety"})
_CLIMATE = frozenset({"temperature", "humidity"})
# Domains that decide a kind by themselves, strongest first: an actuator is what
# it drives, whatever it also measures.
_KIND_OF_DOMAIN = (
    ("lock", "lock"),
    ("cover", "cover"),
    ("climate", "thermostat"),
    ("water_heater", "thermostat"),
    ("light", "light"),
    ("switch", "plug"),
)


def device_kind(device: Device) -> str:
    """Return the device's kind, one of `DEVICE_KINDS`, from its entities only.

    Actuators first (lock, cover, thermostat, light, plug), then binary sensors
    (leak/smoke, motion, contact), buttons, climate sensors; "other" otherwise.
    """
    domains = {entity.domain for entity in device.entities}
    for domain, kind in _KIND_OF_DOMAIN:
        if domain in domains:
            return kind
    binary = {
        entity.device_class
        for entity in device.entities
        if entity.domain == "binary_sensor"
    }
    for classes, kind in (
        (_HAZARD, "leak_smoke"),
        (_MOTION, "motion"),
        (_CONTACT, "contact"),
    ):
        if binary & classes:
            return kind
    if "event" in domains or any(
        entity.entity_id.endswith(("_action", "_click")) for entity in device.entities
    ):
        return "button"
    if any(
        entity.domain == "sensor" and entity.device_class in _CLIMATE
        for entity in device.entities
    ):
        return "climate_sensor"
    return "other"


def _kind_columns(devices: Sequence[Device]) -> dict[str, np.ndarray]:
    kinds = [device_kind(device) for device in devices]
    return {
        f"kind_{kind}": np.array([k == kind for k in kinds], dtype=np.float64)
        for kind in DEVICE_KINDS
    }


def _dynamic_device_columns(  # noqa: PLR0915 - one line per feature reads best
    w: _Window, entities: np.ndarray, metered: np.ndarray
) -> dict[str, np.ndarray]:
    day, week, fortnight = w.rows(1), w.rows(7), w.rows(WINDOW_DAYS)
    before = w.rows(7, skip=1)  # the 7 days before the day
    earlier = w.rows(7, skip=7)  # days 8-14 back
    c: dict[str, np.ndarray] = {}
    long = w.rows(LONG_WINDOW_DAYS)
    c["observed_days_14d"] = w.observed(fortnight)
    c["age_days"] = (w.end - w.latest("first_seen", fortnight)) / DAY
    c.update(_liveness(w, fortnight, week, long))

    c["reports_1d"] = w.rate("reports", day)
    c["reports_7d"] = w.rate("reports", week)
    c["reports_ratio_1d_7d"] = _div(c["reports_1d"], c["reports_7d"])
    c["events_per_report_7d"] = _div(w.total("events", week), w.total("reports", week))

    gaps = w.total("interval_n", week)
    mean_gap = _div(w.total("interval_sum", week), gaps)
    with np.errstate(invalid="ignore"):
        gap_var = np.maximum(
            _div(w.total("interval_sumsq", week), gaps) - mean_gap**2, 0
        )
    c["interval_mean_7d"] = mean_gap
    c["interval_cv_7d"] = _div(np.sqrt(gap_var), mean_gap)
    c["interval_max_1d"] = w.largest("interval_max", day)
    c["interval_max_7d"] = w.largest("interval_max", week)
    c["interval_max_ratio_1d"] = _div(c["interval_max_1d"], mean_gap)

    entity_days = {rows: w.observed(rows) * DAY * entities for rows in (day, week)}
    c["unavailable_1d"] = w.rate("unavailable_n", day)
    c["unavailable_7d"] = w.rate("unavailable_n", week)
    c["unavailable_trend"] = c["unavailable_7d"] - w.rate("unavailable_n", earlier)
    c["unavailable_frac_1d"] = _div(w.total("unavailable_s", day), entity_days[day])
    c["unavailable_frac_7d"] = _div(w.total("unavailable_s", week), entity_days[week])
    c["unknown_7d"] = w.rate("unknown_n", week)
    c["unknown_frac_7d"] = _div(w.total("unknown_s", week), entity_days[week])
    c["unavailable_at_end"] = _div(
        w.col("unavailable_at_end", day).sum(axis=0), entities
    )
    if w.k == 0:
        c["unavailable_at_end"] = np.full(len(entities), np.nan)

    changes_week = w.total("changes", week)
    c["changes_1d"] = w.rate("changes", day)
    c["changes_7d"] = w.rate("changes", week)
    c["changes_ratio_1d_7d"] = _div(c["changes_1d"], c["changes_7d"])
    c["night_changes_frac_7d"] = _div(
        w.hours[week, :, 0:6].sum(axis=(0, 2)), changes_week
    )
    c["hour_profile_shift_1d"] = _shift(
        w.hours[day].sum(axis=0), w.hours[before].sum(axis=0)
    )
    c["flaps_1d"] = w.rate("flaps", day)
    c["flaps_7d"] = w.rate("flaps", week)
    c["flap_frac_7d"] = _div(w.total("flaps", week), changes_week)
    c["binary_flaps_1d"] = w.rate("binary_flaps", day)
    c["binary_flaps_7d"] = w.rate("binary_flaps", week)
    c["binary_flap_frac_7d"] = _div(
        w.total("binary_flaps", week), w.total("binary_changes", week)
    )
    c["binary_flaps_ratio_1d"] = (c["binary_flaps_1d"] + 1.0) / (
        w.rate("binary_flaps", before) + 1.0
    )

    numeric_day = w.total("numeric_reports", day)
    numeric_week = w.total("numeric_reports", week)
    c["frozen_max_1d"] = np.where(
        numeric_day > 0, w.largest("frozen_max", day) / 3600, np.nan
    )
    c["frozen_max_7d"] = np.where(
        numeric_week > 0, w.largest("frozen_max", week) / 3600, np.nan
    )
    c["repeat_frac_1d"] = _div(w.total("numeric_repeats", day), numeric_day)
    c["repeat_frac_7d"] = _div(w.total("numeric_repeats", week), numeric_week)
    c["non_numeric_frac_7d"] = _div(
        w.total("non_numeric", week), w.total("events", week)
    )

    mean_day = w.mean("value", day)
    std_day = w.std("value", day)
    std_week = w.std("value", week)
    c["value_mean_1d"] = mean_day
    c["value_std_1d"] = std_day
    c["value_range_1d"] = w.largest("value_max", day) - w.smallest("value_min", day)
    c["value_std_7d"] = std_week
    c["value_z_1d"] = _z(mean_day, w.mean("value", before), w.std("value", before))
    c["value_std_ratio_1d_7d"] = _div(std_day, std_week)

    battery = w.latest("battery_last", fortnight)
    slope = w.slope("battery", fortnight, steps=True)
    c["battery_last"] = battery
    c["battery_min_7d"] = w.smallest("battery_min", week)
    c["battery_slope_7d"] = w.slope("battery", week, steps=True)
    c["battery_slope_14d"] = slope
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(
            slope < 0, np.clip(battery / -slope, 0, DAYS_LEFT_CAP), DAYS_LEFT_CAP
        )
    c["battery_days_left"] = np.where(np.isnan(battery) | np.isnan(slope), np.nan, left)
    c["battery_reports_7d"] = w.rate("battery_n", week)
    c["battery_level"] = w.last_row("battery_level")
    c["battery_stale_h"] = (w.end - w.last_row("battery_at")) / 3600.0
    c["battery_levels_180d"] = w.last_row("battery_long_levels")
    c["battery_step"] = w.last_row("battery_long_step")
    c["battery_slope_180d"] = w.last_row("battery_long_slope")

    for channel in ("lqi", "rssi"):
        c[f"{channel}_mean_1d"] = w.mean(channel, day)
        c[f"{channel}_mean_7d"] = w.mean(channel, week)
        c[f"{channel}_min_1d"] = w.smallest(f"{channel}_min", day)
        c[f"{channel}_slope_14d"] = w.slope(channel, fortnight)

    c["power_mean_1d"] = w.mean("power", day)
    c["power_max_1d"] = w.largest("power_max", day)
    c["energy_1d"] = np.where(metered, w.rate("energy_kwh", day), np.nan)
    c["energy_7d"] = np.where(metered, w.rate("energy_kwh", week), np.nan)
    c.update(_against_own_history(w, c))
    return c


def _against_own_history(w: _Window, c: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Return the day and week against the device's own days 8-28 back.

    A failing radio, contact or sensor is unusual for *that* device first: a link
    quality of 90 is normal for one node and a collapse for another.
    """
    day, week = w.rows(1), w.rows(7)
    base = w.rows(LONG_WINDOW_DAYS - BASELINE_SKIP, skip=BASELINE_SKIP)
    out: dict[str, np.ndarray] = {}
    lqi_base = w.mean("lqi", base)
    out["lqi_drop_1d"] = 1.0 - _div(c["lqi_mean_1d"], lqi_base)
    out["lqi_drop_7d"] = 1.0 - _div(c["lqi_mean_7d"], lqi_base)
    rssi_base = w.mean("rssi", base)
    out["rssi_drop_1d"] = rssi_base - c["rssi_mean_1d"]
    out["rssi_drop_7d"] = rssi_base - c["rssi_mean_7d"]
    reports_base = w.rate("reports", base)
    out["reports_ratio_1d_base"] = _div(c["reports_1d"], reports_base)
    out["reports_ratio_7d_base"] = _div(c["reports_7d"], reports_base)
    (p95,) = w.quantiles(base, 0.95)
    out["long_gaps_1d"] = _div(w.gaps_above(p95, day), w.observed(day))
    long_week = w.gaps_above(p95, week)
    out["long_gaps_7d"] = _div(long_week, w.observed(week))
    out["long_gap_frac_7d"] = _div(long_week, w.total("interval_n", week))
    out["gap_max_ratio_1d"] = _div(c["interval_max_1d"], p95)
    out["unavailable_excess_7d"] = c["unavailable_7d"] - w.rate("unavailable_n", base)
    out["binary_flaps_ratio_7d_base"] = (c["binary_flaps_7d"] + 1.0) / (
        w.rate("binary_flaps", base) + 1.0
    )
    out["changes_ratio_7d_base"] = _div(c["changes_7d"], w.rate("changes", base))
    held = w.largest("frozen_max", base) / 3600.0
    out["frozen_ratio_1d"] = _div(c["frozen_max_1d"], held)
    out["frozen_ratio_7d"] = _div(c["frozen_max_7d"], held)
    out.update(_battery_fall(w, c["battery_last"]))
    return out


def _battery_fall(w: _Window, battery: np.ndarray) -> dict[str, np.ndarray]:
    """Return how far the battery fell over 7 and 28 days, and the 7-day days left."""
    before = w.latest("battery_last", w.rows(LONG_WINDOW_DAYS, skip=7))
    first = w.earliest("battery_last", w.rows(LONG_WINDOW_DAYS))
    fall = before - battery
    with np.errstate(divide="ignore", invalid="ignore"):
        left = np.where(
            fall > 0, np.clip(battery / (fall / 7.0), 0, DAYS_LEFT_CAP), DAYS_LEFT_CAP
        )
    return {
        "battery_fall_7d": fall,
        "battery_fall_28d": first - battery,
        "battery_days_left_7d": np.where(np.isnan(fall), np.nan, left),
    }


def _liveness(
    w: _Window, fortnight: slice, week: slice, long: slice
) -> dict[str, np.ndarray]:
    """Return silence, heartbeat and the device's own rhythm."""
    c: dict[str, np.ndarray] = {}
    silence = w.last_row("silence_s")
    # Rollups migrated from version 1 carry no silence: fall back to the clock.
    seen = w.latest("last_seen", fortnight)
    silence = np.where(np.isnan(silence), w.end - seen, silence)
    c["silence_h"] = silence / 3600.0
    visible = w.days[-1, 5] if w.k else np.nan
    c["reports_visible"] = np.full(len(silence), visible)
    heard = w.total("reported", fortnight) + w.total("numeric_repeats", fortnight)
    c["heartbeat_visible_14d"] = (heard > 0).astype(np.float64)
    c["reported_7d"] = w.rate("reported", week)
    p50, p95 = w.quantiles(long, 0.5, 0.95)
    c["interval_p50_h"] = p50 / 3600.0
    c["interval_p95_h"] = p95 / 3600.0
    c["silence_ratio_p50"] = _div(silence, p50)
    c["silence_ratio_p95"] = _div(silence, p95)
    c["unchanged_h"] = w.last_row("unchanged_s") / 3600.0
    return c


def _shift(today: np.ndarray, before: np.ndarray) -> np.ndarray:
    """Return the total variation distance between two hour profiles (rows: devices)."""
    a = today.sum(axis=-1)
    b = before.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = today / a[..., None]
        q = before / b[..., None]
        distance = 0.5 * np.abs(p - q).sum(axis=-1)
    return np.where((a > 0) & (b > 0), distance, np.nan)


def _z(mean: np.ndarray, base: np.ndarray, spread: np.ndarray) -> np.ndarray:
    """Return (mean - base) / spread, capped; 0 when nothing moved at all."""
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (mean - base) / spread
    flat = np.where(mean == base, 0.0, np.sign(mean - base) * Z_CAP)
    return np.where(spread > 0, np.clip(z, -Z_CAP, Z_CAP), flat)


def _assemble(
    schema: FeatureSchema, columns: dict[str, np.ndarray], rows: int
) -> np.ndarray:
    """Return the columns as a (rows, features) array in schema order."""
    if set(columns) != set(schema.names):
        raise RuntimeError(f"{schema.kind} features do not match their schema")
    out = np.empty((rows, len(schema)))
    for i, name in enumerate(schema.names):
        out[:, i] = columns[name]
    return out


# --- home features -------------------------------------------------------------------


def home_features(inventory: Inventory, rollups: Sequence[DayRollup]) -> np.ndarray:
    """Return the home features as of the end of the last rollup, `HOME_SCHEMA` order.

    Inventory composition needs no rollups; activity and energy features read the
    last `WINDOW_DAYS` rollups and are NaN without any.
    """
    ids = [device.device_id for device in inventory.devices]
    w = _window(ids, rollups[-WINDOW_DAYS:])
    composition, meters = _inventory_traits(inventory)
    columns = dict(composition)
    columns.update(_rhythm(w, len(inventory.devices)))
    power = w.mean("power", w.rows(WINDOW_DAYS))
    columns["total_power_w"] = np.nansum(power) if np.any(~np.isnan(power)) else np.nan
    watched = w.days[:, 2].sum() / DAY
    energy = np.nansum(w.col("energy_kwh", slice(None)))
    columns["energy_kwh_per_day"] = (
        energy / watched if meters and watched > 0 else np.nan
    )
    vector = {
        name: np.array([value], dtype=np.float64) for name, value in columns.items()
    }
    row: np.ndarray = _assemble(HOME_SCHEMA, vector, 1)[0]
    return row


def home_feature_rows(inventory: Inventory, rollups: Sequence[DayRollup]) -> np.ndarray:
    """Return home features as of the end of each rollup's day: (days, F)."""
    return np.array(
        [home_features(inventory, rollups[: i + 1]) for i in range(len(rollups))]
    ).reshape(len(rollups), len(HOME_SCHEMA))


def _traits(inventory: Inventory) -> tuple[dict[str, float], bool]:
    """Return the home's composition features, and whether it meters energy."""
    meters = any(entity_role(e) == "energy" for e in inventory.all_entities())
    return _composition(inventory), meters


_inventory_traits = _KeptByIdentity(_traits)


def _composition(inventory: Inventory) -> dict[str, float]:
    devices = inventory.devices
    entities = list(inventory.all_entities())
    levels = [f.level for f in inventory.floors if f.level is not None]
    floors = len(inventory.floors)
    areas = len(inventory.areas)
    c: dict[str, float] = {
        "devices": len(devices),
        "entities": len(entities),
        "device_less_entities": len(inventory.entities),
        "areas": areas,
        "floors": floors,
        "floor_span": max(levels) - min(levels) + 1 if levels else np.nan,
        "lowest_level": min(levels) if levels else np.nan,
        "areas_per_floor": (
            sum(a.floor_id is not None for a in inventory.areas) / floors
            if floors
            else np.nan
        ),
        "devices_per_area": (
            sum(d.area_id is not None for d in devices) / areas if areas else np.nan
        ),
    }
    for source in POWER_SOURCES[:2]:
        c[f"{source}_device_frac"] = (
            sum(d.power_source == source for d in devices) / len(devices)
            if devices
            else np.nan
        )
    domains = [e.domain for e in entities]
    for domain in HOME_DOMAINS:
        c[f"domain_{domain}"] = domains.count(domain)
    c["domain_other"] = sum(domain not in HOME_DOMAINS for domain in domains)
    classes = [e.device_class for e in entities]
    for name in HOME_DEVICE_CLASSES:
        c[f"class_{name}"] = classes.count(name)
    protocols = [d.protocol for d in devices]
    for protocol in PROTOCOLS:
        c[f"protocol_{protocol.replace('-', '_')}"] = protocols.count(protocol)
    words = [
        re.findall(r"[a-z0-9]+", f"{a.name} {a.area_id}".lower())
        for a in inventory.areas
    ]
    for kind, keys in AREA_KINDS.items():
        c[f"areas_{kind}"] = sum(
            any(word.startswith(keys) for word in area) for area in words
        )
    return c


def _rhythm(w: _Window, devices: int) -> dict[str, float]:
    watched = w.days[:, 2].sum() / DAY
    hours = w.home_hours.sum(axis=0)
    total = hours.sum()
    c: dict[str, float] = {"observed_days": watched}
    c["events_per_day"] = w.days[:, 4].sum() / watched if watched > 0 else np.nan
    c["changes_per_day"] = total / watched if watched > 0 else np.nan
    c["changes_per_device_day"] = c["changes_per_day"] / devices if devices else np.nan
    share = hours / total if total > 0 else np.full(HOURS, np.nan)
    for part, (a, b) in DAY_PARTS.items():
        c[f"{part}_frac"] = share[a:b].sum() if total > 0 else np.nan
    c["peak_hour"] = float(np.argmax(hours)) if total > 0 else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        bits = np.where(share > 0, -share * np.log2(share), 0.0)
    c["hour_entropy"] = bits.sum() if total > 0 else np.nan
    c["active_hours"] = float((share >= 0.5 / HOURS).sum()) if total > 0 else np.nan
    weekend = w.days[:, 3] >= 5
    observed = w.days[:, 2] / DAY
    c["weekend_ratio"] = _ratio_of_rates(w.home_changes, observed, weekend)
    daily = w.home_changes[observed > 0] / observed[observed > 0]
    c["daily_changes_cv"] = (
        daily.std() / daily.mean() if len(daily) >= 2 and daily.mean() > 0 else np.nan
    )
    return c


def _ratio_of_rates(
    counts: np.ndarray, observed: np.ndarray, mask: np.ndarray
) -> float:
    inside = observed[mask].sum()
    outside = observed[~mask].sum()
    if inside == 0 or outside == 0:
        return np.nan
    rate_out = counts[~mask].sum() / outside
    return counts[mask].sum() / inside / rate_out if rate_out > 0 else np.nan


# --- documentation -----------------------------------------------------------------


def reference_markdown() -> str:
    """Return the generated part of docs/features.md: schemas and odd-input counters."""
    lines = []
    for schema in (HOME_SCHEMA, DEVICE_SCHEMA):
        lines += [
            f"### {schema.kind.capitalize()} features: version {schema.version}, "
            f"{len(schema)} features, fingerprint `{schema.fingerprint()}`",
            "",
            "| # | name | unit | description |",
            "|---:|---|---|---|",
        ]
        lines += [
            f"| {i} | `{f.name}` | {f.unit} | {f.description.replace('|', '/')} |"
            for i, f in enumerate(schema.features)
        ]
        lines.append("")
    lines += [
        "### Device kinds (`device_kind`, the `kind_*` flags)",
        "",
        "The first rule that matches decides; the inventory alone is read.",
        "",
        "| kind | rule |",
        "|---|---|",
        *(f"| `{kind}` | {rule} |" for kind, rule in KIND_RULES.items()),
        "",
        "### Odd input, counted per day (`DayRollup.counters`)",
        "",
        "| counter | what and what happens |",
        "|---|---|",
        *(f"| `{name}` | {text} |" for name, text in COUNTERS.items()),
        "",
    ]
    return "\n".join(lines)


__all__ = [
    "DEVICE_KINDS",
    "DEVICE_SCHEMA",
    "HOME_SCHEMA",
    "LONG_WINDOW_DAYS",
    "WINDOW_DAYS",
    "FeatureSchema",
    "FeatureSpec",
    "device_feature_rows",
    "device_features",
    "device_kind",
    "home_feature_rows",
    "home_features",
    "reference_markdown",
]
