"""Events fed live give exactly the rollups and feature vectors of the batch path.

Live: the integration's way, one `record` per event with attribute dicts, the whole
state saved to JSON text and restored every few thousand events (restarts), features
computed from `aggregator.history` each time a day closes. Batch: the trainer's way,
a dataset home's `EventColumns` (attributes as JSON text) replayed by
`rollups_from_columns`, then one feature row per day. Also through the JSON-lines
dataset format and back. Equality is exact (NaN equal to NaN), not approximate.
"""

import json
import random

import numpy as np
import pytest

from homeiq_core.aggregator import TelemetryAggregator, rollups_from_columns
from homeiq_core.dataset import (
    Entity,
    Event,
    EventColumns,
    ReportColumns,
    in_gaps,
    read_events_jsonl,
    write_events_jsonl,
)
from homeiq_core.features import (
    DEVICE_SCHEMA,
    device_feature_rows,
    device_features,
    home_feature_rows,
    home_features,
)

from .telemetry_homes import at, climate, device, home, motion, plug, tv

ZONE = "Europe/Amsterdam"
START = at("2026-03-20 00:00", ZONE)  # the clocks go forward on March 29
END = at("2026-04-09 00:00", ZONE)
BULB = device("bulb", Entity("light.bulb", "light"), power_source="mains")
INVENTORY = home(
    climate(1),
    climate(2),
    motion(1),
    plug(1),
    tv(1),
    BULB,
    loose=(Entity("person.anna", "person"), Entity("sun.sun", "sun")),
)


