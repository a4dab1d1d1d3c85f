"""Back-fill from a real recorder database: HomeIQ's time against the recorder's own.

Run: .venv/bin/python benchmarks/backfill.py [--devices 150] [--days 30]

A real `HomeAssistant` (phcc's test instance) with HA's recorder on a SQLite file in
a scratch directory gets `--devices` Zigbee devices of three sensors each
(temperature, battery, link quality). HA's recorder creates the schema and writes
each entity's first states itself; the rest of `--days` days (one report per entity
every 10 minutes) is added with the same rows in bulk SQL (HA's recorder writes
about a thousand states a second here: 1.9 M would take half an hour), pointing to
the attributes and metadata rows HA wrote. Then, best of `--runs`:

- **recorder alone**: the reads the back-fill makes, day by day, through HA's
  `history.get_significant_states` in the recorder's executor, nothing folded;
- **back-fill**: HomeIQ's `async_backfill` over the same days (reads and folding),
  events per second and the ratio against the recorder alone.
"""

import argparse
import asyncio
from datetime import UTC, datetime
from pathlib import Path
import sqlite3
import sys
import tempfile
import time

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from homeassistant import loader  # noqa: E402
from homeassistant.components.recorder import get_instance, history  # noqa: E402
from homeassistant.core import HomeAssistant  # noqa: E402
from homeassistant.helpers import (  # noqa: E402
    recorder as recorder_helper,
)
from homeassistant.setup import async_setup_component  # noqa: E402
from pytest_homeassistant_custom_component.common import (  # noqa: E402
    MockConfigEntry,
    async_test_home_assistant,
)
from pytest_homeassistant_custom_component.components.recorder.common import (  # noqa: E402
    async_wait_recording_done,
)

from benchmarks.integration import add_home  # noqa: E402
from custom_components.homeiq.backfill import async_backfill  # noqa: E402
from custom_components.homeiq.const import CONF_BACKFILL_DAYS, DOMAIN  # noqa: E402

DAY = 86400.0
EVERY = 600.0  # one report per entity every 10 minutes


def bulk_rows(database: Path, entity_ids: list[str], start: float, end: float) -> int:
    """Add a report per entity every EVERY seconds from `start` to `end`.

    Rows as HA's recorder writes them: the entity's metadata and attributes ids
    (from the rows HA wrote first), last_changed null when equal to last_updated.
    """
    rng = np.random.default_rng(0)
    with sqlite3.connect(database) as db:
        meta = dict(db.execute("SELECT entity_id, metadata_id FROM states_meta"))
        missing = set(entity_ids) - set(meta)
        if missing:
            raise RuntimeError(f"the recorder wrote no state of {len(missing)}")
        attributes = dict(
            db.execute(
                "SELECT metadata_id, MAX(attributes_id) FROM states "
                "GROUP BY metadata_id"
            )
        )
        times = np.arange(start, end, EVERY)
        rows = []
        for entity_id in entity_ids:
            metadata_id = meta[entity_id]
            offsets = rng.uniform(0, EVERY, len(times))
            values = rng.normal(50, 5, len(times)).round(1)
            rows.extend(
                (f"{v:.1f}", t, t, None, attributes[metadata_id], 0, metadata_id)
                for v, t in zip(
                    values.tolist(), (times + offsets).tolist(), strict=True
                )
            )
        rows.sort(key=lambda row: row[1])
        db.executemany(
            "INSERT INTO states (state, last_updated_ts, last_reported_ts, "
            "last_changed_ts, attributes_id, origin_idx, metadata_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    return len(rows)


def read_days(
    hass: HomeAssistant, entity_ids: list[str], start: float, end: float
) -> int:
    """Read the days as the back-fill does, folding nothing; return the states."""
    read = 0
    day = start
    while day < end:
        states = history.get_significant_states(
            hass,
            datetime.fromtimestamp(day, UTC),
            datetime.fromtimestamp(min(day + DAY, end), UTC),
            entity_ids=entity_ids,
            include_start_time_state=False,
            significant_changes_only=False,
        )
        read += sum(len(items) for items in states.values())
        day += DAY
    return read


async def main(devices: int, days: int, runs: int) -> None:
    """Write the database, then time the recorder alone and the back-fill."""
    with tempfile.TemporaryDirectory(dir="/tmp") as config_dir:
        database = Path(config_dir) / "home-assistant_v2.db"
        async with async_test_home_assistant(config_dir=config_dir) as hass:
            hass.data.pop(loader.DATA_CUSTOM_COMPONENTS, None)
            recorder_helper.async_initialize_recorder(hass)  # as bootstrap does
            assert await async_setup_component(
                hass, "recorder", {"recorder": {"db_url": f"sqlite:///{database}"}}
            )
            await get_instance(hass).async_db_ready
            entity_ids = add_home(hass, devices, state=None)
            for entity_id in entity_ids:
                hass.states.async_set(entity_id, "50")
            await async_wait_recording_done(hass)
            await asyncio.sleep(1)
            await async_wait_recording_done(hass)
            now = time.time()
            start = now - days * DAY
            t = time.perf_counter()
            rows = await hass.async_add_executor_job(
                bulk_rows, database, entity_ids, start, now - 60
            )
            print(
                f"{devices} devices, {len(entity_ids)} entities, {days} days: "
                f"{rows:,} states written in {time.perf_counter() - t:.1f} s "
                f"({database.stat().st_size / 1e6:.0f} MB database)"
            )
            recorder = get_instance(hass)
            alone = []
            for _ in range(runs):
                t = time.perf_counter()
                read = await recorder.async_add_executor_job(
                    read_days, hass, entity_ids, start, now
                )
                alone.append(time.perf_counter() - t)
            print(
                f"recorder alone (get_significant_states, a day at a time): "
                f"{read:,} states in {min(alone):.1f} s "
                f"({read / min(alone) / 1e3:.0f} k states/s), best of {runs}"
            )

            entry = MockConfigEntry(
                domain=DOMAIN, data={}, options={CONF_BACKFILL_DAYS: days}
            )
            entry.add_to_hass(hass)
            assert await hass.config_entries.async_setup(entry.entry_id)
            await hass.async_block_till_done(wait_background_tasks=True)
            backfill = []
            for _ in range(runs):
                entry.runtime_data.state["backfill"]["done"] = False
                t = time.perf_counter()
                read = await async_backfill(hass, entry)
                backfill.append(time.perf_counter() - t)
            best = min(backfill)
            print(
                f"HomeIQ back-fill (reads and folding): {read:,} states in "
                f"{best:.1f} s ({read / best / 1e3:.0f} k states/s), "
                f"{best / min(alone):.2f} x the recorder alone; best of {runs}"
            )
            history_days = len(entry.runtime_data.collector.aggregator.history)
            print(f"  days rolled up: {history_days}")
            await hass.config_entries.async_unload(entry.entry_id)
            await hass.async_block_till_done()
            await hass.async_stop(force=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=150)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.devices, args.days, args.runs))
