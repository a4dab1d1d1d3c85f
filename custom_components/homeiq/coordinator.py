"""The coordinator: scores the home every interval, off the event loop.

Each refresh closes the days that ended, reads what HA's state machine says now
about every watched device (on the loop: a dict lookup per entity), then scores
in an executor thread with the core (`core.health`), and saves the telemetry.
Entities only read the result.
"""

import asyncio
from dataclasses import dataclass
from datetime import timedelta
import hashlib
import math
from pathlib import Path
import time
from typing import override

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed
import numpy as np

from . import model_store
from .collector import Collector
from .const import (
    CONF_SCAN_MINUTES,
    DEFAULT_SCAN_MINUTES,
    DOMAIN,
    LOGGER,
    MODELS_DIR,
)
from .core.features import device_features, home_features
from .core.health import ClosedDays, HomeHealth, LiveState, Models, score_home
from .core.inference import ModelError
from .inventory import HomeView
from .model_store import ModelStore
from .models_loader import SCHEMAS, LoadedModels, load_models, stems
from .storage import HomeIQStore, StoredState, pack_telemetry


@dataclass(frozen=True, kw_only=True)
class HomeIQData:
    """What the entities show, from one scoring."""

    health: HomeHealth
    devices_monitored: int
    backfill_progress: float
    model_version: str
    model_updated: str | None


@dataclass(kw_only=True)
class HomeIQRuntimeData:
    """Objects that live as long as the config entry is loaded."""

    collector: Collector
    coordinator: HomeIQCoordinator
    store: HomeIQStore
    state: StoredState


type HomeIQConfigEntry = ConfigEntry[HomeIQRuntimeData]
SNAPSHOT_ATTEMPTS = 3
EVENT_MODEL_UPDATED = "homeiq_model_updated"


