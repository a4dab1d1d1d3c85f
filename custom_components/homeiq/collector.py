"""Collect the home's telemetry from Home Assistant's event bus.

One `state_changed` and one `state_reported` listener feed the core's
`TelemetryAggregator`. Both are filtered before the callback runs: only entities of
the watched inventory pass, so HomeIQ's own entities (never in the inventory) and
excluded devices cost a set lookup. The registries are followed too: when devices,
entities, areas or floors change, the inventory is rebuilt once the burst of
changes has settled, and the aggregator is carried over to it (devices that stay
keep every counter; new ones start empty; removed ones are dropped).

The listeners only append the event to a list; `flush` folds the list into the
aggregator in one tight loop, when it holds `FLUSH_EVENTS` events, `FLUSH_SECONDS`
after its first event, and whenever the aggregator is read on the event loop
(scoring, saving, diagnostics, rebuilds, unloading). Between two events HA's loop
runs enough other code to push the aggregator's objects out of the CPU's caches,
so folding one event at a time costs two to three times what the same fold costs
in a loop. Folding is the same whether buffered or not: the aggregator ends in the
same state (tested).
"""

import asyncio
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
import math
import threading
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
# An event waiting to be folded in: a change's new `State` (immutable but for its
# `last_reported`, which a change does not read), or a re-report's (entity id,
# POSIX s), its time taken when it happened.
type Pending = State | tuple[str, float]

FLUSH_EVENTS = 1000  # events folded in at once: a second's worth at 1,000/s
FLUSH_SECONDS = 1.0  # the longest an event waits to be folded in


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
        self._aggregator = TelemetryAggregator(
            self.home.inventory, start=time.time(), history_days=retention_days
        )
        self._pending: list[Pending] = []
        self._flush_at = FLUSH_EVENTS  # 1 while tapped: every event folded at once
        self._timer: asyncio.TimerHandle | None = None
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
        self._aggregator = await self.hass.async_add_executor_job(
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
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self.flush()
            self._debouncer.async_shutdown()

        return stop

    @callback
    def _is_watched(self, data: Mapping[str, Any]) -> bool:
        """Pass only events of watched entities (anyone can fire odd ones)."""
        entity_id = data.get("entity_id")
        return entity_id.__class__ is str and entity_id in self._watched

    @callback
    def _on_changed(self, event: Event[EventStateChangedData]) -> None:
        """Keep a state change for the next flush; a removal carries no state."""
        state = event.data.get("new_state")
        if isinstance(state, State):
            # `_keep`, inlined: this runs for every state change of the home.
            pending = self._pending
            pending.append(state)
            if len(pending) >= self._flush_at:
                self.flush()
            elif self._timer is None:
                self._timer = self.hass.loop.call_later(FLUSH_SECONDS, self._on_timer)
        elif state is not None:
            self.malformed += 1

    @callback
    def _on_reported(self, event: Event[EventStateReportedData]) -> None:
        """Keep a re-report of an unchanged state (the device is alive).

        Its time is read now: HA updates the state's `last_reported` in place.
        """
        state = event.data.get("new_state")
        if isinstance(state, State):
            self._keep((state.entity_id, state.last_reported_timestamp))
        else:
            self.malformed += 1

    def _keep(self, event: Pending) -> None:
        pending = self._pending
        pending.append(event)
        if len(pending) >= self._flush_at:
            self.flush()
        elif self._timer is None:
            self._timer = self.hass.loop.call_later(FLUSH_SECONDS, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self.flush()

    @callback
    def flush(self) -> int:
        """Fold the pending events into the aggregator in order; return how many.

        Runs on the event loop. The aggregator never raises on odd input.
        """
        pending = self._pending
        if not pending:
            return 0
        self._pending = []
        if self._later is not None:
            self._fold_tapped(pending)
            return len(pending)
        aggregator = self._aggregator
        record, report = aggregator.record, aggregator.report
        for event in pending:
            if isinstance(event, State):
                record(
                    event.entity_id,
                    event.state,
                    event.attributes,
                    event.last_updated_timestamp,
                )
            else:
                report(*event)
        return len(pending)

    def _fold_tapped(self, pending: list[Pending]) -> None:
        """Fold `pending` in, keeping a copy of those from `_tap_from` on."""
        aggregator, later = self._aggregator, self._later
        assert later is not None
        for event in pending:
            if not isinstance(event, State):
                entity_id, timestamp = event
                aggregator.report(entity_id, timestamp)
                if timestamp >= self._tap_from:
                    later.append((False, entity_id, None, None, timestamp))
                continue
            timestamp = event.last_updated_timestamp
            aggregator.record(event.entity_id, event.state, event.attributes, timestamp)
            if timestamp >= self._tap_from:
                later.append(
                    (True, event.entity_id, event.state, event.attributes, timestamp)
                )

    @property
    def pending(self) -> int:
        """Return how many events wait to be folded in."""
        return len(self._pending)

    @property
    def aggregator(self) -> TelemetryAggregator:
        """Return the aggregator; on the event loop, with every event folded in.

        From another thread (the store's writer) it is returned as it is: the
        pending events are folded in on the loop only.
        """
        if self.hass.loop_thread_id == threading.get_ident():
            self.flush()
        return self._aggregator

    @aggregator.setter
    def aggregator(self, aggregator: TelemetryAggregator) -> None:
        """Replace the aggregator, folding the pending events into the old one."""
        self.flush()
        self._aggregator = aggregator

    @contextmanager
    def tap(self, since: float) -> Iterator[list[Later]]:
        """Keep a copy of the events from `since` on aside while the block runs.

        The back-fill's hand-over: the recorder gives what came before `since`,
        this list what came at or after it, so each event counts once.
        """
        self.flush()
        later: list[Later] = []
        self._later, self._tap_from = later, since
        self._flush_at = 1  # `later` must be complete whenever it is read
        try:
            yield later
        finally:
            self.flush()
            self._later, self._tap_from = None, math.inf
            self._flush_at = FLUSH_EVENTS

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
