"""Home types and the homes they produce: floors, areas, occupants and devices.

Each home type is a set of distributions, not a template: how many floors, how
large, how many people, which region, which outdoor and shared-building features,
how well equipped. Two homes of one type differ; a large apartment and a small
townhouse can look alike. `plan_home` draws one home and returns its `HomePlan`:
HA's floor/area/device/entity model (the inventory) plus what the simulation
needs to know about each device (kind, model, area, purpose, climate zone).
"""

from dataclasses import dataclass, field
import re

import numpy as np

from homeiq_core.dataset import Area, Device, Entity, Floor, Inventory

from .catalog import DEVICE_NAMES, REGIONS, Model, Place, Region, pick_model


@dataclass(frozen=True, slots=True)
class Archetype:
    """The distributions one home type draws from."""

    storeys: tuple[float, ...]  # P(1, 2, 3, 4 storeys)
    basement: float
    size: tuple[float, float]  # median m², log-sd
    occupants: tuple[float, ...]  # P(1, 2, … people)
    regions: dict[str, float]
    features: dict[str, float]
    equipment: float  # mean of the home's equipment level
    in_building: bool  # an apartment in a building (a storey number, shared parts)
    pets: float


_HOUSE_REGIONS = {"eu": 0.3, "uk": 0.15, "us": 0.4, "au": 0.15}
_FLAT_REGIONS = {"eu": 0.4, "uk": 0.15, "us": 0.3, "au": 0.15}

ARCHETYPES = {
    "studio": Archetype(
        (0.97, 0.03),
        0.0,
        (34, 0.22),
        (0.8, 0.2),
        _FLAT_REGIONS,
        {"intercom": 0.45, "shared": 0.35, "balcony": 0.35, "garden": 0.0},
        0.85,
        True,
        0.15,
    ),
    "apartment": Archetype(
        (0.88, 0.12),
        0.0,
        (72, 0.3),
        (0.35, 0.4, 0.15, 0.1),
        _FLAT_REGIONS,
        {
            "intercom": 0.45,
            "shared": 0.35,
            "balcony": 0.55,
            "garage": 0.04,
            "doorbell": 0.08,
            "garden": 0.04,
        },
        0.95,
        True,
        0.25,
    ),
    "condo": Archetype(
        (0.8, 0.2),
        0.0,
        (95, 0.28),
        (0.3, 0.45, 0.15, 0.1),
        {"eu": 0.2, "uk": 0.1, "us": 0.5, "au": 0.2},
        {
            "intercom": 0.35,
            "shared": 0.45,
            "balcony": 0.6,
            "garage": 0.12,
            "gate": 0.25,
            "doorbell": 0.15,
            "garden": 0.08,
            "pool": 0.02,
        },
        1.0,
        True,
        0.3,
    ),
    "townhouse": Archetype(
        (0.08, 0.62, 0.3),
        0.2,
        (120, 0.25),
        (0.1, 0.35, 0.25, 0.2, 0.1),
        {"eu": 0.3, "uk": 0.25, "us": 0.3, "au": 0.15},
        {
            "doorbell": 0.5,
            "garage": 0.35,
            "garden": 0.6,
            "irrigation": 0.12,
            "mower": 0.08,
            "intercom": 0.06,
            "solar": 0.15,
            "ev": 0.08,
            "balcony": 0.15,
        },
        1.0,
        False,
        0.4,
    ),
    "single_family_house": Archetype(
        (0.35, 0.6, 0.05),
        0.35,
        (165, 0.3),
        (0.05, 0.3, 0.2, 0.3, 0.15),
        _HOUSE_REGIONS,
        {
            "doorbell": 0.6,
            "garage": 0.6,
            "garden": 0.85,
            "irrigation": 0.35,
            "mower": 0.25,
            "pool": 0.12,
            "solar": 0.3,
            "ev": 0.18,
        },
        1.05,
        False,
        0.5,
    ),
    "cottage": Archetype(
        (0.55, 0.45),
        0.05,
        (95, 0.28),
        (0.3, 0.5, 0.1, 0.1),
        {"eu": 0.3, "uk": 0.5, "us": 0.15, "au": 0.05},
        {
            "doorbell": 0.35,
            "garage": 0.15,
            "garden": 0.9,
            "irrigation": 0.25,
            "mower": 0.25,
            "solar": 0.15,
            "ev": 0.05,
            "conservatory": 0.3,
        },
        0.85,
        False,
        0.55,
    ),
    "multi_story": Archetype(
        (0.0, 0.05, 0.6, 0.35),
        0.5,
        (230, 0.28),
        (0.05, 0.25, 0.2, 0.25, 0.15, 0.1),
        _HOUSE_REGIONS,
        {
            "doorbell": 0.6,
            "garage": 0.45,
            "garden": 0.7,
            "irrigation": 0.25,
            "mower": 0.15,
            "pool": 0.1,
            "solar": 0.3,
            "ev": 0.2,
            "intercom": 0.1,
            "balcony": 0.3,
        },
        1.1,
        False,
        0.45,
    ),
    "ranch_house": Archetype(
        (0.92, 0.08),
        0.3,
        (185, 0.28),
        (0.1, 0.4, 0.2, 0.2, 0.1),
        {"eu": 0.02, "uk": 0.01, "us": 0.77, "au": 0.2},
        {
            "doorbell": 0.6,
            "garage": 0.85,
            "garden": 0.9,
            "irrigation": 0.5,
            "mower": 0.3,
            "pool": 0.3,
            "solar": 0.35,
            "ev": 0.2,
        },
        1.05,
        False,
        0.6,
    ),
}

