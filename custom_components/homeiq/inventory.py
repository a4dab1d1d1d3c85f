"""The home's inventory, read from Home Assistant's registries.

The core works on an `Inventory` (floors, areas, devices and their entities); this
module builds one from the floor, area, device and entity registries, keeping the
devices the options select. Next to it, `HomeView` keeps what only Home Assistant
knows and the rules need: which integration owns a device, its hub, the entities
that carry a battery level or a Z-Wave node status, and the name users see.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import (
    area_registry as ar,
    device_registry as dr,
    entity_registry as er,
    floor_registry as fr,
)

from .const import DOMAIN
from .core.dataset import Area, Device, Entity, Floor, Inventory
from .core.telemetry import shows_liveness

HOME_ID = "home"
# The radio each integration speaks; anything else is "other" (or "unknown").
PROTOCOL_OF_INTEGRATION: Mapping[str, str] = {
    "zha": "zigbee",
    "deconz": "zigbee",
    "hue": "zigbee",
    "tradfri": "zigbee",
    "zwave_js": "z-wave",
    "zwave_me": "z-wave",
    "matter": "matter",
    "thread": "thread",
    "homekit_controller": "thread",
    "bluetooth": "bluetooth",
    "bthome": "bluetooth",
    "xiaomi_ble": "bluetooth",
    "switchbot": "bluetooth",
    "esphome": "wifi",
    "shelly": "wifi",
    "tplink": "wifi",
    "tasmota": "wifi",
    "wled": "wifi",
    "tuya": "wifi",
    "sonos": "wifi",
    "cast": "wifi",
}
NODE_STATUS_KEY = "node_status"  # zwave_js's node status sensor (dead/alive)


@dataclass(frozen=True, slots=True)
class Selection:
    """Which devices HomeIQ watches: include lists (empty: all) and exclude lists.

    Keys are facets of a device: "integrations" (config entry domains), "areas",
    "labels" and "devices" (device ids).
    """

    include: Mapping[str, frozenset[str]] = field(default_factory=dict)
    exclude: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_options(cls, options: Mapping[str, object]) -> Selection:
        """Read the include_* and exclude_* options of a config entry."""
        include: dict[str, frozenset[str]] = {}
        exclude: dict[str, frozenset[str]] = {}
        for facet in ("integrations", "areas", "labels", "devices"):
            include[facet] = _strings(options.get(f"include_{facet}"))
            exclude[facet] = _strings(options.get(f"exclude_{facet}"))
        return cls(include, exclude)

    def admits(self, facets: Mapping[str, set[str]]) -> bool:
        """Return True when a device with these facet values is watched."""
        for facet, values in facets.items():
            wanted = self.include.get(facet)
            if wanted and not wanted & values:
                return False
            if self.exclude.get(facet, frozenset()) & values:
                return False
        return True


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """What HA knows of a watched device beyond the core's `Device`."""

    name: str
    integration: str | None
    hub: str | None  # the device it connects through (via_device), if any
    battery_entities: tuple[str, ...]
    node_status_entity: str | None


@dataclass(frozen=True, slots=True)
class HomeView:
    """The inventory HomeIQ watches, plus HA-only facts per device."""

    inventory: Inventory
    devices: Mapping[str, DeviceInfo]

    @property
    def watched(self) -> frozenset[str]:
        """Return every entity id of the inventory (the collector's filter)."""
        return frozenset(entity.entity_id for entity in self.inventory.all_entities())

    def group_of(self, device_id: str) -> str | None:
        """Return the hub device id, else the integration, a device depends on."""
        info = self.devices.get(device_id)
        if info is None:
            return None
        if info.hub is not None:
            return f"device:{info.hub}"
        return None if info.integration is None else f"integration:{info.integration}"


def _strings(value: object) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset({value})
    if isinstance(value, Iterable):
        return frozenset(item for item in value if isinstance(item, str))
    return frozenset()


