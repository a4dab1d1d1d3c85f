"""Device health: failures with ground truth, their symptoms, and benign quirks.

`plan_failures` decides, apart from any event, which devices fail, how, and when
(the labels): symptoms begin at `onset` and the device stops working at
`failure_time`, which may lie after the window. `finish_device` then turns a
device's `Activity` into entity rows, adding what every real radio device shows:

- check-in messages (HA writes no row for them: they are `state_reported`
  re-reports, kept apart as reports), link quality (LQI/RSSI) at every message
  where the home enabled those entities, battery levels reported the way the
  device's protocol does (coarse steps, a low-battery code, rare changes);
- benign irregularities on healthy devices: a battery at any level, the odd
  dropout, link-quality dips from interference, a sensor value that holds for a
  few hours, a battery replaced, a low-battery code that the device outlives;
- the injected failure's symptoms between onset and failure time, and a dead
  device after it: silent, and "unavailable" only where its integration notices
  (a stuck sensor stays frozen); some failures end (`recovered`).

Failures are placed independently of the window: each failing device fails at a
time drawn uniformly from 7 days before the window to 14 days after it, so
symptoms may begin before the window starts and the share of devices failing
within a week is the same on every day of the window.
"""

from dataclasses import dataclass, field

import numpy as np

from homeiq_core.dataset import Failure

from .archetypes import DevicePlan, HomePlan
from .devices import (
    DAY,
    HOUR,
    Activity,
    World,
    contains_sorted,
    merge_intervals,
    merge_sorted,
    periodic,
    union_sorted,
    with_initial,
    within,
)
from .streams import WORD, StreamSet, number_keys

WIRELESS = frozenset({"zigbee", "z-wave", "wifi", "thread", "bluetooth", "matter"})
PRIMARY_CELLS = frozenset({"coin", "cr123a", "alkaline"})
# Most failures users meet are flat batteries and radios that drop off the mesh
# and come back (HA's zha/zwave_js issue trackers are dominated by them, e.g.
# zwave-js/zwave-js#5638, home-assistant/core#47513); stuck readings and
# chattering contacts are rarer.
KIND_WEIGHTS = {
    "battery_depletion": 4.0,
    "intermittent_dropout": 3.0,
    "radio_degradation": 1.5,
    "sudden_death": 1.2,
    "stuck_sensor": 0.6,
    "flapping": 0.5,
}
# Share of failures of a kind that end: a dropout that comes back by itself or
# after a re-pair, a battery replaced some days after it died, a radio fixed by
# a repeater. (kind: (probability, low, high hours until recovered))
RECOVERY = {
    "intermittent_dropout": (0.6, 1.0, 96.0),
    "battery_depletion": (0.35, 12.0, 21 * 24.0),
    "radio_degradation": (0.3, 6.0, 7 * 24.0),
}
# Failures are drawn this long before and after the window: symptoms may start
# before it and failures come after it, at a rate flat across the window.
BEFORE_WINDOW = 7 * DAY
AFTER_WINDOW = 14 * DAY
# Days from onset to failure: (low, high). Batteries often die in a jump
# ("from 50+% to 0 in a few hours", zwave-js/zwave-js#5638).
SYMPTOM_DAYS = {
    "battery_depletion": (0.2, 14.0),
    "radio_degradation": (3.0, 20.0),
    "intermittent_dropout": (2.0, 14.0),
    "stuck_sensor": (2.0, 10.0),
    "flapping": (1.0, 7.0),
    "sudden_death": (0.0, 0.0),
}
STUCK_ROLES = ("temperature", "humidity", "power")
LOSSY = frozenset({"radio_degradation", "battery_depletion"})  # lose reports


@dataclass(frozen=True, slots=True)
class Fault:
    """A planned failure, times in seconds from the window start."""

    kind: str
    onset: float
    failure: float
    recovered: float | None = None


