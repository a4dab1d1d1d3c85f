"""Sensors of HomeIQ: the home on its service device, health on each device's page."""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfTime
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.util import dt as dt_util

from .coordinator import HomeIQConfigEntry, HomeIQData
from .core.dataset import HOME_TYPES
from .core.health import DeviceHealth
from .entity import HomeIQDeviceEntity, HomeIQEntity, track_devices

# Entities only read the coordinator's result.
PARALLEL_UPDATES = 0

type Value = int | float | str | datetime | None


@dataclass(frozen=True, kw_only=True)
class HomeIQSensorDescription(SensorEntityDescription):
    """A sensor of the service device, by how it reads a result."""

    value_fn: Callable[[HomeIQData], Value]
    attributes_fn: Callable[[HomeIQData], Mapping[str, Any]] | None = None


@dataclass(frozen=True, kw_only=True)
class DeviceSensorDescription(SensorEntityDescription):
    """A sensor of a monitored device, by how it reads the device's scores."""

    value_fn: Callable[[DeviceHealth], Value]
    attributes_fn: Callable[[DeviceHealth], Mapping[str, Any]] | None = None
    battery_only: bool = False


def _timestamp(iso: str | None) -> datetime | None:
    if iso is None:
        return None
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _home_type_attributes(data: HomeIQData) -> Mapping[str, Any]:
    home = data.health.home_type
    return {
        "probabilities": home.probabilities,
        "observed_days": round(home.observed_days, 1),
        "model_version": data.model_version,
        "source": home.source,
    }


def _reasons(scores: DeviceHealth) -> Mapping[str, Any]:
    return {"reasons": list(scores.reasons), "outage": scores.outage}


def _forecast(scores: DeviceHealth) -> Mapping[str, Any]:
    # A date in HA's time zone: a forecast in days has no time of day, and a time
    # moving on with every scoring would write the state (and a new attributes row
    # in the recorder) every few minutes.
    empty = (
        None
        if scores.battery_empty is None
        else dt_util.as_local(datetime.fromtimestamp(scores.battery_empty, UTC))
        .date()
        .isoformat()
    )
    return {"predicted_empty": empty, "no_forecast": scores.no_forecast}


HOME_SENSORS: tuple[HomeIQSensorDescription, ...] = (
    HomeIQSensorDescription(
        key="home_type",
        translation_key="home_type",
        device_class=SensorDeviceClass.ENUM,
        options=list(HOME_TYPES),
        value_fn=lambda data: data.health.home_type.label,
        attributes_fn=_home_type_attributes,
    ),
    HomeIQSensorDescription(
        key="home_type_confidence",
        translation_key="home_type_confidence",
        native_unit_of_measurement=PERCENTAGE,
        suggested_display_precision=0,
        value_fn=lambda data: round(100 * data.health.home_type.confidence, 1),
    ),
    HomeIQSensorDescription(
        key="devices_monitored",
        translation_key="devices_monitored",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda data: data.devices_monitored,
    ),
    HomeIQSensorDescription(
        key="devices_at_risk",
        translation_key="devices_at_risk",
        state_class=SensorStateClass.MEASUREMENT,
        value_fn=lambda data: data.health.at_risk,
    ),
    HomeIQSensorDescription(
        key="backfill_progress",
        translation_key="backfill_progress",
        native_unit_of_measurement=PERCENTAGE,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda data: data.backfill_progress,
    ),
    HomeIQSensorDescription(
        key="model_version",
        translation_key="model_version",
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda data: data.model_version,
    ),
    HomeIQSensorDescription(
        key="last_model_update",
        translation_key="last_model_update",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda data: _timestamp(data.model_updated),
    ),
)

DEVICE_SENSORS: tuple[DeviceSensorDescription, ...] = (
    DeviceSensorDescription(
        key="health",
        translation_key="health",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        value_fn=lambda scores: scores.health,
        attributes_fn=_reasons,
    ),
    DeviceSensorDescription(
        key="failure_risk",
        translation_key="failure_risk",
        native_unit_of_measurement=PERCENTAGE,
        state_class=SensorStateClass.MEASUREMENT,
        suggested_display_precision=0,
        # Disabled by default: health (100 x (1 - risk) x the anomaly factor) and
        # the problem sensor (risk >= 50 %) already show it, and it moves with
        # every scoring: at 1,000 devices, 288,000 recorder rows a day and a
        # quarter of HomeIQ's start-up and memory, for a number most never read.
        entity_registry_enabled_default=False,
        value_fn=lambda scores: round(100 * scores.failure_risk, 1),
        attributes_fn=_reasons,
    ),
    DeviceSensorDescription(
        key="battery_days_left",
        translation_key="battery_days_left",
        device_class=SensorDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.DAYS,
        suggested_display_precision=0,
        battery_only=True,
        value_fn=lambda scores: scores.battery_days_left,
        attributes_fn=_forecast,
    ),
    DeviceSensorDescription(
        key="anomaly_score",
        translation_key="anomaly_score",
        state_class=SensorStateClass.MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,  # changes with every scoring
        suggested_display_precision=2,
        value_fn=lambda scores: scores.anomaly,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: HomeIQConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add the home's sensors, and each monitored device's, now and later."""
    coordinator = entry.runtime_data.coordinator
    async_add_entities(
        HomeIQSensor(coordinator, description) for description in HOME_SENSORS
    )

    def make(device: dr.AnyDeviceEntry) -> Iterable[Entity]:
        battery = entry.runtime_data.collector.home.devices.get(device.id)
        has_battery = battery is not None and bool(battery.battery_entities)
        return [
            DeviceSensor(coordinator, description, device)
            for description in DEVICE_SENSORS
            if has_battery or not description.battery_only
        ]

    track_devices(entry, make, async_add_entities)


class HomeIQSensor(HomeIQEntity, SensorEntity):
    """A sensor of the home, showing one value of the latest result."""

    entity_description: HomeIQSensorDescription

    @property
    @override
    def native_value(self) -> Value:
        """Return the sensor's value in the latest result."""
        return self.entity_description.value_fn(self.coordinator.data)

    @property
    @override
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Return the attributes the description asks for."""
        if self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(self.coordinator.data)


class DeviceSensor(HomeIQDeviceEntity, SensorEntity):
    """A sensor of one monitored device."""

    entity_description: DeviceSensorDescription

    @property
    @override
    def native_value(self) -> Value:
        """Return the device's value in the latest result."""
        scores = self.scores
        return None if scores is None else self.entity_description.value_fn(scores)

    @property
    @override
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Return the reasons (or the forecast) behind the value."""
        scores = self.scores
        if scores is None or self.entity_description.attributes_fn is None:
            return None
        return self.entity_description.attributes_fn(scores)
