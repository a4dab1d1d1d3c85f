"""Outdoor weather, the external series, and the indoor climate it drives.

Outdoor temperature is the place's seasonal mean, a multi-day weather anomaly
and a daily cycle damped by clouds; clouds, rain and humidity follow slow random
processes. The indoor temperature of each climate zone follows the outdoors
through the building's inertia, plus the heat of people and sun, and is held at
the thermostat's set point (comfort when someone is awake at home, set back at
night and when away) whenever heating or cooling runs.
"""

from dataclasses import dataclass

import numpy as np

from .catalog import Place, Region
from .clock import MINUTES_PER_DAY, TimeGrid, lowpass

STEP = 10  # minutes per step of the indoor model


@dataclass(frozen=True, slots=True)
class Weather:
    """Outdoor conditions per minute slot (°C, %, 0..1 cloud cover, rain)."""

    temperature: np.ndarray
    humidity: np.ndarray
    cloud: np.ndarray
    rain: np.ndarray


def _hourly_noise(
    rng: np.random.Generator, hours: int, steps: float, sd: float
) -> np.ndarray:
    white = rng.normal(0.0, sd * np.sqrt(2 * steps), hours + int(4 * steps))
    return lowpass(white, steps)[-hours:]


def simulate_weather(rng: np.random.Generator, grid: TimeGrid, place: Place) -> Weather:
    """Draw the weather of the window at `place`."""
    hours = grid.days * 24 + 1
    t_hour = np.arange(hours)
    year_day = grid.start / 86400 % 365.25 + t_hour / 24
    peak = 200 if place.latitude >= 0 else 17
    seasonal = place.mean_temperature + place.seasonal_swing * np.cos(
        2 * np.pi * (year_day - peak) / 365.25
    )
    anomaly = _hourly_noise(rng, hours, 60.0, 3.0)
    cloud = 1 / (1 + np.exp(-(1.6 * _hourly_noise(rng, hours, 10.0, 1.0) + 0.2)))
    rain = (cloud > 0.75) & (rng.random(hours) < 0.55)
    slots = np.arange(grid.n) / 60.0
    local_hour = grid.local_minute / 60.0
    diurnal = -np.cos(2 * np.pi * (local_hour - 3.0) / 24)  # low ~03-06, high ~15
    cloud_slots = np.interp(slots, t_hour, cloud)
    temperature = np.interp(
        slots, t_hour, seasonal + anomaly - 1.5 * rain
    ) + 3.5 * diurnal * (1 - 0.6 * cloud_slots)
    rain_slots = rain[np.minimum(slots.astype(np.int64), hours - 1)]
    humidity = np.clip(
        place.humidity
        + 18 * (cloud_slots - 0.5)
        + 12 * rain_slots
        - 9 * diurnal
        + np.interp(slots, t_hour, _hourly_noise(rng, hours, 6.0, 4.0)),
        12,
        100,
    )
    return Weather(temperature, humidity, cloud_slots, rain_slots)


def weather_condition(grid: TimeGrid, weather: Weather) -> np.ndarray:
    """Return HA's weather condition per hour (strings)."""
    hourly = np.arange(0, grid.n, 60)
    cloud = weather.cloud[hourly]
    rain = weather.rain[hourly]
    temp = weather.temperature[hourly]
    dark = grid.sun[hourly] < 0
    condition = np.where(
        cloud < 0.35,
        np.where(dark, "clear-night", "sunny"),
        np.where(cloud < 0.65, "partlycloudy", "cloudy"),
    )
    condition = np.where(rain, np.where(cloud > 0.93, "pouring", "rainy"), condition)
    condition = np.where(rain & (temp < 0.5), "snowy", condition)
    foggy = (weather.humidity[hourly] > 97) & (grid.local_minute[hourly] < 600)
    return np.where(foggy & ~rain, "fog", condition)


_CARBON = {"eu": 260.0, "uk": 190.0, "us": 390.0, "au": 560.0}
_PRICE = {"eu": 0.28, "uk": 0.27, "us": 0.16, "au": 0.30}