def eligible_kinds(device: DevicePlan) -> list[str]:
    """Return the failure kinds `device` can suffer."""
    model = device.model
    if model.protocol == "unknown":  # a virtual device (a group) cannot break
        return []
    kinds = ["sudden_death"]
    if model.battery in PRIMARY_CELLS:
        kinds.append("battery_depletion")
    if model.protocol in WIRELESS:
        kinds.append("radio_degradation")
    if model.protocol != "ethernet":
        kinds.append("intermittent_dropout")
    if device.kind in {"climate_sensor", "energy_meter"}:
        kinds.append("stuck_sensor")
    if device.kind in {"contact", "motion"}:
        kinds.append("flapping")
    return kinds


def plan_failures(
    rng: np.random.Generator, plan: HomePlan, window: float, rate: float
) -> dict[str, Fault]:
    """Choose the failing devices and their kind, onset, failure and recovery.

    The failure time is uniform over the window widened by `BEFORE_WINDOW` and
    `AFTER_WINDOW`, whatever the kind: where the window lies says nothing about
    whether a device fails in it.
    """
    faults: dict[str, Fault] = {}
    eligible = [set(eligible_kinds(device)) for device in plan.devices]
    free = {i for i in range(len(plan.devices)) if eligible[i]}
    # The kind first, then a device that can fail that way: kinds stay balanced
    # even though some devices (lights) are far more common than others.
    for _ in range(rng.binomial(len(free), rate)):
        open_kinds = [k for k in KIND_WEIGHTS if any(k in eligible[i] for i in free)]
        weights = np.array([KIND_WEIGHTS[k] for k in open_kinds])
        kind = open_kinds[int(rng.choice(len(open_kinds), p=weights / weights.sum()))]
        pool = sorted(i for i in free if kind in eligible[i])
        chosen = pool[int(rng.integers(len(pool)))]
        free.discard(chosen)
        device = plan.devices[chosen]
        low, high = SYMPTOM_DAYS[kind]
        duration = rng.uniform(low, high) * DAY
        failure = rng.uniform(-BEFORE_WINDOW, window + AFTER_WINDOW)
        recovered = None
        chance, r_low, r_high = RECOVERY.get(kind, (0.0, 0.0, 0.0))
        if rng.random() < chance:
            hours = np.exp(rng.uniform(np.log(r_low), np.log(r_high)))
            recovered = failure + hours * HOUR
        faults[device.device_id] = Fault(kind, failure - duration, failure, recovered)
    return faults


def labels_of(faults: dict[str, Fault], start: float) -> tuple[Failure, ...]:
    """Return the failure labels (POSIX times) of planned faults."""
    return tuple(
        Failure(
            device_id,
            fault.kind,
            start + fault.onset,
            start + fault.failure,
            None if fault.recovered is None else start + float(fault.recovered),
            "ground_truth",
        )
        for device_id, fault in sorted(faults.items())
    )


NEVER = np.inf


def availability_timeout(
    plan: HomePlan, device: DevicePlan, rng: np.random.Generator
) -> float:
    """Return how long HA waits before a silent device shows "unavailable".

    Per integration, as documented: Zigbee2MQTT's availability check is off
    unless enabled, then 10 min for routers and 25 h for sleepy devices
    (zigbee2mqtt.io guide/configuration/device-availability); ZHA's defaults are
    2 h for mains and 6 h for battery devices (home-assistant.io integrations/
    zha, "consider unavailable"); zwave-js never notices that a sleeping node
    stopped waking up and a dead node's entities stay available anyway
    (zwave-js/zwave-js#5638, #9086), while a mains node is marked dead only after
    a command to it fails (home-assistant/core#47513): hours to days. Wi-Fi and
    cloud integrations poll and notice within minutes.
    """
    battery = device.model.battery is not None
    protocol = device.model.protocol
    if protocol == "zigbee":
        if plan.zigbee_stack == "z2m":
            if not plan.setup.z2m_availability:
                return NEVER
            return 25 * HOUR if battery else 10 * 60.0
        return 6 * HOUR if battery else 2 * HOUR
    if protocol == "z-wave":
        return NEVER if battery else float(rng.uniform(1, 72)) * HOUR
    return {
        "bluetooth": 15 * 60.0,
        "thread": 30 * 60.0,
        "matter": 30 * 60.0,
        "wifi": 3 * 60.0,
        "ethernet": 2 * 60.0,
        "unknown": NEVER,
    }.get(protocol, 10 * 60.0)


