"""The daily rhythm: schedules and weather show in a home's events.

Read from what a dataset holds (events, the inventory's entities and time zone,
the external weather series): lights go on in the evening and in the dark, not
at midday; nights are quiet; motion, media and the front door follow who is home
(the `zone.home` count and the `person.*` states); people leave on workday
mornings, not at weekends or on public holidays; heating runs when it is cold and
outdoor sensors follow the weather. Every band would fail if the generator spread
events evenly over the day or ignored who is home; the figures measured on
`week_homes` (24 homes, 7 days from Monday 2026-01-05) are in comments.
"""

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
import json
import re
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from homeiq_core.dataset import Inventory
from homeiq_trainer.synth.catalog import REGIONS
from homeiq_trainer.synth.home import SyntheticHome, generate_home
from homeiq_trainer.synth.options import GeneratorOptions

from .symptoms import HOUR, HomeEvents, numeric

# Christmas week: 25 December is a public holiday in every region, the three
# days before it are workdays.
HOLIDAY_OPTIONS = GeneratorOptions(
    homes=12, days=4, seed=1225, start=date(2025, 12, 22)
)
HOLIDAYS = {
    place.time_zone: region.holidays
    for region in REGIONS.values()
    for place in region.places
}
# Rooms with windows: their lights wait for the dark (the others do not).
WINDOWED = {"living_room", "kitchen", "dining_room", "bedroom", "kids_room", "office"}
EVENING = range(18, 22)
MIDDAY = range(10, 15)
NIGHT = range(1, 4)
MORNING = (5.0, 9.5)  # local hours in which commuters and pupils leave


@pytest.fixture(scope="module")
def week_events(week_homes: list[SyntheticHome]) -> list[HomeEvents]:
    return [HomeEvents.of(home) for home in week_homes]


@pytest.fixture(scope="module")
def holiday_events() -> list[HomeEvents]:
    options = HOLIDAY_OPTIONS
    return [HomeEvents.of(generate_home(options, i)) for i in range(options.homes)]


# --- reading the events ------------------------------------------------------


def _utc_offset(zone: ZoneInfo, moment: float) -> float:
    offset = datetime.fromtimestamp(moment, UTC).astimezone(zone).utcoffset()
    assert offset is not None
    return offset.total_seconds()


