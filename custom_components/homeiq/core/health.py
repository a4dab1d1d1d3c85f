"""Device health and home type, scored from the rollups and the home's live state.

The integration calls `score_home` every scoring interval, in an executor thread.
It works on the core's rollups (closed days) and a `LiveState` (what Home
Assistant's state machine says now), and returns, per device, the health (%), the
risk of failing within 7 days, the battery's days left (or why there is no
forecast), an anomaly score (0-1), a problem flag and the reasons in words; and the
home's type with a probability per type.

Shipped ONNX models are used when they load and match the feature schema; without
them (or for what they do not cover) the documented rule-based fallback decides:

- **Silence** is judged against the device's own rhythm: it is silent when the time
  since its latest report exceeds the larger of twice its longest gap and six times
  its mean gap over the last 7 days (at least an hour; 24 h while no rhythm is
  learned yet).
- **Unavailable** entities right now, and a Z-Wave node reported **dead** (HA keeps
  a dead node's entities available, so the node status is read where present).
- **Battery**: level now, and the days left from the trend since the latest
  replacement (a jump up of more than `REPLACEMENT_JUMP` points, or a replacement a
  user marked), by least squares over daily readings.
- **Dropouts** per day over the last week.
- **Outages**: when every device behind one hub (or of one integration) is down
  together, that is ONE problem, the outage, not one per device.

The risks of the rules combine as independent causes: 1 - prod(1 - p). Health is
100 x (1 - risk) x (1 - excess / 3), where excess is how far the anomaly score is
past the detector's own threshold of 0.5, scaled to 0-1: a device as unusual as most
healthy ones keeps full health. Pure numpy; never imports Home Assistant.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
import math
import threading

import numpy as np

from .dataset import HOME_TYPES, Inventory
from .explain import NO_FORECAST_REASONS, battery_forecast, explain
from .features import (
    DEVICE_SCHEMA,
    HOME_SCHEMA,
    LONG_WINDOW_DAYS,
    device_features,
    home_features,
)
from .inference import Model, ModelError
from .rollups import FIELD_INDEX, DayRollup

DAY = 86400.0
HOUR = 3600.0
MIN_SILENCE_S = HOUR  # never silent sooner than this
UNLEARNED_SILENCE_S = 24 * HOUR  # until a rhythm is learned
GAP_FACTOR = 2.0  # silent after twice the longest gap of the week...
MEAN_FACTOR = 6.0  # ...or six mean gaps, whichever is longer
REPLACEMENT_JUMP = 10.0  # battery points up from one reading to the next
MIN_DRAIN = 0.05  # %/day: slower than this is no measurable drain
FORECAST_CAP_DAYS = 3650.0
MIN_FORECAST_SPAN_DAYS = 2.0
PROBLEM_RISK = 0.5
ANOMALY_THRESHOLD = 0.5  # the outlier detector's own cut (its decision value 0)
OUTAGE_WINDOW_S = 900.0  # devices of one hub falling silent within this: one outage
MIN_OUTAGE_DEVICES = 2
TOP_REASONS = 3
RULES = "rules"
PLATEAU = 2  # battery_forecast's code: "more than the models' cap"
MODEL = "model"


@dataclass(frozen=True, slots=True)
class LiveState:
    """What Home Assistant's state machine says now, one entry per device.

    Arrays follow the order of `Inventory.devices`. `last_seen` is the latest
    report of any of the device's entities (POSIX s, NaN if never); `unavailable`
    the fraction of its entities unavailable now; `dead` a Z-Wave node reported
    dead; `battery` the level now (%, NaN without one); `replaced` when a user
    marked the battery replaced (NaN: never); `groups` the hub or integration the
    device depends on (None: none known) and `group_names` their names.
    """

    last_seen: np.ndarray
    unavailable: np.ndarray
    dead: np.ndarray
    battery: np.ndarray
    replaced: np.ndarray
    groups: tuple[str | None, ...]
    group_names: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def quiet(cls, devices: int) -> LiveState:
        """Return the live state of `devices` devices nothing is known of."""
        nan = np.full(devices, np.nan)
        return cls(
            last_seen=nan,
            unavailable=np.zeros(devices),
            dead=np.zeros(devices, dtype=bool),
            battery=nan,
            replaced=nan,
            groups=(None,) * devices,
        )


@dataclass(frozen=True, slots=True)
class Models:
    """The models that loaded and match the schema; None where the rules decide."""

    home_type: Model | None = None
    device_failure: Model | None = None
    battery_days_left: Model | None = None
    device_anomaly: Model | None = None
    version: str = RULES


@dataclass(frozen=True, slots=True)
class Outage:
    """Every device behind one hub or of one integration down at once."""

    group: str
    name: str
    devices: tuple[str, ...]
    since: float  # POSIX s of the latest report among them (NaN: unknown)


@dataclass(frozen=True, slots=True)
class DeviceHealth:
    """Scores of one device."""

    health: float  # 0-100
    failure_risk: float  # 0-1, within 7 days
    battery_days_left: float | None
    battery_empty: float | None  # POSIX s
    no_forecast: str | None  # why there is no battery forecast
    anomaly: float  # 0-1
    problem: bool
    reasons: tuple[str, ...]
    outage: str | None  # the outage group it is part of


@dataclass(frozen=True, slots=True)
class HomeType:
    """The home's type and the probability of each type."""

    label: str
    probabilities: dict[str, float]
    observed_days: float
    source: str

    @property
    def confidence(self) -> float:
        """Return the probability of the chosen type."""
        return self.probabilities[self.label]


