"""HomeIQ's actions: scoring, labels, model roll-back and the dataset export.

Battery replacements and failures are labels for training: they are kept with
their time in HomeIQ's storage (and exported with the home's dataset). A battery
marked replaced also restarts that device's battery forecast.
"""

import time
from typing import Any

from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import (
    HomeAssistant,
    ServiceCall,
    ServiceResponse,
    SupportsResponse,
    callback,
)
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv
import probatio as vol

from .const import (
    DOMAIN,
    SERVICE_BATTERY_REPLACED,
    SERVICE_EXPORT_DATASET,
    SERVICE_REPORT_FAILURE,
    SERVICE_ROLLBACK_MODEL,
    SERVICE_SCORE_NOW,
)
from .coordinator import HomeIQConfigEntry
from .core.dataset import FAILURE_KINDS
from .export import ExportError, async_export_file
from .model_store import NAMES

ATTR_DEVICE_ID = "device_id"
ATTR_KIND = "kind"
ATTR_TIME = "time"
ATTR_NAME = "name"
ATTR_PSEUDONYMIZE = "pseudonymize"

DEVICE_SCHEMA = vol.Schema({vol.Required(ATTR_DEVICE_ID): cv.string})
FAILURE_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_DEVICE_ID): cv.string,
        vol.Optional(ATTR_KIND, default="sudden_death"): vol.In(FAILURE_KINDS),
        vol.Optional(ATTR_TIME): cv.datetime,
    }
)

ROLLBACK_SCHEMA = vol.Schema({vol.Required(ATTR_NAME): vol.In(NAMES)})
EXPORT_SCHEMA = vol.Schema({vol.Optional(ATTR_PSEUDONYMIZE, default=False): cv.boolean})


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the actions."""
    hass.services.async_register(
        DOMAIN,
        SERVICE_SCORE_NOW,
        _score_now,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_BATTERY_REPLACED,
        _battery_replaced,
        schema=DEVICE_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_REPORT_FAILURE,
        _report_failure,
        schema=FAILURE_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_ROLLBACK_MODEL,
        _rollback_model,
        schema=ROLLBACK_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )
    hass.services.async_register(
        DOMAIN,
        SERVICE_EXPORT_DATASET,
        _export_dataset,
        schema=EXPORT_SCHEMA,
        supports_response=SupportsResponse.OPTIONAL,
    )


def _entry(hass: HomeAssistant) -> HomeIQConfigEntry:
    """Return the loaded HomeIQ entry, or refuse the action."""
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state is ConfigEntryState.LOADED:
            return entry
    raise ServiceValidationError(
        translation_domain=DOMAIN, translation_key="not_loaded"
    )


def _monitored(entry: HomeIQConfigEntry, device_id: str) -> str:
    if device_id not in entry.runtime_data.collector.home.devices:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="unknown_device",
            translation_placeholders={"device_id": device_id},
        )
    return device_id


async def _score_now(call: ServiceCall) -> ServiceResponse:
    entry = _entry(call.hass)
    coordinator = entry.runtime_data.coordinator
    await coordinator.async_refresh()
    health = coordinator.data.health
    devices: dict[str, Any] = {
        device_id: {
            "health": scores.health,
            "failure_risk": scores.failure_risk,
            "problem": scores.problem,
            "reasons": list(scores.reasons),
        }
        for device_id, scores in health.devices.items()
    }
    return {
        "home_type": health.home_type.label,
        "devices_at_risk": health.at_risk,
        "devices": devices,
    }


async def _battery_replaced(call: ServiceCall) -> ServiceResponse:
    entry = _entry(call.hass)
    device_id = _monitored(entry, call.data[ATTR_DEVICE_ID])
    moment = time.time()
    entry.runtime_data.state["labels"]["battery_replaced"][device_id] = moment
    coordinator = entry.runtime_data.coordinator
    coordinator.async_save()
    await coordinator.async_request_refresh()
    return {"device_id": device_id, "time": moment}


async def _report_failure(call: ServiceCall) -> ServiceResponse:
    entry = _entry(call.hass)
    device_id = _monitored(entry, call.data[ATTR_DEVICE_ID])
    when = call.data.get(ATTR_TIME)
    moment = time.time() if when is None else when.timestamp()
    label = {"device_id": device_id, "kind": call.data[ATTR_KIND], "time": moment}
    entry.runtime_data.state["labels"]["failures"].append(label)
    entry.runtime_data.coordinator.async_save()
    return dict(label)


async def _rollback_model(call: ServiceCall) -> ServiceResponse:
    entry = _entry(call.hass)
    name = call.data[ATTR_NAME]
    coordinator = entry.runtime_data.coordinator
    if coordinator.model_store.current(name) is None:
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="nothing_stored",
            translation_placeholders={"name": name},
        )
    version = await coordinator.async_rollback(name)
    return {
        "name": name,
        "version": version,
        "source": "shipped" if version is None else "uploaded",
    }


async def _export_dataset(call: ServiceCall) -> ServiceResponse:
    entry = _entry(call.hass)
    try:
        path, exported = await async_export_file(
            call.hass, entry, pseudonymize=call.data[ATTR_PSEUDONYMIZE]
        )
    except (ExportError, OSError) as error:
        raise HomeAssistantError(
            translation_domain=DOMAIN,
            translation_key="export_failed",
            translation_placeholders={"error": str(error)},
        ) from error
    return exported.to_json(path)
