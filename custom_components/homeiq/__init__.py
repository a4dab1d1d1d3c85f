"""HomeIQ: local machine learning on the home's own events."""

from homeassistant.const import Platform
from homeassistant.core import HomeAssistant

from .collector import EventCollector
from .coordinator import HomeIQConfigEntry, HomeIQCoordinator, HomeIQRuntimeData

PLATFORMS = [Platform.SENSOR]


async def async_setup_entry(hass: HomeAssistant, entry: HomeIQConfigEntry) -> bool:
    """Start collecting events and publish the entities."""
    collector = EventCollector(hass)
    entry.async_on_unload(collector.async_start())
    coordinator = HomeIQCoordinator(hass, entry, collector)
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = HomeIQRuntimeData(collector=collector, coordinator=coordinator)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: HomeIQConfigEntry) -> bool:
    """Stop collecting and remove the entities."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
