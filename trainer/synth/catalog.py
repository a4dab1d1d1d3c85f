"""What a synthetic home can contain: regions, device kinds and real-world models.

A region decides the clock (time zones and latitudes), the weather's climate, the
temperature unit, public holidays, floor names and which manufacturers and radio
protocols are common there. A device kind (motion sensor, smart plug …) lists the
models that make it; the same kind therefore differs from home to home in
manufacturer, model, protocol and power source.
"""

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, slots=True)
class Place:
    """A city a home can be in: its clock and its climate."""

    time_zone: str
    latitude: float
    mean_temperature: float  # annual mean, °C
    seasonal_swing: float  # half the difference between summer and winter, °C
    humidity: float  # mean relative humidity, %


@dataclass(frozen=True, slots=True)
class Region:
    """A part of the world with its own habits."""

    name: str
    places: tuple[Place, ...]
    fahrenheit: bool
    holidays: tuple[tuple[int, int], ...]  # (month, day)
    floor_names: tuple[str, str, str, str, str]  # basement, level 0, 1, 2, 3+
    cooling: float  # share of homes with air conditioning
    heating: tuple[float, float, float]  # TRVs, central thermostats, split units


REGIONS = {
    "eu": Region(
        "eu",
        (
            Place("Europe/Amsterdam", 52.4, 10.5, 7.5, 80),
            Place("Europe/Berlin", 52.5, 10.0, 9.5, 75),
            Place("Europe/Paris", 48.9, 12.5, 8.0, 75),
            Place("Europe/Stockholm", 59.3, 7.0, 10.5, 78),
            Place("Europe/Madrid", 40.4, 15.0, 10.0, 55),
            Place("Europe/Vienna", 48.2, 10.5, 10.0, 72),
        ),
        False,
        ((1, 1), (5, 1), (12, 25), (12, 26), (1, 6), (8, 15), (11, 1)),
        ("Basement", "Ground floor", "First floor", "Second floor", "Third floor"),
        0.15,
        (0.55, 0.4, 0.05),
    ),
    "uk": Region(
        "uk",
        (
            Place("Europe/London", 51.5, 11.5, 7.0, 78),
            Place("Europe/Dublin", 53.3, 10.0, 5.5, 82),
            Place("Europe/London", 53.5, 10.0, 6.5, 80),
        ),
        False,
        ((1, 1), (12, 25), (12, 26), (5, 4), (8, 31)),
        ("Basement", "Ground floor", "First floor", "Second floor", "Third floor"),
        0.05,
        (0.45, 0.55, 0.0),
    ),
    "us": Region(
        "us",
        (
            Place("America/New_York", 40.7, 13.0, 12.0, 65),
            Place("America/Chicago", 41.9, 10.5, 14.5, 70),
            Place("America/Denver", 39.7, 10.5, 12.0, 50),
            Place("America/Los_Angeles", 34.1, 18.5, 4.5, 65),
            Place("America/Phoenix", 33.4, 24.0, 10.5, 35),
            Place("America/Chicago", 29.8, 21.0, 8.5, 75),
        ),
        True,
        ((1, 1), (7, 4), (11, 26), (12, 25), (5, 25), (9, 7), (1, 19)),
        ("Basement", "Main floor", "Upstairs", "Second floor", "Third floor"),
        0.85,
        (0.0, 0.9, 0.1),
    ),
    "au": Region(
        "au",
        (
            Place("Australia/Sydney", -33.9, 18.0, 4.5, 65),
            Place("Australia/Melbourne", -37.8, 15.0, 5.0, 65),
            Place("Australia/Brisbane", -27.5, 21.0, 4.0, 68),
            Place("Australia/Perth", -31.9, 18.5, 5.5, 58),
        ),
        False,
        ((1, 1), (1, 26), (4, 25), (12, 25), (12, 26)),
        ("Basement", "Ground floor", "First floor", "Second floor", "Third floor"),
        0.75,
        (0.0, 0.25, 0.75),
    ),
}


