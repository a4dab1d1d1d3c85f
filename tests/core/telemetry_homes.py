"""Small hand-made homes and event streams shared by the telemetry tests."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from homeiq_core.aggregator import TelemetryAggregator
from homeiq_core.dataset import Area, Device, Entity, Floor, Inventory
from homeiq_core.rollups import DayRollup

TZ = "Europe/Amsterdam"


def at(text: str, zone: str = TZ) -> float:
    """Return POSIX seconds of a local wall-clock time 'YYYY-MM-DD HH:MM[:SS]'."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp()


def device(device_id: str, *entities: Entity, **kwargs: object) -> Device:
    fields = {
        "name": device_id,
        "manufacturer": None,
        "model": None,
        "protocol": "zigbee",
        "power_source": "battery",
        "area_id": None,
    }
    fields.update(kwargs)
    return Device(device_id, entities=entities, **fields)  # type: ignore[arg-type]


def climate(n: int) -> Device:
    """A Zigbee climate sensor: temperature (primary), humidity, battery, LQI."""
    return device(
        f"climate{n}",
        Entity(f"sensor.t{n}", "sensor", "temperature", "°C"),
        Entity(f"sensor.h{n}", "sensor", "humidity", "%"),
        Entity(f"sensor.t{n}_battery", "sensor", "battery", "%"),
        Entity(f"sensor.t{n}_linkquality", "sensor", None, "lqi"),
    )


def motion(n: int) -> Device:
    return device(
        f"motion{n}",
        Entity(f"binary_sensor.m{n}", "binary_sensor", "motion", None),
    )


def plug(n: int, power_unit: str = "W", energy_unit: str = "kWh") -> Device:
    return device(
        f"plug{n}",
        Entity(f"switch.p{n}", "switch"),
        Entity(f"sensor.p{n}_power", "sensor", "power", power_unit),
        Entity(f"sensor.p{n}_energy", "sensor", "energy", energy_unit),
        protocol="wifi",
        power_source="mains",
    )


def tv(n: int) -> Device:
    return device(
        f"tv{n}",
        Entity(f"media_player.tv{n}", "media_player"),
        Entity(f"sensor.tv{n}_rssi", "sensor", "signal_strength", "dBm"),
        protocol="wifi",
        power_source="mains",
    )


def home(*devices: Device, zone: str = TZ, loose: tuple[Entity, ...] = ()) -> Inventory:
    return Inventory(
        "test-home",
        zone,
        floors=(Floor("ground", "Ground", 0),),
        areas=(Area("kitchen", "Kitchen", "ground"),),
        devices=devices,
        entities=loose,
    )


Stream = list[tuple[str, str, dict | None, float]]


def feed(aggregator: TelemetryAggregator, events: Stream) -> list[bool]:
    return [aggregator.record(*event) for event in events]


def one_day(inventory: Inventory, events: Stream, day: str = "2026-01-05") -> DayRollup:
    """Replay `events` (all inside `day`), watching from its midnight; return it."""
    zone = inventory.time_zone
    aggregator = TelemetryAggregator(inventory, start=at(f"{day} 00:00", zone))
    feed(aggregator, events)
    following = date.fromisoformat(day) + timedelta(days=1)
    assert aggregator.advance_to(at(f"{following} 00:00", zone)) == 1
    (rollup,) = aggregator.history
    assert rollup.day == day
    return rollup