@dataclass(frozen=True, slots=True)
class HomeHealth:
    """One scoring of the whole home."""

    time: float
    devices: dict[str, DeviceHealth]
    outages: tuple[Outage, ...]
    home_type: HomeType
    source: str  # "model" when a device model scored, else "rules"

    @property
    def at_risk(self) -> int:
        """Return how many devices have a problem (outages count once each)."""
        return sum(d.problem for d in self.devices.values()) + len(self.outages)


@dataclass(slots=True)
class ClosedDays:
    """What a scoring reads from closed days only, kept until they change.

    The device features, the models' outputs on them, the failure model's reasons
    and the home type depend on the inventory, the closed daily rollups and the
    models alone, which change when a day closes, the inventory is rebuilt or a
    model is swapped; the scorings in between (every few minutes) reuse them and
    recompute only what reads the live state. Pass the same instance to every
    `score_home` of a home.
    """

    key: tuple[object, ...] = ()
    lock: threading.Lock = field(default_factory=threading.Lock)  # one scoring at once
    features: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    learned: np.ndarray | None = None  # failure model's risk
    reasons: list[list[tuple[float, str]]] = field(default_factory=list)
    anomaly: np.ndarray | None = None
    battery: tuple[np.ndarray, np.ndarray] | None = None  # median days, code
    home_type: HomeType | None = None

    def holds(self, key: tuple[object, ...]) -> bool:
        """Return whether this was computed from exactly these objects."""
        return len(key) == len(self.key) and all(
            a is b for a, b in zip(key, self.key, strict=True)
        )


def _closed_days(
    inventory: Inventory,
    rollups: Sequence[DayRollup],
    models: Models,
    memo: ClosedDays | None,
) -> ClosedDays:
    """Return the closed-day part of a scoring: `memo` if still valid, else anew."""
    key = (
        inventory,
        models.device_failure,
        models.device_anomaly,
        models.battery_days_left,
        models.home_type,
        *rollups[-LONG_WINDOW_DAYS:],  # the days `device_features` reads (the home
        # features read fewer)
    )
    if memo is None:
        return _fill(ClosedDays(), key, inventory, rollups, models)
    with memo.lock:
        if not memo.holds(key):
            _fill(memo, key, inventory, rollups, models)
        return replace(memo, lock=threading.Lock())  # a copy the caller may read


