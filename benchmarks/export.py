"""The dataset export of a large home: archive size, build time, memory.

Run: .venv/bin/python benchmarks/export.py [--devices 150] [--days 30]

A synthetic home (`homeiq-trainer generate`'s generator, seed 1) is replayed into
daily rollups, then copied side by side until it has `--devices` devices (each copy
keeps its own ids and its own numbers), so the rollups hold realistic values. The
integration's `export.write_archive` (what the action and the API run in the
executor) writes the archive to a temporary file, plain and pseudonymised: best of
3 wall times, the archive's bytes, and the peak of traced Python allocations while
building (tracemalloc: what the export itself holds at once). Then the trainer's
side: safe extraction, validation and feature rows of the archive.
"""

import argparse
from dataclasses import replace
from pathlib import Path
import sys
import tempfile
import time
import tracemalloc

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "custom_components" / "homeiq"))

from custom_components.homeiq.core import dataset as ha_dataset  # noqa: E402
from custom_components.homeiq.core.rollups import rollups_from_json  # noqa: E402
from custom_components.homeiq.export import ExportSource, write_archive  # noqa: E402
from homeiq_core.aggregator import rollups_from_columns  # noqa: E402
from homeiq_core.dataset import Device, Entity, Inventory  # noqa: E402
from homeiq_core.rollups import DayRollup, rollups_to_json  # noqa: E402
from homeiq_trainer.dataset import table_to_events, validate_dataset  # noqa: E402
from homeiq_trainer.models.extract import extract  # noqa: E402
from homeiq_trainer.pull import extract_archive  # noqa: E402
from homeiq_trainer.synth.home import generate_home  # noqa: E402
from homeiq_trainer.synth.options import GeneratorOptions  # noqa: E402


def copied(device: Device, copy: int) -> Device:
    """Return `device` as copy number `copy`, with ids of its own."""
    if copy == 0:
        return device

    def entity(item: Entity) -> Entity:
        return replace(item, entity_id=f"{item.entity_id}_{copy}")

    return replace(
        device,
        device_id=f"{device.device_id}-{copy}",
        entities=tuple(entity(item) for item in device.entities),
        via_device=None if device.via_device is None else f"{device.via_device}-{copy}",
    )


def big_home(devices: int, days: int) -> tuple[Inventory, list[DayRollup]]:
    """Return an inventory of `devices` devices and `days` rollups of it."""
    home = generate_home(GeneratorOptions(homes=1, days=days, seed=1), 0)
    rollups = rollups_from_columns(
        home.inventory,
        table_to_events(home.events),
        start=home.start,
        end=home.end,
        reports=home.reports,
        gaps=home.gaps,
    )
    base = home.inventory.devices
    copies = -(-devices // len(base))
    chosen = [copied(d, c) for c in range(copies) for d in base][:devices]
    ids = {d.device_id for d in chosen}
    chosen = [d if d.via_device in ids else replace(d, via_device=None) for d in chosen]
    inventory = replace(home.inventory, devices=tuple(chosen), entities=())
    index = [i for c in range(copies) for i in range(len(base))][:devices]
    big = [
        replace(
            day,
            device_ids=tuple(d.device_id for d in chosen),
            values=day.values[index],
            hours=day.hours[index],
        )
        for day in rollups
    ]
    return inventory, big


def main(devices: int, days: int) -> None:
    """Measure and print."""
    inventory, rollups = big_home(devices, days)
    source = ExportSource(
        inventory=ha_dataset.Inventory.from_json(inventory.to_json()),
        rollups=tuple(rollups_from_json(rollups_to_json(rollups))),
        labels=ha_dataset.Labels(home_type="townhouse", annotated=False),
        producer="homeiq benchmark",
        retention_days=days,
        created=time.time(),
    )
    print(f"home: {len(inventory.devices)} devices, {len(rollups)} closed days")
    with tempfile.TemporaryDirectory(prefix="homeiq-export-") as work:
        for salt in (None, b"benchmark salt"):
            times = []
            for _ in range(3):
                with Path(work, "a.tar").open("wb") as file:
                    began = time.perf_counter()
                    exported = write_archive(source, file, salt=salt)
                    times.append(time.perf_counter() - began)
            tracemalloc.start()
            with Path(work, "a.tar").open("wb") as file:
                write_archive(source, file, salt=salt)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            kind = "pseudonymised" if salt else "plain"
            print(
                f"export ({kind}): {exported.bytes / 1e6:.1f} MB, "
                f"{min(times):.2f} s (best of 3), peak traced memory "
                f"{peak / 1e6:.1f} MB"
            )
        began = time.perf_counter()
        out = Path(work, "pulled")
        extract_archive(Path(work, "a.tar"), out, max_bytes=2**31)
        validate_dataset(out)
        checked = time.perf_counter() - began
        began = time.perf_counter()
        (rows,) = extract([out], progress=False, cache=False)
        print(
            f"trainer: extract + validate {checked:.2f} s, feature rows "
            f"{time.perf_counter() - began:.2f} s, device rows {rows.device_x.shape}, "
            f"finite {np.isfinite(rows.device_x).mean():.0%}"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=150)
    parser.add_argument("--days", type=int, default=30)
    options = parser.parse_args()
    main(options.devices, options.days)
