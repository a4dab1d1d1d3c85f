"""Binary sensors of HomeIQ: a problem flag on each monitored device's page."""

from collections.abc import Iterable, Mapping
from typing import Any, override

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import HomeIQConfigEntry
from .entity import HomeIQDeviceEntity, track_devices

PARALLEL_UPDATES = 0

PROBLEM = BinarySensorEntityDescription(
    key="problem",
    translation_key="problem",
    device_class=BinarySensorDeviceClass.PROBLEM,
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomeIQConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a problem sensor for each monitored device, now and later."""
    coordinator = entry.runtime_data.coordinator

    def make(device: dr.AnyDeviceEntry) -> Iterable[Entity]:
        return [ProblemSensor(coordinator, PROBLEM, device)]

    track_devices(entry, make, async_add_entities)


class ProblemSensor(HomeIQDeviceEntity, BinarySensorEntity):
    """On when HomeIQ expects the device to fail, with the reasons why."""

    @property
    @override
    def is_on(self) -> bool | None:
        """Return True when the device has a problem."""
        scores = self.scores
        return None if scores is None else scores.problem

    @property
    @override
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Return the reasons."""
        scores = self.scores
        if scores is None:
            return None
        return {"reasons": list(scores.reasons), "outage": scores.outage}
