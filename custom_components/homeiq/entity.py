"""Base entities of HomeIQ: on its service device, or on a monitored device's page."""

from collections.abc import Callable, Iterable
from typing import override

from homeassistant.core import callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import HomeIQConfigEntry, HomeIQCoordinator
from .core.health import DeviceHealth


class HomeIQEntity(CoordinatorEntity[HomeIQCoordinator]):
    """An entity of HomeIQ's own service device."""

    _attr_has_entity_name = True

    def __init__(
        self, coordinator: HomeIQCoordinator, description: EntityDescription
    ) -> None:
        """Attach the entity to the HomeIQ service device of its config entry."""
        super().__init__(coordinator)
        self.entity_description = description
        entry_id = coordinator.config_entry.entry_id
        self._attr_unique_id = f"{entry_id}_{description.key}"
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, entry_id)},
            name="HomeIQ",
            manufacturer="HomeIQ",
            entry_type=DeviceEntryType.SERVICE,
        )


class HomeIQDeviceEntity(CoordinatorEntity[HomeIQCoordinator]):
    """An entity about one monitored device, shown on that device's own page.

    The device belongs to another integration, so the entity links to it through
    `device_entry` (never `device_info`, which would claim the device).
    """

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: HomeIQCoordinator,
        description: EntityDescription,
        device: dr.AnyDeviceEntry,
    ) -> None:
        """Link the entity to `device`."""
        super().__init__(coordinator)
        self.entity_description = description
        self.device_id = device.id
        self.device_entry = device
        self._attr_unique_id = f"{device.id}_{description.key}"
        self._shown: tuple[object, ...] | None = None  # as last written

    @property
    def scores(self) -> DeviceHealth | None:
        """Return this device's scores in the latest result, None if absent."""
        return self.coordinator.data.health.devices.get(self.device_id)

    @property
    def available(self) -> bool:
        """Return True while the device is scored."""
        return super().available and self.scores is not None

    def _showing(self) -> tuple[object, ...]:
        return (self.available, self.state, self.extra_state_attributes)

    @override
    async def async_added_to_hass(self) -> None:
        """Listen to the coordinator; HA writes the state right after this returns."""
        await super().async_added_to_hass()
        self._shown = self._showing()  # what that first write shows

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        """Write the state when what it shows changed, not after every scoring.

        Most devices read the same from one scoring to the next: at 1,000 devices,
        writing every state again held the event loop about 40 ms per scoring and
        sent the recorder thousands of re-reports.
        """
        shown = self._showing()
        if shown != self._shown:
            self._shown = shown
            self.async_write_ha_state()


def device_id_of(unique_id: str) -> str:
    """Return the device id part of a per-device entity's unique id."""
    return unique_id.partition("_")[0]


@callback
def track_devices(
    entry: HomeIQConfigEntry,
    make: Callable[[dr.AnyDeviceEntry], Iterable[Entity]],
    add: Callable[[Iterable[Entity]], None],
) -> None:
    """Add entities for every scored device, now and whenever new ones appear."""
    coordinator = entry.runtime_data.coordinator
    registry = dr.async_get(coordinator.hass)
    known: set[str] = set()

    @callback
    def refresh() -> None:
        if coordinator.data is None:
            return
        current = set(coordinator.data.health.devices)
        new = current - known
        known.intersection_update(current)
        entities: list[Entity] = []
        for device_id in sorted(new):
            device = registry.async_get(device_id)
            if device is not None:
                known.add(device_id)
                entities.extend(make(device))
        if entities:
            add(entities)

    refresh()
    entry.async_on_unload(coordinator.async_add_listener(refresh))


@callback
def remove_stale_entities(entry: HomeIQConfigEntry) -> None:
    """Remove per-device entities of devices HomeIQ no longer watches."""
    coordinator = entry.runtime_data.coordinator
    if coordinator.data is None:
        return
    current = coordinator.data.health.devices
    registry = er.async_get(coordinator.hass)
    for item in er.async_entries_for_config_entry(registry, entry.entry_id):
        # HA unlinks (device_id None) our entities of a device it removed.
        if item.unique_id.startswith(entry.entry_id):
            continue
        if device_id_of(item.unique_id) not in current:
            registry.async_remove(item.entity_id)
