"""Back-fill: on first set-up, replay the recorder's history into the telemetry.

Predictions need days of rollups; the recorder (HA's own database) usually holds
ten days or more. A fresh aggregator replays them day by day (one chunk per day,
read and folded in the recorder's executor, never on the event loop); the live
collector keeps collecting meanwhile. The hand-over counts every event once: the
recorder is made to commit and is read up to a cut-off, while the collector keeps
aside the live events from the cut-off on; those are folded in on the loop, and
the back-filled aggregator replaces the live one. Progress is saved and shown by
a diagnostic sensor; it runs once.
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
    reads = _Reads.of(inventory, sorted(collector.home.watched))
    read = 0
    chunk_start = start

    def advance(chunk_end: float) -> None:
        progress["events"] = read
        progress["progress"] = round(
            100.0 * min((chunk_end - start) / max(now - start, 1.0), 1.0), 1
        )

    # Whole days first, while the live collector carries on alone.
    while chunk_start + DAY < time.time() and collector.home.inventory is inventory:
        read += await recorder.async_add_executor_job(
            _replay_chunk, hass, replay, reads, chunk_start, chunk_start + DAY
        )
        chunk_start += DAY
        advance(chunk_start)
    if collector.home.inventory is not inventory:
        LOGGER.info("Inventory changed during back-fill; keeping live telemetry only")
    else:
        read += await _hand_over(hass, entry, replay, reads, chunk_start)
        advance(now)
    progress["done"], progress["progress"] = True, 100.0
    data.coordinator.async_save()
    await data.coordinator.async_request_refresh()
    return read


async def _hand_over(
    hass: HomeAssistant,
    entry: HomeIQConfigEntry,
    replay: _Replay,
    reads: _Reads,
    chunk_start: float,
) -> int:
    """Read the rest up to a cut-off, then take over; return the states read.

    Every event counts once: those before the cut-off come from the recorder
    (committed before it is read), those at or after it are kept aside by the
    collector meanwhile and folded in after, on the loop, just before the
    back-filled telemetry replaces the live one.
    """
    data = entry.runtime_data
    collector = data.collector
    recorder = get_instance(hass)
    cutoff = time.time()
    with collector.tap(cutoff) as later:
        await recorder.async_block_till_done()
        read: int = await recorder.async_add_executor_job(
            _replay_chunk, hass, replay, reads, chunk_start, cutoff
        )
        if collector.home.inventory is not replay.inventory:
            LOGGER.info("Inventory changed during back-fill; keeping live telemetry")
            return read
        aggregator = replay.aggregator
        if aggregator is None:
            LOGGER.info("The recorder holds no history of the watched devices")
            return read
        for changed, entity_id, state, attributes, timestamp in later:
            if changed:
                aggregator.record(entity_id, state, attributes, timestamp)
            else:
                aggregator.report(entity_id, timestamp)
        collector.aggregator = aggregator
        data.coordinator.watch_start = replay.start
    return read


@dataclass(frozen=True, slots=True)
class _Reads:
    """The watched entities, split by whether their attributes are read.

    The recorder decodes an entity's attributes (JSON) for each state read: for
    most entities the aggregator never looks at them, so they are read without.
    """

    with_attributes: list[str]
    without: list[str]

    @classmethod
    def of(cls, inventory: Inventory, entity_ids: list[str]) -> _Reads:
        probe = TelemetryAggregator(inventory, start=0.0, history_days=1)
        reads = [probe.reads_attributes(entity_id) for entity_id in entity_ids]
        return cls(
            with_attributes=[e for e, r in zip(entity_ids, reads, strict=True) if r],
            without=[e for e, r in zip(entity_ids, reads, strict=True) if not r],
        )


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
    reads: _Reads,
    start: float,
    end: float,
) -> int:
    """Read the states of [start, end) and fold them in, in time order (executor)."""
    if end <= start:
        return 0
    rows: list[tuple[float, str, str, Any]] = []
    for entity_ids, attributes in (
        (reads.with_attributes, True),
        (reads.without, False),
    ):
        if entity_ids:
            rows.extend(_rows(hass, entity_ids, start, end, attributes=attributes))
    rows.sort(key=_time)
    if not rows and replay.aggregator is None:
        return 0
    aggregator = replay.begin(rows[0][0] if rows else start)
    record: Callable[[object, object, object, object], bool] = aggregator.record
    for timestamp, entity_id, state, attributes in rows:
        record(entity_id, state, attributes, timestamp)
    aggregator.advance_to(end)
    return len(rows)


def _rows(
    hass: HomeAssistant,
    entity_ids: list[str],
    start: float,
    end: float,
    *,
    attributes: bool,
) -> list[tuple[float, str, str, Any]]:
    """Return (time, entity id, state, attributes) of the states in [start, end).

    The recorder reads after its start exclusive: a second earlier, then cut.
    """
    states = history.get_significant_states(
        hass,
        datetime.fromtimestamp(start - 1.0, UTC),
        datetime.fromtimestamp(end, UTC),
        entity_ids=entity_ids,
        include_start_time_state=False,
        significant_changes_only=False,
        no_attributes=not attributes,
    )
    rows = []
    for entity_id, items in states.items():
        for item in items:
            if isinstance(item, State) and item.last_updated_timestamp >= start:
                rows.append(
                    (
                        item.last_updated_timestamp,
                        entity_id,
                        item.state,
                        item.attributes if attributes else None,
                    )
                )
    return rows


def _time(row: tuple[float, str, str, Any]) -> float:
    return row[0]
