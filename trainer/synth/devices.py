"""Device event models: what each kind of device reports, as arrays per entity.

A model receives the home's simulated world (`World`: clock, people, weather,
indoor climate, area activity) and one device, and returns its `Activity`: rows
per entity role (times in seconds from the window start, state keys, attribute
keys) and the times of its radio messages, from which link quality and battery
reports follow (`faults.py`). Models never loop over events: they draw arrays of
times and evaluate the world's arrays at them.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .archetypes import AreaPlan, DevicePlan, HomePlan
from .clock import TimeGrid, lowpass
from .occupancy import People, episodes
from .streams import (
    WORD,
    climate_attributes,
    light_attributes,
    media_attributes,
    word_keys,
)
from .weather import STEP, Indoor, Weather

HOUR = 3600.0
DAY = 86400.0
INTERIOR = frozenset(
    {
        "bathroom",
        "toilet",
        "hallway",
        "landing",
        "basement",
        "garage",
        "storage",
        "utility_room",
        "laundry",
        "attic",
    }
)

type Rows = tuple[np.ndarray, np.ndarray, np.ndarray | None]


@dataclass(slots=True)
class Activity:
    """What one device did: rows per entity role and its radio messages."""

    rows: dict[str, Rows] = field(default_factory=dict)
    messages: np.ndarray = field(default_factory=lambda: np.zeros(0))
    values: dict[str, tuple[np.ndarray, np.ndarray, int]] = field(
        default_factory=dict
    )  # numeric roles: (times, values, decimals), for faults that edit values

    def add_messages(self, *times: np.ndarray) -> None:
        """Add radio message times (each array sorted)."""
        self.messages = merge_sorted(self.messages, *times)


@dataclass(frozen=True, slots=True)
class Moves:
    """When people leave and come home (seconds), and whether by car."""

    leave: np.ndarray
    arrive: np.ndarray
    leave_car: np.ndarray
    arrive_car: np.ndarray


@dataclass(slots=True)
class World:
    """The simulated home that device models read."""

    rng: np.random.Generator
    plan: HomePlan
    grid: TimeGrid
    people: People
    weather: Weather
    triggers: dict[str, np.ndarray]  # area id -> motion trigger times (s)
    use: dict[str, tuple[np.ndarray, np.ndarray]]  # area id -> use episodes (s)
    lit: dict[str, tuple[np.ndarray, np.ndarray]]  # area id -> lights-on episodes
    zones: list[Indoor]
    comfort: float
    moves: Moves
    _area_temp: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def window(self) -> float:
        """Return the window length in seconds."""
        return self.grid.n * 60.0

    def at(self, per_slot: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Return a per-minute series at `times` (seconds), stepwise."""
        # a true division truncated is the floor here (negatives clip to 0 anyway)
        # and ten times faster than floor division
        index = (times / 60.0).astype(np.int64)
        np.clip(index, 0, self.grid.n - 1, out=index)
        return per_slot[index]

    def at_step(self, per_step: np.ndarray, times: np.ndarray) -> np.ndarray:
        """Return a per-indoor-step series at `times`, interpolated."""
        return np.interp(times / (STEP * 60.0), np.arange(len(per_step)), per_step)

    def area_temperature(self, area: AreaPlan) -> np.ndarray:
        """Return an area's temperature per indoor step (°C)."""
        if area.area_id not in self._area_temp:
            zone = self.zones[min(area.zone, len(self.zones) - 1)].temperature
            offset = {
                "bathroom": 0.8,
                "bedroom": -0.8,
                "kids_room": -0.4,
                "basement": -3.0,
                "attic": 1.0,
                "kitchen": 0.4,
                "hallway": -0.6,
                "landing": -0.3,
            }.get(area.kind, 0.0) + 0.3 * max(area.storey, 0)
            if area.kind in {"garage", "garden", "porch", "balcony"}:
                outdoor = self.weather.temperature[::STEP]
                weight = 1.0 if area.kind != "garage" else 0.6
                base = weight * outdoor + (1 - weight) * (zone - 4)
            else:
                base = zone + offset
            wander = self.area_wander(area, "temperature", 1.5)
            self._area_temp[area.area_id] = base + wander
        return self._area_temp[area.area_id]

    def area_wander(self, area: AreaPlan, what: str, limit: float) -> np.ndarray:
        """Return a slow random drift of `what` in `area`, per indoor step."""
        key = f"{area.area_id}/{what}"
        if key not in self._area_temp:
            n = -(-self.grid.n // STEP)  # as many as the indoor model has
            wander = np.cumsum(self.rng.normal(0, limit / 30, n))
            wander -= np.linspace(0, wander[-1], n)  # no long drift
            self._area_temp[key] = np.clip(wander, -limit, limit)
        return self._area_temp[key]


def merge_sorted(*arrays: np.ndarray) -> np.ndarray:
    """Return the sorted concatenation of sorted `arrays`.

    A stable sort (timsort) merges sorted runs in linear time, where the default
    sort starts again from scratch.
    """
    merged = np.concatenate(arrays)
    merged.sort(kind="stable")
    return merged


def union_sorted(*arrays: np.ndarray) -> np.ndarray:
    """Return the distinct values of sorted `arrays`, sorted (np.union1d, faster)."""
    merged = merge_sorted(*arrays)
    return merged[np.r_[True, merged[1:] != merged[:-1]]] if len(merged) else merged


def contains_sorted(haystack: np.ndarray, needles: np.ndarray) -> np.ndarray:
    """Return which `needles` are in the sorted `haystack` (np.isin, faster)."""
    at = np.minimum(np.searchsorted(haystack, needles), len(haystack) - 1)
    return haystack[at] == needles if len(haystack) else np.zeros(len(needles), bool)


def binary_rows(
    starts: np.ndarray, ends: np.ndarray, on: str = "on", off: str = "off"
) -> Rows:
    """Return rows alternating `on` at starts and `off` at ends, from `off`."""
    times = np.column_stack([starts, ends]).ravel()
    keys = np.column_stack(
        [word_keys(on, len(starts)), word_keys(off, len(ends))]
    ).ravel()
    order = np.argsort(times, kind="stable")
    return with_initial((times[order], keys[order], None), off)


def with_initial(rows: Rows, word: str) -> Rows:
    """Return `rows` led by the entity's state `word` at the window start.

    Like HA's history of a window, every entity starts with its state at the
    window's start, unless its first row is already there.
    """
    times, keys, attrs = rows
    if len(times) and times[0] <= 0:
        return rows
    return (
        np.r_[0.0, times],
        np.r_[word_keys(word, 1), keys],
        None if attrs is None else np.r_[-1, attrs],
    )


def merge_intervals(
    starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return the union of [start, end) intervals, sorted and disjoint."""
    if not len(starts):
        return starts, ends
    order = np.argsort(starts)
    starts, ends = starts[order], ends[order]
    reach = np.maximum.accumulate(ends)
    new = np.r_[True, starts[1:] > reach[:-1]]
    group = np.cumsum(new) - 1
    merged_end = np.zeros(int(new.sum()))
    np.maximum.at(merged_end, group, ends)
    return starts[new], merged_end


def within(times: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Return which `times` fall in one of the sorted, disjoint [start, end)."""
    return np.searchsorted(starts, times, side="right") > np.searchsorted(
        ends, times, side="right"
    )


def periodic(
    rng: np.random.Generator, window: float, interval: float, jitter: float = 0.1
) -> np.ndarray:
    """Return times every `interval` seconds (± `jitter` share), random phase."""
    count = int(window / interval) + 2
    gaps = interval * (1 + rng.uniform(-jitter, jitter, count))
    times = rng.uniform(0, interval) + np.cumsum(gaps) - gaps[0]
    return times[times < window]


def report_on_change(
    times: np.ndarray, smooth: np.ndarray, threshold: float, heartbeat: int
) -> np.ndarray:
    """Return indices of candidate samples a device would send.

    A sample is sent when the smooth value has crossed a `threshold` grid line
    since the previous candidate, and every `heartbeat`-th candidate anyway.
    """
    grid_line = np.floor(smooth / threshold)
    changed = np.r_[True, grid_line[1:] != grid_line[:-1]]
    beat = (np.arange(len(times)) % max(heartbeat, 1)) == 0
    return np.flatnonzero(changed | beat)


def _to_unit(world: World, celsius: np.ndarray) -> np.ndarray:
    return celsius * 1.8 + 32 if world.plan.fahrenheit else celsius


# --- sensors --------------------------------------------------------------------


# How long a PIR sensor holds "on" after its last detection, seconds (low, high):
# vendor defaults as the converters and device files set them, e.g. Aqara's
# 60 s blind time plus Z2M's 90 s occupancy_timeout, IKEA E1745's 3 min, Hue's
# short occupied-to-unoccupied delay (Koenkk/zigbee-herdsman-converters
# src/devices/{xiaomi,ikea,philips}.ts), Aeotec ZW100 parameter 3 = 240 s,
# Fibaro FGMS-001 parameter 6 = 30 s (zwave-js/node-zwave-js packages/config/
# config/devices/*). Short holds give healthy sensors many on-times under 30 s.
PIR_HOLD = {
    "RTCGQ11LM": (60.0, 90.0),
    "SML001": (8.0, 30.0),
    "E1745": (170.0, 190.0),
    "SNZB-03": (50.0, 70.0),
    "ZW100": (235.0, 245.0),
    "ZSE18": (25.0, 35.0),
    "FGMS-001": (25.0, 35.0),
    "Eve Motion": (15.0, 60.0),
    "Shelly Motion 2": (55.0, 65.0),
}


def motion(world: World, device: DevicePlan) -> Activity:
    """Simulate a PIR motion sensor: on at movement, off after its timeout."""
    rng = world.rng
    triggers = world.triggers[device.area.area_id]
    seen = triggers[rng.random(len(triggers)) < 0.88]
    false = np.sort(rng.uniform(0, world.window, rng.poisson(world.window / DAY * 0.3)))
    seen = merge_sorted(seen, false)
    low, high = PIR_HOLD.get(device.model.model, (20.0, 90.0))
    hold = rng.uniform(low, high)
    starts, ends = episodes(seen, hold, hold)
    activity = Activity()
    activity.rows["main"] = binary_rows(starts, ends)
    messages = [starts]
    if "hue" in device.model.features:
        messages.append(ends)
    if "illuminance" in device.roles:
        lux_times = merge_sorted(
            starts, periodic(rng, world.window, 3600 * rng.uniform(0.8, 1.2))
        )
        lux = illuminance(world, device.area, lux_times)
        activity.values["illuminance"] = (lux_times, lux, 0)
        messages.append(lux_times)
    activity.add_messages(*messages)
    return activity


def illuminance(world: World, area: AreaPlan, times: np.ndarray) -> np.ndarray:
    """Return the light level (lx) in `area` at `times`."""
    sun = np.clip(world.at(world.grid.sun, times), 0, None)
    cloud = world.at(world.weather.cloud, times)
    window = 0.15 if area.kind in INTERIOR else 1.0
    daylight = 1400 * window * sun**1.3 * (1 - 0.7 * cloud)
    starts, ends = world.lit.get(area.area_id, (np.zeros(0), np.zeros(0)))
    lit = np.searchsorted(starts, times, side="right") > np.searchsorted(
        ends, times, side="right"
    )
    noise = np.exp(world.rng.normal(0, 0.08, len(times)))
    return np.maximum(0, (daylight + 180 * lit) * noise)


def contact(world: World, device: DevicePlan) -> Activity:
    """Simulate a door or window contact: open and close as people use them."""
    rng = world.rng
    window = world.window
    if device.purpose == "front_door":
        leave, arrive = world.moves.leave, world.moves.arrive
        extra_rate = world.at(world.people.n_active, np.arange(0, window, 60.0)) > 0
        extra = _poisson_times(rng, extra_rate * 0.25 / HOUR, 60.0)
        opens = np.sort(np.r_[leave - rng.uniform(5, 40, len(leave)), arrive, extra])
        durations = rng.lognormal(np.log(9), 0.5, len(opens))
    elif device.purpose == "mailbox":
        days = np.arange(world.grid.days)
        weekday = world.grid.weekday[days + 1] < 5
        post = world.grid.slot(days, rng.normal(650, 60, len(days))) * 60
        check = world.grid.slot(days, rng.normal(1100, 60, len(days))) * 60
        opens = np.sort(np.r_[post[weekday], check[rng.random(len(days)) < 0.5]])
        durations = rng.uniform(2, 8, len(opens))
    elif device.purpose in {"cupboard", "cabinet", "fridge"}:
        opens, durations = _quick_openings(world, device)
    elif device.purpose == "door":
        opens, durations = _rare_openings(world)
    else:
        opens, durations = _window_openings(world)
    opens = opens[(opens >= 0) & (opens < window)]
    durations = durations[: len(opens)]
    starts, ends = merge_intervals(opens, opens + np.maximum(durations, 0.5))
    # Benign: a door that bounces when it is shut.
    bounce = rng.random(len(ends)) < 0.02
    b_at = ends[bounce] + rng.uniform(0.3, 1.5, int(bounce.sum()))
    starts = merge_sorted(starts, b_at)
    ends = merge_sorted(ends, b_at + rng.uniform(0.2, 0.8, len(b_at)))
    activity = Activity()
    activity.rows["main"] = binary_rows(starts, ends)
    activity.add_messages(starts, ends)
    return activity


def _quick_openings(world: World, device: DevicePlan) -> tuple[np.ndarray, np.ndarray]:
    """Cupboards and fridges: opened for seconds while the room is in use.

    Several times a day, shut again within half a minute; some days not at all
    (a cupboard that is rarely used), so a healthy sensor may be silent for days.
    """
    rng = world.rng
    starts, ends = world.use.get(device.area.area_id, (np.zeros(0), np.zeros(0)))
    per_use = rng.uniform(0.05, 0.6) if device.purpose != "fridge" else 0.8
    count = rng.poisson(per_use, len(starts))
    at = np.repeat(starts, count) + rng.random(int(count.sum())) * np.repeat(
        ends - starts, count
    )
    at.sort()
    typical = 12.0 if device.purpose == "fridge" else 5.0
    return at, np.minimum(rng.lognormal(np.log(typical), 0.6, len(at)), 120.0)


def _rare_openings(world: World) -> tuple[np.ndarray, np.ndarray]:
    """Return the openings of a rarely used door (patio, garage side, guest room)."""
    rng = world.rng
    days = np.arange(world.grid.days)
    used = rng.random(len(days)) < rng.uniform(0.1, 0.7)
    at = world.grid.slot(days[used], rng.uniform(420, 1320, int(used.sum()))) * 60
    present = world.at(world.people.n_active, np.clip(at, 0, None)) > 0
    at = at[present]
    return at, rng.lognormal(np.log(20), 1.0, len(at))


def _window_openings(world: World) -> tuple[np.ndarray, np.ndarray]:
    rng = world.rng
    days = np.arange(-1, world.grid.days + 1)
    warm = world.at(world.weather.temperature, np.clip(days * DAY + 15 * HOUR, 0, None))
    airing = rng.random(len(days)) < 0.55
    morning = world.grid.slot(days, rng.normal(460, 40, len(days))) * 60
    long_open = (warm > 17) & (rng.random(len(days)) < 0.6)
    afternoon = world.grid.slot(days, rng.normal(900, 120, len(days))) * 60
    opens = np.r_[morning[airing], afternoon[long_open]]
    durations = np.r_[
        rng.uniform(300, 1800, int(airing.sum())),
        rng.uniform(1, 6, int(long_open.sum())) * HOUR,
    ]
    order = np.argsort(opens)
    present = world.at(world.people.n_active, np.clip(opens[order], 0, None)) > 0
    return opens[order][present], durations[order][present]


def _poisson_times(
    rng: np.random.Generator, rate: np.ndarray, step: float
) -> np.ndarray:
    """Return event times of a Poisson process with `rate` per second per step."""
    counts = rng.poisson(rate * step)
    slots = np.repeat(np.arange(len(rate)), counts)
    return np.sort((slots + rng.random(len(slots))) * step)


def climate_sensor(world: World, device: DevicePlan) -> Activity:
    """Simulate a temperature/humidity sensor: reports on change and periodically."""
    rng = world.rng
    area = device.area
    candidate = rng.uniform(150, 420)  # when a change may be sent (s)
    times = periodic(rng, world.window, candidate, 0.2)
    temp = world.at_step(world.area_temperature(area), times)
    humid = humidity(world, area, times, temp)
    decimals = 2 if "decimals2" in device.model.features else 1
    heartbeat = max(1, int(rng.uniform(1800, 3600) / candidate))
    threshold = rng.choice([0.1, 0.2, 0.5]) * (1.8 if world.plan.fahrenheit else 1)
    t_unit = _to_unit(world, temp)
    sent_t = report_on_change(times, t_unit, threshold, heartbeat)
    sent_h = report_on_change(times, humid, rng.choice([1.0, 2.0, 3.0]), heartbeat)
    noise_t = rng.normal(0, 0.04, len(sent_t))
    noise_h = rng.normal(0, 0.4, len(sent_h))
    activity = Activity()
    activity.values["temperature"] = (
        times[sent_t],
        t_unit[sent_t] + noise_t,
        decimals if not world.plan.fahrenheit else 1,
    )
    activity.values["humidity"] = (
        times[sent_h],
        np.clip(humid[sent_h] + noise_h, 0, 100),
        decimals - 1,
    )
    activity.add_messages(union_sorted(times[sent_t], times[sent_h]))
    return activity


def humidity(
    world: World, area: AreaPlan, times: np.ndarray, indoor: np.ndarray
) -> np.ndarray:
    """Return relative humidity (%) in `area` at `times`, at `indoor` °C."""
    outdoor_t = world.at(world.weather.temperature, times)
    outdoor_rh = world.at(world.weather.humidity, times)
    if area.kind in {"garden", "porch", "balcony"}:
        return outdoor_rh

    def saturation(celsius: np.ndarray) -> np.ndarray:
        return 6.112 * np.exp(17.62 * celsius / (243.12 + celsius))

    rh = outdoor_rh * saturation(outdoor_t) / saturation(indoor)
    rh = rh + 6.0 + 3.0 * world.at(world.people.n_home, times)
    rh = np.where(rh < 28, 28 - (28 - rh) * 0.35, rh)  # plants, cooking, breath
    rh = rh + world.at_step(world.area_wander(area, "humidity", 4.0), times)
    if area.kind in {"bathroom", "kitchen", "laundry"}:
        starts, ends = world.use.get(area.area_id, (np.zeros(0), np.zeros(0)))
        began = np.r_[-np.inf, starts][np.searchsorted(starts, times, side="right")]
        since = times - began
        inside = within(times, starts, ends)
        boost = 25.0 if area.kind == "bathroom" else 8.0
        rh = rh + boost * inside * np.exp(-since / 1800)
    return np.clip(rh, 12, 95)


def quiet(world: World, device: DevicePlan) -> Activity:
    """Simulate a leak or smoke sensor: quiet, but for a test press or burnt toast."""
    rng = world.rng
    n = rng.poisson(world.window / DAY * (0.01 if device.kind == "leak" else 0.02))
    starts = np.sort(rng.uniform(0, world.window, n))
    ends = starts + rng.uniform(3, 90, n)
    checkin = rng.uniform(0, 3600, 1)  # its first message after the window opens
    activity = Activity()
    activity.rows["main"] = binary_rows(starts, ends)
    activity.add_messages(checkin, starts, ends)
    return activity


# --- lights, plugs and power ----------------------------------------------------------


def light(world: World, device: DevicePlan) -> Activity:
    """Simulate a light: on through the area's lit episodes, dimmer late at night."""
    rng = world.rng
    starts, ends = world.lit.get(device.area.area_id, (np.zeros(0), np.zeros(0)))
    share = 1.0 if device.name.endswith("light") else 0.6
    keep = rng.random(len(starts)) < share
    starts, ends = starts[keep], ends[keep]
    hour = world.at(world.grid.local_minute, starts) / 60
    late = (hour >= 23) | (hour < 6)
    bright = np.where(
        late, rng.integers(20, 90, len(starts)), rng.integers(140, 256, len(starts))
    )
    dim_at = starts + (ends - starts) * rng.uniform(0.3, 0.8, len(starts))
    dims = (ends - starts > 1800) & (rng.random(len(starts)) < 0.3)
    times = np.r_[starts, ends, dim_at[dims]]
    keys = np.r_[
        word_keys("on", len(starts)),
        word_keys("off", len(ends)),
        word_keys("on", int(dims.sum())),
    ]
    attrs = np.r_[
        light_attributes(bright),
        np.full(len(ends), -1),
        light_attributes(np.maximum(10, bright[dims] // 2)),
    ]
    order = np.argsort(times, kind="stable")
    activity = Activity()
    activity.rows["main"] = with_initial(
        (times[order], keys[order], attrs[order]), "off"
    )
    activity.add_messages(times)
    return activity


LOADS = {  # purpose: (standby W, running W, typical run minutes)
    "fridge": (1.5, 95.0, 18.0),
    "freezer": (1.2, 80.0, 25.0),
    "coffee": (0.8, 1250.0, 4.0),
    "washer": (0.6, 450.0, 95.0),
    "dryer": (0.5, 1900.0, 70.0),
    "tv": (0.4, 110.0, 120.0),
    "desk": (2.0, 95.0, 240.0),
    "lamp": (0.3, 18.0, 120.0),
    "heater": (0.5, 1500.0, 40.0),
    "idle": (0.0, 0.0, 0.0),  # nothing plugged in: it reports 0 W
}


def _plug_load(
    world: World, device: DevicePlan, run_min: float
) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray] | None]:
    """Return when the load runs, and when the switch is on (None: always)."""
    rng = world.rng
    purpose = device.purpose
    days = np.arange(world.grid.days)
    if purpose == "idle":
        return np.zeros(0), np.zeros(0), None
    if purpose in {"fridge", "freezer"}:
        starts = periodic(rng, world.window, rng.uniform(45, 75) * 60, 0.25)
        return starts, starts + run_min * 60 * rng.uniform(0.7, 1.3, len(starts)), None
    if purpose in {"washer", "dryer"}:
        runs = rng.random(len(days)) < 0.3
        starts = world.grid.slot(days[runs], rng.normal(1100, 200, int(runs.sum())))
        starts = starts * 60
        return starts, starts + run_min * 60 * rng.uniform(0.8, 1.2, len(starts)), None
    if purpose in {"tv", "lamp"}:
        lit_from, lit_to = world.lit.get(device.area.area_id, (np.zeros(0),) * 2)
        pick = rng.random(len(lit_from)) < 0.7
        return lit_from[pick], lit_to[pick], (lit_from[pick], lit_to[pick])
    if purpose in {"desk", "heater"}:
        busy = world.people.working > 0
        if purpose == "heater":
            busy = world.weather.temperature < 5
        edges = np.diff(np.r_[0, busy.astype(np.int8), 0])
        starts = np.flatnonzero(edges > 0) * 60.0
        ends = np.flatnonzero(edges < 0) * 60.0
        switched = purpose == "heater" or rng.random() < 0.5
        return starts, ends, (starts, ends) if switched else None
    starts = world.grid.slot(days, rng.normal(430, 40, len(days))) * 60  # coffee
    return starts, starts + run_min * 60, (starts, starts + run_min * 60)


def plug(world: World, device: DevicePlan) -> Activity:
    """Simulate a smart plug: its switch, and power and energy if it meters."""
    rng = world.rng
    standby, running, run_min = LOADS[device.purpose or "lamp"]
    starts, ends, switch = _plug_load(world, device, run_min)
    starts, ends = merge_intervals(starts, ends)
    activity = Activity()
    if switch is None:  # always on: one report at the start
        activity.rows["main"] = (np.zeros(1), word_keys("on", 1), None)
    else:
        activity.rows["main"] = binary_rows(*merge_intervals(*switch))
    messages = [activity.rows["main"][0]]
    if "power" in device.roles:
        candidate = rng.uniform(90, 240)
        times = periodic(rng, world.window, candidate, 0.2)
        on = within(times, starts, ends)
        watts = np.where(on, running * rng.lognormal(0, 0.05, len(times)), standby)
        heartbeat = int(rng.uniform(300, 900) / candidate)
        sent = report_on_change(times, np.log1p(watts), 0.08, heartbeat)
        activity.values["power"] = (times[sent], watts[sent], 1)
        messages.append(times[sent])
        if "energy" in device.roles:
            e_times = periodic(rng, world.window, rng.uniform(600, 1800), 0.1)
            energy = _energy(times, watts, e_times, rng.uniform(5, 400))
            activity.values["energy"] = (e_times, energy, 2)
            messages.append(e_times)
    activity.add_messages(*messages)
    return activity


def _energy(
    times: np.ndarray, watts: np.ndarray, at: np.ndarray, initial: float
) -> np.ndarray:
    """Return the meter reading (kWh) at `at` from power samples."""
    if not len(times):
        return np.full(len(at), initial)
    dt = np.diff(np.r_[times, times[-1] + 60]) / 3600.0
    cumulative = np.cumsum(watts * dt) / 1000.0
    return initial + np.interp(at, times, cumulative)


def energy_meter(world: World, device: DevicePlan) -> Activity:
    """Simulate a whole-home power meter reporting about every minute."""
    rng = world.rng
    times = periodic(rng, world.window, rng.uniform(120, 300), 0.1)
    active = world.at(world.people.n_active, times)
    cooking = world.at(world.grid.local_minute, times)
    meal = np.exp(-0.5 * ((cooking - 1110) / 40) ** 2) * 2000
    base = rng.uniform(120, 400)
    watts = base + 180 * active + meal * (active > 0) + rng.gamma(2, 60, len(times))
    activity = Activity()
    activity.values["power"] = (times, watts, 0)
    e_times = times[:: max(1, int(600 / np.mean(np.diff(times))))]
    activity.values["energy"] = (
        e_times,
        _energy(times, watts, e_times, rng.uniform(1000, 9000)),
        3,
    )
    activity.add_messages(times)
    return activity


def solar(world: World, device: DevicePlan) -> Activity:
    """Simulate a solar inverter polled every few minutes."""
    rng = world.rng
    times = periodic(rng, world.window, rng.uniform(240, 600), 0.05)
    sun = np.clip(world.at(world.grid.sun, times), 0, None)
    cloud = world.at(world.weather.cloud, times)
    peak = rng.uniform(3000, 9000)
    watts = peak * sun**1.2 * (1 - 0.75 * cloud) * rng.lognormal(0, 0.05, len(times))
    activity = Activity()
    activity.values["power"] = (times, np.where(sun > 0, watts, 0.0), 0)
    day = world.at(world.grid.local_day, times)
    produced = np.cumsum(watts * np.r_[0, np.diff(times)] / 3.6e6)
    first = np.searchsorted(day, day)
    activity.values["energy"] = (times, produced - produced[first], 2)
    activity.add_messages(times)
    return activity


# --- climate ------------------------------------------------------------------------


def climate(world: World, device: DevicePlan) -> Activity:
    """Simulate a thermostat, radiator valve or air conditioner (climate entity)."""
    rng = world.rng
    area = device.area
    zone = world.zones[min(area.zone, len(world.zones) - 1)]
    offset = 0.0
    if device.kind in {"trv", "split_ac"} and area.kind in {"bedroom", "kids_room"}:
        offset = -1.5
    step_s = STEP * 60.0
    n = len(zone.target)
    cycle = (
        int(rng.integers(3, 7)) if device.kind != "trv" else int(rng.integers(6, 10))
    )
    # Heating runs in cycles: on for `demand` of each cycle.
    phase = (np.arange(n) % cycle) / cycle
    mode = zone.mode
    cools = device.kind == "split_ac" or (
        device.kind == "thermostat" and world.plan.cooling
    )
    if not cools:
        mode = np.where(mode == 2, 0, mode)
    running = (phase < zone.demand) & (mode > 0)
    action = np.where(mode == 0, 3, np.where(running, np.where(mode == 2, 2, 1), 0))
    target = zone.target + offset
    current = world.area_temperature(area)
    resolution = 0.5 if device.kind == "trv" else 0.1
    step_times = np.arange(n) * step_s + rng.uniform(0, step_s)
    t_unit = _to_unit(world, np.round(current / resolution) * resolution)
    target_unit = _to_unit(world, np.round(target * 2) / 2)
    if world.plan.fahrenheit:
        t_unit = np.round(t_unit)
        target_unit = np.round(target_unit)
    keys_mode = np.where(mode == 0, "off", np.where(mode == 2, "cool", "heat"))
    if (
        world.plan.region.name == "us"
        and device.kind == "thermostat"
        and world.plan.cooling
    ):
        keys_mode = np.where(mode == 0, "off", "heat_cool")
    change = np.r_[
        True,
        (t_unit[1:] != t_unit[:-1])
        | (target_unit[1:] != target_unit[:-1])
        | (action[1:] != action[:-1])
        | (keys_mode[1:] != keys_mode[:-1]),
    ]
    idx = np.flatnonzero(change)
    states = np.select(
        [
            keys_mode[idx] == "off",
            keys_mode[idx] == "cool",
            keys_mode[idx] == "heat_cool",
        ],
        [
            word_keys("off", len(idx)),
            word_keys("cool", len(idx)),
            word_keys("heat_cool", len(idx)),
        ],
        word_keys("heat", len(idx)),
    )
    attrs = climate_attributes(t_unit[idx], target_unit[idx], action[idx])
    activity = Activity()
    activity.rows["main"] = (step_times[idx], states, attrs)
    activity.add_messages(
        step_times[idx], periodic(rng, world.window, rng.uniform(1800, 3600))
    )
    return activity


# --- doors, locks, bells --------------------------------------------------------


def lock(world: World, device: DevicePlan) -> Activity:
    """Simulate a door lock: unlocked as people come and go, then locked again."""
    rng = world.rng
    leave, arrive = world.moves.leave, world.moves.arrive
    unlock = np.sort(np.r_[leave - rng.uniform(10, 40, len(leave)), arrive])
    relock = unlock + rng.uniform(60, 300, len(unlock))
    starts, ends = merge_intervals(unlock, relock)
    activity = Activity()
    activity.rows["main"] = binary_rows(starts, ends, "unlocked", "locked")
    activity.add_messages(starts, ends)
    return activity


def doorbell(world: World, device: DevicePlan) -> Activity:
    """Simulate a doorbell: visitors ring; its camera sees motion on the street side."""
    rng = world.rng
    minutes = np.arange(0, world.window, 60.0)
    local = world.at(world.grid.local_minute, minutes)
    daytime = (local > 540) & (local < 1200)
    rings = _poisson_times(rng, daytime * 0.6 / (660 * 60), 60.0)
    rings = rings[rng.random(len(rings)) < 1.0]
    activity = Activity()
    activity.rows["main"] = binary_rows(rings, rings + rng.uniform(4, 8, len(rings)))
    if "motion" in device.roles:
        street = _poisson_times(rng, (daytime * 4 + 0.5) / DAY, 60.0)
        moving = np.sort(np.r_[street, world.moves.arrive - 20, rings - 15])
        starts, ends = episodes(moving, 60, 40)
        activity.rows["motion"] = binary_rows(starts, ends)
        activity.add_messages(starts)
    activity.add_messages(rings, periodic(rng, world.window, rng.uniform(600, 1800)))
    return activity


def intercom(world: World, device: DevicePlan) -> Activity:
    """Simulate a building intercom: rings, and the door opener when someone answers."""
    rng = world.rng
    minutes = np.arange(0, world.window, 60.0)
    local = world.at(world.grid.local_minute, minutes)
    daytime = (local > 540) & (local < 1260)
    rings = _poisson_times(rng, daytime * 0.5 / (720 * 60), 60.0)
    answered = rings[world.at(world.people.n_active, rings) > 0]
    opens = answered + rng.uniform(3, 12, len(answered))
    activity = Activity()
    activity.rows["main"] = binary_rows(rings, rings + rng.uniform(3, 6, len(rings)))
    activity.rows["opener"] = binary_rows(opens, opens + 3.0, "unlocked", "locked")
    activity.add_messages(
        rings, opens, periodic(rng, world.window, rng.uniform(1800, 3600))
    )
    return activity


def garage_door(world: World, device: DevicePlan) -> Activity:
    """Simulate a garage door or parking gate: cycling as drivers come and go."""
    rng = world.rng
    moves = np.sort(
        np.r_[
            world.moves.leave[world.moves.leave_car],
            world.moves.arrive[world.moves.arrive_car],
        ]
    )
    if device.kind == "gate":
        others = _poisson_times(rng, np.full(world.grid.days * 24, 0.25 / 3600), 3600.0)
        moves = np.sort(np.r_[moves, others])
    travel = rng.uniform(10, 16)
    opening = moves - travel
    open_at = moves
    closing = moves + rng.uniform(30, 180, len(moves))
    closed = closing + travel
    times = np.column_stack([opening, open_at, closing, closed]).ravel()
    keys = np.column_stack(
        [
            word_keys("opening", len(moves)),
            word_keys("open", len(moves)),
            word_keys("closing", len(moves)),
            word_keys("closed", len(moves)),
        ]
    ).ravel()
    order = np.argsort(times, kind="stable")
    activity = Activity()
    activity.rows["main"] = with_initial((times[order], keys[order], None), "closed")
    activity.add_messages(times, periodic(rng, world.window, rng.uniform(600, 1800)))
    return activity


# --- outdoors -------------------------------------------------------------------------


def irrigation(world: World, device: DevicePlan) -> Activity:
    """Irrigation valves: zone after zone at dawn on warm dry days."""
    rng = world.rng
    days = np.arange(world.grid.days)
    noon = np.clip(days * DAY + 13 * HOUR, 0, world.window - 1)
    warm = world.at(world.weather.temperature, noon) > 14
    wet = world.at(world.weather.rain.astype(float), noon - 12 * HOUR) > 0
    run = warm & ~wet & (rng.random(len(days)) < 0.8)
    begin = world.grid.slot(days[run], rng.normal(330, 10, int(run.sum()))) * 60
    activity = Activity()
    zones = sorted(role for role in device.roles if role.startswith("zone"))
    at = begin.copy()
    for role in zones:
        minutes = rng.uniform(8, 25)
        activity.rows[role] = binary_rows(at, at + minutes * 60, "open", "closed")
        if not len(at):
            activity.rows[role] = (np.zeros(1), word_keys("closed", 1), None)
        activity.add_messages(at, at + minutes * 60)
        at = at + minutes * 60 + 30
    activity.add_messages(periodic(rng, world.window, rng.uniform(900, 1800)))
    return activity


def lawn_mower(world: World, device: DevicePlan) -> Activity:
    """Simulate a robot mower: mowing, returning and docked on dry days in season."""
    rng = world.rng
    days = np.arange(world.grid.days)
    noon = np.clip(days * DAY + 13 * HOUR, 0, world.window - 1)
    season = world.at(world.weather.temperature, noon) > 9
    dry = world.at(world.weather.rain.astype(float), noon) == 0
    go = season & dry & (rng.random(len(days)) < 0.75)
    starts = world.grid.slot(days[go], rng.normal(600, 30, int(go.sum()))) * 60
    mow = rng.uniform(60, 110, len(starts)) * 60
    back = starts + mow
    docked = back + rng.uniform(120, 400, len(starts))
    error = rng.random(len(starts)) < 0.04  # benign: stuck on a branch, freed later
    times = np.r_[starts, back, docked]
    keys = np.r_[
        word_keys("mowing", len(starts)),
        np.where(
            error, word_keys("error", len(starts)), word_keys("returning", len(starts))
        ),
        word_keys("docked", len(starts)),
    ]
    order = np.argsort(times, kind="stable")
    activity = Activity()
    activity.rows["main"] = with_initial((times[order], keys[order], None), "docked")
    battery_t = periodic(rng, world.window, 600, 0.1)
    level = _rechargeable(battery_t, starts, docked, drain=0.9, charge_minutes=70)
    activity.values["battery"] = (battery_t, level, 0)
    activity.add_messages(times, battery_t)
    return activity


def _rechargeable(
    times: np.ndarray,
    busy_from: np.ndarray,
    busy_to: np.ndarray,
    drain: float,
    charge_minutes: float,
) -> np.ndarray:
    """Return a battery % that falls while busy and recharges after."""
    level = np.full(len(times), 100.0)
    if not len(busy_from):
        return level
    k = np.searchsorted(busy_from, times, side="right") - 1
    valid = k >= 0
    k = np.maximum(k, 0)
    start, end = busy_from[k], busy_to[k]
    used = np.clip((np.minimum(times, end) - start) / (end - start), 0, 1) * drain * 100
    charged = np.clip((times - end) / (charge_minutes * 60), 0, None) * 100
    return np.where(
        valid, np.clip(100 - used + np.where(times > end, charged, 0), 5, 100), 100
    )


def pool_pump(world: World, device: DevicePlan) -> Activity:
    """Simulate a pool pump on a daily schedule, its power and the water temperature."""
    rng = world.rng
    days = np.arange(world.grid.days)
    noon = np.clip(days * DAY + 13 * HOUR, 0, world.window - 1)
    warm = world.at(world.weather.temperature, noon)
    hours = np.clip((warm - 5) / 2.5, 2, 10)
    starts = world.grid.slot(days, np.full(len(days), 540 + rng.integers(0, 60))) * 60
    ends = starts + hours * HOUR
    activity = Activity()
    activity.rows["main"] = binary_rows(starts, ends)
    times = periodic(rng, world.window, rng.uniform(60, 180), 0.1)
    on = np.searchsorted(starts, times, side="right") > np.searchsorted(
        ends, times, side="right"
    )
    watts = np.where(
        on, rng.uniform(700, 1400) * rng.lognormal(0, 0.03, len(times)), 0.0
    )
    sent = report_on_change(times, np.log1p(watts), 0.1, 10)
    activity.values["power"] = (times[sent], watts[sent], 0)
    water = (
        0.7 * world.at(lowpass_days(world, 3), times)
        + 8
        + 4 * np.clip(world.at(world.grid.sun, times), 0, None)
    )
    w_times = times[on][::5]
    activity.values["water_temperature"] = (
        w_times,
        _to_unit(world, np.interp(w_times, times, water)),
        1,
    )
    activity.add_messages(starts, ends, times[sent], w_times)
    return activity


def lowpass_days(world: World, days: float) -> np.ndarray:
    """Return the outdoor temperature averaged over `days`, per minute slot."""
    return lowpass(world.weather.temperature[::60], days * 24).repeat(60)[
        : world.grid.n
    ]


# --- media, vacuum, car ---------------------------------------------------------


def media(world: World, device: DevicePlan) -> Activity:
    """Simulate a TV or speaker: evening sessions of playing and pausing, then off."""
    rng = world.rng
    starts, ends = world.use.get(device.area.area_id, (np.zeros(0), np.zeros(0)))
    hour = world.at(world.grid.local_minute, starts) / 60
    evening = (hour >= 17.5) | (hour < 0.5)
    pick = (ends - starts > 900) & (
        rng.random(len(starts)) < np.where(evening, 0.75, 0.15)
    )
    s, e = starts[pick], ends[pick]
    e = np.minimum(e, s + rng.uniform(30, 200, len(s)) * 60)
    pauses = _poisson_times(rng, np.full(world.grid.days * 24, 0.8 / 3600), 3600.0)
    p_start = pauses[within(pauses, s, e - 300)]
    p_end = p_start + rng.uniform(60, 300, len(p_start))
    times = np.r_[s, e, p_start, p_end]
    keys = np.r_[
        word_keys("playing", len(s)),
        word_keys("off", len(e)),
        word_keys("paused", len(p_start)),
        word_keys("playing", len(p_end)),
    ]
    volume = np.round(rng.uniform(0.15, 0.45, len(times)) * 20) / 20
    attrs = np.where(keys == WORD["off"], -1, media_attributes(volume))
    order = np.argsort(times, kind="stable")
    activity = Activity()
    activity.rows["main"] = with_initial(
        (times[order], keys[order], attrs[order]), "off"
    )
    return activity


def vacuum(world: World, device: DevicePlan) -> Activity:
    """Simulate a robot vacuum: cleans when nobody is home, then returns to its dock."""
    rng = world.rng
    days = np.arange(world.grid.days)
    at = world.grid.slot(days, rng.normal(630, 30, len(days))) * 60
    empty = world.at(world.people.n_home, np.clip(at, 0, world.window - 1)) == 0
    go = (empty | (rng.random(len(days)) < 0.1)) & (rng.random(len(days)) < 0.6)
    starts = at[go]
    back = starts + rng.uniform(40, 90, len(starts)) * 60
    docked = back + rng.uniform(60, 200, len(starts))
    error = rng.random(len(starts)) < 0.05
    times = np.r_[starts, back, docked]
    keys = np.r_[
        word_keys("cleaning", len(starts)),
        np.where(
            error, word_keys("error", len(starts)), word_keys("returning", len(starts))
        ),
        word_keys("docked", len(starts)),
    ]
    order = np.argsort(times, kind="stable")
    activity = Activity()
    activity.rows["main"] = with_initial((times[order], keys[order], None), "docked")
    battery_t = periodic(rng, world.window, 900, 0.1)
    activity.values["battery"] = (
        battery_t,
        _rechargeable(battery_t, starts, docked, 0.6, 120),
        0,
    )
    activity.add_messages(times, battery_t)
    return activity


def ev_charger(world: World, device: DevicePlan) -> Activity:
    """Simulate an EV charger: plugged in some evenings, charging for hours."""
    rng = world.rng
    arrivals = world.moves.arrive[world.moves.arrive_car]
    local = world.at(world.grid.local_minute, arrivals)
    plug_in = arrivals[(local > 900) & (rng.random(len(arrivals)) < 0.45)] + 120
    later = np.sort(world.moves.leave[world.moves.leave_car])
    idx = np.searchsorted(later, plug_in)
    unplug = np.r_[later - 60, world.window + 1][idx]
    charge_end = np.minimum(plug_in + rng.uniform(1, 4, len(plug_in)) * HOUR, unplug)
    times = np.r_[plug_in, plug_in + 30, charge_end, unplug]
    keys = np.r_[
        word_keys("connected", len(plug_in)),
        word_keys("charging", len(plug_in)),
        word_keys("connected", len(plug_in)),
        word_keys("disconnected", len(plug_in)),
    ]
    order = np.argsort(times, kind="stable")
    activity = Activity()
    activity.rows["main"] = with_initial(
        (times[order], keys[order], None), "disconnected"
    )
    kw = rng.uniform(7, 11) * 1000
    p_times = merge_sorted(plug_in + 30, charge_end, periodic(rng, world.window, 300))
    charging = np.searchsorted(plug_in + 30, p_times, side="right") > np.searchsorted(
        charge_end, p_times, side="right"
    )
    activity.values["power"] = (
        p_times,
        np.where(charging, kw * rng.lognormal(0, 0.01, len(p_times)), 0.0),
        0,
    )
    activity.add_messages(times, p_times)
    return activity


MODELS: dict[str, Callable[[World, DevicePlan], Activity]] = {
    "motion": motion,
    "contact": contact,
    "climate_sensor": climate_sensor,
    "leak": quiet,
    "smoke": quiet,
    "light": light,
    "plug": plug,
    "energy_meter": energy_meter,
    "solar": solar,
    "trv": climate,
    "thermostat": climate,
    "split_ac": climate,
    "lock": lock,
    "doorbell": doorbell,
    "intercom": intercom,
    "garage_door": garage_door,
    "gate": garage_door,
    "irrigation": irrigation,
    "lawn_mower": lawn_mower,
    "pool_pump": pool_pump,
    "media": media,
    "vacuum": vacuum,
    "ev_charger": ev_charger,
    "light_group": light,
}


def simulate_device(world: World, device: DevicePlan) -> Activity:
    """Return what `device` did over the window."""
    return MODELS[device.kind](world, device)