# Types a noisy label is flipped to: the ones a human would confuse it with.
CONFUSABLE = {
    "studio": ("apartment", "condo"),
    "apartment": ("condo", "studio", "townhouse"),
    "condo": ("apartment", "townhouse"),
    "townhouse": ("single_family_house", "condo", "multi_story", "cottage"),
    "single_family_house": ("ranch_house", "townhouse", "cottage", "multi_story"),
    "cottage": ("single_family_house", "ranch_house", "townhouse"),
    "multi_story": ("single_family_house", "townhouse"),
    "ranch_house": ("single_family_house", "cottage"),
}

# Per area kind: (device kind, probability, most of them).
AREA_DEVICES: dict[str, tuple[tuple[str, float, int], ...]] = {
    "living_room": (
        ("light", 0.95, 3),
        ("motion", 0.55, 1),
        ("climate_sensor", 0.7, 1),
        ("media", 0.85, 2),
        ("plug", 0.55, 2),
        ("contact", 0.3, 2),
        ("smoke", 0.25, 1),
    ),
    "kitchen": (
        ("light", 0.9, 2),
        ("motion", 0.5, 1),
        ("plug", 0.5, 2),
        ("leak", 0.3, 1),
        ("climate_sensor", 0.35, 1),
        ("smoke", 0.25, 1),
        ("contact", 0.3, 2),
    ),
    "dining_room": (("light", 0.85, 2), ("climate_sensor", 0.3, 1), ("motion", 0.3, 1)),
    "bedroom": (
        ("light", 0.8, 2),
        ("climate_sensor", 0.55, 1),
        ("motion", 0.25, 1),
        ("contact", 0.3, 1),
        ("plug", 0.2, 1),
        ("media", 0.12, 1),
    ),
    "kids_room": (
        ("light", 0.8, 1),
        ("climate_sensor", 0.5, 1),
        ("plug", 0.2, 1),
        ("motion", 0.2, 1),
    ),
    "guest_room": (("light", 0.6, 1), ("climate_sensor", 0.35, 1), ("contact", 0.2, 1)),
    "bathroom": (
        ("light", 0.55, 1),
        ("motion", 0.5, 1),
        ("climate_sensor", 0.6, 1),
        ("leak", 0.3, 1),
        ("contact", 0.12, 1),
    ),
    "toilet": (("light", 0.4, 1), ("motion", 0.45, 1)),
    "hallway": (("light", 0.7, 2), ("motion", 0.75, 1), ("smoke", 0.45, 1)),
    "landing": (("light", 0.5, 1), ("motion", 0.6, 1), ("smoke", 0.4, 1)),
    "office": (
        ("light", 0.8, 1),
        ("plug", 0.6, 2),
        ("climate_sensor", 0.55, 1),
        ("motion", 0.4, 1),
        ("media", 0.08, 1),
    ),
    "laundry": (("plug", 0.65, 2), ("leak", 0.45, 1), ("light", 0.4, 1)),
    "garage": (
        ("light", 0.6, 1),
        ("motion", 0.4, 1),
        ("contact", 0.3, 1),
        ("plug", 0.3, 1),
        ("climate_sensor", 0.3, 1),
    ),
    "basement": (
        ("light", 0.5, 1),
        ("leak", 0.5, 1),
        ("climate_sensor", 0.5, 1),
        ("motion", 0.3, 1),
    ),
    "utility_room": (("leak", 0.4, 1), ("climate_sensor", 0.3, 1), ("plug", 0.2, 1)),
    "attic": (("climate_sensor", 0.4, 1), ("light", 0.3, 1)),
    "storage": (("light", 0.3, 1), ("leak", 0.1, 1), ("contact", 0.2, 1)),
    "garden": (("light", 0.5, 2), ("motion", 0.35, 1), ("climate_sensor", 0.3, 1)),
    "porch": (("light", 0.55, 1), ("motion", 0.3, 1)),
    "balcony": (("light", 0.35, 1), ("climate_sensor", 0.25, 1)),
    "conservatory": (("light", 0.5, 1), ("climate_sensor", 0.5, 1)),
}
OUTDOOR = frozenset({"garden", "porch", "balcony"})
# Rooms that a radiator valve or an air conditioner heats or cools.
CLIMATE_ROOMS = frozenset(
    {"living_room", "kitchen", "bedroom", "kids_room", "office", "bathroom"}
)
AREA_NAMES = {
    "living_room": "Living room",
    "kitchen": "Kitchen",
    "dining_room": "Dining room",
    "bedroom": "Bedroom",
    "kids_room": "Kids room",
    "guest_room": "Guest room",
    "bathroom": "Bathroom",
    "toilet": "Toilet",
    "hallway": "Hallway",
    "landing": "Landing",
    "office": "Office",
    "laundry": "Laundry",
    "garage": "Garage",
    "basement": "Basement",
    "utility_room": "Utility room",
    "attic": "Attic",
    "storage": "Storage",
    "garden": "Garden",
    "porch": "Porch",
    "balcony": "Balcony",
    "conservatory": "Conservatory",
}
PLUG_LOADS = {
    "kitchen": ("fridge", "coffee"),
    "laundry": ("washer", "dryer"),
    "office": ("desk", "desk"),
    "living_room": ("tv", "lamp"),
    "bedroom": ("lamp",),
    "kids_room": ("lamp",),
    "garage": ("freezer",),
    "utility_room": ("heater",),
}
FIRST_NAMES = (
    "anna",
    "ben",
    "chloe",
    "daniel",
    "emma",
    "felix",
    "grace",
    "henry",
    "isla",
    "jack",
    "kim",
    "liam",
    "maria",
    "noah",
    "olivia",
    "paul",
    "rosa",
    "sam",
)