def checkin_interval(device: DevicePlan, rng: np.random.Generator) -> float:
    """Return the seconds between a device's periodic check-in messages."""
    protocol = device.model.protocol
    if device.model.battery is None:
        return rng.uniform(3600, 7200)
    if protocol == "z-wave":
        return rng.choice([1.0, 4.0, 6.0, 12.0]) * HOUR
    if protocol == "zigbee":
        return rng.uniform(3000, 4200)
    return rng.uniform(1800, 7200)


def _schedule(
    rng: np.random.Generator,
    begin: float,
    end: float,
    per_day: tuple[float, float],
) -> np.ndarray:
    """Return event times in [begin, end) whose rate grows linearly per day."""
    if end <= begin:
        return np.zeros(0)
    low, high = per_day
    days = (end - begin) / DAY
    count = rng.poisson(days * (low + high) / 2 + 1)
    # Inverse CDF of a linearly rising density on [0, 1].
    u = rng.random(count)
    if high == low:
        s = u
    else:
        a, b = low, high - low
        s = (-a + np.sqrt(a * a + 2 * b * u * (a + b / 2))) / b
    return np.sort(begin + s * (end - begin))


def _fill(times: np.ndarray, cap: float) -> np.ndarray:
    """Add times so that sorted `times` have no gap longer than `cap`."""
    times = np.sort(times)
    gaps = np.diff(times)
    extra = np.floor(gaps / cap).astype(np.int64)
    owner = np.repeat(np.arange(len(gaps)), extra)
    step = np.concatenate([np.arange(1, k + 1) for k in extra]) if extra.any() else []
    added = times[owner] + np.asarray(step) * gaps[owner] / (extra[owner] + 1)
    return merge_sorted(times, added)


@dataclass(slots=True)
class _Device:
    """One device being finished."""

    world: World
    device: DevicePlan
    activity: Activity
    fault: Fault | None
    rng: np.random.Generator
    timeout: float
    silent: list[tuple[np.ndarray, np.ndarray]]  # no message gets through
    dips: np.ndarray  # (n, 3): start, end, factor of interference dips
    warnings: list[tuple[str, float]] = field(default_factory=list)

    @property
    def window(self) -> float:
        return self.world.window


@dataclass(frozen=True, slots=True)
class Finished:
    """What finishing a device produced besides its rows."""

    warnings: tuple[tuple[str, float], ...]  # (kind, seconds from window start)


