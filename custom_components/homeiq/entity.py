"""Base entity for HomeIQ."""

from homeassistant.helpers.device_registry import DeviceEntryType, DeviceInfo
from homeassistant.helpers.entity import EntityDescription
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import HomeIQCoordinator


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
