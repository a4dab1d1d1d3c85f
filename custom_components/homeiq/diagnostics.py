"""Diagnostics for HomeIQ: what it watches and concludes, without names or ids."""

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .coordinator import HomeIQConfigEntry

TO_REDACT = {"include_devices", "exclude_devices", "home_type"}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: HomeIQConfigEntry
) -> dict[str, Any]:
    """Return counts and scores; device ids are replaced by their position."""
    data = entry.runtime_data
    coordinator = data.coordinator
    aggregator = data.collector.aggregator
    inventory = data.collector.home.inventory
    result = coordinator.data
    devices = []
    if result is not None:
        for scores in result.health.devices.values():
            devices.append(
                {
                    "health": scores.health,
                    "failure_risk": scores.failure_risk,
                    "battery_days_left": scores.battery_days_left,
                    "no_forecast": scores.no_forecast,
                    "anomaly": scores.anomaly,
                    "problem": scores.problem,
                    "reasons": list(scores.reasons),
                }
            )
    return {
        "options": async_redact_data(dict(entry.options), TO_REDACT),
        "inventory": {
            "devices": len(inventory.devices),
            "entities": sum(1 for _ in inventory.all_entities()),
            "areas": len(inventory.areas),
            "floors": len(inventory.floors),
            "time_zone": aggregator.time_zone,
        },
        "telemetry": {
            "day": aggregator.day,
            "days_kept": len(aggregator.history),
            "days_closed": aggregator.days_closed,
            "odd_input": aggregator.counters(),
            "malformed_events": data.collector.malformed,
            "inventory_rebuilds": data.collector.rebuilds,
        },
        "backfill": dict(data.state["backfill"]),
        "labels": {
            "battery_replaced": len(data.state["labels"]["battery_replaced"]),
            "failures": len(data.state["labels"]["failures"]),
        },
        "models": {
            "version": coordinator.models.models.version,
            "refused": coordinator.models.refused,
            "uploaded": {
                name: versions["current"].version
                for name, versions in coordinator.model_store.index.items()
            },
            "rolled_back": dict(coordinator.rolled_back),
        },
        "scores": devices,
        "outages": 0 if result is None else len(result.health.outages),
    }
