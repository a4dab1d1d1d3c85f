"""HomeIQ: local machine learning on the home's own events."""

from pathlib import Path
import shutil

from homeassistant.const import EVENT_HOMEASSISTANT_STOP, Platform
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers.typing import ConfigType

from . import model_store
from .backfill import async_start_backfill
from .collector import Collector
from .const import CONF_RETENTION_DAYS, DEFAULT_RETENTION_DAYS, DOMAIN
from .coordinator import HomeIQConfigEntry, HomeIQCoordinator, HomeIQRuntimeData
from .entity import remove_stale_entities
from .inventory import Selection
from .repairs import async_update_issues
from .services import async_setup_services
from .storage import HomeIQStore
from .views import async_register_views

PLATFORMS = [Platform.BINARY_SENSOR, Platform.SENSOR]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register HomeIQ's actions (they answer even before an entry loads)."""
    async_setup_services(hass)
    async_register_views(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: HomeIQConfigEntry) -> bool:
    """Restore the telemetry, start collecting, score, and publish the entities."""
    store = HomeIQStore(hass)
    state = await store.async_load_state()
    collector = Collector(
        hass,
        Selection.from_options(entry.options),
        retention_days=entry.options.get(CONF_RETENTION_DAYS, DEFAULT_RETENTION_DAYS),
    )
    await collector.async_restore(state["telemetry"], state["saved_at"])
    state["telemetry"] = None  # restored; its JSON form is not kept in memory
    coordinator = HomeIQCoordinator(hass, entry, collector, store, state)
    entry.runtime_data = HomeIQRuntimeData(
        collector=collector, coordinator=coordinator, store=store, state=state
    )
    entry.async_on_unload(collector.async_start())

    @callback
    def rescore() -> None:
        # Rebuilds are debounced already: score the new inventory at once.
        entry.async_create_task(hass, coordinator.async_refresh())

    entry.async_on_unload(collector.add_listener(rescore))
    await coordinator.async_config_entry_first_refresh()
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)

    @callback
    def after_scoring() -> None:
        remove_stale_entities(entry)
        async_update_issues(hass, entry)

    after_scoring()
    entry.async_on_unload(coordinator.async_add_listener(after_scoring))

    async def save_on_stop(_event: Event) -> None:
        await coordinator.async_save_now()

    entry.async_on_unload(
        hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, save_on_stop)
    )
    if not state["backfill"]["done"]:
        async_start_backfill(hass, entry)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: HomeIQConfigEntry) -> bool:
    """Save the telemetry, stop collecting and remove the entities."""
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.coordinator.async_save_now()
    return unloaded


async def async_remove_entry(hass: HomeAssistant, entry: HomeIQConfigEntry) -> None:
    """Delete the uploaded models when HomeIQ is removed."""
    directory = Path(hass.config.path(model_store.STORE_PATH))
    await hass.async_add_executor_job(
        lambda: shutil.rmtree(directory, ignore_errors=True)
    )
