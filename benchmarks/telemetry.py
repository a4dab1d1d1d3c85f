"""Telemetry aggregator and feature speed, against baselines measured in the same run.

Run: .venv/bin/python benchmarks/telemetry.py [--events N]

A synthetic but realistic home (about 150 devices: climate sensors with battery and
link quality, motion and door sensors, lights with attributes, smart plugs with power
and energy meters, a few Wi-Fi devices with RSSI, device-less entities) produces a
mixed stream of state events over several days, with periodic repeats, dropouts to
"unavailable"/"unknown" and the odd garbage state. Each figure is the best of a few
repetitions (the machine may be shared), in µs per event.
"""

import argparse
import json
import os
import platform
import random
import time

import numpy as np

from homeiq_core.aggregator import TelemetryAggregator, rollups_from_columns
from homeiq_core.dataset import (
    Area,
    Device,
    Entity,
    EventColumns,
    Floor,
    Inventory,
    ReportColumns,
)
from homeiq_core.features import device_feature_rows, device_features, home_features
from homeiq_core.telemetry import EventTally

START = 1767225600.0  # 2026-01-01T00:00:00Z


def build_home() -> Inventory:
    """Return a home of about 150 devices over two floors."""
    floors = (Floor("ground", "Ground", 0), Floor("first", "First", 1))
    areas = tuple(
        Area(f"room_{i}", f"Room {i}", "ground" if i < 6 else "first")
        for i in range(12)
    )
    devices = []

    def add(kind: str, entities: list[Entity], protocol: str, power: str) -> None:
        n = len(devices)
        devices.append(
            Device(
                f"d{n:04d}",
                f"{kind} {n}",
                "Acme",
                kind,
                protocol,
                power,
                f"room_{n % 12}",
                tuple(entities),
            )
        )

    for i in range(40):
        add(
            "climate",
            [
                Entity(f"sensor.t{i}", "sensor", "temperature", "°C"),
                Entity(f"sensor.h{i}", "sensor", "humidity", "%"),
                Entity(f"sensor.t{i}_battery", "sensor", "battery", "%"),
                Entity(f"sensor.t{i}_linkquality", "sensor", None, "lqi"),
            ],
            "zigbee",
            "battery",
        )
    for i in range(30):
        add(
            "motion",
            [
                Entity(f"binary_sensor.m{i}", "binary_sensor", "motion", None),
                Entity(f"sensor.m{i}_battery", "sensor", "battery", "%"),
                Entity(f"sensor.m{i}_linkquality", "sensor", None, "lqi"),
            ],
            "zigbee",
            "battery",
        )
    for i in range(20):
        add(
            "door",
            [Entity(f"binary_sensor.door{i}", "binary_sensor", "door", None)],
            "z-wave",
            "battery",
        )
    for i in range(30):
        add("light", [Entity(f"light.l{i}", "light")], "zigbee", "mains")
    for i in range(15):
        add(
            "plug",
            [
                Entity(f"switch.p{i}", "switch"),
                Entity(f"sensor.p{i}_power", "sensor", "power", "W"),
                Entity(f"sensor.p{i}_energy", "sensor", "energy", "kWh"),
            ],
            "wifi",
            "mains",
        )
    for i in range(15):
        add(
            "media",
            [
                Entity(f"media_player.tv{i}", "media_player"),
                Entity(f"sensor.tv{i}_rssi", "sensor", "signal_strength", "dBm"),
            ],
            "wifi",
            "mains",
        )
    people = (Entity(f"person.p{i}", "person") for i in range(3))
    loose = (*people, Entity("sun.sun", "sun"))
    return Inventory("bench", "Europe/Amsterdam", floors, areas, tuple(devices), loose)


def build_events(inventory: Inventory, n: int, seed: int = 7) -> list[tuple]:
    """Return n (entity_id, state, attributes, timestamp) tuples, time-ordered."""
    rng = random.Random(seed)
    entities = [e for d in inventory.devices for e in d.entities]
    entities += list(inventory.entities)
    ids = [e.entity_id for e in entities]
    weights = []
    for e in entities:
        if e.device_class in {"temperature", "humidity", "power"}:
            weights.append(6.0)
        elif e.domain in {"binary_sensor", "light", "switch"}:
            weights.append(3.0)
        elif e.device_class == "energy" or e.unit == "lqi":
            weights.append(2.0)
        else:
            weights.append(1.0)
    level = dict.fromkeys(ids, 0.0)
    picks = rng.choices(range(len(ids)), weights, k=n)
    span = 14 * 86400.0
    step = span / n
    events = []
    t = START
    for k in picks:
        t += rng.expovariate(1.0 / step)
        e = entities[k]
        eid = ids[k]
        state, attributes = _state(rng, e, level, t)
        events.append((eid, state, attributes, t))
    return events