@dataclass(frozen=True, slots=True)
class Model:
    """A product that implements a device kind."""

    manufacturer: str
    model: str
    protocol: str
    battery: str | None  # chemistry: coin, cr123a, alkaline, li-ion; None = mains
    regions: str = "eu uk us au"
    weight: float = 1.0
    features: frozenset[str] = field(default_factory=frozenset)

    @property
    def power_source(self) -> str:
        """Return HA's power source of the model."""
        if self.protocol == "unknown":  # a virtual device: a group, a template
            return "unknown"
        return "mains" if self.battery is None else "battery"


def _m(
    manufacturer: str,
    model: str,
    protocol: str,
    battery: str | None = None,
    *,
    regions: str = "eu uk us au",
    weight: float = 1.0,
    features: str = "",
) -> Model:
    return Model(
        manufacturer,
        model,
        protocol,
        battery,
        regions,
        weight,
        frozenset(features.split()),
    )


# Features: illuminance (motion sensors), power/energy (metering), rssi (a wifi or
# bluetooth signal entity), decimals2 (reports temperature to 0.01), hue (motion
# "off" is a message of its own).
MODELS: dict[str, tuple[Model, ...]] = {
    "motion": (
        _m("Aqara", "RTCGQ11LM", "zigbee", "coin", weight=3, features="illuminance"),
        _m(
            "Philips",
            "SML001",
            "zigbee",
            "alkaline",
            weight=2,
            features="illuminance hue",
        ),
        _m("IKEA", "E1745", "zigbee", "coin", regions="eu uk au", weight=2),
        _m("SONOFF", "SNZB-03", "zigbee", "coin", weight=1.5),
        _m(
            "Aeotec",
            "ZW100",
            "z-wave",
            "cr123a",
            regions="us au",
            weight=1.5,
            features="illuminance",
        ),
        _m("Zooz", "ZSE18", "z-wave", "cr123a", regions="us", weight=2),
        _m(
            "Fibaro",
            "FGMS-001",
            "z-wave",
            "cr123a",
            regions="eu uk",
            weight=1,
            features="illuminance",
        ),
        _m(
            "Eve",
            "Eve Motion",
            "thread",
            "alkaline",
            weight=0.8,
            features="illuminance",
        ),
        _m(
            "Shelly",
            "Shelly Motion 2",
            "wifi",
            "li-ion",
            regions="eu uk au",
            weight=0.5,
            features="rssi",
        ),
    ),
    "contact": (
        _m("Aqara", "MCCGQ11LM", "zigbee", "coin", weight=3),
        _m("SONOFF", "SNZB-04", "zigbee", "coin", weight=2),
        _m("IKEA", "E2013", "zigbee", "coin", regions="eu uk au", weight=1.5),
        _m(
            "Ring", "Contact Sensor (2nd Gen)", "z-wave", "coin", regions="us", weight=2
        ),
        _m("Ecolink", "DWZWAVE2.5-ECO", "z-wave", "coin", regions="us", weight=1.5),
        _m("Aeotec", "ZWA008", "z-wave", "coin", regions="eu uk us", weight=0.8),
        _m("Eve", "Eve Door & Window", "thread", "alkaline", weight=0.6),
    ),
    "climate_sensor": (
        _m("Aqara", "WSDCGQ11LM", "zigbee", "coin", weight=3, features="decimals2"),
        _m("SONOFF", "SNZB-02", "zigbee", "coin", weight=2),
        _m("Xiaomi", "LYWSD03MMC", "bluetooth", "coin", weight=2, features="rssi"),
        _m(
            "SwitchBot",
            "Meter Plus",
            "bluetooth",
            "alkaline",
            weight=1,
            features="rssi",
        ),
        _m(
            "Govee",
            "H5075",
            "bluetooth",
            "alkaline",
            regions="us au",
            weight=1,
            features="rssi",
        ),
        _m("Zooz", "ZSE44", "z-wave", "cr123a", regions="us", weight=1),
        _m("Aeotec", "ZWA039", "z-wave", "cr123a", regions="eu uk us", weight=0.6),
        _m("Eve", "Eve Weather", "thread", "alkaline", weight=0.6),
        _m(
            "Shelly",
            "Shelly H&T",
            "wifi",
            "cr123a",
            regions="eu uk",
            weight=0.6,
            features="rssi",
        ),
    ),
    "light": (
        _m("Philips", "LCT015", "zigbee", weight=3),
        _m("Philips", "LWA001", "zigbee", weight=2),
        _m("IKEA", "LED1836G9", "zigbee", None, regions="eu uk au", weight=2.5),
        _m("Innr", "RB 285 C", "zigbee", None, regions="eu uk", weight=1),
        _m("WiZ", "A60 Tunable White", "wifi", weight=1.2, features="rssi"),
        _m("LIFX", "A19", "wifi", None, regions="us au", weight=1, features="rssi"),
        _m("Nanoleaf", "Essentials A19", "thread", weight=0.6),
        _m("Zooz", "ZEN72", "z-wave", None, regions="us", weight=1.5),
        _m("Lutron", "PD-6WCL", "other", None, regions="us", weight=1.5),
        _m(
            "Shelly",
            "Shelly Dimmer 2",
            "wifi",
            None,
            regions="eu uk au",
            weight=0.8,
            features="rssi",
        ),
    ),
    "plug": (
        _m("IKEA", "E1603", "zigbee", None, regions="eu uk au", weight=2),
        _m(
            "Aqara",
            "SP-EUC01",
            "zigbee",
            None,
            regions="eu",
            weight=1.5,
            features="power energy",
        ),
        _m(
            "Innr",
            "SP 234",
            "zigbee",
            None,
            regions="eu uk",
            weight=1,
            features="power energy",
        ),
        _m(
            "Shelly",
            "Shelly Plug S",
            "wifi",
            None,
            regions="eu uk au",
            weight=2,
            features="power energy rssi",
        ),
        _m(
            "TP-Link",
            "HS110",
            "wifi",
            None,
            regions="eu uk us au",
            weight=1.5,
            features="power energy rssi",
        ),
        _m(
            "Sonoff",
            "S31",
            "wifi",
            None,
            regions="us",
            weight=1.5,
            features="power energy rssi",
        ),
        _m(
            "Aeotec",
            "ZW175",
            "z-wave",
            None,
            regions="us",
            weight=1.5,
            features="power energy",
        ),
        _m("Eve", "Eve Energy", "thread", weight=0.8, features="power energy"),
    ),
    "trv": (
        _m("Danfoss", "eTRV0100", "zigbee", "alkaline", regions="eu uk", weight=2),
        _m("Aqara", "SRTS-A01", "zigbee", "alkaline", regions="eu uk", weight=1.5),
        _m(
            "Eurotronic",
            "Spirit Z-Wave Plus",
            "z-wave",
            "alkaline",
            regions="eu",
            weight=1,
        ),
        _m(
            "tado",
            "Smart Radiator Thermostat",
            "other",
            "alkaline",
            regions="eu uk",
            weight=2,
        ),
        _m("Eve", "Eve Thermo", "thread", "alkaline", regions="eu uk", weight=0.8),
    ),
    "thermostat": (
        _m("ecobee", "SmartThermostat", "wifi", None, regions="us au", weight=3),
        _m("Google", "Nest Learning Thermostat", "wifi", None, weight=3),
        _m("Honeywell", "T6 Pro Z-Wave", "z-wave", None, regions="us", weight=1.5),
        _m("tado", "Smart Thermostat", "other", None, regions="eu uk", weight=2),
        _m(
            "Netatmo",
            "Smart Thermostat",
            "other",
            "alkaline",
            regions="eu uk",
            weight=1.5,
        ),
    ),
    "split_ac": (
        _m("Daikin", "BRP072C42", "wifi", None, weight=2),
        _m("Mitsubishi Electric", "MAC-567IF-E", "wifi", None, weight=2),
        _m("Sensibo", "Sky", "wifi", None, weight=1, features="rssi"),
    ),
    "lock": (
        _m("Yale", "Assure Lock 2", "z-wave", "alkaline", regions="us", weight=2),
        _m("Schlage", "BE469ZP", "z-wave", "alkaline", regions="us", weight=2),
        _m("Nuki", "Smart Lock 4.0", "thread", "alkaline", regions="eu uk", weight=2),
        _m(
            "Nuki",
            "Smart Lock 3.0 Pro",
            "bluetooth",
            "li-ion",
            regions="eu uk",
            weight=1,
        ),
        _m("Aqara", "U100", "zigbee", "alkaline", regions="eu uk au", weight=1),
    ),
    "doorbell": (
        _m("Ring", "Video Doorbell 4", "wifi", "li-ion", weight=2, features="rssi"),
        _m("Google", "Nest Doorbell (wired)", "wifi", None, weight=2),
        _m("Reolink", "Video Doorbell PoE", "ethernet", None, weight=1),
        _m("Aqara", "G4", "wifi", "alkaline", regions="eu uk", weight=0.7),
    ),
    "intercom": (
        _m(
            "Ring",
            "Intercom",
            "wifi",
            "li-ion",
            regions="eu uk",
            weight=1.5,
            features="rssi",
        ),
        _m("Nuki", "Opener", "bluetooth", "alkaline", regions="eu uk", weight=1.5),
        _m("2N", "IP Verso", "ethernet", None, weight=1),
        _m("Aiphone", "JO-1MD", "other", None, regions="us au", weight=1),
    ),
    "garage_door": (
        _m(
            "Chamberlain",
            "myQ Smart Garage Control",
            "wifi",
            None,
            regions="us",
            weight=3,
        ),
        _m("Meross", "MSG100", "wifi", None, weight=1.5, features="rssi"),
        _m(
            "Shelly",
            "Shelly Plus 1",
            "wifi",
            None,
            regions="eu uk au",
            weight=1.5,
            features="rssi",
        ),
        _m("Aeotec", "ZW062", "z-wave", None, regions="us", weight=1),
    ),
    "irrigation": (
        _m("Rachio", "Rachio 3", "wifi", None, regions="us au", weight=2),
        _m("Orbit", "B-hyve XR", "wifi", None, regions="us", weight=1),
        _m(
            "Gardena",
            "smart Water Control",
            "other",
            "alkaline",
            regions="eu uk",
            weight=2,
        ),
        _m("Eve", "Eve Aqua", "thread", "alkaline", regions="eu uk", weight=1),
    ),
    "lawn_mower": (
        _m("Husqvarna", "Automower 430X", "other", "li-ion", weight=2),
        _m("Gardena", "SILENO life", "other", "li-ion", regions="eu uk", weight=1.5),
        _m("Worx", "Landroid M500", "wifi", "li-ion", weight=1),
    ),
    "pool_pump": (
        _m("Pentair", "IntelliFlo VSF", "ethernet", None, regions="us au", weight=2),
        _m("Shelly", "Shelly Pro 1PM", "wifi", None, weight=1.5, features="rssi"),
        _m("Sonoff", "POW R3", "wifi", None, weight=1, features="rssi"),
    ),
    "media": (
        _m("Samsung", "QN90B", "wifi", weight=2),
        _m("LG", "OLED55C2", "ethernet", weight=2),
        _m("Sonos", "One", "wifi", weight=2),
        _m("Apple", "Apple TV 4K", "ethernet", weight=1.5),
        _m("Google", "Chromecast with Google TV", "wifi", weight=1.5),
    ),
    "vacuum": (
        _m("Roborock", "S8", "wifi", "li-ion", weight=2),
        _m("iRobot", "Roomba j7", "wifi", "li-ion", weight=1.5),
        _m("Ecovacs", "Deebot T20", "wifi", "li-ion", weight=1),
    ),
    "leak": (
        _m("Aqara", "SJCGQ11LM", "zigbee", "coin", weight=2.5),
        _m("Fibaro", "FGFS-101", "z-wave", "cr123a", regions="eu uk", weight=1),
        _m("Zooz", "ZSE42", "z-wave", "coin", regions="us", weight=1.5),
        _m("Eve", "Eve Water Guard", "thread", "alkaline", weight=0.5),
    ),
    "smoke": (
        _m("Heiman", "HS1SA", "zigbee", "cr123a", weight=2),
        _m("Fibaro", "FGSD-002", "z-wave", "cr123a", regions="eu uk", weight=1),
        _m("First Alert", "ZCOMBO", "z-wave", "alkaline", regions="us", weight=2),
        _m("Google", "Nest Protect", "wifi", "alkaline", weight=1.5),
    ),
    "energy_meter": (
        _m(
            "HomeWizard",
            "P1 Meter",
            "wifi",
            None,
            regions="eu",
            weight=3,
            features="rssi",
        ),
        _m("Emporia", "Vue 2", "wifi", None, regions="us", weight=2),
        _m("Shelly", "Shelly Pro 3EM", "wifi", None, weight=1.5, features="rssi"),
    ),
    "solar": (
        _m("SolarEdge", "SE5000H", "ethernet", None, weight=2),
        _m("Enphase", "IQ Gateway", "ethernet", None, weight=2),
        _m("Fronius", "Symo GEN24", "wifi", None, regions="eu uk au", weight=1.5),
    ),
    "ev_charger": (
        _m("Easee", "Home", "wifi", None, regions="eu uk", weight=2),
        _m("Wallbox", "Pulsar Plus", "wifi", None, weight=1.5),
        _m("Tesla", "Wall Connector Gen 3", "wifi", None, weight=2),
    ),
    "light_group": (_m("Home Assistant", "Light group", "unknown"),),
    "gate": (
        _m("Shelly", "Shelly Plus 2PM", "wifi", None, weight=1.5, features="rssi"),
        _m("Nice", "IT4WIFI", "wifi", None, regions="eu uk", weight=1),
        _m(
            "Chamberlain",
            "myQ Smart Garage Control",
            "wifi",
            None,
            regions="us",
            weight=1,
        ),
    ),
}

