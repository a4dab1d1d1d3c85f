"""One synthetic home from start to finish: plan, world, devices, events, labels.

`generate_home(options, index)` is the generator's unit of work. Everything it
draws comes from random streams seeded by (seed, home index, purpose), so a home
is the same whichever process generates it and whatever other homes exist; the
home type and the label noise have streams of their own, and so do the failure
plan and every device, so that changing the failure rate does not move a light.
"""

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from homeiq_core.dataset import DeviceWarning, Inventory, Labels, ReportColumns
from homeiq_trainer.dataset import ExternalColumns, external_table

from .archetypes import CONFUSABLE, AreaPlan, HomePlan, integration_of, plan_home
from .clock import TimeGrid, make_grid
from .devices import (
    DAY,
    HOUR,
    INTERIOR,
    Moves,
    World,
    merge_sorted,
    simulate_device,
)
from .faults import finish_device, labels_of, plan_failures
from .occupancy import (
    People,
    area_rates,
    draw_triggers,
    episodes,
    simulate_people,
)
from .options import GeneratorOptions
from .streams import WORD, StreamSet, number_keys, weather_attributes, word_keys
from .weather import (
    STEP,
    daily_mean,
    external_series,
    free_temperature,
    simulate_weather,
    steps_per_day,
    weather_condition,
    zone_climate,
)


@dataclass(frozen=True, slots=True)
class SyntheticHome:
    """A generated home, ready to be written."""

    inventory: Inventory
    labels: Labels
    events: pa.Table
    external: pa.Table
    start: float
    end: float
    # HA's state_reported re-reports, or None: not kept (a recorder conversion)
    reports: ReportColumns | None = None
    gaps: tuple[tuple[float, float], ...] = ()  # HA down: nothing recorded (POSIX s)


def home_id(index: int) -> str:
    """Return the id of the home with `index`."""
    return f"home-{index:04d}"


def _rng(options: GeneratorOptions, index: int, *purpose: int) -> np.random.Generator:
    sequence = np.random.SeedSequence(options.seed, spawn_key=(index, *purpose))
    return np.random.default_rng(sequence)


def draw_type(options: GeneratorOptions, index: int) -> tuple[str, str]:
    """Return (true type, label) of home `index`; the label may be flipped."""
    rng = _rng(options, index, 0)
    names = [name for name, _ in options.mix]
    weights = np.array([weight for _, weight in options.mix], dtype=float)
    true_type = names[int(rng.choice(len(names), p=weights / weights.sum()))]
    label = true_type
    if rng.random() < options.label_noise:
        others = CONFUSABLE[true_type]
        label = others[int(rng.integers(len(others)))]
    return true_type, label


def draw_plan(options: GeneratorOptions, index: int) -> HomePlan:
    """Return the plan (inventory and people) of home `index`."""
    true_type, _ = draw_type(options, index)
    return plan_home(_rng(options, index, 1), home_id(index), true_type)


def generate_home(options: GeneratorOptions, index: int) -> SyntheticHome:
    """Generate home `index` of a dataset with `options`."""
    true_type, label = draw_type(options, index)
    plan = draw_plan(options, index)
    rng = _rng(options, index, 2)
    grid = make_grid(
        plan.place.time_zone,
        plan.place.latitude,
        options.start,
        options.days,
        plan.region.holidays,
    )
    world = build_world(rng, plan, grid)
    faults = plan_failures(
        _rng(options, index, 3), plan, world.window, options.failure_rate
    )
    entity_ids = [entity.entity_id for entity in plan.entities]
    streams = StreamSet(
        entity_ids,
        world.window,
        # Sensors read "unknown" after a restart until they report again; a
        # battery level is restored (zha, mqtt and zwave_js keep the last one).
        np.array(
            [
                e.domain == "sensor" and e.device_class != "battery"
                for e in plan.entities
            ]
        ),
        reports_wanted=plan.setup.reports,
    )
    start = options.start_time
    warnings = []
    _restarts(rng, world, streams, plan)
    for number, device in enumerate(plan.devices):
        activity = simulate_device(world, device)
        finished = finish_device(
            world,
            device,
            activity,
            faults.get(device.device_id),
            streams,
            rng=_rng(options, index, 4, number),
        )
        warnings += [(device.device_id, k, start + t) for k, t in finished.warnings]
    _deviceless(world, streams)
    _hub_outages(_rng(options, index, 6), world, streams)
    _outages(_rng(options, index, 5), world, streams)
    events = streams.finish(round(start * 1e6))
    times, names, values = external_series(rng, grid, world.weather, plan.region)
    external = external_table(ExternalColumns(start + times, names, values))
    warnings = tuple(DeviceWarning(*w) for w in sorted(warnings))
    labels = Labels(label, true_type, labels_of(faults, start), warnings)
    reports = None
    if plan.setup.reports:
        entities, micros = streams.reports()
        names = np.array(entity_ids, dtype=object)[entities]
        reports = ReportColumns(names, start + micros / 1e6)
    return SyntheticHome(
        plan.inventory(),
        labels,
        events,
        external,
        start,
        options.end_time,
        reports=reports,
        gaps=tuple(
            (start + round(max(a, 0.0) * 1e6) / 1e6, start + round(b * 1e6) / 1e6)
            for a, b in streams.outages
        ),
    )


