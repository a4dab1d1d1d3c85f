"""Collect the home's entity events from Home Assistant's event bus."""

from homeassistant.const import EVENT_STATE_CHANGED
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    HomeAssistant,
    callback,
)
from homeassistant.helpers import entity_registry as er

from .const import DOMAIN
from .core.telemetry import EventTally


class EventCollector:
    """Feed every `state_changed` event of other integrations into the telemetry.

    Runs on the event loop: each event costs a registry lookup and an O(1) update.
    HomeIQ's own entities are skipped, or each refresh of our sensors would count
    itself.
    """

    def __init__(self, hass: HomeAssistant) -> None:
        """Initialise an idle collector; `async_start` begins listening."""
        self.hass = hass
        self.tally = EventTally()
        self._entity_registry = er.async_get(hass)

    @callback
    def async_start(self) -> CALLBACK_TYPE:
        """Listen for state changes; return the callable that stops listening."""
        return self.hass.bus.async_listen(
            EVENT_STATE_CHANGED,
            self._async_on_state_changed,
            event_filter=self._is_foreign,
        )

    @callback
    def _is_foreign(self, event_data: EventStateChangedData) -> bool:
        """Return True unless the event comes from one of HomeIQ's own entities.

        Anyone can fire `state_changed` (the REST API allows it), so the data may
        be malformed; such events pass on to be tallied as rejected.
        """
        entity_id = event_data.get("entity_id")
        if not isinstance(entity_id, str):
            return True
        entry = self._entity_registry.async_get(entity_id)
        return entry is None or entry.platform != DOMAIN

    @callback
    def _async_on_state_changed(self, event: Event[EventStateChangedData]) -> None:
        """Count one state change."""
        self.tally.record(event.data.get("entity_id"))