class _Home:
    """A small home's behaviour: what each kind of entity reports."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.meter = 100.0
        self.battery = 100.0
        self.kinds = (
            (0.25, self.temperature),
            (0.10, self.battery_level),
            (0.10, self.link_or_humidity),
            (0.15, self.motion),
            (0.10, self.bulb),
            (0.10, self.plug),
            (0.10, self.media_and_people),
            (0.10, self.outsiders),
        )

    def event(self) -> tuple[str, str, dict | None]:
        pick = self.rng.random()
        for share, kind in self.kinds:
            if pick < share:
                return kind()
            pick -= share
        return self.outsiders()  # pragma: no cover - rounding

    def temperature(self) -> tuple[str, str, dict | None]:
        state = self.rng.choice(("20.5", "20.5", "21.0", "21.5", "unavailable", "x"))
        return f"sensor.t{self.rng.choice((1, 2))}", state, None

    def battery_level(self) -> tuple[str, str, dict | None]:
        self.battery -= self.rng.random() * 0.3
        state = f"{self.battery:.0f}" if self.rng.random() > 0.02 else "unknown"
        return self.rng.choice(("sensor.t1_battery", "sensor.t2_battery")), state, None

    def link_or_humidity(self) -> tuple[str, str, dict | None]:
        entity = self.rng.choice(("sensor.t1_linkquality", "sensor.h1", "sensor.h2"))
        return entity, str(self.rng.randrange(30, 200)), None

    def motion(self) -> tuple[str, str, dict | None]:
        state = self.rng.choice(("on", "off", "off", "unavailable"))
        return "binary_sensor.m1", state, None

    def bulb(self) -> tuple[str, str, dict | None]:
        attributes: dict = {
            "brightness": self.rng.randrange(256),
            "linkquality": self.rng.randrange(256),
        }
        if self.rng.random() < 0.05:
            attributes = {"battery": "low", "rssi": -61.25}
        return "light.bulb", self.rng.choice(("on", "off")), attributes

    def plug(self) -> tuple[str, str, dict | None]:
        entity = self.rng.choice(("sensor.p1_power", "sensor.p1_energy", "switch.p1"))
        if entity == "sensor.p1_energy":  # a cumulative meter that restarts rarely
            self.meter = (
                self.meter + self.rng.random() if self.rng.random() > 0.01 else 0.5
            )
            return entity, f"{self.meter:.3f}", None
        if entity == "sensor.p1_power":
            return entity, f"{self.rng.uniform(0, 2000):.1f}", None
        return entity, self.rng.choice(("on", "off")), None

    def media_and_people(self) -> tuple[str, str, dict | None]:
        entity, states = self.rng.choice(
            (
                ("media_player.tv1", ("playing", "idle", "off")),
                ("sensor.tv1_rssi", tuple(str(v) for v in range(-90, -40))),
                ("person.anna", ("home", "not_home")),
            )
        )
        return entity, self.rng.choice(states), None

    def outsiders(self) -> tuple[str, str, dict | None]:
        entity = self.rng.choice(("sensor.not_in_inventory", "sun.sun"))
        state = self.rng.choice(("above_horizon", "below_horizon", "3.5"))
        return entity, state, {"elevation": self.rng.uniform(-50, 50)}


def _stream(seed: int = 11) -> list[Event]:
    """Return a deterministic, dataset-valid stream over 20 days, µs timestamps."""
    rng = random.Random(seed)
    behaviour = _Home(rng)
    quiet = (at("2026-04-01 10:00", ZONE) * 1e6, at("2026-04-04 03:00", ZONE) * 1e6)
    events = []
    t_us = int(START * 1e6) + 1_234_567
    while t_us < END * 1e6 - 5e6:
        t_us += rng.randrange(1_000, 90_000_000)
        if quiet[0] < t_us < quiet[1]:
            continue  # three quiet days: the whole home is silent
        entity, state, attributes = behaviour.event()
        events.append(Event(entity, state, attributes, t_us / 1e6, t_us / 1e6))
    return events


def _columns(events: list) -> EventColumns:
    def text(attributes: object) -> object:
        return json.dumps(attributes) if isinstance(attributes, dict) else attributes

    return EventColumns(
        np.array([e[0] for e in events], dtype=object),
        np.array([e[1] for e in events], dtype=object),
        np.array([text(e[2]) for e in events], dtype=object),
        np.array([e[3] for e in events], dtype=np.float64),
        np.array([e[4] for e in events], dtype=np.float64),
    )


def _live(events: list, restart_every: int) -> tuple[tuple, np.ndarray, np.ndarray]:
    """Feed events as the integration would; features each time a day closes."""
    aggregator = TelemetryAggregator(INVENTORY, start=START)
    device_rows, home_rows = [], []

    def features_of_closed_days(closed: int) -> None:
        history = aggregator.history
        for back in range(closed - 1, -1, -1):
            upto = history[: len(history) - back]
            device_rows.append(device_features(INVENTORY, upto))
            home_rows.append(home_features(INVENTORY, upto))

    for i, event in enumerate(events):
        if i and i % restart_every == 0:
            saved = json.dumps(aggregator.to_json(), allow_nan=False)
            aggregator = TelemetryAggregator.from_json(INVENTORY, json.loads(saved))
        before = aggregator.days_closed
        aggregator.record(event[0], event[1], event[2], event[4])
        features_of_closed_days(aggregator.days_closed - before)
    before = aggregator.days_closed
    aggregator.advance_to(END)
    features_of_closed_days(aggregator.days_closed - before)
    return aggregator.history, np.array(device_rows), np.array(home_rows)


def _batch(columns: EventColumns) -> tuple[list, np.ndarray, np.ndarray]:
    rollups = rollups_from_columns(INVENTORY, columns, start=START, end=END)
    return (
        rollups,
        device_feature_rows(INVENTORY, rollups),
        home_feature_rows(INVENTORY, rollups),
    )


@pytest.fixture(scope="module")
def stream() -> list[Event]:
    events = _stream()
    assert len(events) > 5000
    return events


@pytest.mark.parametrize("restart_every", [997, 10**9])
def test_live_equals_batch_exactly(stream: list[Event], restart_every: int) -> None:
    live_rollups, live_devices, live_home = _live(stream, restart_every)
    rollups, devices, home_rows = _batch(_columns(stream))
    assert len(rollups) == 20
    assert list(live_rollups) == rollups
    assert devices.shape == live_devices.shape == (20, 6, devices.shape[2])
    assert np.array_equal(live_devices, devices, equal_nan=True)
    assert np.array_equal(live_home, home_rows, equal_nan=True)
    # The stream is not trivial: the features vary and counters saw odd input.
    assert not np.isnan(devices).all()
    assert np.unique(devices[:, 0, :], axis=0).shape[0] == 20
    counters = {k: sum(r.counters[k] for r in rollups) for k in rollups[0].counters}
    assert counters["unknown_entity"] > 0
    assert counters["non_numeric"] > 0
    assert counters["bad_attribute_value"] > 0
    assert counters["energy_reset"] > 0
    assert {r.end - r.start for r in rollups} == {86400.0, 82800.0}


def test_the_dataset_file_format_keeps_the_same_numbers(stream: list[Event]) -> None:
    lines = list(write_events_jsonl(stream))
    parsed = list(read_events_jsonl(lines))
    assert [e.last_updated for e in parsed] == [e.last_updated for e in stream]
    from_file = _batch(_columns(parsed))
    direct = _batch(_columns(stream))
    assert from_file[0] == direct[0]
    assert np.array_equal(from_file[1], direct[1], equal_nan=True)
    assert np.array_equal(from_file[2], direct[2], equal_nan=True)


def test_odd_input_is_handled_the_same_live_and_in_batch(stream: list[Event]) -> None:
    odd = list(stream[:3000])
    rng = random.Random(5)
    for i in sorted(rng.sample(range(len(odd)), 60), reverse=True):
        entity, state, attributes, changed, updated = odd[i]
        kind = rng.randrange(6)
        if kind == 0:  # the clock steps back a little, or a lot,
            back = updated - rng.choice((5, 9e4))  # just after event i
            odd.insert(i + 1, Event(entity, "on", None, changed, back))
        elif kind == 1:
            odd.insert(i, Event(entity, "z" * 1000, None, changed, updated))
        elif kind == 2:
            odd.insert(i, Event(entity, None, None, changed, updated))  # type: ignore[arg-type]
        elif kind == 3:
            odd.insert(i, Event(entity, state, "{not json", changed, updated))  # type: ignore[arg-type]
        elif kind == 4:
            odd.insert(i, Event(["list"], state, None, changed, updated))  # type: ignore[arg-type]
        else:
            odd.insert(i, Event(entity, state, attributes, changed, float("nan")))
    end = odd[-1].last_updated + 86400 * 2
    live = TelemetryAggregator(INVENTORY, start=START)
    for event in odd:
        attributes = event.attributes
        if attributes == "{not json":
            attributes = "{not json"  # live attributes that are not a mapping
        live.record(event.entity_id, event.state, attributes, event.last_updated)
    live.advance_to(end)
    batch = rollups_from_columns(INVENTORY, _columns(odd), start=START, end=end)
    assert list(live.history) == batch
    totals = live.counters()
    for name in ("clock_backwards", "late_event", "oversized_state", "bad_state"):
        assert totals[name] > 0, name
    assert totals["bad_entity_id"] > 0
    assert totals["bad_time"] > 0


# --- format version 2: re-reports and gaps ------------------------------------------

GAPS = (
    (at("2026-03-24 22:00", ZONE), at("2026-03-25 03:30", ZONE)),  # across midnight
    (at("2026-03-29 01:30", ZONE), at("2026-03-30 12:00", ZONE)),  # and a DST shift
)


def _with_reports_and_gaps(
    stream: list[Event], seed: int = 3
) -> tuple[list[Event], ReportColumns]:
    """Return the stream without what falls in GAPS, and re-reports of its states."""
    rng = random.Random(seed)
    kept = [e for e in stream if in_gaps(np.array([e.last_updated]), GAPS) is None]
    reports = []
    for event in kept:
        if rng.random() < 0.3:  # re-reported unchanged some time later
            reports.append((event.entity_id, event.last_updated + rng.uniform(0, 3600)))
        if rng.random() < 0.02:  # at the very same time
            reports.append((event.entity_id, event.last_updated))
    reports.sort(key=lambda report: report[1])
    times = np.array([t for _, t in reports])
    outside = in_gaps(times, GAPS)
    keep = np.ones(len(reports), bool) if outside is None else ~outside
    keep &= times < END
    return kept, ReportColumns(
        np.array([r[0] for r in reports], dtype=object)[keep],
        np.round(times[keep] * 1e6) / 1e6,
    )


def _live_v2(
    events: list[Event], reports: ReportColumns, restart_every: int
) -> tuple[tuple, np.ndarray]:
    """Feed events, reports and gaps one call at a time, in time order."""
    timeline = [(e.last_updated, 1, e) for e in events]
    timeline += [
        (t, 2, (entity, t))
        for entity, t in zip(
            reports.entity_id.tolist(), reports.time.tolist(), strict=True
        )
    ]
    timeline += [(a, 0, (a, b)) for a, b in GAPS]
    timeline.sort(key=lambda item: (item[0], item[1]))  # stable for equal keys
    aggregator = TelemetryAggregator(INVENTORY, start=START, reports=True)
    rows = []
    for i, (_, kind, item) in enumerate(timeline):
        if i and i % restart_every == 0:
            saved = json.dumps(aggregator.to_json(), allow_nan=False)
            aggregator = TelemetryAggregator.from_json(INVENTORY, json.loads(saved))
        before = aggregator.days_closed
        if kind == 0:
            assert aggregator.mark_gap(*item)
        elif kind == 1:
            aggregator.record(item[0], item[1], item[2], item[4])
        else:
            aggregator.report(*item)
        history = aggregator.history
        for back in range(aggregator.days_closed - before - 1, -1, -1):
            rows.append(device_features(INVENTORY, history[: len(history) - back]))
    before = aggregator.days_closed
    aggregator.advance_to(END)
    history = aggregator.history
    for back in range(aggregator.days_closed - before - 1, -1, -1):
        rows.append(device_features(INVENTORY, history[: len(history) - back]))
    return aggregator.history, np.array(rows)


@pytest.mark.parametrize("restart_every", [1009, 10**9])
def test_live_equals_batch_with_reports_and_gaps(
    stream: list[Event], restart_every: int
) -> None:
    events, reports = _with_reports_and_gaps(stream)
    assert len(reports) > 1000
    live_rollups, live_rows = _live_v2(events, reports, restart_every)
    rollups = rollups_from_columns(
        INVENTORY, _columns(events), start=START, end=END, reports=reports, gaps=GAPS
    )
    rows = device_feature_rows(INVENTORY, rollups)
    assert list(live_rollups) == rollups
    assert np.array_equal(live_rows, rows, equal_nan=True)
    assert sum(r.gap_s for r in rollups) == sum(b - a for a, b in GAPS)
    assert all(r.reports_visible for r in rollups)
    known = {e.entity_id for e in INVENTORY.all_entities()}
    assert sum(r.home_reports for r in rollups) == sum(
        entity in known for entity in reports.entity_id
    )
    names = DEVICE_SCHEMA.names
    assert np.nanmax(rows[:, :, names.index("reported_7d")]) > 0
    assert not np.isnan(rows[:, :, names.index("interval_p95_h")]).all()