@dataclass(frozen=True, slots=True)
class AreaPlan:
    """An area and what the simulation needs to know about it."""

    area_id: str
    name: str
    kind: str
    floor_id: str | None
    storey: int  # physical storey, 0 = ground, -1 = basement
    zone: int  # climate zone


@dataclass(slots=True)
class DevicePlan:
    """A device of the home and its role in the simulation."""

    device_id: str
    kind: str
    model: Model
    area: AreaPlan
    name: str
    roles: dict[str, int] = field(default_factory=dict)  # role -> entity index
    purpose: str = ""
    unassigned: bool = False  # the user never gave it an area (HA shows none)


@dataclass(frozen=True, slots=True)
class Setup:
    """How the home's owner set Home Assistant up (defaults: everything on)."""

    z2m_availability: bool = True  # Zigbee2MQTT's availability check enabled
    radio_entities: bool = True  # LQI/RSSI/signal entities enabled
    reports: bool = False  # history kept with re-reports (an integration export)
    lights: float = 1.0  # how keen on smart lights (0 = none in HA)
    sensor_only: bool = False  # sensors only: no lights, plugs or media
    unassigned: float = 0.0  # share of devices left without an area
    groups: bool = False  # light groups as devices of their own
    tamper: float = 0.0  # share of Z-Wave sensors with a tamper entity enabled
    idle_plugs: float = 0.0  # share of metering plugs with nothing plugged in
    hue_bridge: bool = False  # Philips Hue devices paired to a Hue bridge
    thread_integration: str = "matter"  # or "homekit_controller"


def draw_setup(rng: np.random.Generator) -> Setup:
    """Draw how a home's HA was set up: many are sparse and half-configured.

    Zigbee2MQTT's availability check is off by default (zigbee2mqtt.io guide/
    configuration/device-availability); link-quality entities are disabled by
    default in Z2M's discovery, in ZHA and in Z-Wave JS (whose signal and
    statistics sensors are disabled, home-assistant/core zwave_js), so most
    homes have none; few users assign every device an area.
    """
    lights = rng.random()
    sensor_only = bool(rng.random() < 0.1)
    return Setup(
        z2m_availability=bool(rng.random() < 0.3),
        radio_entities=bool(rng.random() < 0.25),
        reports=bool(rng.random() < 0.3),
        lights=0.0 if sensor_only or lights < 0.1 else (0.25 if lights < 0.35 else 1.0),
        sensor_only=sensor_only,
        unassigned=float(rng.uniform(0.05, 0.5)) if rng.random() < 0.4 else 0.0,
        groups=bool(rng.random() < 0.25),
        tamper=float(rng.uniform(0.3, 1.0)) if rng.random() < 0.5 else 0.0,
        idle_plugs=float(rng.uniform(0.1, 0.5)) if rng.random() < 0.4 else 0.0,
        hue_bridge=bool(rng.random() < 0.5),
        thread_integration="matter" if rng.random() < 0.6 else "homekit_controller",
    )


