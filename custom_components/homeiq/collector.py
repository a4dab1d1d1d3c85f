"""Collect the home's telemetry from Home Assistant's event bus.

One `state_changed` and one `state_reported` listener feed the core's
`TelemetryAggregator`. Both are filtered before the callback runs: only entities of
the watched inventory pass, so HomeIQ's own entities (never in the inventory) and
excluded devices cost a set lookup. The registries are followed too: when devices,
entities, areas or floors change, the inventory is rebuilt once the burst of
changes has settled, and the aggregator is carried over to it (devices that stay
keep every counter; new ones start empty; removed ones are dropped).
"""

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
import math
import time
from typing import Any

from homeassistant.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED
from homeassistant.core import (
    CALLBACK_TYPE,
    Event,
    EventStateChangedData,
    EventStateReportedData,
    HomeAssistant,
    State,
    callback,
)
from homeassistant.helpers import (
    area_registry as ar,
    device_registry as dr,
    entity_registry as er,
    floor_registry as fr,
)
from homeassistant.helpers.debounce import Debouncer

from .const import DOMAIN, LOGGER, REBUILD_DELAY
from .core.aggregator import TelemetryAggregator
from .core.dataset import Inventory
from .core.rollups import RollupError
from .inventory import HomeView, Selection, build_home
from .storage import unpack_telemetry

# An event kept aside: (a change, not a re-report?, entity id, state, attributes,
# POSIX s).
type Later = tuple[bool, str, str | None, Mapping[str, Any] | None, float]


def restore_aggregator(
    inventory: Inventory,
    saved: object,
    saved_at: float | None,
    retention_days: int,
) -> TelemetryAggregator:
    """Return the saved aggregator for `inventory`, or a fresh one if unreadable."""
    now = time.time()
    try:
        aggregator = TelemetryAggregator.from_json(
            inventory, unpack_telemetry(saved), history_days=retention_days
        )
    except RollupError as error:
        LOGGER.warning("Saved telemetry unreadable, starting afresh: %s", error)
        return TelemetryAggregator(inventory, start=now, history_days=retention_days)
    if saved_at is not None:
        aggregator.mark_gap(saved_at, now)
    return aggregator