def wall_clock(home: SyntheticHome, times: np.ndarray) -> np.ndarray:
    """Return POSIX `times` as the home's wall clock (seconds, as if UTC)."""
    zone = ZoneInfo(home.inventory.time_zone)
    hours = np.arange(home.start, home.end + HOUR, HOUR)
    offsets = np.array([_utc_offset(zone, moment) for moment in hours])
    index = np.clip(((times - home.start) // HOUR).astype(np.int64), 0, len(hours) - 1)
    return times + offsets[index]


def local_hour(home: SyntheticHome, times: np.ndarray) -> np.ndarray:
    """Return the home's local hour (0-23) of each of `times`."""
    return (wall_clock(home, times) // HOUR % 24).astype(np.int64)


def switches(
    events: HomeEvents, entity_id: str, to: str, source: str = "off"
) -> np.ndarray:
    """Return when the entity changed from `source` to `to`."""
    times, states = events.rows(entity_id)
    before = np.r_[np.array([""], dtype=object), states[:-1]]
    return times[(states == to) & (before == source)]


def per_hour(home: SyntheticHome, times: np.ndarray) -> np.ndarray:
    """Return how many of `times` fall in each local hour of the day."""
    return np.bincount(local_hour(home, times), minlength=24).astype(float)


def rate(counts: np.ndarray, hours: range) -> float:
    """Return the mean count per hour over local `hours`."""
    return float(counts[list(hours)].mean())


def area_kinds(inventory: Inventory) -> dict[str, str]:
    """Return the kind of area ("bedroom_2": bedroom) of each device entity."""
    return {
        entity.entity_id: re.sub(r"_\d+$", "", device.area_id)
        for device in inventory.devices
        if device.area_id is not None
        for entity in device.entities
    }


def motion_sensors(inventory: Inventory) -> list[str]:
    """Return the motion sensors indoors (a doorbell's camera watches the street)."""
    return [
        entity.entity_id
        for device in inventory.devices
        if not any(e.device_class == "occupancy" for e in device.entities)
        for entity in device.entities
        if entity.domain == "binary_sensor" and entity.device_class == "motion"
    ]


def people_home(events: HomeEvents) -> tuple[np.ndarray, np.ndarray]:
    """Return the `zone.home` count as (times, people) steps."""
    times, states = events.rows("zone.home")
    return times, states.astype(float)


def occupied_at(events: HomeEvents, moments: np.ndarray) -> np.ndarray:
    """Return whether anyone was home at each of `moments`."""
    times, people = people_home(events)
    step = np.searchsorted(times, moments, side="right") - 1
    return people[np.maximum(step, 0)] > 0


def occupied_hours(events: HomeEvents) -> tuple[float, float]:
    """Return the hours with someone home and with nobody home."""
    times, people = people_home(events)
    lengths = np.diff(np.r_[times, events.home.end]) / HOUR
    return float(lengths[people > 0].sum()), float(lengths[people == 0].sum())


def mornings(home: SyntheticHome) -> Iterator[tuple[str, float, float]]:
    """Yield (workday, weekend or holiday; start; end) of each whole morning."""
    zone = ZoneInfo(home.inventory.time_zone)
    first = datetime.fromtimestamp(home.start, UTC).date() - timedelta(days=1)
    for n in range(int((home.end - home.start) // 86400) + 2):
        day = first + timedelta(days=n)
        begin, end = (
            datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()
            + hours * HOUR
            for hours in MORNING
        )
        if begin < home.start or end > home.end:
            continue
        if (day.month, day.day) in HOLIDAYS[home.inventory.time_zone]:
            yield "holiday", begin, end
        else:
            yield ("weekend" if day.weekday() >= 5 else "workday"), begin, end


def departures(homes: list[HomeEvents]) -> dict[str, float]:
    """Return people leaving home per person and morning, by kind of day."""
    left: dict[str, int] = {}
    chances: dict[str, int] = {}
    for events in homes:
        persons = [
            e.entity_id for e in events.home.inventory.entities if e.domain == "person"
        ]
        leaving = np.concatenate(
            [switches(events, p, "not_home", "home") for p in persons]
        )
        for kind, begin, end in mornings(events.home):
            inside = int(((leaving >= begin) & (leaving < end)).sum())
            left[kind] = left.get(kind, 0) + inside
            chances[kind] = chances.get(kind, 0) + len(persons)
    return {kind: left[kind] / chances[kind] for kind in chances}


# --- time of day -----------------------------------------------------------------


def test_lights_go_on_in_the_evening(week_events: list[HomeEvents]) -> None:
    counts = np.zeros(24)
    for events in week_events:
        for entity_id in events.by_entity:
            if entity_id.startswith("light."):
                counts += per_hour(events.home, switches(events, entity_id, "on"))
    # On-switches per hour, measured: evening 838, midday 245, 01-04 25; the
    # busiest hour 16-17 (18-19 at other seeds).
    assert rate(counts, EVENING) >= 2 * rate(counts, MIDDAY), counts
    assert rate(counts, NIGHT) <= 0.1 * rate(counts, EVENING), counts
    assert 16 <= int(np.argmax(counts)) <= 21, counts


def test_nights_are_quiet(week_events: list[HomeEvents]) -> None:
    counts = np.zeros(24)
    for events in week_events:
        for entity_id in motion_sensors(events.home.inventory):
            counts += per_hour(events.home, switches(events, entity_id, "on"))
    # Motion per hour, measured: evening 3051, midday 1594, 01-04 384 (sleepers,
    # pets, visits to the bathroom).
    assert rate(counts, NIGHT) <= 0.25 * rate(counts, EVENING), counts
    assert rate(counts, NIGHT) <= 0.5 * rate(counts, MIDDAY), counts


def broad_day(events: HomeEvents, moments: np.ndarray) -> np.ndarray:
    """Return which `moments` have the sun up and an hour or more from its edges."""
    times, states = events.rows("sun.sun")
    step = np.maximum(np.searchsorted(times, moments, side="right") - 1, 0)
    up = states[step] == "above_horizon"
    edges = times[1:]  # sunrises and sunsets
    if not len(edges) or not len(moments):
        return up
    return up & (np.abs(moments[:, None] - edges[None, :]).min(axis=1) > HOUR)


def test_rooms_with_windows_light_up_in_the_dark(
    week_events: list[HomeEvents],
) -> None:
    daytime = {"windowed": [0, 0], "interior": [0, 0]}
    sunny = []
    for events in week_events:
        home = events.home
        kinds = area_kinds(home.inventory)
        sunny.append(broad_day(events, np.arange(home.start, home.end, 300.0)).mean())
        for entity_id in events.by_entity:
            if entity_id.startswith("light."):
                group = "windowed" if kinds.get(entity_id) in WINDOWED else "interior"
                on = switches(events, entity_id, "on")
                daytime[group][0] += int(broad_day(events, on).sum())
                daytime[group][1] += len(on)
    share = {group: day / total for group, (day, total) in daytime.items()}
    # More than an hour from sunrise and sunset with the sun up: 32 % of the week
    # (winter in the north, summer in the south); 0 of 4264 on-switches in rooms
    # with windows, 33 % of 6231 in bathrooms, halls and other rooms without.
    assert np.mean(sunny) >= 0.25, np.mean(sunny)
    assert share["windowed"] <= 0.02, share
    assert share["interior"] >= 0.1, share


# --- who is home ------------------------------------------------------------------


def test_motion_follows_occupancy(week_events: list[HomeEvents]) -> None:
    pooled = np.zeros(4)  # motion when occupied, hours occupied, when empty, hours
    ratios = []
    for events in week_events:
        motion = np.concatenate(
            [
                switches(events, entity_id, "on")
                for entity_id in motion_sensors(events.home.inventory)
            ]
            or [np.zeros(0)]
        )
        occupied = occupied_at(events, motion)
        home_hours, empty_hours = occupied_hours(events)
        counts = np.array(
            [occupied.sum(), home_hours, (~occupied).sum(), empty_hours], dtype=float
        )
        pooled += counts
        if empty_hours >= 10 and counts[0] > 0:
            empty_rate = max(counts[2], 1.0) / empty_hours
            ratios.append(counts[0] / home_hours / empty_rate)
    # Motion per hour: 11.6 with someone home (asleep included), 2.0 with nobody
    # home (pets, false triggers): 5.7 times (4.1-10.9 at other seeds). 13 homes
    # are empty for 10 h or more; each shows 2.3-92 times the motion when
    # occupied (at other seeds 13 of 15 show more than twice).
    pooled_ratio = (pooled[0] / pooled[1]) / (pooled[2] / pooled[3])
    assert pooled_ratio >= 3, pooled
    assert len(ratios) >= 6, ratios
    assert np.mean(np.array(ratios) > 2) >= 0.75, ratios


def test_media_plays_when_someone_is_home(week_events: list[HomeEvents]) -> None:
    starts = np.zeros(4)  # starts when occupied, hours occupied, when empty, hours
    for events in week_events:
        for entity_id in events.by_entity:
            if entity_id.startswith("media_player."):
                playing = switches(events, entity_id, "playing")
                occupied = occupied_at(events, playing)
                starts[0] += occupied.sum()
                starts[2] += (~occupied).sum()
        starts[[1, 3]] += occupied_hours(events)
    # Measured 402 starts in 3553 occupied hours, 7 in 479 empty ones: 7.7 times
    # the rate (2.8-7.5 at other seeds).
    assert starts[0] >= 100, starts
    assert starts[0] / starts[1] >= 2 * max(starts[2], 1) / starts[3], starts


def test_front_door_opens_when_people_come_and_go(
    week_events: list[HomeEvents],
) -> None:
    near, opened, chance = 0, 0, []
    for events in week_events:
        home = events.home
        times, _ = people_home(events)
        moves = times[times > home.start]  # someone left or came back
        doors = [
            e.entity_id
            for d in home.inventory.devices
            for e in d.entities
            if e.device_class == "door"
        ]
        if not len(moves) or not doors:
            continue
        grid = np.arange(home.start, home.end, 60.0)
        chance.append((np.abs(grid[:, None] - moves[None, :]).min(axis=1) < 600).mean())
        for entity_id in doors:
            on = switches(events, entity_id, "on")
            if len(on):
                near += int(
                    (np.abs(on[:, None] - moves[None, :]).min(axis=1) < 600).sum()
                )
                opened += len(on)
    # Measured: 615 of 1084 openings within 10 minutes of someone leaving or
    # arriving (57 %; 47-57 % at other seeds), while such moments cover 5 % of
    # the week.
    assert opened >= 200
    assert near / opened >= 0.3
    assert near / opened >= 5 * np.mean(chance), (near / opened, np.mean(chance))


# --- the week and the calendar -------------------------------------------------------


def test_people_leave_on_workday_mornings(week_events: list[HomeEvents]) -> None:
    rates = departures(week_events)
    # Departures 05:00-09:30 per person and morning, every household (retired
    # people and children too): workdays 0.65 (283 person-mornings), weekends
    # 0.06 (118). Other seeds: 0.50-0.65 and 0.01-0.06.
    assert rates["workday"] >= 0.35, rates
    assert rates["weekend"] <= 0.25 * rates["workday"], rates


def test_public_holidays_are_free_days(holiday_events: list[HomeEvents]) -> None:
    rates = departures(holiday_events)
    # Measured: workdays 0.67 (76 person-mornings), holidays 0 (26). Other
    # seeds: 0.50-0.63 and 0-0.02.
    assert rates["workday"] >= 0.35, rates
    assert rates["holiday"] <= 0.25 * rates["workday"], rates


# --- the weather -------------------------------------------------------------------


def outdoor_temperature(home: SyntheticHome) -> tuple[np.ndarray, np.ndarray]:
    """Return the external outdoor temperature series (POSIX s, °C)."""
    table = home.external
    mask = pc.equal(table["series"].cast(pa.string()), "outdoor_temperature")
    rows = table.filter(mask)
    return rows["time"].cast(pa.int64()).to_numpy() / 1e6, rows["value"].to_numpy()


def heating_share(home: SyntheticHome) -> float | None:
    """Return the share of climate entities' time spent heating, or None."""
    events = home.events
    mask = pc.starts_with(events["entity_id"].cast(pa.string()), "climate.")
    rows = events.filter(mask)
    if not rows.num_rows:
        return None
    heating, total = 0.0, 0.0
    ids = np.array(rows["entity_id"].cast(pa.string()).to_pylist(), dtype=object)
    times = rows["last_updated"].cast(pa.int64()).to_numpy() / 1e6
    attributes = rows["attributes"].cast(pa.string()).to_pylist()
    actions = np.array(
        [None if a is None else json.loads(a).get("hvac_action") for a in attributes],
        dtype=object,
    )
    for entity_id in np.unique(ids):
        mine = ids == entity_id
        lengths = np.diff(np.r_[times[mine], home.end])
        heating += float(lengths[actions[mine] == "heating"].sum())
        total += float(lengths.sum())
    return heating / total


def celsius(values: np.ndarray, unit: str | None) -> np.ndarray:
    return (values - 32) / 1.8 if unit == "°F" else values


def ranks(values: np.ndarray) -> np.ndarray:
    return np.argsort(np.argsort(values))


def test_heating_runs_when_it_is_cold(week_homes: list[SyntheticHome]) -> None:
    outdoor, heating = [], []
    for home in week_homes:
        share = heating_share(home)
        if share is not None:
            outdoor.append(float(outdoor_temperature(home)[1].mean()))
            heating.append(share)
    outside, heats = np.array(outdoor), np.array(heating)
    # Measured: the 13 homes below 5 °C heat 52-100 % of the time (the colder,
    # the longer), the 6 between 8 and 15 °C 11-38 %, the 2 above 17 °C (an
    # Australian summer) never; Spearman -0.98 (-0.97 to -0.99 at other seeds).
    cold, mild, warm = outside < 5, (outside > 8) & (outside < 15), outside > 17
    assert cold.sum() >= 5, outside
    assert mild.sum() >= 3, outside
    assert heats[cold].min() >= 0.45, (outside, heats)
    assert heats[mild].min() >= 0.05, (outside, heats)  # heating, part of the time
    assert heats[mild].max() <= 0.5, (outside, heats)
    assert heats[warm].max(initial=0) <= 0.1, (outside, heats)
    spearman = np.corrcoef(ranks(outside), ranks(heats))[0, 1]
    assert spearman <= -0.85, spearman


def test_temperatures_follow_the_weather(week_events: list[HomeEvents]) -> None:
    outside, inside = [], []
    for events in week_events:
        home = events.home
        weather_times, weather = outdoor_temperature(home)
        kinds = area_kinds(home.inventory)
        for device in home.inventory.devices:
            for entity in device.entities:
                kind = kinds.get(entity.entity_id)
                if entity.device_class != "temperature" or "pool" in entity.entity_id:
                    continue
                times, values = numeric(*events.rows(entity.entity_id))
                if len(values) < 24:
                    continue
                values = celsius(values, entity.unit)
                expected = np.interp(times, weather_times, weather)
                if kind in {"garden", "porch", "balcony"}:
                    outside.append(
                        (
                            np.corrcoef(values, expected)[0, 1],
                            np.abs(values - expected).mean(),
                        )
                    )
                elif kind != "garage" and weather.mean() < 5:
                    inside.append(float(np.median(values - expected)))
    # Outdoor sensors (5) follow the weather: correlation 0.985-0.996, 0.4-1.1 °C
    # apart on average (0.97-0.997 at other seeds). Indoors, heating holds the
    # rooms in the cold: 53 rooms, median 21.6 °C above the outdoors (18-21 at
    # other seeds).
    # (Devices without an area are not counted: fewer than before.)
    assert len(outside) >= 2, outside
    assert min(c for c, _ in outside) >= 0.9, outside
    assert max(d for _, d in outside) <= 2.5, outside
    assert len(inside) >= 20
    assert np.median(inside) >= 12, np.median(inside)
