"""HomeIQ inside a running Home Assistant: cost per event, scoring, memory, start-up.

Run: .venv/bin/python benchmarks/integration.py [--devices 1000] [--days 30]

A real `HomeAssistant` (phcc's test instance: real registries, bus, state machine and
storage in a scratch config dir) gets a home of `--devices` devices with three
entities each (temperature, battery, link quality), registered in HA's device and
entity registries. Figures, each against the same loop without HomeIQ:

- **event cost**: CPU time of the event loop while 1,000 state changes per second
  arrive for 5 s, in four configurations taken in turn `--rounds` times (least of
  each kept): HomeIQ as it runs (its listeners keep the events, a flush folds them in
  batches; the flushes' own CPU time is given), HomeIQ folding each event as it
  arrives (as before buffering), HomeIQ loaded with its two state listeners swapped
  for no-op ones (what holding HomeIQ costs: its entities and telemetry make HA's
  loop and garbage collector slower), and HomeIQ unloaded with a no-op listener for
  the same two events (the baseline: what HA already pays in any real home, where
  the recorder listens to every state change). Bare HA is measured once before.
  The loop's CPU time inside garbage collections is given for each.
- **scoring**: the coordinator's executor job (`core.health.score_home`, numpy) for
  every device with `--days` days of rollups, rules only, best of 5.
- **memory**: traced Python allocations HomeIQ holds once loaded with `--days` days
  of rollups (tracemalloc, so only what HomeIQ's objects keep), split by where they
  were allocated, against what HA holds for as many plain sensors.
- **start-up**: setting the config entry up from stored telemetry of `--days` days,
  phase by phase (read, restore, first scoring, entities), against setting up HA's
  `sun`, and HA adding as many plain sensors on the same devices (the baseline for
  the entities); `--profile FILE` writes cProfile statistics of it.
- **back-fill fold**: folding recorder rows into a fresh aggregator (the CPU part of
  the back-fill), rows per second and the projected time for 30 days of a 150-device
  home at one report per entity per 10 minutes. Reading the recorder's database is
  not included (it depends on the database, not on HomeIQ).
"""

import argparse
import asyncio
from collections.abc import Callable, Mapping
import cProfile
import gc
from pathlib import Path
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from homeassistant import loader  # noqa: E402
from homeassistant.components.sensor import SensorEntity  # noqa: E402
from homeassistant.const import EVENT_STATE_CHANGED, EVENT_STATE_REPORTED  # noqa: E402
from homeassistant.core import Event, HomeAssistant, callback  # noqa: E402
from homeassistant.helpers import device_registry as dr, entity_registry as er  # noqa: E402
from homeassistant.setup import async_setup_component  # noqa: E402
from pytest_homeassistant_custom_component.common import (  # noqa: E402
    MockConfigEntry,
    MockEntityPlatform,
    async_test_home_assistant,
)

from custom_components.homeiq.collector import FLUSH_EVENTS  # noqa: E402
from custom_components.homeiq.const import CONF_RETENTION_DAYS, DOMAIN  # noqa: E402
from custom_components.homeiq.coordinator import live_state  # noqa: E402
from custom_components.homeiq.core.aggregator import TelemetryAggregator  # noqa: E402
from custom_components.homeiq.core.health import (  # noqa: E402
    ClosedDays,
    score_home,
)
from custom_components.homeiq.storage import pack_telemetry  # noqa: E402

DAY = 86400.0
RATE = 1000  # events per second
SECONDS = 5