def _fill(
    fresh: ClosedDays,
    key: tuple[object, ...],
    inventory: Inventory,
    rollups: Sequence[DayRollup],
    models: Models,
) -> ClosedDays:
    """Compute the closed-day part into `fresh`; valid (`key` set) once complete."""
    fresh.key = ()  # a failing model leaves nothing stale behind
    fresh.features = features = device_features(inventory, rollups)
    fresh.reasons = [[] for _ in inventory.devices]
    fresh.learned = fresh.anomaly = fresh.battery = fresh.home_type = None
    if inventory.devices:
        if models.device_failure is not None:
            fresh.learned = _class_one(
                models.device_failure, features, DEVICE_SCHEMA.names
            )
            _explain(models.device_failure, features, fresh.learned, fresh.reasons)
        if models.device_anomaly is not None:
            fresh.anomaly = _anomaly(models.device_anomaly, features)
        if models.battery_days_left is not None:
            fresh.battery = _battery_median(models.battery_days_left, features)
    fresh.home_type = score_home_type(inventory, rollups, models.home_type)
    fresh.key = key
    return fresh


def score_home(
    inventory: Inventory,
    rollups: Sequence[DayRollup],
    live: LiveState,
    now: float,
    *,
    watch_start: float,
    models: Models | None = None,
    memo: ClosedDays | None = None,
) -> HomeHealth:
    """Score every device of `inventory` and the home's type, as of `now`.

    `memo`: the `ClosedDays` of this home's previous scoring (updated in place).
    """
    models = models or Models()
    ids = [device.device_id for device in inventory.devices]
    closed = _closed_days(inventory, rollups, models, memo)
    features = closed.features
    rules = _device_rules(inventory, features, rollups, live, now, watch_start)
    risk, source = rules.risk, RULES
    if closed.learned is not None:
        # The model reads closed days; what happens now (dead, unavailable, silent)
        # still counts through the live rules.
        risk = np.fmax(closed.learned, rules.live_risk)
        source = MODEL
        for mine, learned in zip(rules.reasons, closed.reasons, strict=True):
            mine.extend(learned)
    anomaly = rules.anomaly if closed.anomaly is None else closed.anomaly
    battery = rules.battery_days, rules.no_forecast
    if closed.battery is not None:
        battery = _battery_days(closed.battery, rules)
    outages, member = _outages(ids, live, rules.down, now)
    home_type = closed.home_type
    assert home_type is not None  # every complete fill sets it
    devices = _device_healths(ids, rules, risk, anomaly, battery, now, member)
    for outage in outages:
        text = (
            f"{outage.name} is down: all {len(outage.devices)} of its devices "
            "went silent together"
        )
        for device_id in outage.devices:
            old = devices[device_id]
            devices[device_id] = _replace(old, text)
    return HomeHealth(
        time=now,
        devices=devices,
        outages=outages,
        home_type=home_type,
        source=source,
    )


# --- the rules ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Rules:
    risk: np.ndarray
    live_risk: np.ndarray
    anomaly: np.ndarray
    battery_days: np.ndarray
    no_forecast: tuple[str | None, ...]
    level: np.ndarray  # battery % now (NaN: none known)
    down: np.ndarray
    reasons: list[list[tuple[float, str]]]


def _column(features: np.ndarray, name: str) -> np.ndarray:
    return features[:, DEVICE_SCHEMA.index(name)]