class HomeIQCoordinator(DataUpdateCoordinator[HomeIQData]):
    """Score the collected telemetry every scoring interval."""

    config_entry: HomeIQConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: HomeIQConfigEntry,
        collector: Collector,
        store: HomeIQStore,
        state: StoredState,
    ) -> None:
        """Initialise the coordinator for `entry`."""
        minutes = entry.options.get(CONF_SCAN_MINUTES, DEFAULT_SCAN_MINUTES)
        super().__init__(
            hass,
            LOGGER,
            config_entry=entry,
            name=DOMAIN,
            update_interval=timedelta(minutes=minutes),
        )
        self.collector = collector
        self.store = store
        self.state = state
        self.models = LoadedModels(models=Models(), refused={}, created=None)
        self.models_dir = MODELS_DIR
        self.model_store = ModelStore(Path(hass.config.path(model_store.STORE_PATH)))
        # Uploads and rollbacks one at a time; a second upload meanwhile is refused.
        self.model_lock = asyncio.Lock()
        self.watch_start = _watch_start(collector)
        self.closed_days = ClosedDays()  # reused until a day closes (`score_home`)

    @override
    async def _async_setup(self) -> None:
        """Load the model store's index and the models, in the executor."""
        await self.hass.async_add_executor_job(self.model_store.load)
        await self.async_reload_models()

    async def async_reload_models(self) -> None:
        """Load the models; an uploaded one that fails to load is rolled back."""
        # Each rollback drops a stored version: at most two per file, then shipped.
        for _attempt in range(2 * len(model_store.NAMES) + 1):
            loaded = await self.hass.async_add_executor_job(
                load_models, self.model_store.current_dir, self.models_dir
            )
            broken = [
                (stem, problem)
                for name, problem in loaded.refused.items()
                for stem in stems(name)
                if self.model_store.current(stem) is not None
            ]
            if not broken:
                break
            for stem, problem in broken:
                await self._async_roll_back_broken(stem, f"failed to load: {problem}")
        for name, problem in loaded.refused.items():
            LOGGER.warning("Model %s not used: %s", name, problem)
        self.models = loaded

    async def _async_roll_back_broken(self, stem: str, problem: str) -> None:
        LOGGER.error("Uploaded model %s %s; rolled back", stem, problem)
        await self.hass.async_add_executor_job(self.model_store.rollback, stem, problem)

    @property
    def rolled_back(self) -> dict[str, str]:
        """Return why model files were rolled back automatically (file stem -> why)."""
        return self.model_store.rolled_back

    def canary_rows(self, name: str) -> np.ndarray:
        """Return the home's current feature rows for model file `name`."""
        home = self.collector.home
        history = self.collector.aggregator.history
        if model_store.schema_of(name).kind == "home":
            return home_features(home.inventory, history)[None, :]
        return device_features(home.inventory, history)

    async def async_install_model(self, name: str, data: bytes) -> int:
        """Validate `data` as model `name` and swap it in; return its version.

        The caller holds `model_lock`. Raises ModelError when it is refused (the
        running model keeps serving).
        """
        version = await self.hass.async_add_executor_job(self._install, name, data)
        await self.async_reload_models()
        self.hass.bus.async_fire(
            EVENT_MODEL_UPDATED, {"name": name, "version": version}
        )
        await self.async_refresh()
        return version

    def _install(self, name: str, data: bytes) -> int:
        model = model_store.validate(name, data, self.canary_rows(name))
        digest = hashlib.sha256(data).hexdigest()
        return self.model_store.activate(name, data, digest, model)

    async def async_rollback(self, name: str) -> int | None:
        """Put the previous version of `name` back; None: the shipped one now."""
        async with self.model_lock:
            previous = await self.hass.async_add_executor_job(
                self.model_store.rollback, name
            )
            await self.async_reload_models()
        await self.async_refresh()
        return None if previous is None else previous.version

    @override
    async def _async_update_data(self) -> HomeIQData:
        """Score the home as of now; an uploaded model that fails is rolled back."""
        now = time.time()
        self.collector.async_advance(now)
        home = self.collector.home
        live = live_state(self.hass, home, self.state)
        history = self.collector.aggregator.history

        def score() -> HomeHealth:
            return score_home(
                home.inventory,
                history,
                live,
                now,
                watch_start=self.watch_start,
                models=self.models.models,
                memo=self.closed_days,
            )

        try:
            health = await self.hass.async_add_executor_job(score)
        except ModelError as error:
            culprits = await self.hass.async_add_executor_job(self._failing_uploads)
            if not culprits:
                raise UpdateFailed(f"scoring failed: {error}") from error
            for stem, problem in culprits.items():
                await self._async_roll_back_broken(stem, f"failed to score: {problem}")
            await self.async_reload_models()
            health = await self.hass.async_add_executor_job(score)
        self.async_save()
        return HomeIQData(
            health=health,
            devices_monitored=len(home.inventory.devices),
            backfill_progress=self.state["backfill"]["progress"],
            model_version=self.models.models.version,
            model_updated=self.models.created,
        )

    def snapshot(self) -> StoredState:
        """Return a copy of the state to save that nobody mutates afterwards.

        Safe from the store's writer thread: the aggregator's closed days are
        immutable, and its counters are read as they are at that moment (a copy
        taken while an event lands is off by that event, which the next save
        carries). A day closing or a label added mid-copy makes the copy fail;
        it is retried.
        """
        for _attempt in range(SNAPSHOT_ATTEMPTS - 1):
            try:
                return self._snapshot()
            except RuntimeError:  # deque or dict changed size during the copy
                continue
        return self._snapshot()

    def _snapshot(self) -> StoredState:
        labels = self.state["labels"]
        backfill = self.state["backfill"]
        aggregator = self.collector.aggregator
        history = aggregator.history
        telemetry = aggregator.to_json(history=False)
        after = aggregator.history
        if len(after) != len(history) or (history and after[-1] is not history[-1]):
            raise RuntimeError("a day closed during the copy")
        return {
            "telemetry": pack_telemetry(telemetry, history),
            "labels": {
                "battery_replaced": dict(labels["battery_replaced"]),
                "failures": list(labels["failures"]),
            },
            "backfill": {
                "done": backfill["done"],
                "progress": backfill["progress"],
                "events": backfill["events"],
            },
            "saved_at": time.time(),
        }

    @callback
    def async_save(self) -> None:
        """Save the state; the snapshot and its JSON are made off the loop.

        30 days of 1,000 devices take about 300 ms to copy: too long for the loop.
        The collector's buffered events are folded in first, here on the loop.
        """
        self.collector.flush()
        self.store.async_delay_save(self.snapshot, 0)

    async def async_save_now(self) -> None:
        """Save a snapshot and wait until it is written (on unload and stop)."""
        await self.store.async_save(self.snapshot())

    def _failing_uploads(self) -> dict[str, str]:
        """Return the uploaded models in use that fail their canary now, and why."""
        failing: dict[str, str] = {}
        for name in SCHEMAS:
            model = getattr(self.models.models, name)
            stem = next(
                (s for s in stems(name) if self.model_store.current(s) is not None),
                None,
            )
            if model is None or stem is None:
                continue
            try:
                model_store.canary(stem, model, self.canary_rows(stem))
            except ModelError as error:
                failing[stem] = str(error)
        return failing


