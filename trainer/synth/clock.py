"""The simulation clock: a one-minute grid over the window, in the home's local time.

The window starts at midnight UTC of the start date. Each minute slot knows its
local minute of the day and local day (daylight saving time included, from the
IANA time zone), and each local day its weekday and whether it is a public
holiday; the sun's elevation comes from the latitude and the day of the year.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

MINUTES_PER_DAY = 1440


@dataclass(frozen=True, slots=True)
class TimeGrid:
    """Minute slots from the window start; times elsewhere are in seconds."""

    start: float  # POSIX seconds of slot 0
    days: int
    local_minute: np.ndarray  # per slot, 0..1439
    local_day: np.ndarray  # per slot, days since the start date (-1 … days)
    offset: np.ndarray  # per local day index + 1: UTC offset in minutes
    weekday: np.ndarray  # per local day index + 1: 0 = Monday
    holiday: np.ndarray  # per local day index + 1
    sun: np.ndarray  # per slot: sine of the sun's elevation

    @property
    def n(self) -> int:
        """Return the number of slots."""
        return self.days * MINUTES_PER_DAY

    @property
    def n_days(self) -> int:
        """Return the number of local days touched (one before, one after)."""
        return self.days + 2

    def slot(self, day: np.ndarray, minute: np.ndarray) -> np.ndarray:
        """Return the (fractional) slot of local `minute` on local `day`."""
        day = np.asarray(day)
        return day * MINUTES_PER_DAY + np.asarray(minute) - self.offset[day + 1]

    def free_day(self) -> np.ndarray:
        """Return, per local day index + 1, whether it is a weekend or holiday."""
        return (self.weekday >= 5) | self.holiday

    def dark(self, threshold: float = 0.05) -> np.ndarray:
        """Return per slot whether it is dark enough for lights indoors."""
        return self.sun < threshold


@lru_cache(maxsize=64)
def _offsets(time_zone: str, start: date, days: int) -> tuple[np.ndarray, np.ndarray]:
    """Return UTC offsets (minutes) per hour and per local day of the window."""
    zone = ZoneInfo(time_zone)
    origin = datetime(start.year, start.month, start.day, tzinfo=UTC)
    hourly = np.array(
        [
            (origin + timedelta(hours=h)).astimezone(zone).utcoffset().total_seconds()
            // 60
            for h in range(days * 24)
        ],
        dtype=np.int64,
    )
    daily = np.array(
        [
            datetime.combine(start + timedelta(days=d), datetime.min.time(), zone)
            .replace(hour=12)
            .utcoffset()
            .total_seconds()
            // 60
            for d in range(-1, days + 1)
        ],
        dtype=np.int64,
    )
    return hourly, daily


@dataclass(frozen=True, slots=True)
class _Calendar:
    """What a grid takes from its time zone and window, shared by many homes."""

    local_minute: np.ndarray
    local_day: np.ndarray
    offset: np.ndarray
    weekday: np.ndarray
    sin_declination: np.ndarray  # per slot
    cos_declination_hour: np.ndarray  # per slot: cos(declination)·cos(hour angle)


def _frozen(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False  # cached and shared: nobody may write to it
    return array


@lru_cache(maxsize=32)  # every time zone the catalog has
def _calendar(time_zone: str, start: date, days: int) -> _Calendar:
    hourly, daily = _offsets(time_zone, start, days)
    slots = np.arange(days * MINUTES_PER_DAY, dtype=np.int64)
    local = slots + np.repeat(hourly, 60)
    dates = [start + timedelta(days=d) for d in range(-1, days + 1)]
    # The sun: declination by day of year, hour angle by local solar time.
    year_day = (start - date(start.year, 1, 1)).days + slots / MINUTES_PER_DAY
    declination = np.radians(-23.44) * np.cos(2 * np.pi * (year_day + 10) / 365.25)
    standard = hourly.min()
    solar_minute = (slots + standard + 15) % MINUTES_PER_DAY
    hour_angle = (solar_minute / MINUTES_PER_DAY - 0.5) * 2 * np.pi
    return _Calendar(
        local_minute=_frozen((local % MINUTES_PER_DAY).astype(np.int32)),
        local_day=_frozen((local // MINUTES_PER_DAY).astype(np.int32)),
        offset=_frozen(daily),
        weekday=_frozen(np.array([d.weekday() for d in dates], dtype=np.int64)),
        sin_declination=_frozen(np.sin(declination)),
        cos_declination_hour=_frozen(np.cos(declination) * np.cos(hour_angle)),
    )


def make_grid(
    time_zone: str,
    latitude: float,
    start: date,
    days: int,
    holidays: tuple[tuple[int, int], ...],
) -> TimeGrid:
    """Return the clock of a home in `time_zone` at `latitude`."""
    calendar = _calendar(time_zone, start, days)
    dates = [start + timedelta(days=d) for d in range(-1, days + 1)]
    holiday = np.array([(d.month, d.day) in holidays for d in dates], dtype=bool)
    lat = np.radians(latitude)
    sun = (
        np.sin(lat) * calendar.sin_declination
        + np.cos(lat) * calendar.cos_declination_hour
    )
    start_posix = datetime(start.year, start.month, start.day, tzinfo=UTC).timestamp()
    return TimeGrid(
        start=start_posix,
        days=days,
        local_minute=calendar.local_minute,
        local_day=calendar.local_day,
        offset=calendar.offset,
        weekday=calendar.weekday,
        holiday=holiday,
        sun=sun,
    )


def lowpass(
    values: np.ndarray, steps: float, initial: float | None = None
) -> np.ndarray:
    """Return the first-order low-pass of `values` with time constant `steps`.

    y[i] = a·y[i-1] + (1-a)·x[i], computed blockwise in closed form (no loop per
    element) so that the growing powers of a stay finite.
    """
    x = np.asarray(values, dtype=np.float64)
    a = float(np.exp(-1.0 / max(steps, 1e-9)))
    out = np.empty_like(x)
    y = float(x[0] if initial is None else initial)
    block = max(1, min(len(x), int(50 * max(steps, 1.0))))
    for begin in range(0, len(x), block):
        chunk = x[begin : begin + block]
        k = np.arange(1, len(chunk) + 1)
        scale = a ** (-k.astype(np.float64))
        acc = np.cumsum((1 - a) * chunk * scale)
        res = a**k * (y + acc)
        out[begin : begin + len(chunk)] = res
        y = float(res[-1])
    return out
