"""System health for HomeIQ: a few lines in Settings > System > Repairs."""

from typing import Any

from homeassistant.components import system_health
from homeassistant.core import HomeAssistant, callback

from .const import DOMAIN
from .coordinator import HomeIQConfigEntry


@callback
def async_register(
    hass: HomeAssistant, register: system_health.SystemHealthRegistration
) -> None:
    """Register the info callback."""
    register.async_register_info(system_health_info)


async def system_health_info(hass: HomeAssistant) -> dict[str, Any]:
    """Return what HomeIQ watches and whether its last scoring worked."""
    entries: list[HomeIQConfigEntry] = hass.config_entries.async_loaded_entries(DOMAIN)
    if not entries:
        return {"devices_monitored": 0}
    data = entries[0].runtime_data
    backfill = data.state["backfill"]
    return {
        "devices_monitored": len(data.collector.home.inventory.devices),
        "days_kept": len(data.collector.aggregator.history),
        "model_version": data.coordinator.models.models.version,
        "backfill": "done" if backfill["done"] else f"{backfill['progress']:.0f} %",
        "last_scoring": data.coordinator.last_update_success,
    }