def _device_rules(  # noqa: PLR0917 - one call site
    inventory: Inventory,
    f: np.ndarray,
    rollups: Sequence[DayRollup],
    live: LiveState,
    now: float,
    watch_start: float,
) -> _Rules:
    n = len(inventory.devices)
    mean_gap = _column(f, "interval_mean_7d")
    max_gap = _column(f, "interval_max_7d")
    learned = np.fmax(GAP_FACTOR * max_gap, MEAN_FACTOR * mean_gap)
    expected = np.where(
        np.isnan(learned), UNLEARNED_SILENCE_S, np.maximum(learned, MIN_SILENCE_S)
    )
    seen = np.where(np.isnan(live.last_seen), -np.inf, live.last_seen)
    silence = now - np.maximum(seen, watch_start)
    ratio = silence / expected
    silent = ratio >= 1.0
    p_silent = np.where(silent, np.clip(0.5 + 0.2 * (ratio - 1.0), 0.5, 0.9), 0.0)
    p_unavailable = 0.8 * np.clip(live.unavailable, 0.0, 1.0)
    p_dead = np.where(live.dead, 0.95, 0.0)

    days_left, no_forecast, level = _battery_forecast(inventory, rollups, live, now)
    p_battery = np.select(
        [days_left < 7, level <= 5, level <= 15], [0.75, 0.6, 0.3], default=0.0
    )
    dropouts = np.nan_to_num(_column(f, "unavailable_7d"))
    p_dropouts = np.clip(dropouts / 4.0, 0.0, 0.5)
    anomaly = _rule_anomaly(f)
    live_risk = _combine(p_silent, p_unavailable, p_dead)
    risk = _combine(p_silent, p_unavailable, p_dead, p_battery, p_dropouts)

    reasons: list[list[tuple[float, str]]] = [[] for _ in range(n)]
    for i in np.flatnonzero(live.dead):
        reasons[i].append((0.95, "Z-Wave node reported dead"))
    for i in np.flatnonzero(silent):
        usual = (
            "no reporting rhythm learned yet"
            if np.isnan(learned[i])
            else f"usually reports every {_duration(mean_gap[i])}"
        )
        reasons[i].append((p_silent[i], f"silent for {_duration(silence[i])}, {usual}"))
    for i in np.flatnonzero(live.unavailable > 0):
        share = live.unavailable[i]
        text = "unavailable" if share >= 1 else f"{share:.0%} of its entities down"
        reasons[i].append((p_unavailable[i], text))
    for i in np.flatnonzero(p_battery > 0):
        if days_left[i] < 7:
            text = f"battery empty in about {_duration(days_left[i] * DAY)}"
        else:
            text = f"battery at {level[i]:.0f} %"
        reasons[i].append((p_battery[i], text))
    for i in np.flatnonzero(p_dropouts > 0):
        reasons[i].append(
            (p_dropouts[i], f"dropped off {dropouts[i]:.1f} times a day this week")
        )
    for i in np.flatnonzero(anomaly >= ANOMALY_THRESHOLD):
        reasons[i].append((anomaly[i] / 2, "behaves unlike its usual self"))
    return _Rules(
        risk=risk,
        live_risk=live_risk,
        anomaly=anomaly,
        battery_days=days_left,
        no_forecast=no_forecast,
        level=level,
        down=silent | (live.unavailable >= 1.0) | live.dead,
        reasons=reasons,
    )


def _combine(*risks: np.ndarray) -> np.ndarray:
    """Combine risks of independent causes."""
    survive = np.ones_like(risks[0], dtype=np.float64)
    for risk in risks:
        survive *= 1.0 - risk
    return 1.0 - survive


