"""Diagnostics for HomeIQ: what the collector has seen."""

from typing import Any

from homeassistant.core import HomeAssistant

from .coordinator import HomeIQConfigEntry


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: HomeIQConfigEntry
) -> dict[str, Any]:
    """Return the event tally per domain (entity ids are not included)."""
    return {"events": entry.runtime_data.collector.tally.as_dict()}