class _CollectorClock:
    """Count the loop thread's CPU seconds inside garbage collections."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0
        self._thread = threading.get_ident()

    def __call__(self, phase: str, _info: Mapping[str, Any]) -> None:
        if threading.get_ident() != self._thread:
            return  # an executor thread's collection
        if phase == "start":
            self._started = time.thread_time()
        else:
            self.seconds += time.thread_time() - self._started


@callback
def _ignore(_event: Event) -> None:
    """Listen and do nothing (what HA pays for any listener)."""


@callback
def _everything(_data: Mapping[str, Any]) -> bool:
    return True


def add_home(
    hass: HomeAssistant, devices: int, *, state: str | None = "50"
) -> list[str]:
    """Register `devices` Zigbee devices with 3 entities each; return entity ids.

    Each entity gets `state` as its current state (None: no state yet).
    """
    entry = MockConfigEntry(domain="zha", title="zha")
    entry.add_to_hass(hass)
    device_registry = dr.async_get(hass)
    entity_registry = er.async_get(hass)
    ids = []
    kinds = (("temperature", "°C"), ("battery", "%"), (None, "lqi"))
    for n in range(devices):
        device = device_registry.async_get_or_create(
            config_entry_id=entry.entry_id,
            identifiers={("zha", f"d{n}")},
            name=f"Sensor {n}",
        )
        for k, (device_class, unit) in enumerate(kinds):
            item = entity_registry.async_get_or_create(
                "sensor",
                "zha",
                f"d{n}-{k}",
                config_entry=entry,
                device_id=device.id,
                original_device_class=device_class,
                unit_of_measurement=unit,
            )
            ids.append(item.entity_id)
            if state is not None:
                hass.states.async_set(item.entity_id, state)
    return ids


async def paced_events(
    hass: HomeAssistant, entity_ids: list[str], runs: int = 3
) -> tuple[float, float]:
    """Return the loop CPU seconds of the least of `runs` runs of `paced_run`
    (shared machine), and the part of them spent in garbage collections.
    """
    clock = _CollectorClock()
    gc.callbacks.append(clock)
    results = []
    try:
        for _ in range(runs):
            gc.collect()
            clock.seconds = 0.0
            cpu = await paced_run(hass, entity_ids)
            results.append((cpu, clock.seconds))
    finally:
        gc.callbacks.remove(clock)
    return min(results)


def swap_listeners(hass: HomeAssistant, owner: object) -> Callable[[], None]:
    """Swap `owner`'s state listeners for no-op ones; return what swaps them back.

    Reaches into the bus's listener lists: HomeIQ keeps no handle of its own.
    """
    removed = []
    for event_type in (EVENT_STATE_CHANGED, EVENT_STATE_REPORTED):
        listeners = hass.bus._listeners[event_type]
        for item in list(listeners):
            if getattr(item[0].target, "__self__", None) is owner:
                listeners.remove(item)
                removed.append((event_type, item))
    stops = [
        hass.bus.async_listen(event, _ignore, event_filter=_everything)
        for event in (EVENT_STATE_CHANGED, EVENT_STATE_REPORTED)
    ]

    def swap_back() -> None:
        for stop in stops:
            stop()
        for event_type, item in removed:
            # The bus drops an event type's list once it is empty: look it up again.
            hass.bus._listeners[event_type].append(item)

    return swap_back


async def paced_run(hass: HomeAssistant, entity_ids: list[str]) -> float:
    """Send RATE state changes per second for SECONDS; return loop CPU seconds."""
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(entity_ids), RATE * SECONDS).tolist()
    values = rng.normal(20, 3, RATE * SECONDS).round(1).astype(str).tolist()
    batch = RATE // 10
    start_cpu = time.thread_time()
    start = time.monotonic()
    for i in range(0, len(picks), batch):
        for j in range(i, i + batch):
            hass.states.async_set(entity_ids[picks[j]], values[j])
        await hass.async_block_till_done()
        delay = start + (i + batch) / RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    # HomeIQ folds its buffered events in on a timer: count what is still pending.
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        entry.runtime_data.collector.flush()
    return time.thread_time() - start_cpu


async def settle(hass: HomeAssistant) -> None:
    """Let a set-up's back-fill check, first scoring and save finish."""
    await hass.async_block_till_done(wait_background_tasks=True)
    await asyncio.sleep(1)
    await hass.async_block_till_done()