def finish_device(
    world: World,
    device: DevicePlan,
    activity: Activity,
    fault: Fault | None,
    streams: StreamSet,
    *,
    rng: np.random.Generator,
) -> Finished:
    """Turn a device's activity into entity rows, reports and unavailable intervals."""
    # Benign: interference now and then lowers the link for a few hours.
    n_dips = rng.poisson(world.window / DAY * 0.012)
    begin = rng.uniform(0, world.window, n_dips)
    dips = np.column_stack(
        [
            begin,
            begin + rng.uniform(1, 6, n_dips) * HOUR,
            rng.uniform(0.65, 0.85, n_dips),
        ]
    )
    job = _Device(
        world,
        device,
        activity,
        fault,
        rng,
        availability_timeout(world.plan, device, rng),
        [],
        dips,
    )
    wireless = device.model.protocol in WIRELESS or device.model.protocol == "other"
    checkins = periodic(rng, job.window, checkin_interval(device, rng), 0.15)
    kind = fault.kind if fault is not None else None
    _benign(job)
    if kind == "intermittent_dropout":
        starts = _schedule(rng, fault.onset, fault.failure, (4.0, 16.0))
        starts = _fill(np.r_[fault.onset + rng.uniform(0, 2 * HOUR), starts], 12 * HOUR)
        lengths = np.minimum(rng.lognormal(np.log(480), 0.8, len(starts)), 5400)
        job.silent.append((starts, starts + lengths))
    if kind == "radio_degradation":
        starts = _schedule(rng, fault.onset, fault.failure, (0.5, 5.0))
        first = fault.onset + rng.uniform(0.05, 0.3) * (fault.failure - fault.onset)
        starts = _fill(np.r_[first, starts], DAY)
        job.silent.append((starts, starts + rng.uniform(300, 3600, len(starts))))
    if fault is not None and kind != "stuck_sensor":
        back = np.inf if fault.recovered is None else fault.recovered
        job.silent.append((np.array([fault.failure]), np.array([back])))
    job.silent = _merged(job.silent)
    if "tamper" in device.roles:  # shut all along
        activity.rows["tamper"] = with_initial(
            (np.zeros(0), np.zeros(0, np.int64), None), "off"
        )
    messages = union_sorted(activity.messages, checkins)
    quality = _quality(job, messages)
    drop = np.full(len(messages), 0.01 if wireless else 0.0)
    if kind == "radio_degradation":
        drop += 0.6 * (1 - quality)
    if kind == "battery_depletion":
        s = _progress(job, messages)
        drop += 0.5 * np.clip((s - 0.7) / 0.3, 0, 1)
    kept = rng.random(len(messages)) >= drop
    lost = messages[~kept] if kind in LOSSY else np.zeros(0)
    kept &= ~_in_any(messages, job.silent)
    messages, quality = messages[kept], quality[kept]
    _drop_rows(job, lost)
    if kind == "stuck_sensor":
        _stick(job)
    if kind == "flapping":
        _flap(job)
    arrived = checkins[contains_sorted(messages, checkins)]
    if "battery" in device.roles and "battery" not in activity.values:
        _battery(job, arrived)
    _radio(job, messages, quality)
    _emit(job, streams, arrived)
    return Finished(tuple(job.warnings))


