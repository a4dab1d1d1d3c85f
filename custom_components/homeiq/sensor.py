"""Sensors of HomeIQ."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import override

from homeassistant.components.sensor import (
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .coordinator import HomeIQConfigEntry, HomeIQSnapshot
from .entity import HomeIQEntity

# Entities only read the coordinator's snapshot.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class HomeIQSensorDescription(SensorEntityDescription):
    """Describe a HomeIQ sensor by how it reads a snapshot."""

    value_fn: Callable[[HomeIQSnapshot], int | float | str | None]


DESCRIPTIONS: tuple[HomeIQSensorDescription, ...] = (
    HomeIQSensorDescription(
        key="events_seen",
        translation_key="events_seen",
        entity_category=EntityCategory.DIAGNOSTIC,
        state_class=SensorStateClass.TOTAL_INCREASING,
        value_fn=lambda snapshot: snapshot.events_seen,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomeIQConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add HomeIQ's sensors."""
    coordinator = entry.runtime_data.coordinator
    async_add_entities(
        HomeIQSensor(coordinator, description) for description in DESCRIPTIONS
    )


class HomeIQSensor(HomeIQEntity, SensorEntity):
    """A sensor showing one value of the latest snapshot."""

    entity_description: HomeIQSensorDescription

    @property
    @override
    def native_value(self) -> int | float | str | None:
        """Return the sensor's value in the latest snapshot."""
        return self.entity_description.value_fn(self.coordinator.data)