# What each device kind's device is called (with the area's name in front).
DEVICE_NAMES = {
    "motion": "motion",
    "contact": "contact",
    "climate_sensor": "thermometer",
    "light": "light",
    "plug": "plug",
    "trv": "radiator",
    "thermostat": "thermostat",
    "split_ac": "air conditioner",
    "lock": "lock",
    "doorbell": "doorbell",
    "intercom": "intercom",
    "garage_door": "garage door",
    "irrigation": "irrigation",
    "lawn_mower": "mower",
    "pool_pump": "pool pump",
    "media": "tv",
    "vacuum": "vacuum",
    "leak": "leak sensor",
    "smoke": "smoke detector",
    "energy_meter": "energy meter",
    "solar": "solar inverter",
    "ev_charger": "ev charger",
    "gate": "parking gate",
    "light_group": "lights",
}

# Radio-protocol shares by region for kinds that exist in several protocols.
PROTOCOL_BIAS = {
    "eu": {"zigbee": 1.6, "z-wave": 0.6, "wifi": 1.0, "thread": 1.0, "bluetooth": 1.0},
    "uk": {"zigbee": 1.5, "z-wave": 0.6, "wifi": 1.1, "thread": 0.9, "bluetooth": 1.0},
    "us": {"zigbee": 0.9, "z-wave": 1.6, "wifi": 1.3, "thread": 1.0, "bluetooth": 0.8},
    "au": {"zigbee": 1.2, "z-wave": 0.5, "wifi": 1.5, "thread": 0.8, "bluetooth": 1.0},
}


def pick_model(
    rng: np.random.Generator,
    kind: str,
    region: str,
    preferred: dict[str, float],
) -> Model:
    """Pick a model of `kind` sold in `region`, favouring the home's protocols."""
    models = [m for m in MODELS[kind] if region in m.regions.split()]
    bias = PROTOCOL_BIAS[region]
    weights = np.array(
        [
            m.weight * bias.get(m.protocol, 1.0) * preferred.get(m.protocol, 1.0)
            for m in models
        ]
    )
    return models[int(rng.choice(len(models), p=weights / weights.sum()))]