def _state(rng: random.Random, e: Entity, level: dict, t: float) -> tuple:
    """Return the (state, attributes) of one event of entity e at time t."""
    eid = e.entity_id
    attributes = None
    roll = rng.random()
    if roll < 0.01:
        state = "unavailable"
    elif roll < 0.012:
        state = "unknown"
    elif roll < 0.0125:
        state = "garbage"
    elif e.device_class == "battery":
        state = str(max(0, 100 - int((t - START) / 86400)))
    elif e.unit == "lqi":
        state = str(rng.randrange(40, 200))
    elif e.device_class == "signal_strength":
        state = str(rng.randrange(-90, -40))
    elif e.device_class == "energy":
        level[eid] += rng.random() * 0.01
        state = f"{level[eid]:.3f}"
    elif e.unit is not None:
        # periodic reports: often the same value again
        if rng.random() < 0.4:
            level[eid] = round(rng.uniform(15, 30), 1)
        state = str(level[eid])
    elif e.domain == "light":
        on = rng.random() < 0.5
        state = "on" if on else "off"
        attributes = {"brightness": rng.randrange(256)} if on else {}
    elif e.domain in {"binary_sensor", "switch"}:
        state = "on" if rng.random() < 0.5 else "off"
    else:
        state = rng.choice(("playing", "idle", "off", "home", "not_home"))
    return state, attributes


def best(fn, repeats: int) -> float:
    """Return the fastest of `repeats` runs of fn(), in seconds."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    inventory = build_home()
    t0 = time.perf_counter()
    events = build_events(inventory, args.events)
    built = time.perf_counter() - t0
    n = len(events)
    print(f"python {platform.python_version()} on {platform.machine()},", end=" ")
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    print(
        f"home: {len(inventory.devices)} devices, "
        f"{sum(1 for _ in inventory.all_entities())} entities; "
        f"{n:,} events over 14 days (built in {built:.1f} s)"
    )

    def bare_loop() -> None:
        for _eid, _state, _attributes, _t in events:
            pass

    def noop(entity_id, state, attributes, timestamp) -> bool:
        return True

    def call_loop() -> None:
        f = noop
        for eid, state, attributes, t in events:
            f(eid, state, attributes, t)

    def tally_loop() -> None:
        record = EventTally().record
        for eid, _state, _attributes, _t in events:
            record(eid)

    def aggregator_loop() -> None:
        record = TelemetryAggregator(inventory).record
        for eid, state, attributes, t in events:
            record(eid, state, attributes, t)

    # Re-reports without a change (format v2): one per event, a few seconds later.
    reports = sorted(((eid, t + 5.0) for eid, _s, _a, t in events), key=lambda r: r[1])

    def report_loop() -> None:
        report = TelemetryAggregator(inventory).report
        for eid, t in reports:
            report(eid, t)

    us = 1e6 / n
    bare = best(bare_loop, args.repeats) * us
    call = best(call_loop, args.repeats) * us
    tally = best(tally_loop, args.repeats) * us
    aggregate = best(aggregator_loop, args.repeats) * us
    columns = to_columns(events)
    replay = best(lambda: rollups_from_columns(inventory, columns), args.repeats) * us
    reported = best(report_loop, args.repeats) * us
    report_columns = ReportColumns(
        np.array([eid for eid, _ in reports], dtype=object),
        np.array([t for _, t in reports]),
    )
    both = best(
        lambda: rollups_from_columns(inventory, columns, reports=report_columns),
        args.repeats,
    ) * (us / 2)
    print()
    print(f"{'per event':<46}{'µs':>8}{'x bare loop':>13}{'x EventTally':>14}")
    for label, value in (
        ("bare loop over the events", bare),
        ("loop calling a no-op f(entity, state, …)", call),
        ("EventTally.record (today's collector)", tally),
        ("TelemetryAggregator.record (live path)", aggregate),
        ("rollups_from_columns (trainer's batch path)", replay),
        ("TelemetryAggregator.report (a re-report)", reported),
        ("batch path, events + as many re-reports", both),
    ):
        print(f"{label:<46}{value:>8.3f}{value / bare:>13.1f}{value / tally:>14.2f}")
    print(
        f"aggregator beyond the bare call: {aggregate - call:.3f} µs/event; "
        f"target ≤ 2 µs/event: {'met' if aggregate <= 2.0 else 'NOT met'}"
    )
    feature_figures(inventory, events, args.repeats)


def feature_figures(inventory: Inventory, events: list[tuple], repeats: int) -> None:
    """Print the feature timings and the saved state's size."""
    aggregator = TelemetryAggregator(inventory)
    for event in events:
        aggregator.record(*event)
    history = aggregator.history
    state_kb = len(json.dumps(aggregator.to_json())) / 1024
    day_kb = len(json.dumps(history[-1].to_json())) / 1024
    devices = len(inventory.devices)
    print()
    print(
        f"features as of the last of {len(history)} days, {devices} devices "
        f"(best of {repeats * 5}):"
    )
    for label, fn in (
        ("device_features (all devices)", lambda: device_features(inventory, history)),
        ("home_features", lambda: home_features(inventory, history)),
        (
            f"device_feature_rows ({len(history)} days)",
            lambda: device_feature_rows(inventory, history),
        ),
    ):
        ms = best(fn, repeats * 5) * 1e3
        print(f"  {label:<40}{ms:>8.2f} ms")
    print(
        f"saved state (JSON, with {len(history)} days of rollups): {state_kb:.0f} kB; "
        f"one day's rollup: {day_kb:.0f} kB ({day_kb * 1024 / devices:.0f} B/device)"
    )


def to_columns(events: list[tuple]) -> EventColumns:
    """Return the events as a dataset home's columns (attributes as JSON text)."""

    def objects(values: list) -> np.ndarray:
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array

    times = np.array([e[3] for e in events])
    return EventColumns(
        objects([e[0] for e in events]),
        objects([e[1] for e in events]),
        objects([None if e[2] is None else json.dumps(e[2]) for e in events]),
        times,
        times,
    )


if __name__ == "__main__":
    main()