def _rule_anomaly(f: np.ndarray) -> np.ndarray:
    """Return 0-1: how far the day strays from the device's week."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = (
            np.abs(_column(f, "value_z_1d")) / 6.0,
            np.abs(np.log(_column(f, "reports_ratio_1d_7d"))) / math.log(10.0),
            np.abs(np.log(_column(f, "changes_ratio_1d_7d"))) / math.log(10.0),
            2.0 * _column(f, "flap_frac_7d"),
            _column(f, "hour_profile_shift_1d"),
        )
    stacked = np.nan_to_num(np.vstack(terms), nan=0.0, posinf=1.0)
    return np.clip(stacked.max(axis=0), 0.0, 1.0) if len(f) else np.zeros(0)


def _battery_forecast(
    inventory: Inventory,
    rollups: Sequence[DayRollup],
    live: LiveState,
    now: float,
) -> tuple[np.ndarray, tuple[str | None, ...], np.ndarray]:
    """Return days left, why not (per device) and the level now.

    Points are each day's last battery reading (at the day's end) and the level
    now; only points after the latest replacement count.
    """
    ids = [device.device_id for device in inventory.devices]
    n = len(ids)
    times, levels = _battery_points(ids, rollups, live, now)
    known = ~np.isnan(levels)
    level = _last_known(levels, known)
    jumps = np.zeros_like(known)
    previous = np.full(n, np.nan)
    for r in range(levels.shape[0]):
        row = levels[r]
        jumps[r] = known[r] & (row - previous > REPLACEMENT_JUMP)
        previous = np.where(known[r], row, previous)
    rows = np.arange(levels.shape[0])[:, None]
    last_jump = np.where(jumps, rows, -1).max(axis=0, initial=-1)
    used = known & (rows >= last_jump) & ~(times < live.replaced)
    points = used.sum(axis=0)
    x = np.where(used, (times - now) / DAY, 0.0)
    y = np.where(used, levels, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_x = x.sum(axis=0) / points
        mean_y = y.sum(axis=0) / points
        dx = np.where(used, x - mean_x, 0.0)
        sxx = (dx * dx).sum(axis=0)
        slope = (dx * np.where(used, y - mean_y, 0.0)).sum(axis=0) / sxx
        span = np.where(used, x, np.inf).min(axis=0, initial=np.inf)
        days = np.clip(level / -slope, 0.0, FORECAST_CAP_DAYS)
    unread = np.isnan(level)
    few = ~unread & ((points < 3) | (-span < MIN_FORECAST_SPAN_DAYS))
    flat = ~unread & ~few & ~(slope < -MIN_DRAIN)
    ok = ~(unread | few | flat)
    reasons = np.select(
        [unread, few, flat],
        [
            "no battery reading",
            "not enough readings since the battery was last changed",
            "battery not draining measurably",
        ],
        default="",
    ).tolist()
    why = tuple(reason or None for reason in reasons) if n else ()
    return np.where(ok, days, np.nan), why, level


def _battery_points(
    ids: Sequence[str],
    rollups: Sequence[DayRollup],
    live: LiveState,
    now: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Return (points, devices) times and battery levels, the live level last."""
    ids = tuple(ids)
    position = {device_id: i for i, device_id in enumerate(ids)}
    last, count = FIELD_INDEX["battery_last"], FIELD_INDEX["battery_n"]
    times = np.full((len(rollups) + 1, len(ids)), now)
    levels = np.full((len(rollups) + 1, len(ids)), np.nan)
    for r, rollup in enumerate(rollups):
        times[r] = rollup.end
        if rollup.device_ids == ids:  # the usual case: the same devices, in order
            values = rollup.values
            levels[r] = np.where(values[:, count] > 0, values[:, last], np.nan)
            continue
        rows = [position.get(device_id, -1) for device_id in rollup.device_ids]
        known = [i for i, p in enumerate(rows) if p >= 0]
        targets = [rows[i] for i in known]
        values = rollup.values[known]
        levels[r, targets] = np.where(values[:, count] > 0, values[:, last], np.nan)
    levels[-1] = live.battery
    return times, levels