def _merged(
    intervals: list[tuple[np.ndarray, np.ndarray]],
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return `intervals` as one sorted, disjoint pair of arrays (none if empty)."""
    if not intervals:
        return []
    return [
        merge_intervals(
            np.concatenate([g[0] for g in intervals]),
            np.concatenate([g[1] for g in intervals]),
        )
    ]


def _in_any(
    times: np.ndarray, intervals: list[tuple[np.ndarray, np.ndarray]]
) -> np.ndarray:
    """Return which `times` fall inside the merged [start, end) `intervals`."""
    if not intervals:
        return np.zeros(len(times), dtype=bool)
    starts, ends = intervals[0]
    return within(times, starts, ends)


def _progress(job: _Device, times: np.ndarray) -> np.ndarray:
    """Return how far into its symptoms the device is at `times` (0..1)."""
    fault = job.fault
    if fault is None or fault.failure <= fault.onset:
        return np.zeros(len(times))
    return np.clip((times - fault.onset) / (fault.failure - fault.onset), 0, 1)


def _quality(job: _Device, times: np.ndarray) -> np.ndarray:
    """Return the radio link's quality factor (1 = as installed) at `times`."""
    quality = np.ones(len(times))
    for begin, end, factor in job.dips:
        quality[(times >= begin) & (times < end)] *= factor
    fault = job.fault
    if fault is not None and fault.kind == "radio_degradation":
        worse = 1 - 0.9 * _progress(job, times) ** 0.6
        if fault.recovered is not None:
            worse = np.where(times >= fault.recovered, 1.0, worse)
        quality *= worse
    return quality


def _drop_rows(job: _Device, lost: np.ndarray) -> None:
    """Remove rows whose message was lost or that fall in a silence."""
    activity = job.activity
    silent = job.silent
    if not len(lost) and not silent:
        return
    for role, (times, keys, attrs) in list(activity.rows.items()):
        keep = ~(contains_sorted(lost, times) | _in_any(times, silent))
        activity.rows[role] = (
            times[keep],
            keys[keep],
            None if attrs is None else attrs[keep],
        )
    for role, (times, values, decimals) in list(activity.values.items()):
        keep = ~(contains_sorted(lost, times) | _in_any(times, silent))
        activity.values[role] = (times[keep], values[keep], decimals)


def _benign(job: _Device) -> None:
    """Add the harmless irregularities every device shows now and then."""
    rng = job.rng
    # A dropout or two, days apart: minutes, now and then hours.
    if rng.random() < 0.25 * job.window / (30 * DAY):
        count = int(rng.integers(1, 3))
        starts = np.sort(rng.uniform(0, job.window, count))
        if count == 2 and starts[1] - starts[0] < 2 * DAY:
            starts = starts[:1]
        lengths = np.exp(rng.uniform(np.log(60), np.log(4 * HOUR), len(starts)))
        job.silent.append((starts, starts + lengths))
    # A sensor that holds its value for a while.
    if rng.random() < 0.3:
        for role in STUCK_ROLES:
            if role in job.activity.values:
                begin = rng.uniform(0, job.window)
                _freeze(
                    job,
                    role,
                    np.array([begin]),
                    np.array([begin + rng.uniform(0.5, 2) * HOUR]),
                )


def _freeze(job: _Device, role: str, starts: np.ndarray, ends: np.ndarray) -> None:
    """Hold `role`'s value over each [start, end) at the value before it."""
    times, values, decimals = job.activity.values[role]
    frozen = values.copy()
    # In time order, so that a freeze holds what the sensor last showed, even
    # when that was itself frozen (a handful of intervals: a loop is fine).
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        first, stop = np.searchsorted(times, [start, end], side="left")
        if first > 0:
            frozen[first:stop] = frozen[first - 1]
    job.activity.values[role] = (times, frozen, decimals)


def _stick(job: _Device) -> None:
    """Stuck sensor: ever longer freezes from onset, frozen for good after failure."""
    fault = job.fault
    rng = job.rng
    starts, ends = [], []
    at = fault.onset
    length = rng.uniform(6, 9) * HOUR
    pause = rng.uniform(8, 16) * HOUR
    while at < fault.failure:
        starts.append(at)
        ends.append(min(at + length, fault.failure))
        at += length + pause
        length *= 1.5
        pause = max(pause * 0.7, HOUR)
    starts.append(fault.failure)
    ends.append(np.inf)
    for role in STUCK_ROLES:
        if role in job.activity.values:
            _freeze(job, role, np.array(starts), np.array(ends))


def _flap(job: _Device) -> None:
    """Flapping: bursts of rapid on/off toggles, more of them as failure nears."""
    fault = job.fault
    rng = job.rng
    times, keys, _ = job.activity.rows["main"]
    begin_at = max(fault.onset, 0.0)
    bursts = _schedule(rng, begin_at, min(fault.failure, job.window), (2.0, 14.0))
    if not len(bursts):
        return
    toggles = rng.integers(3, 9, len(bursts)) * 2
    begin = np.repeat(bursts, toggles)
    step = np.concatenate([np.cumsum(rng.uniform(0.3, 3.0, n)) for n in toggles])
    flip_t = begin + step
    first = np.repeat(np.cumsum(toggles) - toggles, toggles)
    flip_k = np.where(
        (np.arange(len(flip_t)) - first) % 2 == 0, WORD["on"], WORD["off"]
    )
    # End every burst in the sensor's true state at that moment.
    last = np.cumsum(toggles) - 1
    true_at = np.searchsorted(times, flip_t[last], side="right") - 1
    padded = np.r_[WORD["off"], keys]  # "off" before the first row
    true_state = padded[true_at + 1]
    end_t = flip_t[last] + rng.uniform(0.3, 2.0, len(last))
    all_t = np.r_[times, flip_t, end_t]
    all_k = np.r_[keys, flip_k, true_state]
    order = np.argsort(all_t, kind="stable")
    job.activity.rows["main"] = (all_t[order], all_k[order], None)
    job.activity.messages = merge_sorted(job.activity.messages, flip_t)


# --- batteries ------------------------------------------------------------------

# How a device reports its battery, by protocol: (profile, weight).
# - steps10: Z-Wave Battery CC reports in 10-point steps for many devices, on
#   wake-up (zwave-js/node-zwave-js packages/config/config/devices/*.json: wake-up
#   intervals of 1-24 h, battery reported at wake-up);
# - threshold: 100 % until a low threshold, then the Battery CC's 0xFF "low
#   battery" code (shown as 0 %), and the device keeps working for weeks (e.g.
#   a "Low Battery Warning Report" checked once a day: OpenZWave/
#   device_configuration config/aeotec/dsb54.xml, parameters 101 and 111);
# - voltage: Zigbee devices that derive % from the cell voltage (Xiaomi/Aqara in
#   Koenkk/zigbee-herdsman-converters: a flat curve, 1-point steps that change
#   rarely);
# - half: Zigbee BatteryPercentageRemaining is in half-percent units (ZCL 0x0021),
#   reported every few hours with a minimum change;
# - fine: 1-point steps;
# - chatty: 1-point steps with a point of noise at every check-in (the minority
#   whose battery entity writes rows all the time).
BATTERY_PROFILES = {
    "z-wave": (("steps10", 0.45), ("threshold", 0.3), ("fine", 0.2), ("chatty", 0.05)),
    "zigbee": (("voltage", 0.5), ("half", 0.3), ("fine", 0.1), ("chatty", 0.1)),
    "other": (("fine", 0.45), ("steps10", 0.2), ("voltage", 0.25), ("chatty", 0.1)),
}
# A battery's life in days (median, log-sd): alkaline and lithium primaries in
# sensors last one to several years (vendor manuals: CR2032 in Aqara sensors
# "up to 2 years", CR123A in Z-Wave multisensors 1-3 years).
LIFE_DAYS = {"coin": (700.0, 0.45), "cr123a": (1000.0, 0.45), "alkaline": (800.0, 0.45)}


def battery_profile(device: DevicePlan, rng: np.random.Generator) -> str:
    """Draw how `device` reports its battery level."""
    choices = BATTERY_PROFILES.get(device.model.protocol, BATTERY_PROFILES["other"])
    weights = np.array([w for _, w in choices])
    return choices[int(rng.choice(len(choices), p=weights / weights.sum()))][0]


def healthy_level(rng: np.random.Generator) -> float:
    """Draw a battery's true level at the window start: anywhere, mostly high.

    Batteries are replaced at any level and live for years, so a home's healthy
    devices read from a few percent to full; one in six was just replaced.
    """
    if rng.random() < 1 / 6:
        return 100.0
    return float(2 + 98 * rng.beta(1.25, 1.0))


def _reported(profile: str, level: np.ndarray, threshold: float) -> np.ndarray:
    """Return what the device reports for true `level` under `profile`."""
    level = np.clip(level, 0, 100)
    if profile == "steps10":
        return np.ceil(level / 10) * 10
    if profile == "threshold":
        return np.where(level > threshold, 100.0, 0.0)
    if profile == "half":
        return np.round(level * 2) / 2
    return np.round(level)


def _battery(job: _Device, reports: np.ndarray) -> None:
    """Battery reports: a true level as it drains, reported per the profile.

    HA writes a row only when the reported level changes, so coarse profiles
    give a few rows a month or none; a doomed battery reads like a healthy one
    until its onset, then jumps to empty or slides there within days.
    """
    rng = job.rng
    device = job.device
    profile = battery_profile(device, rng)
    median, spread = LIFE_DAYS.get(device.model.battery or "alkaline", (800.0, 0.45))
    drain = 100 / (median * float(np.exp(rng.normal(0, spread)))) / DAY  # % per s
    threshold = float(rng.uniform(8, 25))
    level = healthy_level(rng) - drain * reports
    swap = np.inf
    if rng.random() < 0.03 * job.window / (30 * DAY):  # benign: battery replaced
        swap = rng.uniform(0, job.window)
    fault = job.fault
    if fault is not None and fault.kind == "battery_depletion":
        at_onset = np.interp(fault.onset, reports, level) if len(reports) else 50.0
        s = _progress(job, reports)
        jump = rng.random() < 0.5
        fall = np.where(s > 0, 1.0, 0.0) if jump else s
        level = np.where(reports < fault.onset, level, at_onset * (1 - fall))
        if fault.recovered is not None:
            swap = fault.recovered
    level = np.where(reports >= swap, 100 - drain * (reports - swap), level)
    if 0 <= swap < job.window:
        job.warnings.append(("battery_replaced", float(swap)))
    if profile == "chatty":
        level = level + rng.normal(0, 0.6, len(reports))
    values = _reported(profile, level, threshold)
    low = np.flatnonzero(values <= 0)
    if profile == "threshold" and len(low):
        job.warnings.append(("low_battery_code", float(reports[low[0]])))
    job.activity.values["battery"] = (reports, values, 1 if profile == "half" else 0)


# --- radio ------------------------------------------------------------------------


def _radio(job: _Device, messages: np.ndarray, quality: np.ndarray) -> None:
    """Link-quality reports at every message that arrived."""
    rng = job.rng
    roles = job.device.roles
    if "lqi" in roles:
        base = rng.uniform(70, 230)
        walk = np.cumsum(rng.normal(0, 8 / np.sqrt(len(messages) + 1), len(messages)))
        walk -= np.linspace(0, walk[-1] if len(walk) else 0, len(messages))
        lqi = np.clip(
            base * quality + walk + rng.normal(0, rng.uniform(3, 12), len(messages)),
            0,
            255,
        )
        job.activity.values["lqi"] = (messages, lqi, 0)
        if "rssi" in roles:
            rssi = -92 + 0.22 * lqi + rng.normal(0, 1.5, len(messages))
            job.activity.values["rssi"] = (messages, rssi, 0)
    elif "rssi" in roles:
        base = rng.uniform(-82, -45)
        if job.device.model.protocol == "z-wave":  # statistics, at most every ~10 min
            polls = _thin(messages, rng.uniform(300, 900))
        else:  # the integration polls it while the device answers
            polls = periodic(rng, job.window, rng.uniform(600, 1800))
            polls = polls[~_in_any(polls, job.silent)]
        rssi = base - 40 * (1 - _quality(job, polls)) + rng.normal(0, 2.0, len(polls))
        job.activity.values["rssi"] = (polls, rssi, 0)


def _thin(times: np.ndarray, spacing: float) -> np.ndarray:
    """Return `times` with at most one per `spacing` seconds (grid buckets)."""
    if not len(times):
        return times
    bucket = (times // spacing).astype(np.int64)
    first = np.r_[True, bucket[1:] != bucket[:-1]]
    return times[first]


def _unavailable(job: _Device) -> tuple[np.ndarray, np.ndarray]:
    """Return when HA shows the device unavailable: silences beyond its timeout."""
    if not job.silent or not np.isfinite(job.timeout):
        return np.zeros(0), np.zeros(0)
    starts, ends = job.silent[0]
    noticed = starts + job.timeout
    shown = noticed < ends
    return noticed[shown], ends[shown]


def _emit(job: _Device, streams: StreamSet, checkins: np.ndarray) -> None:
    roles = job.device.roles
    for role, (times, keys, attrs) in job.activity.rows.items():
        if role in roles:
            streams.add(roles[role], times, keys, attrs)
    for role, (times, values, decimals) in job.activity.values.items():
        if role in roles:
            streams.add(roles[role], times, number_keys(values, decimals))
    if streams.reports_wanted and len(checkins):
        # A check-in re-reports what the device shows (HA's state_reported).
        reported = roles.get("battery", roles.get("main"))
        if reported is None and roles:
            reported = min(roles.values())
        if reported is not None:
            streams.report(reported, checkins)
    starts, ends = _unavailable(job)
    if len(starts):
        entities = np.array(sorted(roles.values()))
        streams.unavailable(entities, starts, np.minimum(ends, job.window + 1))
