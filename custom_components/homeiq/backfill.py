"""Back-fill: on first set-up, replay the recorder's history into the telemetry.

Predictions need days of rollups; the recorder (HA's own database) usually holds
ten days or more. A fresh aggregator replays them day by day (one chunk per day,
read and folded in the recorder's executor, never on the event loop); the live
collector keeps collecting meanwhile. At the end the back-filled aggregator
catches up to the present from the recorder and replaces the live one, which
loses at most the moments the recorder had not yet committed (about a second).
Progress is saved and shown by a diagnostic sensor; it runs once.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
import math
import time
from typing import Any

from homeassistant.components.recorder import history
from homeassistant.core import HomeAssistant, State, callback
from homeassistant.helpers.recorder import get_instance

from .const import CONF_BACKFILL_DAYS, DEFAULT_BACKFILL_DAYS, LOGGER
from .coordinator import HomeIQConfigEntry
from .core.aggregator import TelemetryAggregator
from .core.dataset import Inventory

DAY = 86400.0


@callback
def async_start_backfill(hass: HomeAssistant, entry: HomeIQConfigEntry) -> None:
    """Start the back-fill in the background (it survives nothing but itself)."""
    entry.async_create_background_task(
        hass, async_backfill(hass, entry), "homeiq backfill"
    )


async def async_backfill(hass: HomeAssistant, entry: HomeIQConfigEntry) -> int:
    """Replay the configured days of history; return how many states were read."""
    data = entry.runtime_data
    progress = data.state["backfill"]
    days = int(entry.options.get(CONF_BACKFILL_DAYS, DEFAULT_BACKFILL_DAYS))
    if "recorder" not in hass.config.components or days <= 0:
        progress["done"], progress["progress"] = True, 100.0
        return 0
    recorder = get_instance(hass)
    collector = data.collector
    inventory = collector.home.inventory
    now = time.time()
    start = now - days * DAY
    replay = _Replay(inventory, collector.retention_days)
    entity_ids = sorted(collector.home.watched)
    read = 0
    chunk_start = start
    while True:
        chunk_end = min(chunk_start + DAY, time.time())
        read += await recorder.async_add_executor_job(
            _replay_chunk, hass, replay, entity_ids, chunk_start, chunk_end
        )
        progress["events"] = read
        progress["progress"] = round(
            100.0 * min((chunk_end - start) / max(now - start, 1.0), 1.0), 1
        )
        if chunk_end >= now or collector.home.inventory is not inventory:
            break
        chunk_start = chunk_end
    if replay.aggregator is None:
        LOGGER.info("The recorder holds no history of the watched devices")
    elif collector.home.inventory is inventory:
        # Nothing moved meanwhile: the back-filled history takes over.
        collector.aggregator = replay.aggregator
        data.coordinator.watch_start = replay.start
    else:
        LOGGER.info("Inventory changed during back-fill; keeping live telemetry only")
    progress["done"], progress["progress"] = True, 100.0
    data.coordinator.async_save()
    await data.coordinator.async_request_refresh()
    return read


@dataclass(slots=True)
class _Replay:
    """The back-filled telemetry, begun at the first recorded state.

    Watching begins where the recorder's history does, not where the back-fill
    window does: time the recorder did not record (a new HA, a recorder keeping
    fewer days) is no watched silence.
    """

    inventory: Inventory
    retention_days: int
    aggregator: TelemetryAggregator | None = None
    start: float = math.nan

    def begin(self, timestamp: float) -> TelemetryAggregator:
        """Return the aggregator, starting it at `timestamp` the first time."""
        if self.aggregator is None:
            self.start = timestamp
            self.aggregator = TelemetryAggregator(
                self.inventory, start=timestamp, history_days=self.retention_days
            )
        return self.aggregator


def _replay_chunk(
    hass: HomeAssistant,
    replay: _Replay,
    entity_ids: list[str],
    start: float,
    end: float,
) -> int:
    """Read one chunk of history and fold it in, in time order (executor)."""
    if not entity_ids or end <= start:
        return 0
    states = history.get_significant_states(
        hass,
        datetime.fromtimestamp(start, UTC),
        datetime.fromtimestamp(end, UTC),
        entity_ids=entity_ids,
        include_start_time_state=False,
        significant_changes_only=False,
    )
    rows: list[tuple[float, str, str, Any]] = []
    for entity_id, items in states.items():
        for item in items:
            if isinstance(item, State):
                rows.append(
                    (
                        item.last_updated_timestamp,
                        entity_id,
                        item.state,
                        item.attributes,
                    )
                )
    rows.sort(key=_time)
    if not rows and replay.aggregator is None:
        return 0
    aggregator = replay.begin(rows[0][0] if rows else start)
    record: Callable[[object, object, object, object], bool] = aggregator.record
    for timestamp, entity_id, state, attributes in rows:
        record(entity_id, state, attributes, timestamp)
    aggregator.advance_to(end)
    return len(rows)


def _time(row: tuple[float, str, str, Any]) -> float:
    return row[0]