def build_world(rng: np.random.Generator, plan: HomePlan, grid: TimeGrid) -> World:
    """Simulate weather, people, their movements and the indoor climate."""
    weather = simulate_weather(rng, grid, plan.place)
    drive_share = 0.9 if plan.region.name in {"us", "au"} else 0.6
    people = simulate_people(rng, grid, plan.occupants, drive_share)
    moves = _moves(rng, people)
    kinds = [area.kind for area in plan.areas]
    outdoor = (
        np.clip((weather.temperature - 8) / 12, 0, 1)
        * (grid.sun > 0)
        * (1 - weather.rain)
    )
    rates, background = area_rates(grid, people, kinds, outdoor, plan.pets)
    extra = _extra_triggers(rng, plan, people, moves, grid)
    triggers: dict[str, np.ndarray] = {}
    use: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    lit: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    dark = grid.dark()
    dark_from = np.flatnonzero(np.diff(np.r_[0, dark.astype(np.int8)]) > 0) * 60.0
    for row, area in enumerate(plan.areas):
        times = draw_triggers(rng, rates[row])
        if area.area_id in extra:
            times = merge_sorted(times, extra[area.area_id])
        times = times[(times >= 0) & (times < grid.n * 60)]
        noise = draw_triggers(rng, background[row])
        triggers[area.area_id] = merge_sorted(times, noise)
        use[area.area_id] = episodes(times, 1200.0, 300.0)
        lit[area.area_id] = _lit(area, use[area.area_id], dark, dark_from, rng)
    zones = _zones(rng, plan, grid, weather, people)
    comfort = float(zones[0].target.max()) if zones else 21.0
    return World(
        rng, plan, grid, people, weather, triggers, use, lit, zones, comfort, moves
    )


