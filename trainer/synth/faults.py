"""Device health: failures with ground truth, their symptoms, and benign quirks.

`plan_failures` decides, apart from any event, which devices fail, how, and when
(the labels): symptoms begin at `onset` and the device stops working at
`failure_time`, which may lie after the window. `finish_device` then turns a
device's `Activity` into entity rows, adding what every real radio device shows:

- check-in messages, link quality (LQI/RSSI) at every message, battery reports
  following a chemistry-like discharge curve (long plateau, then a fall);
- benign irregularities on healthy devices: a slow battery decline, the odd
  short dropout, link-quality dips from interference, a door that bounces, a
  sensor value that holds for a few hours, a battery replaced;
- the injected failure's symptoms between onset and failure time, and a dead
  (silent, then unavailable) device after it (a stuck sensor stays frozen).
"""

from dataclasses import dataclass

import numpy as np

from homeiq_core.dataset import Failure

from .archetypes import DevicePlan, HomePlan
from .devices import (
    DAY,
    HOUR,
    Activity,
    World,
    contains_sorted,
    merge_sorted,
    periodic,
    union_sorted,
)
from .streams import WORD, StreamSet, number_keys

WIRELESS = frozenset({"zigbee", "z-wave", "wifi", "thread", "bluetooth", "matter"})
PRIMARY_CELLS = frozenset({"coin", "cr123a", "alkaline"})
# Chemistry: (reported % where the plateau ends, median life in days, fall shape).
CHEMISTRY = {
    "coin": (86.0, 420.0, 1.3),
    "cr123a": (90.0, 650.0, 1.2),
    "alkaline": (58.0, 500.0, 1.1),
}
KIND_WEIGHTS = {
    "battery_depletion": 3.0,
    "radio_degradation": 2.0,
    "intermittent_dropout": 2.0,
    "stuck_sensor": 2.0,
    "flapping": 1.5,
    "sudden_death": 1.0,
}
# Days from onset to failure: (low, high).
SYMPTOM_DAYS = {
    "battery_depletion": (6.0, 30.0),
    "radio_degradation": (3.0, 20.0),
    "intermittent_dropout": (2.0, 14.0),
    "stuck_sensor": (2.0, 10.0),
    "flapping": (1.0, 7.0),
    "sudden_death": (0.0, 0.0),
}
STUCK_ROLES = ("temperature", "humidity", "power")


@dataclass(frozen=True, slots=True)
class Fault:
    """A planned failure, times in seconds from the window start."""

    kind: str
    onset: float
    failure: float


def eligible_kinds(device: DevicePlan) -> list[str]:
    """Return the failure kinds `device` can suffer."""
    model = device.model
    kinds = ["sudden_death"]
    if model.battery in PRIMARY_CELLS:
        kinds.append("battery_depletion")
    if model.protocol in WIRELESS and ("lqi" in device.roles or "rssi" in device.roles):
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
    """Choose the failing devices and their kind, onset and failure time."""
    faults: dict[str, Fault] = {}
    margin = min(DAY, 0.25 * window)
    eligible = [set(eligible_kinds(device)) for device in plan.devices]
    free = set(range(len(plan.devices)))
    # The kind first, then a device that can fail that way: kinds stay balanced
    # even though some devices (lights) are far more common than others.
    for _ in range(rng.binomial(len(plan.devices), rate)):
        open_kinds = [k for k in KIND_WEIGHTS if any(k in eligible[i] for i in free)]
        weights = np.array([KIND_WEIGHTS[k] for k in open_kinds])
        kind = open_kinds[int(rng.choice(len(open_kinds), p=weights / weights.sum()))]
        pool = sorted(i for i in free if kind in eligible[i])
        chosen = pool[int(rng.integers(len(pool)))]
        free.discard(chosen)
        device = plan.devices[chosen]
        low, high = SYMPTOM_DAYS[kind]
        duration = rng.uniform(low, high) * DAY
        failure = rng.uniform(2 * margin, window + 14 * DAY)
        if kind == "sudden_death":
            faults[device.device_id] = Fault(kind, failure, failure)
            continue
        # Symptoms start inside the window and enough of them fall inside it.
        duration = min(duration, (window - 2 * margin) / 0.35)
        latest = window - max(margin, 0.35 * duration)
        onset = float(np.clip(failure - duration, margin, latest))
        faults[device.device_id] = Fault(kind, onset, onset + duration)
    return faults


def labels_of(faults: dict[str, Fault], start: float) -> tuple[Failure, ...]:
    """Return the failure labels (POSIX times) of planned faults."""
    return tuple(
        Failure(device_id, fault.kind, start + fault.onset, start + fault.failure)
        for device_id, fault in sorted(faults.items())
    )