def _watch_start(collector: Collector) -> float:
    """Return when watching began: the oldest kept day, else now."""
    history = collector.aggregator.history
    return history[0].start if history else time.time()


@callback
def live_state(hass: HomeAssistant, home: HomeView, state: StoredState) -> LiveState:
    """Read what HA's state machine says now about each watched device.

    Runs on the event loop (the state machine lives there): plain Python per
    entity, turned into arrays once at the end.
    """
    last_seen: list[float] = []
    unavailable: list[float] = []
    dead: list[bool] = []
    battery: list[float] = []
    groups: list[str | None] = []
    names: dict[str, str] = {}
    registry = dr.async_get(hass)
    get = hass.states.get
    marked = state["labels"]["battery_replaced"]
    for device in home.inventory.devices:
        info = home.devices[device.device_id]
        down = 0
        seen = math.nan
        for entity in device.entities:
            current = get(entity.entity_id)
            if current is None:
                continue
            if current.state == STATE_UNAVAILABLE:
                down += 1
            elif current.state != STATE_UNKNOWN:
                reported = current.last_reported_timestamp
                seen = reported if not seen >= reported else seen
        last_seen.append(seen)
        unavailable.append(down / len(device.entities))
        level = math.nan
        for entity_id in info.battery_entities:
            reading = _number(get(entity_id))
            if reading is not None:
                level = reading
        battery.append(level)
        status = (
            None if info.node_status_entity is None else get(info.node_status_entity)
        )
        dead.append(status is not None and status.state == "dead")
        group = home.group_of(device.device_id)
        groups.append(group)
        if group is not None and group not in names:
            names[group] = _group_name(registry, group)
    return LiveState(
        last_seen=np.array(last_seen, dtype=np.float64),
        unavailable=np.array(unavailable, dtype=np.float64),
        dead=np.array(dead, dtype=bool),
        battery=np.array(battery, dtype=np.float64),
        replaced=np.array(
            [marked.get(d.device_id, math.nan) for d in home.inventory.devices],
            dtype=np.float64,
        ),
        groups=tuple(groups),
        group_names=names,
    )


def _number(state: object) -> float | None:
    try:
        value = float(getattr(state, "state", ""))
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _group_name(registry: dr.DeviceRegistry, group: str) -> str:
    kind, _, key = group.partition(":")
    if kind == "device":
        hub = registry.async_get(key)
        if hub is not None:
            return hub.name_by_user or hub.name or key
    return key