async def homeiq_event_costs(
    hass: HomeAssistant,
    entity_ids: list[str],
    entry: MockConfigEntry,
    rounds: int,
    small_batches: int = 0,
) -> tuple[dict[str, tuple[float, float, float]], dict[str, list[float]]]:
    """Return (loop CPU s, of it in collections, of it folding) per configuration,
    the least of the rounds, and each round's loop CPU s per configuration.

    One run of 5 s per configuration in turn (after one unmeasured run), `rounds`
    times, the least of each kept (the machine is shared: its speed drifts by more
    than the differences measured). The configurations: HomeIQ as it runs (events
    buffered, folded in batches; the folding timed with `thread_time` around each
    flush), HomeIQ folding each event as it arrives (a flush after every event, as
    before buffering; not timed), HomeIQ held with its two state listeners swapped
    for no-ops, and HomeIQ unloaded with a no-op listener for both events (the
    baseline). With `small_batches`, also HomeIQ folding batches of that size.
    `entry` is loaded before and after.
    """
    best: dict[str, tuple[float, float, float]] = {}
    each: dict[str, list[float]] = {}
    folding = [0.0]

    async def measure(name: str) -> None:
        folding[0] = 0.0
        cpu, collecting = await paced_events(hass, entity_ids, runs=1)
        result = (cpu, collecting, folding[0])
        best[name] = min(best.get(name, result), result)
        each.setdefault(name, []).append(cpu)

    for _ in range(rounds):
        # One run unmeasured: what the set-up still does (the first refresh writing
        # every state, the save) stays out of the figures of the first configuration.
        await paced_run(hass, entity_ids)
        collector = entry.runtime_data.collector
        flush = collector.flush

        def timed_flush(flush: Callable[[], int] = flush) -> int:
            started = time.thread_time()
            try:
                return flush()
            finally:
                folding[0] += time.thread_time() - started

        collector.flush = timed_flush  # the listeners call self.flush
        try:
            await measure("buffered")
            if small_batches:
                collector._flush_at = small_batches
                await measure(f"batches of {small_batches}")
        finally:
            del collector.flush
            collector._flush_at = FLUSH_EVENTS
        collector._flush_at = 1  # each event folded at once
        try:
            await measure("each event")
        finally:
            collector._flush_at = FLUSH_EVENTS
        swap_back = swap_listeners(hass, collector)
        try:
            await measure("held")
        finally:
            swap_back()
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
        stops = [
            hass.bus.async_listen(event, _ignore, event_filter=_everything)
            for event in (EVENT_STATE_CHANGED, EVENT_STATE_REPORTED)
        ]
        await measure("no-op listener")
        for stop in stops:
            stop()
        assert await hass.config_entries.async_setup(entry.entry_id)
        await settle(hass)
    return best, each


def report_event_costs(
    bare: tuple[float, float],
    costs: dict[str, tuple[float, float, float]],
    rounds: dict[str, list[float]],
) -> None:
    """Print the per-event figures of `homeiq_event_costs` against the baselines.

    Besides the least of each configuration, each round's added cost (HomeIQ
    buffered less the no-op listener of the same round): its median and range show
    how far the machine's drift moves the figure.
    """
    per_event = RATE * SECONDS / 1e6
    baseline = costs["no-op listener"]
    held = costs["held"][0]
    print(
        f"event cost at {RATE}/s: bare HA {bare[0] / per_event:.1f} µs, with a "
        f"no-op listener {baseline[0] / per_event:.1f} µs (gc "
        f"{baseline[1] / per_event:.2f}); HomeIQ held, listeners swapped for no-ops: "
        f"+{(held - baseline[0]) / per_event:.2f} µs/event (gc "
        f"{costs['held'][1] / per_event:.2f})"
    )
    for name in (
        "buffered",
        *(n for n in costs if n.startswith("batches")),
        "each event",
    ):
        cpu, collecting, folding = costs[name]
        folded = f", folding {folding / per_event:.2f} of it" if folding else ""
        print(
            f"  HomeIQ, {name}: {cpu / per_event:.1f} µs, added "
            f"{(cpu - baseline[0]) / per_event:.2f} µs/event (ratio "
            f"{cpu / baseline[0]:.2f}); its listeners {(cpu - held) / per_event:.2f}"
            f" µs/event{folded}; gc {collecting / per_event:.2f}"
        )
    added = sorted(
        (mine - base) / per_event
        for mine, base in zip(rounds["buffered"], rounds["no-op listener"], strict=True)
    )
    print(
        f"  HomeIQ, buffered, round by round: added {statistics.median(added):+.2f} "
        f"µs/event in the median of {len(added)} rounds "
        f"({', '.join(f'{a:+.2f}' for a in added)})"
    )


