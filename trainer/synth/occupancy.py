"""Who is home, awake, and where: the schedules that drive a home's events.

Every occupant has a profile (commuter, remote worker, shift worker, retired,
child) that draws, per local day, when they wake, leave, come back and sleep;
weekends, public holidays and a household vacation change the pattern. From the
people at home and awake, each area gets an activity rate per minute (kitchen at
meal times, bedrooms at night and in the morning, the office on remote work days,
the garden when it is warm and dry …), and motion "triggers" are drawn from it:
the raw movements that motion sensors, lights and doors react to.
"""

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .clock import MINUTES_PER_DAY, TimeGrid

# Per area kind: base weight and (hour, width in hours, weight) bumps of the day.
AREA_PROFILES: dict[str, tuple[float, tuple[tuple[float, float, float], ...]]] = {
    "living_room": (0.25, ((19.5, 2.2, 1.0), (13.0, 2.0, 0.3), (9.0, 1.5, 0.2))),
    "kitchen": (0.1, ((7.3, 0.7, 0.8), (12.5, 0.8, 0.6), (18.5, 1.0, 0.9))),
    "dining_room": (0.03, ((7.5, 0.5, 0.2), (12.7, 0.6, 0.3), (19.0, 0.8, 0.6))),
    "bedroom": (0.05, ((7.0, 0.6, 0.6), (22.5, 0.7, 0.8))),
    "kids_room": (0.08, ((16.5, 2.0, 0.5), (20.0, 0.8, 0.4))),
    "guest_room": (0.01, ()),
    "bathroom": (0.05, ((7.0, 0.6, 0.9), (22.3, 0.6, 0.6))),
    "toilet": (0.05, ((7.5, 1.0, 0.2),)),
    "hallway": (0.08, ((7.5, 1.0, 0.3), (18.0, 1.5, 0.2))),
    "landing": (0.06, ((7.0, 0.8, 0.3), (22.5, 0.8, 0.3))),
    "office": (0.02, ((20.5, 1.5, 0.1),)),
    "laundry": (0.03, ((11.0, 2.0, 0.15),)),
    "garage": (0.02, ()),
    "basement": (0.03, ()),
    "utility_room": (0.02, ()),
    "attic": (0.005, ()),
    "storage": (0.01, ()),
    "garden": (0.02, ((16.0, 3.0, 0.4),)),
    "porch": (0.02, ()),
    "balcony": (0.02, ((18.0, 2.0, 0.2),)),
    "conservatory": (0.05, ((15.0, 3.0, 0.3),)),
}
OUTDOOR_KINDS = frozenset({"garden", "porch", "balcony"})
PET_KINDS = frozenset({"living_room", "kitchen", "hallway", "dining_room"})
TRIGGERS_PER_MINUTE = 0.6  # PIR detections while someone moves about a room


@lru_cache(maxsize=32)
def area_profile(kind: str) -> np.ndarray:
    """Return the weight of `kind` for each minute of the local day."""
    base, bumps = AREA_PROFILES[kind]
    hours = np.arange(MINUTES_PER_DAY) / 60.0
    weight = np.full(MINUTES_PER_DAY, base)
    for centre, width, height in bumps:
        distance = np.minimum(abs(hours - centre), 24 - abs(hours - centre))
        weight += height * np.exp(-0.5 * (distance / width) ** 2)
    return weight


@dataclass(frozen=True, slots=True)
class People:
    """The household over the window (arrays per minute slot)."""

    home: np.ndarray  # (people, slots) bool
    awake: np.ndarray  # (people, slots) bool
    working: np.ndarray  # (slots,) people working from home
    drives: np.ndarray  # (people,) uses the car (and the garage door)
    vacation: tuple[float, float] | None  # slots

    @property
    def n_home(self) -> np.ndarray:
        """Return the number of people home per slot."""
        return self.home.sum(axis=0)

    @property
    def n_active(self) -> np.ndarray:
        """Return the number of people home and awake per slot."""
        return (self.home & self.awake).sum(axis=0)

    def moves(self, person: int) -> tuple[np.ndarray, np.ndarray]:
        """Return the slots where `person` leaves and where they come back."""
        home = self.home[person].astype(np.int8)
        change = np.diff(home)
        return np.flatnonzero(change < 0) + 1.0, np.flatnonzero(change > 0) + 1.0