def _last_known(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    if values.shape[1] == 0:
        return np.zeros(0)
    last = values.shape[0] - 1 - np.argmax(known[::-1], axis=0)
    picked = values[last, np.arange(values.shape[1])]
    return np.where(known.any(axis=0), picked, np.nan)


# --- models --------------------------------------------------------------------------


def _class_one(model: Model, x: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """Return the probability of class 1 (fails within 7 days)."""
    prediction = model.predict(model.align(x, names))
    assert prediction.probabilities is not None
    classes = list(prediction.classes or ())
    column = classes.index(1) if 1 in classes else -1
    return np.asarray(prediction.probabilities[:, column], dtype=np.float64)


def _explain(
    model: Model,
    features: np.ndarray,
    learned: np.ndarray,
    reasons: list[list[tuple[float, str]]],
) -> None:
    """Add the model's reasons for the devices it puts at risk."""
    flagged = np.flatnonzero(learned >= PROBLEM_RISK)
    if not flagged.size:
        return
    try:
        explained = explain(
            model, model.align(features[flagged], DEVICE_SCHEMA.names), top=TOP_REASONS
        )
    except ModelError:  # a model without healthy references cannot say why
        return
    for i, found in zip(flagged, explained, strict=True):
        reasons[i].extend((reason.weight, reason.text) for reason in found)


def _anomaly(model: Model, x: np.ndarray) -> np.ndarray:
    """Map an outlier detector's decision score to 0-1 (0.5 at its threshold)."""
    prediction = model.predict(model.align(x, DEVICE_SCHEMA.names))
    raw = prediction.scores if prediction.scores is not None else prediction.values
    if raw is None:
        raise ModelError("the anomaly model gives no scores")
    score = np.asarray(raw, dtype=np.float64).ravel()
    return 1.0 / (1.0 + np.exp(np.clip(score * 10.0, -50.0, 50.0)))


def _battery_median(model: Model, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the battery model's median days left and `battery_forecast`'s codes.

    The model forecasts exactly where it was evaluated to (`battery_forecast`, the
    trainer's rule): a reading within 14 days and a median below the models' cap of
    `BATTERY_CAP_DAYS`.
    """
    prediction = model.predict(model.align(x, DEVICE_SCHEMA.names))
    values = np.asarray(prediction.values, dtype=np.float64)
    median = values[:, values.shape[1] // 2] if values.ndim == 2 else values.ravel()
    last = x[:, DEVICE_SCHEMA.index("battery_last")]
    days, code = battery_forecast(np.repeat(median[:, None], 3, axis=1), last)
    return days[:, 1], code


def _battery_days(
    forecast: tuple[np.ndarray, np.ndarray], rules: _Rules
) -> tuple[np.ndarray, tuple[str | None, ...]]:
    """Return the model's median days left where it forecasts, else the rules'.

    Elsewhere the rules' trend (every reading since the last replacement) is kept
    when it has one, else the reason there is no forecast.
    """
    median, code = forecast
    chosen = np.where(code == 0, median, rules.battery_days)
    why = tuple(
        None
        if not math.isnan(value)
        else NO_FORECAST_REASONS[PLATEAU]
        if code[i] == PLATEAU
        else rules.no_forecast[i] or NO_FORECAST_REASONS.get(int(code[i]))
        for i, value in enumerate(chosen.tolist())
    )
    return chosen, why


# --- outages -------------------------------------------------------------------------


def _outages(
    ids: Sequence[str], live: LiveState, down: np.ndarray, now: float
) -> tuple[tuple[Outage, ...], dict[str, str]]:
    """Find groups whose every device went down within `OUTAGE_WINDOW_S`."""
    members: dict[str, list[int]] = {}
    for i, group in enumerate(live.groups):
        if group is not None:
            members.setdefault(group, []).append(i)
    outages: list[Outage] = []
    member: dict[str, str] = {}
    for group, rows in members.items():
        index = np.array(rows)
        if len(rows) < MIN_OUTAGE_DEVICES or not down[index].all():
            continue
        seen = live.last_seen[index]
        seen = seen[~np.isnan(seen)]
        together = len(seen) == len(rows) and np.ptp(seen) <= OUTAGE_WINDOW_S
        if not (together or (live.unavailable[index] >= 1.0).all()):
            continue
        since = float(seen.max()) if len(seen) else now
        devices = tuple(ids[i] for i in rows)
        outages.append(
            Outage(group, live.group_names.get(group, group), devices, since)
        )
        member.update(dict.fromkeys(devices, group))
    return tuple(outages), member


# --- assembling ----------------------------------------------------------------------


def _device_healths(  # noqa: PLR0917 - one call site, arrays side by side
    ids: Sequence[str],
    rules: _Rules,
    risk: np.ndarray,
    anomaly: np.ndarray,
    battery: tuple[np.ndarray, tuple[str | None, ...]],
    now: float,
    member: Mapping[str, str],
) -> dict[str, DeviceHealth]:
    """Assemble each device's scores: arithmetic on arrays, then plain floats."""
    r = np.clip(np.nan_to_num(risk), 0.0, 1.0)
    a = np.clip(np.nan_to_num(anomaly), 0.0, 1.0)
    excess = np.clip((a - ANOMALY_THRESHOLD) / (1.0 - ANOMALY_THRESHOLD), 0.0, 1.0)
    health = np.round(100.0 * (1.0 - r) * (1.0 - excess / 3.0), 1).tolist()
    problem = (r >= PROBLEM_RISK).tolist()
    battery_days, no_forecast = battery
    forecast = ~np.isnan(battery_days)
    days = np.round(np.nan_to_num(battery_days), 1).tolist()
    empty = (now + np.nan_to_num(battery_days) * DAY).tolist()
    r_list, a_list = np.round(r, 4).tolist(), np.round(a, 4).tolist()
    out: dict[str, DeviceHealth] = {}
    for i, device_id in enumerate(ids):
        has = bool(forecast[i])
        outage = member.get(device_id)
        reasons = sorted(rules.reasons[i], key=lambda item: -item[0])
        out[device_id] = DeviceHealth(
            health=health[i],
            failure_risk=r_list[i],
            battery_days_left=days[i] if has else None,
            battery_empty=empty[i] if has else None,
            no_forecast=None if has else (no_forecast[i] or "no forecast"),
            anomaly=a_list[i],
            problem=problem[i] and outage is None,
            reasons=tuple(text for _, text in reasons[:TOP_REASONS]),
            outage=outage,
        )
    return out


def _replace(old: DeviceHealth, reason: str) -> DeviceHealth:
    return DeviceHealth(
        health=old.health,
        failure_risk=old.failure_risk,
        battery_days_left=old.battery_days_left,
        battery_empty=old.battery_empty,
        no_forecast=old.no_forecast,
        anomaly=old.anomaly,
        problem=False,
        reasons=(reason, *old.reasons[: TOP_REASONS - 1]),
        outage=old.outage,
    )


def _duration(seconds: float) -> str:
    """Return a duration the way people say it: 50 min, 31 h, 4 days."""
    if not math.isfinite(seconds):
        return "ever"
    if seconds < 2 * HOUR:
        return f"{max(round(seconds / 60), 1)} min"
    if seconds < 2 * DAY:
        return f"{round(seconds / HOUR)} h"
    return f"{round(seconds / DAY)} days"


# --- home type ------------------------------------------------------------------------

# How each inventory trait speaks for each type (log-odds per unit), hand-set from
# the generator's archetypes; the fallback when no home type model is loaded.
_WEIGHTS: dict[str, tuple[float, ...]] = {
    "studio": (-0.5, -0.6, -0.02, -1.0, -1.0, -1.0),
    "apartment": (-0.5, -0.1, -0.01, -1.0, -0.8, 0.2),
    "condo": (-0.3, 0.0, 0.0, -0.6, -0.3, 0.3),
    "townhouse": (0.6, 0.05, 0.0, 0.3, 0.2, 0.3),
    "single_family_house": (0.5, 0.1, 0.01, 0.6, 0.6, 0.4),
    "cottage": (0.2, -0.05, -0.01, 0.8, 0.0, 0.1),
    "multi_story": (1.5, 0.1, 0.01, 0.0, 0.2, 0.3),
    "ranch_house": (-0.4, 0.15, 0.01, 0.8, 0.8, 0.4),
}
_BIAS: dict[str, float] = {
    "studio": 2.5,
    "apartment": 1.5,
    "condo": 0.5,
    "townhouse": -0.5,
    "single_family_house": -1.5,
    "cottage": -0.5,
    "multi_story": -3.0,
    "ranch_house": -1.5,
}


def score_home_type(
    inventory: Inventory, rollups: Sequence[DayRollup], model: Model | None
) -> HomeType:
    """Return the home type: the model's when loaded, else the rules'."""
    vector = home_features(inventory, rollups)
    observed = float(np.nan_to_num(vector[HOME_SCHEMA.index("observed_days")]))
    if model is not None:
        prediction = model.predict(model.align(vector[None, :], HOME_SCHEMA.names))
        assert prediction.probabilities is not None
        classes = [str(c) for c in prediction.classes or ()]
        probabilities = {
            c: round(float(p), 4)
            for c, p in zip(classes, prediction.probabilities[0], strict=True)
        }
        source = MODEL
    else:
        probabilities = _rule_home_type(vector)
        source = RULES
    label = max(probabilities, key=lambda c: probabilities[c])
    return HomeType(label, probabilities, observed, source)


def _rule_home_type(vector: np.ndarray) -> dict[str, float]:
    def value(name: str) -> float:
        return float(np.nan_to_num(vector[HOME_SCHEMA.index(name)]))

    traits = np.array(
        [
            value("floors") or 1.0,
            value("areas"),
            value("devices"),
            value("areas_garden"),
            value("areas_garage"),
            value("areas_bedroom"),
        ]
    )
    logits = np.array(
        [_BIAS[t] + float(np.dot(_WEIGHTS[t], traits)) for t in HOME_TYPES]
    )
    odds = np.exp(logits - logits.max())
    share = odds / odds.sum()
    return {t: round(float(p), 4) for t, p in zip(HOME_TYPES, share, strict=True)}