def availability_timeout(plan: HomePlan, device: DevicePlan) -> float:
    """Return how long HA waits before a silent device shows "unavailable"."""
    battery = device.model.battery is not None
    protocol = device.model.protocol
    if protocol == "zigbee":
        if plan.zigbee_stack == "z2m":
            return 25 * HOUR if battery else 10 * 60.0
        return 6 * HOUR if battery else 2 * HOUR
    return {
        "z-wave": 24 * HOUR if battery else HOUR,
        "bluetooth": 15 * 60.0,
        "thread": 30 * 60.0,
        "matter": 30 * 60.0,
        "wifi": 3 * 60.0,
        "ethernet": 2 * 60.0,
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
    gaps: list[tuple[np.ndarray, np.ndarray]]
    dips: np.ndarray  # (n, 3): start, end, factor of interference dips

    @property
    def window(self) -> float:
        return self.world.window


def finish_device(
    world: World,
    device: DevicePlan,
    activity: Activity,
    fault: Fault | None,
    streams: StreamSet,
    *,
    rng: np.random.Generator,
) -> None:
    """Turn a device's activity into entity rows and unavailable intervals."""
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
        availability_timeout(world.plan, device),
        [],
        dips,
    )
    wireless = device.model.protocol in WIRELESS or device.model.protocol == "other"
    checkins = periodic(rng, job.window, checkin_interval(device, rng), 0.15)
    messages = union_sorted(activity.messages, checkins)
    kind = fault.kind if fault is not None else None
    quality = _quality(job, messages)
    drop = np.full(len(messages), 0.01 if wireless else 0.0)
    if kind == "radio_degradation":
        drop += 0.6 * (1 - quality)
    if kind == "battery_depletion":
        s = _progress(job, messages)
        drop += 0.5 * np.clip((s - 0.7) / 0.3, 0, 1)
    kept = rng.random(len(messages)) >= drop
    lost = messages[~kept]
    messages, quality = messages[kept], quality[kept]
    _drop_rows(job, lost, kind)
    _benign(job)
    if kind in {"stuck_sensor"}:
        _stick(job)
    if kind == "flapping":
        _flap(job)
    if kind == "intermittent_dropout":
        starts = _schedule(rng, fault.onset, fault.failure, (4.0, 16.0))
        starts = _fill(np.r_[fault.onset + rng.uniform(0, 2 * HOUR), starts], 12 * HOUR)
        lengths = np.minimum(rng.lognormal(np.log(480), 0.8, len(starts)), 5400)
        job.gaps.append((starts, starts + lengths))
    if kind == "radio_degradation":
        starts = _schedule(rng, fault.onset, fault.failure, (0.5, 5.0))
        visible = 0.35 * (fault.failure - fault.onset)
        first = fault.onset + rng.uniform(0.2, 0.9) * visible
        starts = _fill(np.r_[first, starts], DAY)
        job.gaps.append((starts, starts + rng.uniform(300, 3600, len(starts))))
        if device.model.protocol in {"zigbee", "z-wave"}:  # availability by silence
            late = messages[messages >= fault.onset]
            job.gaps.append(_silences(late, job.timeout))
    if "battery" in device.roles and "battery" not in activity.values:
        _battery(job, checkins[contains_sorted(messages, checkins)])
    _radio(job, messages, quality)
    if fault is not None and kind != "stuck_sensor":
        _die(job, messages)
    _emit(job, streams)


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
    if job.fault is not None and job.fault.kind == "radio_degradation":
        quality *= 1 - 0.9 * _progress(job, times) ** 0.6
    return quality


def _drop_rows(job: _Device, lost: np.ndarray, kind: str | None) -> None:
    """Remove rows whose message was lost (reports that never arrived)."""
    if not len(lost) or kind not in {"radio_degradation", "battery_depletion"}:
        return
    activity = job.activity
    for role, (times, keys, attrs) in list(activity.rows.items()):
        keep = ~contains_sorted(lost, times)
        activity.rows[role] = (
            times[keep],
            keys[keep],
            None if attrs is None else attrs[keep],
        )
    for role, (times, values, decimals) in list(activity.values.items()):
        keep = ~contains_sorted(lost, times)
        activity.values[role] = (times[keep], values[keep], decimals)