@dataclass(slots=True)
class HomePlan:
    """Everything drawn about one home before its events are simulated."""

    home_id: str
    home_type: str
    region: Region
    place: Place
    size: float  # m²
    occupants: tuple[str, ...]  # profiles: commuter, remote, shift, retired, child
    names: tuple[str, ...]
    pets: bool
    equipment: float
    zigbee_stack: str  # "z2m" (linkquality entities) or "zha" (lqi and rssi)
    heating: str  # "trv", "thermostat", "split_ac" or "none"
    cooling: bool
    zones: int
    setup: Setup = field(default_factory=Setup)
    floors: list[Floor] = field(default_factory=list)
    areas: list[AreaPlan] = field(default_factory=list)
    devices: list[DevicePlan] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    device_entities: list[list[int]] = field(default_factory=list)
    extra: dict[str, int] = field(default_factory=dict)  # device-less roles
    taken: set[str] = field(default_factory=set)  # entity ids in use

    @property
    def fahrenheit(self) -> bool:
        """Return True when temperatures are reported in °F."""
        return self.region.fahrenheit

    def inventory(self) -> Inventory:
        """Return HA's view of the home: floors, areas, devices, entities."""
        links = [integration_of(self, plan.model) for plan in self.devices]
        hubs = {domain for domain, hub in links if hub is not None}
        devices = tuple(
            Device(
                plan.device_id,
                plan.name,
                plan.model.manufacturer,
                plan.model.model,
                plan.model.protocol,
                plan.model.power_source,
                None if plan.unassigned else plan.area.area_id,
                tuple(self.entities[i] for i in self.device_entities[n]),
                links[n][0],
                links[n][1],
            )
            for n, plan in enumerate(self.devices)
        ) + tuple(HUBS[hub] for hub in sorted(hubs))
        n_device_entities = sum(len(e) for e in self.device_entities)
        return Inventory(
            self.home_id,
            self.place.time_zone,
            tuple(self.floors),
            tuple(Area(a.area_id, a.name, a.floor_id) for a in self.areas),
            devices,
            tuple(self.entities[n_device_entities:]),
        )


# Hubs and bridges are devices of their own in HA's registry; the devices they
# serve name them as `via_device`. (HA domain, device id, name, manufacturer,
# model, protocol.) They have no entities here (most are diagnostic, disabled).
_HUB_SPECS = {
    "zha": ("hub-zha", "Zigbee coordinator", "Texas Instruments", "CC2652", "zigbee"),
    "mqtt": ("hub-z2m", "Zigbee2MQTT Bridge", "Zigbee2MQTT", "Bridge", "zigbee"),
    "zwave_js": ("hub-zwave", "Z-Wave controller", "Zooz", "ZST39", "z-wave"),
    "hue": ("hub-hue", "Hue Bridge", "Signify", "BSB002", "ethernet"),
    "lutron_caseta": ("hub-lutron", "Smart Bridge", "Lutron", "L-BDG2", "ethernet"),
}
HUBS = {
    domain: Device(hub_id, name, maker, model, protocol, "mains", None, (), domain)
    for domain, (hub_id, name, maker, model, protocol) in _HUB_SPECS.items()
}
# The HA integration of a Wi-Fi, Bluetooth, cloud or wired device, by maker.
MAKER_DOMAINS = {
    "Shelly": "shelly",
    "TP-Link": "tplink",
    "WiZ": "wiz",
    "LIFX": "lifx",
    "Sonoff": "sonoff",
    "Sonos": "sonos",
    "Samsung": "samsungtv",
    "LG": "webostv",
    "Apple": "apple_tv",
    "Google": "nest",
    "ecobee": "ecobee",
    "Roborock": "roborock",
    "iRobot": "roomba",
    "Ecovacs": "ecovacs",
    "Ring": "ring",
    "Daikin": "daikin",
    "Mitsubishi Electric": "melcloud",
    "Sensibo": "sensibo",
    "Xiaomi": "xiaomi_ble",
    "SwitchBot": "switchbot",
    "Govee": "govee_ble",
    "Nuki": "nuki",
    "tado": "tado",
    "Netatmo": "netatmo",
    "Husqvarna": "husqvarna_automower",
    "Reolink": "reolink",
    "SolarEdge": "solaredge",
    "Enphase": "enphase_envoy",
    "Fronius": "fronius",
    "Pentair": "screenlogic",
    "Rachio": "rachio",
    "Chamberlain": "ratgdo",
    "Easee": "easee",
    "Wallbox": "wallbox",
    "Tesla": "tesla_wall_connector",
    "HomeWizard": "homewizard",
    "Emporia": "emporia_vue",
    "Worx": "landroid_cloud",
    "Meross": "meross_lan",
    "Gardena": "gardena_bluetooth",
}


def integration_of(plan: HomePlan, model: Model) -> tuple[str, str | None]:
    """Return (HA domain of the config entry, id of its hub device or None)."""
    protocol = model.protocol
    if protocol == "zigbee":
        domain = "mqtt" if plan.zigbee_stack == "z2m" else "zha"
        if "hue" in model.features and plan.setup.hue_bridge:
            domain = "hue"
    elif protocol == "z-wave":
        domain = "zwave_js"
    elif model.manufacturer == "Lutron":
        domain = "lutron_caseta"
    else:
        domain = {"unknown": "group", "thread": plan.setup.thread_integration}.get(
            protocol,
            MAKER_DOMAINS.get(model.manufacturer, slugify(model.manufacturer)),
        )
    return domain, HUBS[domain].device_id if domain in HUBS else None