def _lit(
    area: AreaPlan,
    use: tuple[np.ndarray, np.ndarray],
    dark: np.ndarray,
    dark_from: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Return when the area's lights are on: in use, and dark or windowless."""
    starts, ends = use
    if not len(starts):
        return starts, ends
    last = len(dark) - 1
    dark_start = dark[np.minimum((starts // 60).astype(np.int64), last)]
    dark_end = dark[np.minimum((ends // 60).astype(np.int64), last)]
    if area.kind in INTERIOR:
        on = np.ones(len(starts), dtype=bool)
        begin = starts
    else:
        on = dark_start | dark_end
        dusk = (
            dark_from[
                np.minimum(np.searchsorted(dark_from, starts), len(dark_from) - 1)
            ]
            if len(dark_from)
            else starts
        )
        begin = np.where(dark_start, starts, np.maximum(starts, dusk))
    delay = rng.uniform(2, 40, len(starts))
    keep = on & (begin < ends)
    # Lights stay on while people sit still: merge what is close together.
    from_, to = (
        begin[keep] + delay[keep],
        ends[keep] + rng.uniform(0, 300, int(keep.sum())),
    )
    if not len(from_):
        return from_, to
    gap = 1800.0 if area.kind not in INTERIOR else 300.0
    breaks = np.flatnonzero(from_[1:] - to[:-1] >= gap)
    return from_[np.r_[0, breaks + 1]], to[np.r_[breaks, len(to) - 1]]


def _moves(rng: np.random.Generator, people: People) -> Moves:
    leave, arrive, leave_car, arrive_car = [], [], [], []
    for person in range(people.home.shape[0]):
        out, back = people.moves(person)
        leave.append(out * 60 + rng.uniform(0, 60, len(out)))
        arrive.append(back * 60 + rng.uniform(0, 60, len(back)))
        leave_car.append(np.full(len(out), people.drives[person]))
        arrive_car.append(np.full(len(back), people.drives[person]))
    order_l = np.argsort(np.concatenate(leave)) if leave else np.zeros(0, int)
    order_a = np.argsort(np.concatenate(arrive)) if arrive else np.zeros(0, int)
    return Moves(
        np.concatenate(leave)[order_l],
        np.concatenate(arrive)[order_a],
        np.concatenate(leave_car)[order_l].astype(bool),
        np.concatenate(arrive_car)[order_a].astype(bool),
    )


def _extra_triggers(
    rng: np.random.Generator,
    plan: HomePlan,
    people: People,
    moves: Moves,
    grid: TimeGrid,
) -> dict[str, np.ndarray]:
    """Movements the activity rates miss: coming and going, nights."""
    extra: dict[str, list[np.ndarray]] = {}
    areas = {area.kind: area.area_id for area in reversed(plan.areas)}
    entrance = areas.get("hallway", plan.areas[0].area_id)
    going = np.r_[moves.leave, moves.arrive]
    burst = np.repeat(going, 4) + rng.uniform(-90, 40, 4 * len(going))
    extra.setdefault(entrance, []).append(burst)
    for kind in ("garage", "porch"):
        if kind in areas:
            cars = np.r_[moves.leave[moves.leave_car], moves.arrive[moves.arrive_car]]
            chosen = cars if kind == "garage" else going
            extra.setdefault(areas[kind], []).append(
                np.repeat(chosen, 3) + rng.uniform(-60, 60, 3 * len(chosen))
            )
    # Night-time visits to the bathroom.
    asleep = people.home & ~people.awake
    night_slots = np.flatnonzero(asleep.any(axis=0))
    if len(night_slots) and "bathroom" in areas:
        visits = rng.choice(
            night_slots, size=rng.poisson(0.3 * grid.days * len(plan.occupants))
        )
        seconds = np.sort(visits * 60.0 + rng.uniform(0, 60, len(visits)))
        extra.setdefault(areas["bathroom"], []).append(
            np.repeat(seconds, 5) + rng.uniform(0, 240, 5 * len(seconds))
        )
        way = areas.get("landing", entrance)
        extra.setdefault(way, []).append(np.r_[seconds - 20, seconds + 280])
    return {area: np.sort(np.concatenate(parts)) for area, parts in extra.items()}


def _zones(
    rng: np.random.Generator,
    plan: HomePlan,
    grid: TimeGrid,
    weather,
    people: People,
) -> list:
    n_home = people.n_home
    n_active = people.n_active
    free = free_temperature(grid, weather, n_home, rng.uniform(10, 30))
    season = daily_mean(weather.temperature[::STEP], steps_per_day())
    if plan.heating == "none":
        season = np.full(len(season), 20.0)
    comfort = rng.uniform(20.0, 22.0)
    occupied = n_active[::STEP] > 0
    asleep = (n_home[::STEP] > 0) & ~occupied
    zones = []
    for zone in range(plan.zones):
        zones.append(
            zone_climate(
                free + 0.4 * zone,
                comfort + rng.normal(0, 0.4),
                occupied,
                asleep,
                season=season,
                cooling=plan.cooling,
                ripple=rng.uniform(4, 10),
            )
        )
    return zones


def _deviceless(world: World, streams: StreamSet) -> None:
    """Sun, weather, the home zone and the people's person entities."""
    plan = world.plan
    grid = world.grid
    rng = world.rng
    up = grid.sun > -0.0145  # the sun's disc above the horizon
    edges = np.flatnonzero(np.diff(up.astype(np.int8))) + 1
    times = np.r_[0.0, edges * 60.0]
    states = np.where(up[np.r_[0, edges]], WORD["above_horizon"], WORD["below_horizon"])
    streams.add(plan.extra["sun"], times, states)
    condition = weather_condition(grid, world.weather)
    hourly = np.arange(0, grid.n, 60)
    temp = world.weather.temperature[hourly]
    if plan.fahrenheit:
        temp = temp * 1.8 + 32
    w_times = hourly * 60.0 + rng.uniform(0, 30, len(hourly))
    streams.add(
        plan.extra["weather"],
        w_times,
        np.array([WORD[c] for c in condition.tolist()], dtype=np.int64),
        weather_attributes(temp, world.weather.humidity[hourly]),
    )
    people = world.people
    all_t, all_d = [np.zeros(1)], [np.zeros(1)]
    for i in range(people.home.shape[0]):
        out, back = people.moves(i)
        lag = rng.uniform(-60, 180, len(out) + len(back))
        t = np.r_[out, back] * 60.0 + lag
        state = np.r_[word_keys("not_home", len(out)), word_keys("home", len(back))]
        order = np.argsort(t)
        first = WORD["home"] if people.home[i, 0] else WORD["not_home"]
        streams.add(
            plan.extra[f"person{i}"], np.r_[0.0, t[order]], np.r_[first, state[order]]
        )
        all_t.append(t)
        all_d.append(np.r_[-np.ones(len(out)), np.ones(len(back))])
    t = np.concatenate(all_t)
    delta = np.concatenate(all_d)
    order = np.argsort(t, kind="stable")
    count = people.n_home[0] + np.cumsum(delta[order])
    streams.add(plan.extra["zone"], t[order], number_keys(np.clip(count, 0, None), 0))


def _outages(rng: np.random.Generator, world: World, streams: StreamSet) -> None:
    """Home Assistant (or its host) down now and then: nothing is recorded.

    A third of homes over a month: a power cut, an update that hangs, a full
    disk; hours mostly, now and then days or weeks before anyone notices.
    """
    if rng.random() >= 0.35 * world.window / (30 * DAY):
        return
    for _ in range(int(rng.integers(1, 4))):
        length = float(
            np.clip(rng.lognormal(np.log(5 * HOUR), 1.3), HOUR / 2, 21 * DAY)
        )
        begin = float(rng.uniform(0, world.window - min(length, world.window / 2)))
        streams.outage(begin, min(begin + length, world.window))


def _hub_outages(rng: np.random.Generator, world: World, streams: StreamSet) -> None:
    """Take a hub or bridge down for hours: its devices show "unavailable".

    A Zigbee stick unplugged, Zigbee2MQTT or Z-Wave JS stopped after an update:
    HA notices the bridge and marks what it serves unavailable.
    """
    plan = world.plan
    served: dict[str, list[int]] = {}
    for number, device in enumerate(plan.devices):
        domain, hub = integration_of(plan, device.model)
        if hub is not None:
            served.setdefault(domain, []).extend(plan.device_entities[number])
    if not served or rng.random() >= 0.2 * world.window / (30 * DAY):
        return
    domains = sorted(served)
    domain = domains[int(rng.integers(len(domains)))]
    begin = rng.uniform(0, world.window)
    length = float(np.clip(rng.lognormal(np.log(3 * HOUR), 1.0), 0.25 * HOUR, 3 * DAY))
    entities = np.array(sorted(served[domain]))
    streams.unavailable(entities, np.array([begin]), np.array([begin + length]))


def _restarts(
    rng: np.random.Generator, world: World, streams: StreamSet, plan: HomePlan
) -> None:
    """Home Assistant restarts now and then: every device entity at once."""
    count = rng.poisson(world.window / (10 * 24 * HOUR))
    starts = np.sort(rng.uniform(0, world.window, count))
    ends = starts + rng.uniform(40, 180, count)
    n_device_entities = sum(len(e) for e in plan.device_entities)
    streams.restarts(np.arange(n_device_entities), starts, ends)