def _benign(job: _Device) -> None:
    """Add the harmless irregularities every device shows now and then."""
    rng = job.rng
    # A short dropout or two, days apart.
    if rng.random() < 0.25 * job.window / (30 * DAY):
        count = int(rng.integers(1, 3))
        starts = np.sort(rng.uniform(0, job.window, count))
        if count == 2 and starts[1] - starts[0] < 2 * DAY:
            starts = starts[:1]
        job.gaps.append((starts, starts + rng.uniform(60, 1200, len(starts))))
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
    bursts = _schedule(rng, fault.onset, min(fault.failure, job.window), (2.0, 14.0))
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


def _silences(messages: np.ndarray, timeout: float) -> tuple[np.ndarray, np.ndarray]:
    """Return unavailable intervals where no message came within `timeout`."""
    if len(messages) < 2:
        return np.zeros(0), np.zeros(0)
    gaps = np.diff(messages)
    long = np.flatnonzero(gaps > timeout)
    return messages[long] + timeout, messages[long + 1]


def _battery(job: _Device, reports: np.ndarray) -> None:
    """Battery % reports of a primary cell: plateau, then the fall when failing."""
    rng = job.rng
    chemistry = job.device.model.battery or "alkaline"
    plateau_end, life, shape = CHEMISTRY.get(chemistry, CHEMISTRY["alkaline"])
    life *= float(np.exp(rng.normal(0, 0.3)))
    plateau_end += rng.normal(0, 3)
    fault = job.fault
    window = job.window
    if fault is not None and fault.kind == "battery_depletion":
        x = 1 - (fault.onset - reports) / (life * DAY)
        dead = rng.uniform(0, 20)
        s = _progress(job, reports)
        fall = (plateau_end - dead) * s ** (shape * rng.uniform(0.85, 1.2))
        level = np.where(
            reports < fault.onset,
            100 - (100 - plateau_end) * np.clip(x, 0, 1) ** 1.5,
            plateau_end - fall,
        )
    else:
        span = window / (life * DAY)
        x0 = rng.uniform(0, max(0.0, 0.92 - span))
        x = x0 + reports / (life * DAY)
        level = 100 - (100 - plateau_end) * x**1.5
        if rng.random() < 0.03 * window / (30 * DAY):  # benign: battery replaced
            swap = rng.uniform(0, window)
            level = np.where(reports >= swap, 100 - rng.uniform(0, 2), level)
    jitter = rng.normal(0, 0.3, len(reports))
    values = np.clip(np.round(level + jitter), 0, 100)
    job.activity.values["battery"] = (reports, values, 0)


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
        else:  # the integration polls it
            polls = periodic(rng, job.window, rng.uniform(600, 1800))
            polls = polls[polls <= (messages[-1] if len(messages) else 0)]
        rssi = base - 40 * (1 - _quality(job, polls)) + rng.normal(0, 2.0, len(polls))
        job.activity.values["rssi"] = (polls, rssi, 0)


def _thin(times: np.ndarray, spacing: float) -> np.ndarray:
    """Return `times` with at most one per `spacing` seconds (grid buckets)."""
    if not len(times):
        return times
    bucket = (times // spacing).astype(np.int64)
    first = np.r_[True, bucket[1:] != bucket[:-1]]
    return times[first]


def _die(job: _Device, messages: np.ndarray) -> None:
    """After the failure time: silence, then "unavailable" for good."""
    failure = job.fault.failure
    activity = job.activity
    for role, (times, keys, attrs) in list(activity.rows.items()):
        keep = times < failure
        activity.rows[role] = (
            times[keep],
            keys[keep],
            None if attrs is None else attrs[keep],
        )
    for role, (times, values, decimals) in list(activity.values.items()):
        keep = times < failure
        activity.values[role] = (times[keep], values[keep], decimals)
    before = messages[messages < failure]
    last = before[-1] if len(before) else 0.0
    dead_from = max(last + job.timeout, failure)
    # A dropout under way at the failure time never ends.
    job.gaps = [
        (starts, np.where((starts < failure) & (ends > failure), np.inf, ends))
        for starts, ends in job.gaps
    ]
    job.gaps.append((np.array([dead_from]), np.array([np.inf])))


def _emit(job: _Device, streams: StreamSet) -> None:
    roles = job.device.roles
    for role, (times, keys, attrs) in job.activity.rows.items():
        if role in roles:
            streams.add(roles[role], times, keys, attrs)
    for role, (times, values, decimals) in job.activity.values.items():
        if role in roles:
            streams.add(roles[role], times, number_keys(values, decimals))
    if job.gaps:
        starts = np.concatenate([g[0] for g in job.gaps])
        ends = np.concatenate([g[1] for g in job.gaps])
        entities = np.array(sorted(roles.values()))
        streams.unavailable(entities, starts, np.minimum(ends, job.window + 1))