def slugify(text: str) -> str:
    """Return HA's slug of `text` (lower case, words joined by underscores)."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _choice(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return keys[int(rng.choice(len(keys), p=p / p.sum()))]


def _rooms(rng: np.random.Generator, home_type: str, size: float) -> list[str]:
    """Return the kinds of indoor rooms of a home of `size` m²."""
    if home_type == "studio":
        rooms = ["living_room", "bathroom", "hallway"]
        # A kitchenette, a sleeping alcove or a desk corner some users make areas.
        extras = {"kitchen": 0.55, "bedroom": 0.35, "office": 0.12, "storage": 0.1}
        return rooms + [k for k, p in extras.items() if rng.random() < p]
    bedrooms = int(np.clip(round(size / 38 + rng.normal(0, 0.7)), 1, 7))
    bathrooms = int(np.clip(round(size / 95 + rng.normal(0, 0.5)), 1, 4))
    rooms = ["living_room", "kitchen", "hallway"]
    rooms += ["bedroom"] * bedrooms + ["bathroom"] * bathrooms
    extras = {
        "dining_room": (size - 60) / 160,
        "office": 0.25 + size / 500,
        "toilet": (size - 50) / 150,
        "laundry": (size - 70) / 150,
        "storage": 0.2,
        "utility_room": (size - 100) / 250,
    }
    rooms += [k for k, p in extras.items() if rng.random() < p]
    for i, room in enumerate(rooms):
        if room == "bedroom" and i > 0 and rng.random() < 0.25:
            rooms[i] = "kids_room" if rng.random() < 0.6 else "guest_room"
    return rooms


def _add_floors(
    rng: np.random.Generator, plan: HomePlan, archetype: Archetype, storeys: int
) -> tuple[list[str | None], list[int]]:
    """Create the floors; return floor ids and storeys of levels -1..storeys-1."""
    basement = rng.random() < archetype.basement
    region = plan.region
    recorded = rng.random() >= 0.55  # floors came late to HA: most homes have none
    levels = ([-1] if basement else []) + list(range(storeys))
    floor_ids: list[str | None] = []
    if archetype.in_building:
        storey = int(rng.integers(0, 12))
        for level in levels:
            name = "Apartment" if storeys == 1 else ("Downstairs", "Upstairs")[level]
            floor_ids.append(slugify(name) if recorded else None)
            if recorded:
                plan.floors.append(Floor(slugify(name), name, storey + level))
        return floor_ids, levels
    for level in levels:
        name = region.floor_names[min(level + 1, 4)]
        if level >= 3:
            name = f"Floor {level}"
        floor_ids.append(slugify(name) if recorded else None)
        if recorded:
            plan.floors.append(Floor(slugify(name), name, level))
    return floor_ids, levels


def _place_rooms(
    rng: np.random.Generator, rooms: list[str], levels: list[int]
) -> list[tuple[str, int]]:
    """Assign each room a storey as houses are laid out."""
    storeys = [level for level in levels if level >= 0]
    top = max(storeys)
    placed: list[tuple[str, int]] = []
    for room in rooms:
        if top == 0 or room in {"living_room", "kitchen", "dining_room", "hallway"}:
            storey = 0 if top < 3 or room == "hallway" else int(rng.integers(0, 2))
        elif room in {"bedroom", "kids_room", "guest_room", "bathroom", "office"}:
            storey = int(rng.integers(1, top + 1)) if rng.random() < 0.85 else 0
        elif room in {"laundry", "utility_room", "storage"} and -1 in levels:
            storey = -1
        else:
            storey = int(rng.integers(0, top + 1))
        placed.append((room, storey))
    if -1 in levels:
        placed.append(("basement", -1))
    for storey in range(1, top + 1):
        placed.append(("landing", storey))
    if top >= 1 and rng.random() < 0.3:
        placed.append(("attic", top))
    return placed


def plan_home(rng: np.random.Generator, home_id: str, home_type: str) -> HomePlan:
    """Draw one home of `home_type`: its structure, people and devices."""
    archetype = ARCHETYPES[home_type]
    region = REGIONS[_choice(rng, archetype.regions)]
    place = region.places[int(rng.integers(len(region.places)))]
    size = float(archetype.size[0] * np.exp(rng.normal(0, archetype.size[1])))
    n_people = 1 + int(
        rng.choice(len(archetype.occupants), p=np.array(archetype.occupants))
    )
    storeys = 1 + int(rng.choice(len(archetype.storeys), p=np.array(archetype.storeys)))
    heating = _choice(
        rng, dict(zip(("trv", "thermostat", "split_ac"), region.heating, strict=True))
    )
    if rng.random() < 0.08:
        heating = "none"
    plan = HomePlan(
        home_id=home_id,
        home_type=home_type,
        region=region,
        place=place,
        size=size,
        occupants=_occupants(rng, n_people, home_type),
        names=tuple(
            str(n) for n in rng.choice(FIRST_NAMES, size=n_people, replace=False)
        ),
        pets=bool(rng.random() < archetype.pets),
        equipment=float(archetype.equipment * np.exp(rng.normal(0, 0.35))),
        zigbee_stack="z2m" if rng.random() < 0.6 else "zha",
        heating=heating,
        cooling=bool(rng.random() < region.cooling),
        zones=1,
        setup=draw_setup(rng),
    )
    floor_ids, levels = _add_floors(rng, plan, archetype, storeys)
    floor_of = dict(zip(levels, floor_ids, strict=True))
    placed = _place_rooms(rng, _rooms(rng, home_type, size), levels)
    features = {k for k, p in archetype.features.items() if rng.random() < p}
    if "garage" in features:
        placed.append(("garage", 0))
    if "garden" in features:
        placed.append(("garden", 0))
        if rng.random() < 0.5:
            placed.append(("porch", 0))
    if "balcony" in features:
        placed.append(("balcony", max(levels)))
    if "conservatory" in features:
        placed.append(("conservatory", 0))
    # Climate zones: one per storey in larger homes with central systems.
    living_storeys = sorted({s for _, s in placed if s >= 0})
    plan.zones = 1
    if plan.heating == "thermostat" and size > 110:
        plan.zones = min(len(living_storeys), 1 + int(size > 160) + int(size > 260))
    _add_areas(plan, placed, floor_of)
    _add_devices(rng, plan, features)
    return plan


def _occupants(rng: np.random.Generator, n: int, home_type: str) -> tuple[str, ...]:
    retired = 0.35 if home_type in {"cottage", "ranch_house"} else 0.18
    adults = min(n, 2)
    profiles = []
    for _ in range(adults):
        profiles.append(
            _choice(
                rng,
                {"commuter": 0.45, "remote": 0.27, "shift": 0.12, "retired": retired},
            )
        )
    profiles += ["child"] * (n - adults)
    return tuple(profiles)


def _add_areas(
    plan: HomePlan, placed: list[tuple[str, int]], floor_of: dict[int, str | None]
) -> None:
    counts: dict[str, int] = {}
    storeys = sorted({s for _, s in placed if s >= 0})
    for kind, storey in placed:
        counts[kind] = counts.get(kind, 0) + 1
        name = AREA_NAMES[kind]
        if counts[kind] > 1:
            name = f"{name} {counts[kind]}"
        zone = 0
        if plan.zones > 1 and storey >= 0:
            zone = min(storeys.index(storey), plan.zones - 1)
        plan.areas.append(
            AreaPlan(slugify(name), name, kind, floor_of.get(storey), storey, zone)
        )


def _add_devices(rng: np.random.Generator, plan: HomePlan, features: set[str]) -> None:
    # The home's radio habits: some homes are all zigbee, others mix.
    preferred = {
        p: float(np.exp(rng.normal(0, 0.7)))
        for p in ("zigbee", "z-wave", "wifi", "thread", "bluetooth")
    }
    for area in plan.areas:
        _room_devices(rng, plan, area, preferred)
    _home_devices(rng, plan, features, preferred)
    _add_deviceless(plan)


def _room_devices(
    rng: np.random.Generator,
    plan: HomePlan,
    area: AreaPlan,
    preferred: dict[str, float],
) -> None:
    level = plan.equipment
    setup = plan.setup
    lights = 0
    for kind, p, most in AREA_DEVICES[area.kind]:
        if setup.sensor_only and kind in {"light", "plug", "media"}:
            continue
        share = setup.lights if kind == "light" else 1.0
        for i in range(int(rng.binomial(most, min(0.97, p * level * share)))):
            purpose = ""
            if kind == "contact":
                purpose = _choice(rng, CONTACT_PURPOSES.get(area.kind, {"window": 1}))
            if kind == "plug":
                loads = PLUG_LOADS.get(area.kind, ("lamp",))
                purpose = loads[i % len(loads)]
                if rng.random() < setup.idle_plugs:
                    purpose = "idle"
            _device(rng, plan, kind, area, preferred, purpose=purpose)
            lights += kind == "light"
    if lights >= 2 and setup.groups and rng.random() < 0.6:
        _device(rng, plan, "light_group", area, preferred)
    if plan.heating in {"trv", "split_ac"} and area.kind in CLIMATE_ROOMS:
        share = 0.85 if plan.heating == "trv" else 0.45
        if rng.random() < min(0.97, share * level):
            _device(rng, plan, plan.heating, area, preferred)


def _home_devices(
    rng: np.random.Generator,
    plan: HomePlan,
    features: set[str],
    preferred: dict[str, float],
) -> None:
    level = plan.equipment
    by_kind = {area.kind: area for area in reversed(plan.areas)}
    entrance = by_kind.get("hallway", plan.areas[0])
    outside = by_kind.get("garden")
    garage = by_kind.get("garage")
    if plan.heating == "thermostat":
        for zone in range(plan.zones):
            area = next(
                (a for a in plan.areas if a.zone == zone and a.kind != "garage"),
                entrance,
            )
            _device(rng, plan, "thermostat", area, preferred)
    wants = {
        "front_door": ("contact", entrance, min(0.97, 0.8 * level)),
        "lock": ("lock", entrance, (0.5 if plan.region.name == "us" else 0.25) * level),
        "doorbell": ("doorbell", entrance, "doorbell" in features),
        "intercom": ("intercom", entrance, "intercom" in features),
        "mailbox": ("contact", entrance, "shared" in features),
        "garage": ("garage_door", garage, "garage" in features),
        "gate": ("gate", entrance, "gate" in features),
        "irrigation": ("irrigation", outside, "irrigation" in features),
        "mower": ("lawn_mower", outside, "mower" in features),
        "pool": ("pool_pump", outside, "pool" in features),
        "solar": ("solar", garage or entrance, "solar" in features),
        "ev": ("ev_charger", garage or outside, "ev" in features),
        "meter": ("energy_meter", garage or entrance, 0.35 * level),
        "vacuum": ("vacuum", by_kind["living_room"], 0.4 * level),
    }
    for want, (kind, area, chance) in wants.items():
        if area is not None and rng.random() < float(chance):
            purpose = want if kind == "contact" else ""
            _device(rng, plan, kind, area, preferred, purpose=purpose)


def _entity(
    plan: HomePlan, domain: str, object_id: str, dc: str | None, unit: str | None
) -> int:
    entity_id = f"{domain}.{object_id}"
    n = 2
    while entity_id in plan.taken:
        entity_id = f"{domain}.{object_id}_{n}"
        n += 1
    plan.taken.add(entity_id)
    plan.entities.append(Entity(entity_id, domain, dc, unit))
    return len(plan.entities) - 1


# A device kind's entities: (role, domain, object id, device class, unit), where
# {slug} is the device's slug, {area} its area, {t} the home's temperature unit
# and {contact} the device class of a contact sensor.
KIND_ENTITIES: dict[str, tuple[tuple[str, str, str, str | None, str | None], ...]] = {
    "motion": (("main", "binary_sensor", "{slug}", "motion", None),),
    "contact": (("main", "binary_sensor", "{slug}", "{contact}", None),),
    "climate_sensor": (
        ("temperature", "sensor", "{area}_temperature", "temperature", "{t}"),
        ("humidity", "sensor", "{area}_humidity", "humidity", "%"),
    ),
    "light": (("main", "light", "{slug}", None, None),),
    "plug": (("main", "switch", "{slug}", "outlet", None),),
    "trv": (("main", "climate", "{slug}", None, None),),
    "thermostat": (("main", "climate", "{slug}", None, None),),
    "split_ac": (("main", "climate", "{slug}", None, None),),
    "lock": (("main", "lock", "{slug}", None, None),),
    "garage_door": (("main", "cover", "{slug}", "garage", None),),
    "gate": (("main", "cover", "{slug}", "gate", None),),
    "lawn_mower": (("main", "lawn_mower", "{slug}", None, None),),
    "media": (("main", "media_player", "{slug}", "tv", None),),
    "vacuum": (("main", "vacuum", "{slug}", None, None),),
    "leak": (("main", "binary_sensor", "{slug}", "moisture", None),),
    "smoke": (("main", "binary_sensor", "{slug}", "smoke", None),),
    "pool_pump": (
        ("main", "switch", "{slug}", None, None),
        ("power", "sensor", "{slug}_power", "power", "W"),
        ("water_temperature", "sensor", "pool_water_temperature", "temperature", "{t}"),
    ),
    "energy_meter": (
        ("power", "sensor", "{slug}_power", "power", "W"),
        ("energy", "sensor", "{slug}_energy", "energy", "kWh"),
    ),
    "solar": (
        ("power", "sensor", "{slug}_power", "power", "W"),
        ("energy", "sensor", "{slug}_energy", "energy", "kWh"),
    ),
    "ev_charger": (
        ("main", "sensor", "{slug}_status", "enum", None),
        ("power", "sensor", "{slug}_power", "power", "W"),
    ),
    "doorbell": (
        ("main", "binary_sensor", "{slug}_ding", "occupancy", None),
        ("motion", "binary_sensor", "{slug}_motion", "motion", None),
    ),
    "intercom": (
        ("main", "binary_sensor", "{slug}_ring", "sound", None),
        ("opener", "lock", "{slug}_door", None, None),
    ),
    "irrigation": (),
    "light_group": (("main", "light", "{slug}", None, None),),
}
FEATURE_ENTITIES = {
    "illuminance": ("illuminance", "sensor", "{slug}_illuminance", "illuminance", "lx"),
    "power": ("power", "sensor", "{slug}_power", "power", "W"),
    "energy": ("energy", "sensor", "{slug}_energy", "energy", "kWh"),
}
CONTACT_CLASSES = {
    "front_door": "door",
    "window": "window",
    "mailbox": "opening",
    "cupboard": "opening",
    "cabinet": "opening",
    "fridge": "door",
    "door": "door",
}
# What a contact sensor in a room is on: event-driven sensors on cupboards,
# fridges and rarely used doors report nothing for a day or two when unused.
CONTACT_PURPOSES: dict[str, dict[str, float]] = {
    "kitchen": {"cupboard": 0.45, "fridge": 0.3, "window": 0.25},
    "bathroom": {"cabinet": 0.4, "window": 0.6},
    "bedroom": {"window": 0.7, "door": 0.2, "cupboard": 0.1},
    "living_room": {"window": 0.6, "door": 0.4},
    "garage": {"door": 0.7, "window": 0.3},
    "guest_room": {"window": 0.5, "door": 0.5},
    "storage": {"cupboard": 0.5, "door": 0.5},
}
NAMED_PLUGS = {"fridge", "washer", "dryer", "freezer"}
# Z-Wave sensors with a tamper switch (Notification CC, home security: tamper).
TAMPER_KINDS = frozenset({"motion", "contact", "leak", "smoke"})
TAMPER_ENTITY = ("tamper", "binary_sensor", "{slug}_tampering", "tamper", None)


def _device_name(kind: str, purpose: str, area: AreaPlan, model: Model) -> str:
    if kind == "contact":
        return {"front_door": "Front door", "mailbox": "Mailbox"}.get(
            purpose, f"{area.name} {purpose or 'window'}"
        )
    if kind == "plug" and purpose == "coffee":
        return "Coffee machine plug"
    if kind == "plug" and purpose in NAMED_PLUGS:
        return f"{area.name} {purpose} plug"
    if kind == "media" and model.manufacturer == "Sonos":
        return f"{area.name} speaker"
    return f"{area.name} {DEVICE_NAMES[kind]}"


def _device(
    rng: np.random.Generator,
    plan: HomePlan,
    kind: str,
    area: AreaPlan,
    preferred: dict[str, float],
    *,
    purpose: str = "",
) -> DevicePlan:
    model = pick_model(rng, kind, plan.region.name, preferred)
    name = _device_name(kind, purpose, area, model)
    device = DevicePlan(
        f"d{len(plan.devices):04d}", kind, model, area, name, purpose=purpose
    )
    slug = slugify(name) + ("_contact" if kind == "contact" else "")
    fields = {
        "slug": slug,
        "area": area.area_id,
        "t": "°F" if plan.fahrenheit else "°C",
        "contact": CONTACT_CLASSES.get(purpose, "window"),
    }
    specs = list(KIND_ENTITIES[kind])
    specs += [
        FEATURE_ENTITIES[f]
        for f in ("illuminance", "power", "energy")
        if f in model.features and not any(s[0] == f for s in specs)
    ]
    if kind == "irrigation":
        specs += [
            (f"zone{z}", "valve", f"{{slug}}_zone_{z + 1}", "water", None)
            for z in range(int(rng.integers(1, 5)))
        ]
    if model.battery is not None:
        specs.append(("battery", "sensor", "{slug}_battery", "battery", "%"))
    tamper = model.protocol == "z-wave" and kind in TAMPER_KINDS
    if tamper and rng.random() < plan.setup.tamper:
        specs.append(TAMPER_ENTITY)
    specs += _radio_entities(rng, plan, model)
    device.unassigned = bool(rng.random() < plan.setup.unassigned)
    first = len(plan.entities)
    for role, domain, pattern, dc, unit in specs:
        device.roles[role] = _entity(
            plan,
            domain,
            pattern.format(**fields),
            None if dc is None else dc.format(**fields),
            None if unit is None else unit.format(**fields),
        )
    plan.devices.append(device)
    plan.device_entities.append(list(range(first, len(plan.entities))))
    return device


def _radio_entities(
    rng: np.random.Generator, plan: HomePlan, model: Model
) -> list[tuple[str, str, str, str | None, str | None]]:
    """Return the link-quality entities the home's integration shows."""
    signal = ("rssi", "sensor", "{slug}_signal_strength", "signal_strength", "dBm")
    if not plan.setup.radio_entities:
        return []
    if model.protocol == "zigbee" and plan.zigbee_stack == "z2m":
        return [("lqi", "sensor", "{slug}_linkquality", None, "lqi")]
    if model.protocol == "zigbee":  # ZHA: disabled unless the user enabled them
        if rng.random() < 0.35:
            return [
                ("lqi", "sensor", "{slug}_lqi", None, None),
                ("rssi", "sensor", "{slug}_rssi", "signal_strength", "dBm"),
            ]
        return []
    if model.protocol == "z-wave" or "rssi" in model.features:
        return [signal]
    return []


def _add_deviceless(plan: HomePlan) -> None:
    plan.extra["sun"] = _entity(plan, "sun", "sun", None, None)
    plan.extra["weather"] = _entity(plan, "weather", "home", None, None)
    plan.extra["zone"] = _entity(plan, "zone", "home", None, None)
    for i, name in enumerate(plan.names):
        plan.extra[f"person{i}"] = _entity(plan, "person", name, None, None)
