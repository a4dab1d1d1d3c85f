"""Coordinator that publishes snapshots of the collected telemetry."""

from dataclasses import dataclass
from typing import override

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator

from .collector import EventCollector
from .const import DOMAIN, LOGGER, UPDATE_INTERVAL


@dataclass(frozen=True, kw_only=True)
class HomeIQSnapshot:
    """What the entities show, taken at one refresh."""

    events_seen: int


@dataclass(kw_only=True)
class HomeIQRuntimeData:
    """Objects that live as long as the config entry is loaded."""

    collector: EventCollector
    coordinator: HomeIQCoordinator


type HomeIQConfigEntry = ConfigEntry[HomeIQRuntimeData]


class HomeIQCoordinator(DataUpdateCoordinator[HomeIQSnapshot]):
    """Turn the collector's running telemetry into periodic snapshots."""

    config_entry: HomeIQConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: HomeIQConfigEntry,
        collector: EventCollector,
    ) -> None:
        """Initialise the coordinator for `entry`."""
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=DOMAIN,
            update_interval=UPDATE_INTERVAL,
        )
        self.collector = collector

    @override
    async def _async_update_data(self) -> HomeIQSnapshot:
        """Snapshot the telemetry (in memory, so it cannot fail)."""
        return HomeIQSnapshot(events_seen=self.collector.tally.seen)