class PlainSensor(SensorEntity):
    """A plain sensor on a device's page: what any integration's entity costs HA."""

    _attr_has_entity_name = True
    _attr_should_poll = False

    def __init__(self, device: dr.DeviceEntry, key: int) -> None:
        """Link the entity to `device` as HomeIQ's are (device_entry)."""
        self.device_entry = device
        self._attr_unique_id = f"{device.id}_{key}"
        self._attr_name = f"Plain {key}"
        self._attr_native_value = 50.0
        self._attr_native_unit_of_measurement = "%"


async def plain_entities(hass: HomeAssistant, count: int) -> tuple[float, float]:
    """Add `count` plain sensors spread over the devices; return (s, traced MB).

    The baseline for HomeIQ's entities: the same number of entities, as bare as
    an entity gets, linked to the same devices.
    """
    zha = hass.config_entries.async_entries("zha")[0]
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), zha.entry_id)

    per_device = -(-count // len(devices))
    entry = MockConfigEntry(domain="plain")
    entry.add_to_hass(hass)

    def platform() -> tuple[MockEntityPlatform, list[PlainSensor]]:
        made = MockEntityPlatform(hass, domain="sensor", platform_name="plain")
        made.config_entry = entry  # entities on a device belong to an entry
        sensors = [
            PlainSensor(devices[n // per_device], n % per_device) for n in range(count)
        ]
        return made, sensors

    # Once to register them, then timed as at a restart (registered already).
    first, entities = platform()
    await first.async_add_entities(entities)
    await hass.async_block_till_done()
    await first.async_reset()
    second, entities = platform()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    t = time.perf_counter()
    await second.async_add_entities(entities)
    await hass.async_block_till_done()
    seconds = time.perf_counter() - t
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(hass.states.async_entity_ids("sensor")) >= count
    await second.async_reset()
    registry = er.async_get(hass)
    for entity in entities:
        registry.async_remove(entity.entity_id)
    await hass.async_block_till_done()
    return seconds, held / 1e6


def stored_state(inventory, days: int) -> dict:
    """Return HomeIQ's storage document with `days` days of rollups."""
    now = time.time()
    start = now - days * DAY
    aggregator = TelemetryAggregator(inventory, start=start, history_days=days)
    rng = np.random.default_rng(1)
    entity_ids = [e.entity_id for e in inventory.all_entities()]
    for t in np.arange(start, now, 3600.0).tolist():
        for entity_id in entity_ids:
            aggregator.record(entity_id, f"{rng.normal(50, 5):.1f}", None, t)
    aggregator.advance_to(now)
    return {
        "telemetry": pack_telemetry(aggregator.to_json()),
        "labels": {"battery_replaced": {}, "failures": []},
        "backfill": {"done": True, "progress": 100.0, "events": 0},
        "saved_at": now,
    }


async def timed_setup(
    hass: HomeAssistant, entry_id: str, profile: str | None
) -> tuple[float, dict[str, float]]:
    """Set the entry up; return the seconds and the seconds of each phase.

    The phases are timed by wrapping the set-up's own steps; with `profile`, the
    whole set-up is written there as cProfile statistics.
    """
    from custom_components.homeiq.collector import Collector  # noqa: PLC0415
    from custom_components.homeiq.coordinator import HomeIQCoordinator  # noqa: PLC0415
    from custom_components.homeiq.storage import HomeIQStore  # noqa: PLC0415

    phases: dict[str, float] = {}
    originals = []

    def wrap(owner: object, name: str, label: str) -> None:
        original = getattr(owner, name)
        originals.append((owner, name, original))

        async def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return await original(*args, **kwargs)
            finally:
                phases[label] = phases.get(label, 0.0) + time.perf_counter() - t

        setattr(owner, name, timed)

    wrap(HomeIQStore, "async_load_state", "reading the store")
    wrap(Collector, "async_restore", "restoring the telemetry")
    wrap(
        HomeIQCoordinator,
        "async_config_entry_first_refresh",
        "first scoring (models, live states, executor)",
    )
    wrap(
        hass.config_entries,
        "async_forward_entry_setups",
        "platforms adding entities",
    )
    profiler = cProfile.Profile() if profile else None
    t = time.perf_counter()
    if profiler:
        profiler.enable()
    try:
        assert await hass.config_entries.async_setup(entry_id)
        await hass.async_block_till_done()
    finally:
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile)
        for owner, name, original in originals:
            if isinstance(owner, type):
                setattr(owner, name, original)
            else:
                delattr(owner, name)
    total = time.perf_counter() - t
    phases["rest (HA's set-up, listeners, back-fill check)"] = total - sum(
        phases.values()
    )
    return total, phases


async def main(  # noqa: PLR0915 - one report
    devices: int,
    days: int,
    profile: str | None = None,
    *,
    events_too: bool = True,
    rounds: int = 5,
    small_batches: int = 0,
) -> None:
    with tempfile.TemporaryDirectory() as config_dir:
        async with async_test_home_assistant(config_dir=config_dir) as hass:
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
            entity_ids = add_home(hass, devices)
            await hass.async_block_till_done()

            idle = (1.0, 0.0)
            bare = await paced_events(hass, entity_ids) if events_too else idle

            plain = await plain_entities(hass, 4 * devices + 7)
            t = time.perf_counter()
            assert await async_setup_component(hass, "sun", {})
            await hass.async_block_till_done()
            sun_setup = time.perf_counter() - t

            entry = MockConfigEntry(
                domain=DOMAIN, data={}, options={CONF_RETENTION_DAYS: days}
            )
            entry.add_to_hass(hass)
            assert await hass.config_entries.async_setup(entry.entry_id)
            # The set-up's back-fill (no recorder here) and its refresh finish first.
            await settle(hass)
            if events_too:
                costs, each = await homeiq_event_costs(
                    hass, entity_ids, entry, rounds, small_batches
                )
                report_event_costs(bare, costs, each)
            runtime = entry.runtime_data

            inventory = runtime.collector.home.inventory
            document = stored_state(inventory, days)
            await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()
            await runtime.store.async_save(document)

            startup, phases = await timed_setup(hass, entry.entry_id, profile)
            await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()
            gc.collect()
            tracemalloc.start()
            before = tracemalloc.get_traced_memory()[0]
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done()
            await asyncio.sleep(0.5)  # the first scoring's save is written
            await hass.async_block_till_done()
            gc.collect()
            held, peak = tracemalloc.get_traced_memory()
            held -= before
            snapshot = tracemalloc.take_snapshot()
            by_file = snapshot.statistics("filename")
            by_line = [
                stat
                for stat in snapshot.statistics("lineno")
                if "custom_components/homeiq" in stat.traceback[0].filename
            ][:6]
            tracemalloc.stop()
            ours = sum(
                stat.size
                for stat in by_file
                if "custom_components/homeiq" in stat.traceback[0].filename
            )
            numpy_held = sum(
                stat.size for stat in by_file if "/numpy/" in stat.traceback[0].filename
            )
            runtime = entry.runtime_data
            history = runtime.collector.aggregator.history
            print(
                f"start-up with {len(history)} days of stored rollups, {devices} "
                f"devices: {startup:.2f} s (setting up `sun`: {sun_setup:.3f} s)"
            )
            for name, seconds in phases.items():
                print(f"  {name}: {seconds:.2f} s")
            enabled = sum(
                1
                for item in er.async_entries_for_config_entry(
                    er.async_get(hass), entry.entry_id
                )
                if item.disabled_by is None
            )
            print(
                f"  baseline: HA adds {4 * devices + 7} plain sensors in "
                f"{plain[0]:.2f} s, holding {plain[1]:.1f} MB (HomeIQ adds "
                f"{enabled} enabled entities)"
            )
            print(
                f"memory held by HomeIQ: {held / 1e6:.1f} MB "
                f"(peak during start-up {(peak - before) / 1e6:.0f} MB); allocated "
                f"in HomeIQ's code {ours / 1e6:.1f} MB, in numpy "
                f"{numpy_held / 1e6:.1f} MB, the rest in HA and Python"
            )
            for stat in by_line:
                frame = stat.traceback[0]
                print(
                    f"  {stat.size / 1e6:5.1f} MB "
                    f"{Path(frame.filename).relative_to(ROOT)}:{frame.lineno}"
                )

            now = time.time()
            coordinator = runtime.coordinator
            live = live_state(hass, runtime.collector.home, runtime.state)
            memo = ClosedDays()
            timings, reused = [], []
            for memos in [None] * 5 + [memo] * 6:
                t = time.perf_counter()
                score_home(
                    inventory,
                    history,
                    live,
                    now,
                    watch_start=coordinator.watch_start,
                    models=coordinator.models.models,
                    memo=memos,
                )
                (timings if memos is None else reused).append(time.perf_counter() - t)
            reused = reused[1:]  # the first filled the memo
            t = time.perf_counter()
            live_state(hass, runtime.collector.home, runtime.state)
            on_loop = time.perf_counter() - t
            watched = set(entity_ids)
            writes = [0]

            @callback
            def homeiqs(data: Mapping[str, Any]) -> bool:
                return data.get("entity_id") not in watched

            @callback
            def count(_event: Event) -> None:
                writes[0] += 1

            stops = [
                hass.bus.async_listen(event, count, event_filter=homeiqs)
                for event in (EVENT_STATE_CHANGED, EVENT_STATE_REPORTED)
            ]
            refreshes = []
            for _ in range(3):
                writes[0] = 0
                cpu = time.thread_time()
                t = time.perf_counter()
                await coordinator.async_refresh()
                await hass.async_block_till_done()
                wall, loop = time.perf_counter() - t, time.thread_time() - cpu
                refreshes.append((wall, loop, writes[0]))
            for stop in stops:
                stop()
            (refresh, refresh_loop, written), later = refreshes[0], min(refreshes[1:])
            t = time.perf_counter()
            coordinator.snapshot()
            snapshot = time.perf_counter() - t
            print(
                f"scoring {devices} devices ({len(history)} days): "
                f"{min(timings) * 1e3:.0f} ms in the executor once a day has closed, "
                f"{min(reused) * 1e3:.0f} ms between day closes (closed days reused), "
                f"{on_loop * 1e3:.1f} ms on the loop reading live states; the first "
                f"whole refresh after set-up {refresh * 1e3:.0f} ms, "
                f"{refresh_loop * 1e3:.0f} ms of it on the loop (writing {written} of "
                f"{len(hass.states.async_all()) - 3 * devices} entity states), the "
                f"next ones {later[0] * 1e3:.0f} ms, {later[1] * 1e3:.0f} ms on the "
                f"loop (writing {later[2]}); the telemetry snapshot for storage "
                f"{snapshot * 1e3:.0f} ms (writer thread)"
            )

            # Back-fill fold rate: rows as the recorder returns them, in time order.
            fresh = TelemetryAggregator(inventory, start=now - DAY)
            rows = 200_000
            rng = np.random.default_rng(2)
            picks = rng.integers(0, len(entity_ids), rows).tolist()
            times = np.sort(rng.uniform(now - DAY, now, rows)).tolist()
            values = rng.normal(20, 3, rows).round(1).astype(str).tolist()
            t = time.perf_counter()
            for k in range(rows):
                fresh.record(entity_ids[picks[k]], values[k], {}, times[k])
            fold = (time.perf_counter() - t) / rows
            home_rows = 150 * 3 * 144 * 30
            print(
                f"back-fill fold: {1 / fold / 1e6:.2f} M rows/s; 30 days of a "
                f"150-device home ({home_rows / 1e6:.1f} M rows) folds in "
                f"{home_rows * fold:.1f} s (recorder reads not included)"
            )
            await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()
            await hass.async_stop(force=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--profile", help="write cProfile statistics of the start-up")
    parser.add_argument(
        "--no-events", action="store_true", help="skip the event-cost runs"
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="runs of each event configuration"
    )
    parser.add_argument(
        "--small-batches",
        type=int,
        default=0,
        help="also measure HomeIQ folding batches of this many events",
    )
    args = parser.parse_args()
    asyncio.run(
        main(
            args.devices,
            args.days,
            args.profile,
            events_too=not args.no_events,
            rounds=args.rounds,
            small_batches=args.small_batches,
        )
    )