def external_series(
    rng: np.random.Generator, grid: TimeGrid, weather: Weather, region: Region
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return hourly (time seconds, series name, value) rows of the home's series."""
    hourly = np.arange(0, grid.n, 60)
    n = len(hourly)
    local = grid.local_minute[hourly] / 60.0
    sunny = np.clip(grid.sun[hourly], 0, None) * (1 - weather.cloud[hourly])
    demand = (
        1
        + 0.15 * np.exp(-0.5 * ((local - 8) / 1.5) ** 2)
        + 0.25 * np.exp(-0.5 * ((local - 19) / 2) ** 2)
    )
    carbon = (
        _CARBON[region.name]
        * demand
        * (1 - 0.35 * sunny)
        * np.exp(_hourly_noise(rng, n, 8.0, 0.12))
    )
    price = (
        _PRICE[region.name]
        * (demand - 0.3 * sunny)
        * np.exp(_hourly_noise(rng, n, 12.0, 0.15))
    )
    series = {
        "outdoor_temperature": np.round(weather.temperature[hourly], 1),
        "outdoor_humidity": np.round(weather.humidity[hourly], 0),
        "carbon_intensity": np.round(carbon, 0),
        "electricity_price": np.round(price, 4),
    }
    times = np.tile(hourly * 60.0, len(series))
    names = np.repeat(np.array(list(series), dtype=object), n)
    values = np.concatenate(list(series.values()))
    order = np.argsort(times, kind="stable")
    return times[order], names[order], values[order]


@dataclass(frozen=True, slots=True)
class Indoor:
    """A climate zone's temperature and its heating/cooling, per indoor step."""

    temperature: np.ndarray  # °C per STEP minutes
    target: np.ndarray  # set point °C
    mode: np.ndarray  # 0 off, 1 heat, 2 cool
    demand: np.ndarray  # 0..1 how hard heating/cooling works


def free_temperature(
    grid: TimeGrid, weather: Weather, n_home: np.ndarray, inertia_hours: float
) -> np.ndarray:
    """Return the unheated indoor temperature per indoor step (°C)."""
    outdoor = weather.temperature[::STEP]
    sun = np.clip(grid.sun[::STEP], 0, None) * (1 - weather.cloud[::STEP])
    gains = 3.0 + 0.8 * n_home[::STEP] + 2.5 * sun
    return lowpass(
        outdoor + gains, inertia_hours * 60 / STEP, initial=outdoor[:144].mean() + 4
    )


def zone_climate(
    free: np.ndarray,
    comfort: float,
    occupied: np.ndarray,
    asleep: np.ndarray,
    *,
    season: np.ndarray,
    cooling: bool,
    ripple: float = 7.0,
) -> Indoor:
    """Return one zone's indoor climate under its thermostat's schedule.

    `occupied` and `asleep` are per indoor step; `season` is the outdoor daily
    mean per step (heating below 15.5 °C, cooling above 22 °C when `cooling`);
    `ripple` is the period (steps) of the room's swing around its set point.
    """
    heat_on = season < 15.5
    cool_on = cooling & (season > 22.0)
    target = np.where(occupied, comfort, comfort - 3.0)
    target = np.where(asleep, comfort - 2.0, target)
    cool_target = np.where(occupied | asleep, comfort + 3.5, comfort + 6.0)
    target = np.where(cool_on, cool_target, target)
    driven = np.where(heat_on, np.maximum(free, target), free)
    driven = np.where(cool_on, np.minimum(driven, target), driven)
    temperature = lowpass(driven, 90 / STEP, initial=driven[0])
    mode = np.where(cool_on, 2, np.where(heat_on, 1, 0))
    gap = np.where(mode == 1, target - free, np.where(mode == 2, free - target, 0.0))
    # Heating is sized to run flat out only in a design frost (about 24 °C below
    # the set point): on a 0 °C day it runs two thirds of the time, not always.
    demand = np.clip(gap / 24.0, 0.0, 1.0)
    # Held at its set point, a room still swings with the heating's cycles.
    steps = np.arange(len(temperature))
    swing = 0.3 * np.sin(2 * np.pi * steps / ripple) * (demand > 0)
    return Indoor(temperature + swing, target, mode, demand)


def daily_mean(values: np.ndarray, per_day: int) -> np.ndarray:
    """Return the trailing one-day mean of `values` (`per_day` samples a day)."""
    kernel = np.ones(per_day) / per_day
    padded = np.r_[np.full(per_day - 1, values[:per_day].mean()), values]
    return np.convolve(padded, kernel, mode="valid")


def steps_per_day() -> int:
    """Return the number of indoor steps per day."""
    return MINUTES_PER_DAY // STEP