class Collector:
    """Own the aggregator and the home's inventory, and keep both current."""

    def __init__(
        self,
        hass: HomeAssistant,
        selection: Selection,
        *,
        retention_days: int,
    ) -> None:
        """Build the inventory and a fresh aggregator (see `async_restore`)."""
        self.hass = hass
        self.selection = selection
        self.retention_days = retention_days
        self.home = build_home(hass, selection)
        self._watched = self.home.watched
        self.malformed = 0  # events whose data was not a state
        # While the back-fill hands over: a copy of the events from `_tap_from` on.
        self._later: list[Later] | None = None
        self._tap_from = math.inf
        self.rebuilds = 0
        self.aggregator = TelemetryAggregator(
            self.home.inventory, start=time.time(), history_days=retention_days
        )
        self._listeners: list[Callable[[], None]] = []
        self._debouncer = Debouncer(
            hass,
            LOGGER,
            cooldown=REBUILD_DELAY.total_seconds(),
            immediate=False,
            function=self.async_rebuild,
        )

    async def async_restore(self, saved: object, saved_at: float | None) -> None:
        """Restore saved telemetry in the executor (30 days take a while to read).

        Call before `async_start`. The time since `saved_at`, when HA was down, is
        marked as a gap: neither silence nor watched time.
        """
        if saved is None:
            return
        self.aggregator = await self.hass.async_add_executor_job(
            restore_aggregator,
            self.home.inventory,
            saved,
            saved_at,
            self.retention_days,
        )

    # --- listening ----------------------------------------------------------------

    @callback
    def async_start(self) -> CALLBACK_TYPE:
        """Listen to states and registries; return the callable that stops it all."""
        bus = self.hass.bus
        unsubscribe = [
            bus.async_listen(
                EVENT_STATE_CHANGED, self._on_changed, event_filter=self._is_watched
            ),
            bus.async_listen(
                EVENT_STATE_REPORTED, self._on_reported, event_filter=self._is_watched
            ),
            bus.async_listen(
                er.EVENT_ENTITY_REGISTRY_UPDATED,
                self._on_registry,
                event_filter=self._is_foreign_entity,
            ),
            *(
                bus.async_listen(event_type, self._on_registry)
                for event_type in (
                    dr.EVENT_DEVICE_REGISTRY_UPDATED,
                    ar.EVENT_AREA_REGISTRY_UPDATED,
                    fr.EVENT_FLOOR_REGISTRY_UPDATED,
                )
            ),
        ]

        @callback
        def stop() -> None:
            for remove in unsubscribe:
                remove()
            self._debouncer.async_shutdown()

        return stop

    @callback
    def _is_watched(self, data: Mapping[str, Any]) -> bool:
        """Pass only events of watched entities (anyone can fire odd ones)."""
        entity_id = data.get("entity_id")
        return entity_id.__class__ is str and entity_id in self._watched

    @callback
    def _on_changed(self, event: Event[EventStateChangedData]) -> None:
        """Fold one state change into the telemetry; a removal carries no state."""
        state = event.data.get("new_state")
        if state is None:
            return
        if not isinstance(state, State):
            self.malformed += 1
            return
        timestamp = state.last_updated_timestamp
        self.aggregator.record(
            state.entity_id, state.state, state.attributes, timestamp
        )
        if self._later is not None and timestamp >= self._tap_from:
            self._later.append(
                (
                    True,
                    state.entity_id,
                    state.state,
                    state.attributes,
                    timestamp,
                )
            )

    @callback
    def _on_reported(self, event: Event[EventStateReportedData]) -> None:
        """Fold a re-report of an unchanged state in: the device is alive."""
        state = event.data.get("new_state")
        if not isinstance(state, State):
            self.malformed += 1
            return
        timestamp = state.last_reported_timestamp
        self.aggregator.report(state.entity_id, timestamp)
        if self._later is not None and timestamp >= self._tap_from:
            self._later.append((False, state.entity_id, None, None, timestamp))

    @contextmanager
    def tap(self, since: float) -> Iterator[list[Later]]:
        """Keep a copy of the events from `since` on aside while the block runs.

        The back-fill's hand-over: the recorder gives what came before `since`,
        this list what came at or after it, so each event counts once.
        """
        later: list[Later] = []
        self._later, self._tap_from = later, since
        try:
            yield later
        finally:
            self._later, self._tap_from = None, math.inf

    # --- following the registries --------------------------------------------------

    @callback
    def _is_foreign_entity(self, data: Mapping[str, Any]) -> bool:
        """Skip changes to HomeIQ's own entities (they are never watched)."""
        entity_id = data.get("entity_id")
        if entity_id.__class__ is not str:
            return False
        if data.get("action") == "remove":
            return entity_id in self._watched
        entry = er.async_get(self.hass).async_get(entity_id)
        return entry is not None and entry.platform != DOMAIN

    @callback
    def _on_registry(self, _event: Event[Any]) -> None:
        self._debouncer.async_schedule_call()

    @callback
    def add_listener(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call `listener` after each rebuild that changed the inventory."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @callback
    def async_rebuild(self, selection: Selection | None = None) -> bool:
        """Re-read the registries; return True when the inventory changed."""
        if selection is not None:
            self.selection = selection
        home = build_home(self.hass, self.selection)
        if home == self.home:
            return False
        # The closed days carry over as they are (immutable), not through JSON.
        state = self.aggregator.to_json(history=False)
        state["history"] = list(self.aggregator.history)
        self.aggregator = TelemetryAggregator.from_json(
            home.inventory, state, history_days=self.retention_days
        )
        self.home = home
        self._watched = home.watched
        self.rebuilds += 1
        for listener in list(self._listeners):
            listener()
        return True

    @callback
    def async_advance(self, now: float) -> int:
        """Close the days that ended by `now` (a quiet home's too)."""
        return self.aggregator.advance_to(now)

    def home_view(self) -> HomeView:
        """Return the watched home as it is now."""
        return self.home