@callback
def build_home(hass: HomeAssistant, selection: Selection) -> HomeView:
    """Return the watched part of the home as the registries describe it now."""
    devices = dr.async_get(hass)
    entities = er.async_get(hass)
    areas = ar.async_get(hass)
    floors = fr.async_get(hass)
    by_device: dict[str, list[er.RegistryEntry]] = {}
    loose: list[Entity] = []
    for entry in entities.entities.values():
        if entry.platform == DOMAIN or entry.disabled_by is not None:
            continue
        if entry.device_id is None:
            loose.append(_entity(entry))
        elif shows_liveness(entry.entity_id):
            by_device.setdefault(entry.device_id, []).append(entry)
    watched: list[Device] = []
    infos: dict[str, DeviceInfo] = {}
    for device in devices.devices:
        members = by_device.get(device.id)
        if not members or not _watchable(hass, device, members, selection):
            continue
        integration = _integration(hass, device.config_entry_id)
        core_entities = tuple(_entity(entry) for entry in members)
        info = _info(device, integration, members)
        watched.append(_device(device, integration, info.hub, core_entities))
        infos[device.id] = info
    # A hub HomeIQ does not watch (no entities, or excluded) is no inventory device.
    ids = {device.device_id for device in watched}
    watched = [
        device if device.via_device in ids else replace(device, via_device=None)
        for device in watched
    ]
    return HomeView(
        Inventory(
            home_id=HOME_ID,
            time_zone=hass.config.time_zone,
            floors=tuple(
                Floor(floor.floor_id, floor.name, floor.level)
                for floor in floors.async_list_floors()
            ),
            areas=tuple(
                Area(area.id, area.name, area.floor_id)
                for area in areas.async_list_areas()
            ),
            devices=tuple(watched),
            entities=tuple(loose),
        ),
        infos,
    )


def _watchable(
    hass: HomeAssistant,
    device: dr.AnyDeviceEntry,
    members: list[er.RegistryEntry],
    selection: Selection,
) -> bool:
    """Return True for an enabled, physical device the options select."""
    if device.disabled_by is not None:
        return False
    if isinstance(device, dr.DeviceEntry) and (
        device.entry_type is dr.DeviceEntryType.SERVICE
    ):
        return False
    integration = _integration(hass, device.config_entry_id)
    return selection.admits(
        {
            "integrations": set() if integration is None else {integration},
            "areas": {
                area
                for area in (device.area_id, *(entry.area_id for entry in members))
                if area is not None
            },
            "labels": set(device.labels).union(*(entry.labels for entry in members)),
            "devices": {device.id},
        }
    )


def _integration(hass: HomeAssistant, entry_id: str | None) -> str | None:
    entry: ConfigEntry | None = (
        None if entry_id is None else hass.config_entries.async_get_entry(entry_id)
    )
    return None if entry is None else entry.domain


def _entity(entry: er.RegistryEntry) -> Entity:
    return Entity(
        entry.entity_id,
        entry.domain,
        entry.device_class or entry.original_device_class,
        entry.unit_of_measurement,
    )


def _device(
    device: dr.AnyDeviceEntry,
    integration: str | None,
    hub: str | None,
    entities: tuple[Entity, ...],
) -> Device:
    full = device if isinstance(device, dr.DeviceEntry) else None
    battery = any(entity.device_class == "battery" for entity in entities)
    return Device(
        device_id=device.id,
        name=device.name_by_user or device.name,
        manufacturer=None if full is None else full.manufacturer,
        model=None if full is None else full.model,
        protocol=PROTOCOL_OF_INTEGRATION.get(integration or "", "other")
        if integration
        else "unknown",
        power_source="battery" if battery else "unknown",
        area_id=device.area_id,
        entities=entities,
        integration=integration,
        via_device=hub,
    )


def _info(
    device: dr.AnyDeviceEntry, integration: str | None, members: list[er.RegistryEntry]
) -> DeviceInfo:
    if isinstance(device, dr.DeviceEntry):
        hub = device.via_device_id
    else:
        hub = device.parent_device_id
    return DeviceInfo(
        name=device.name_by_user or device.name or device.id,
        integration=integration,
        hub=hub,
        battery_entities=tuple(
            entry.entity_id
            for entry in members
            if entry.domain == "sensor"
            and (entry.device_class or entry.original_device_class) == "battery"
        ),
        node_status_entity=next(
            (
                entry.entity_id
                for entry in members
                if entry.platform == "zwave_js"
                and entry.translation_key == NODE_STATUS_KEY
            ),
            None,
        ),
    )