def _mark(n: int, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Return a bool array over `n` slots, True inside any [start, end)."""
    starts = np.clip(np.round(starts).astype(np.int64), 0, n)
    ends = np.clip(np.round(ends).astype(np.int64), 0, n)
    keep = ends > starts
    diff = np.zeros(n + 1, dtype=np.int32)
    np.add.at(diff, starts[keep], 1)
    np.add.at(diff, ends[keep], -1)
    return np.cumsum(diff[:-1]) > 0


@dataclass(slots=True)
class _Day:
    """One person's drawn day times (local minutes) for every local day."""

    wake: np.ndarray
    sleep: np.ndarray
    away_start: list[np.ndarray]
    away_end: list[np.ndarray]
    away_day: list[np.ndarray]
    work_home: np.ndarray  # bool per day: works from home 9-17


# Shift rota: (wake, sleep, leave, back) as (mean, sd) local minutes; early, late,
# night. A night worker sleeps into the next morning and comes back after midnight.
SHIFTS = (
    ((285, 10), (1290, 20), (315, 10), (880, 15)),
    ((510, 30), (1440, 25), (800, 10), (1350, 15)),
    ((840, 30), (1890, 20), (1290, 10), (1840, 15)),
)


def _shift_times(
    rng: np.random.Generator, rota: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return wake, sleep, leave and return times per day of a shift rota."""
    times = []
    for column in range(4):
        mean = np.array([SHIFTS[r][column][0] for r in range(3)])[rota]
        sd = np.array([SHIFTS[r][column][1] for r in range(3)])[rota]
        times.append(rng.normal(mean, sd))
    return times[0], times[1], times[2], times[3]


def _person_days(
    rng: np.random.Generator, profile: str, grid: TimeGrid, index: int
) -> _Day:
    days = grid.n_days
    day_ids = np.arange(-1, grid.days + 1)
    free = grid.free_day()
    work = ~free
    normal = rng.normal
    uniform = rng.uniform
    away_start: list[np.ndarray] = []
    away_end: list[np.ndarray] = []
    away_day: list[np.ndarray] = []

    def away(mask: np.ndarray, start: np.ndarray, end: np.ndarray) -> None:
        away_start.append(start[mask])
        away_end.append(end[mask])
        away_day.append(day_ids[mask])

    work_home = np.zeros(days, dtype=bool)
    if profile == "child":
        wake = np.where(work, normal(410, 12, days), normal(480, 40, days))
        sleep = np.where(
            np.roll(work, -1), normal(1230, 25, days), normal(1290, 30, days)
        )
        away(work, wake + uniform(35, 55, days), normal(940, 30, days))
    elif profile == "retired":
        wake = normal(450, 30, days)
        sleep = normal(1340, 30, days)
        start = uniform(560, 720, days)
        away(rng.random(days) < 0.65, start, start + uniform(45, 150, days))
        start = uniform(900, 1020, days)
        away(rng.random(days) < 0.4, start, start + uniform(30, 90, days))
    elif profile == "shift":
        wake, sleep, leave, back = _shift_times(rng, (day_ids // 7 + index) % 3)
        away(rng.random(days) < 0.72, leave, back)
    else:  # commuter and remote
        wake = np.where(
            work,
            normal(400 if profile == "commuter" else 440, 20, days),
            normal(500, 40, days),
        )
        sleep = np.where(
            np.roll(work, -1), normal(1385, 25, days), normal(1430, 40, days)
        )
        if profile == "commuter":
            office = work & (rng.random(days) >= 0.2)
            work_home = work & ~office
            away(office, wake + uniform(40, 80, days), normal(1070, 45, days))
        else:
            office = work & (rng.random(days) < 0.1)
            work_home = work & ~office
            away(office, wake + uniform(40, 80, days), normal(1060, 45, days))
            start = uniform(700, 800, days)
            away(
                work_home & (rng.random(days) < 0.3),
                start,
                start + uniform(20, 60, days),
            )
        start = uniform(600, 900, days)
        away(free & (rng.random(days) < 0.7), start, start + uniform(60, 240, days))
    start = normal(1170, 30, days)
    evening = rng.random(days) < np.where(free, 0.3, 0.1)
    if profile != "child":
        away(evening, start, np.minimum(start + uniform(120, 240, days), sleep - 10))
    return _Day(wake, sleep, away_start, away_end, away_day, work_home)


def simulate_people(
    rng: np.random.Generator,
    grid: TimeGrid,
    profiles: tuple[str, ...],
    drive_share: float,
) -> People:
    """Draw the household's schedules over the window."""
    n = grid.n
    day_ids = np.arange(-1, grid.days + 1)
    vacation: tuple[float, float] | None = None
    if rng.random() < 1 - np.exp(-grid.days / 150):
        begin = rng.uniform(-3, grid.days - 2) * MINUTES_PER_DAY
        vacation = (begin, begin + rng.uniform(3, 12) * MINUTES_PER_DAY)
    homes, awakes = [], []
    working = np.zeros(n, dtype=np.int32)
    first_away: tuple[np.ndarray, np.ndarray] | None = None
    free = grid.free_day()
    for index, profile in enumerate(profiles):
        day = _person_days(rng, profile, grid, index)
        asleep_start = grid.slot(day_ids[:-1], day.sleep[:-1])
        asleep_end = grid.slot(day_ids[1:], day.wake[1:])
        starts = [
            grid.slot(d, s) for d, s in zip(day.away_day, day.away_start, strict=True)
        ]
        ends = [
            grid.slot(d, e) for d, e in zip(day.away_day, day.away_end, strict=True)
        ]
        away_start = np.concatenate(starts) if starts else np.zeros(0)
        away_end = np.concatenate(ends) if ends else np.zeros(0)
        if profile == "child" and first_away is not None:
            # Children join the family's outings on free days.
            on_free = free[
                np.clip(
                    ((first_away[0] + 720) // MINUTES_PER_DAY).astype(int) + 1,
                    0,
                    len(free) - 1,
                )
            ]
            away_start = np.r_[away_start, first_away[0][on_free]]
            away_end = np.r_[away_end, first_away[1][on_free]]
        if index == 0:
            first_away = (away_start, away_end)
        if vacation is not None:
            away_start = np.r_[away_start, vacation[0]]
            away_end = np.r_[away_end, vacation[1]]
        home = ~_mark(n, away_start, away_end)
        awake = ~_mark(n, asleep_start, asleep_end)
        homes.append(home)
        awakes.append(awake)
        work_days = day_ids[day.work_home]
        if len(work_days):
            at_work = _mark(
                n,
                grid.slot(work_days, np.full(len(work_days), 540)),
                grid.slot(work_days, np.full(len(work_days), 1020)),
            )
            working += at_work & home & awake
    drive_p = {"commuter": drive_share, "shift": 0.8, "retired": 0.6, "remote": 0.6}
    drives = np.array([rng.random() < drive_p.get(p, 0.0) for p in profiles])
    return People(np.array(homes), np.array(awakes), working, drives, vacation)


def area_rates(
    grid: TimeGrid,
    people: People,
    kinds: list[str],
    outdoor_factor: np.ndarray,
    pets: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Return motion triggers per minute, per area (rows) and slot (columns).

    The first array is people up and about (what switches lights on); the second
    is what only a motion sensor notices: sleepers turning over, pets.
    """
    n_active = people.n_active.astype(np.float64)
    n_working = np.minimum(people.working, n_active)
    general = n_active - n_working
    minute = grid.local_minute
    weights = np.empty((len(kinds), grid.n))
    for row, kind in enumerate(kinds):
        weights[row] = area_profile(kind)[minute]
        if kind in OUTDOOR_KINDS:
            weights[row] *= outdoor_factor
    total = weights.sum(axis=0)
    total[total == 0] = 1.0
    rates = weights * (general * TRIGGERS_PER_MINUTE / total)
    asleep_home = (people.home & ~people.awake).sum(axis=0)
    offices = [i for i, k in enumerate(kinds) if k == "office"]
    bedrooms = [i for i, k in enumerate(kinds) if k in {"bedroom", "kids_room"}]
    living = [i for i, k in enumerate(kinds) if k == "living_room"]
    for i in offices:
        rates[i] += n_working * 1.2 / len(offices)
    if not offices and living:
        rates[living[0]] += n_working * 0.8
    other = np.zeros_like(rates)
    for i in bedrooms:
        other[i] += asleep_home * 0.01 / len(bedrooms)
    if pets:
        for i, kind in enumerate(kinds):
            if kind in PET_KINDS:
                other[i] += 0.04
    return rates, other


def draw_triggers(
    rng: np.random.Generator, rate: np.ndarray, scale: float = 1.0
) -> np.ndarray:
    """Return sorted trigger times (seconds) of a Poisson process with `rate`/min.

    Drawn through the cumulative intensity, so the cost follows the number of
    triggers rather than the number of slots.
    """
    if not rate.any():
        return np.zeros(0)
    cumulative = np.cumsum(rate * scale)
    total = float(cumulative[-1]) if len(cumulative) else 0.0
    count = int(rng.poisson(total))
    if not count:
        return np.zeros(0)
    u = np.sort(rng.uniform(0.0, total, count))
    slot = np.searchsorted(cumulative, u, side="right")
    slot = np.minimum(slot, len(rate) - 1)
    before = np.where(slot > 0, cumulative[slot - 1], 0.0)
    fraction = np.clip((u - before) / np.maximum(rate[slot] * scale, 1e-12), 0, 1)
    return (slot + fraction) * 60.0


def episodes(
    times: np.ndarray, gap: float, hold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Group sorted `times` separated by less than `gap` into [start, end+hold)."""
    if not len(times):
        return np.zeros(0), np.zeros(0)
    breaks = np.flatnonzero(np.diff(times) >= gap)
    starts = times[np.r_[0, breaks + 1]]
    ends = times[np.r_[breaks, len(times) - 1]] + hold
    return starts, ends
