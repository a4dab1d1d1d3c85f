"""Properties of the aggregator over random event streams, odd input included."""

import json
import math
import sys

from hypothesis import HealthCheck, given, settings, strategies as st
import numpy as np

from homeiq_core.aggregator import TelemetryAggregator
from homeiq_core.dataset import Entity
from homeiq_core.rollups import DEVICE_FIELDS, DayRollup

from .telemetry_homes import at, climate, device, home, motion, plug, tv

INVENTORY = home(
    climate(1),
    motion(1),
    plug(1),
    tv(1),
    device("bulb", Entity("light.bulb", "light")),
    loose=(Entity("person.anna", "person"),),
)
KNOWN = [e.entity_id for e in INVENTORY.all_entities()]
BASE = at("2026-03-28 18:00")  # the clocks go forward during the night

entity_ids = st.one_of(
    st.sampled_from(KNOWN),
    st.sampled_from(
        ["sensor.nobody", "", "x" * 5000, None, 7, ["sensor.t1"], {"a": 1}]
    ),
)
states = st.one_of(
    st.sampled_from(
        [
            *("20.5", "21", "-3e2", "on", "off", "unavailable", "unknown", "nan"),
            *("inf", "1e400", "abc", "", " 7 ", "1_000", "y" * 300),
        ]
    ),
    st.text(max_size=20),
    st.none(),
    st.integers(),
    st.floats(allow_nan=True),
)
reading = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.booleans(),
    st.none(),
    st.lists(st.integers(), max_size=2),
)
attributes = st.one_of(
    st.none(),
    st.dictionaries(
        st.sampled_from(
            ["battery", "battery_level", "linkquality", "lqi", "rssi", "x"]
        ),
        reading,
        max_size=3,
    ),
    st.sampled_from(["not a mapping", 42, [1, 2]]),
)
# Mostly forward steps; sometimes backwards, across days, or no usable time at all.
steps = st.one_of(
    st.floats(min_value=0.0, max_value=3 * 3600.0),
    st.floats(min_value=-900.0, max_value=0.0),
    st.sampled_from([0.5, 86400.0, 3 * 86400.0, 40 * 86400.0]),
    st.sampled_from([math.nan, math.inf, -math.inf, None, "noon", True, 10**400]),
)
streams = st.lists(st.tuples(entity_ids, states, attributes, steps), max_size=60)


def _events(stream: list, repeats: int = 1) -> list[tuple]:
    """Turn (entity, state, attributes, step) into events; odd steps stay odd."""
    events = []
    t = BASE
    for _ in range(repeats):
        for entity_id, state, attrs, step in stream:
            if isinstance(step, float) and math.isfinite(step):
                t += step
                events.append((entity_id, state, attrs, t))
            else:
                events.append((entity_id, state, attrs, step))
        t += 1.0
    return events


SETTINGS = settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@SETTINGS
@given(streams)
def test_never_raises_and_every_accepted_event_is_rolled_up(stream: list) -> None:
    aggregator = TelemetryAggregator(INVENTORY, history_days=None)
    accepted = 0
    for event in _events(stream):
        result = aggregator.record(*event)
        assert isinstance(result, bool)
        accepted += result
    assert all(count >= 0 for count in aggregator.counters().values())
    rolled = sum(r.home_events for r in aggregator.history)
    assert rolled + aggregator.to_json()["home"]["events"] == accepted
    # Days follow one another without gaps or overlaps.
    for before, after in zip(aggregator.history, aggregator.history[1:], strict=False):
        assert after.start == before.end
    for rollup in aggregator.history:
        assert not np.isinf(rollup.values).any()
        counts = rollup.values[:, : DEVICE_FIELDS.index("first_seen")]
        assert (np.nan_to_num(counts, nan=0.0) >= 0).all()  # NaN: no interval
        assert 0 <= rollup.observed_s <= rollup.end - rollup.start


@SETTINGS
@given(streams)
def test_rollups_and_state_round_trip_through_json_exactly(stream: list) -> None:
    aggregator = TelemetryAggregator(INVENTORY)
    for event in _events(stream):
        aggregator.record(*event)
    aggregator.advance_to(BASE + 100 * 86400)
    for rollup in aggregator.history:
        text = json.dumps(rollup.to_json(), allow_nan=False)
        again = DayRollup.from_json(json.loads(text))
        assert again == rollup
        assert again.values.tobytes() == rollup.values.tobytes()
    state = json.loads(json.dumps(aggregator.to_json(), allow_nan=False))
    restored = TelemetryAggregator.from_json(INVENTORY, state)
    assert restored.to_json() == state


@SETTINGS
@given(streams, st.integers(min_value=0, max_value=60))
def test_a_restart_anywhere_changes_nothing(stream: list, cut: int) -> None:
    events = _events(stream)
    whole = TelemetryAggregator(INVENTORY)
    for event in events:
        whole.record(*event)
    first = TelemetryAggregator(INVENTORY)
    for event in events[:cut]:
        first.record(*event)
    saved = json.loads(json.dumps(first.to_json(), allow_nan=False))
    second = TelemetryAggregator.from_json(INVENTORY, saved)
    for event in events[cut:]:
        second.record(*event)
    assert second.history == whole.history
    assert second.to_json() == whole.to_json()


def _size(obj: object, seen: set[int]) -> int:
    """Return the bytes of obj and of everything it reaches, each object once."""
    if id(obj) in seen:
        return 0
    seen.add(id(obj))
    size = sys.getsizeof(obj)
    if isinstance(obj, dict):
        size += sum(_size(k, seen) + _size(v, seen) for k, v in obj.items())
    elif isinstance(obj, list | tuple | set):
        size += sum(_size(item, seen) for item in obj)
    else:
        for name in getattr(type(obj), "__slots__", ()):
            if hasattr(obj, name):
                size += _size(getattr(obj, name), seen)
    return size


def _live_state_size(aggregator: TelemetryAggregator) -> int:
    """Bytes of the per-device and per-entity state (history and inventory aside)."""
    # The inventory and the shared entity ids are given, not grown by events.
    seen = {id(aggregator.inventory), *(id(e) for e in KNOWN)}
    parts = {
        k: v
        for k, v in vars(aggregator).items()
        if k not in {"_history", "inventory", "_zone"}
    }
    return _size(parts, seen)


# Slack per device for numbers that grow wider (a count past 2**30, None -> float).
SLACK = 64 * (len(DEVICE_FIELDS) + 24) * (len(INVENTORY.devices) + 1) + 64 * 8 * len(
    KNOWN
)


@SETTINGS
@given(streams)
def test_state_size_does_not_grow_with_the_number_of_events(stream: list) -> None:
    once = TelemetryAggregator(INVENTORY, history_days=3)
    for event in _events(stream):
        once.record(*event)
    many = TelemetryAggregator(INVENTORY, history_days=3)
    for event in _events(stream, repeats=12):
        many.record(*event)
    assert _live_state_size(many) <= _live_state_size(once) + SLACK
    assert len(many.history) <= 3


def test_a_busy_day_costs_no_more_memory_than_a_quiet_one() -> None:
    def day_of(events_per_entity: int) -> TelemetryAggregator:
        aggregator = TelemetryAggregator(INVENTORY, history_days=2)
        t = at("2026-01-05 00:00")
        step = 80000.0 / events_per_entity
        for i in range(events_per_entity):
            for j, entity_id in enumerate(KNOWN):
                state = ("on", "off", "unavailable", str(i % 7), f"{i}.5")[(i + j) % 5]
                aggregator.record(entity_id, state, {"linkquality": i % 255}, t)
            t += step
        return aggregator

    quiet, busy = day_of(20), day_of(4000)
    assert busy.to_json()["home"]["events"] == 4000 * len(KNOWN)
    assert _live_state_size(busy) <= _live_state_size(quiet) + SLACK
    assert 4000 * len(KNOWN) > SLACK  # a byte kept per event would exceed the slack


# --- format v2: re-reports and gaps mixed in ------------------------------------------

calls = st.lists(
    st.tuples(
        st.sampled_from(["record", "record", "report", "gap"]),
        entity_ids,
        states,
        attributes,
        steps,
        st.one_of(
            st.floats(min_value=-3600.0, max_value=4 * 86400.0),
            st.sampled_from([math.nan, None, "later"]),
        ),
    ),
    max_size=60,
)


def _call(aggregator: TelemetryAggregator, call: tuple) -> bool:
    kind, entity_id, state, attrs, moment, length = call
    if kind == "record":
        return aggregator.record(entity_id, state, attrs, moment)
    if kind == "report":
        return aggregator.report(entity_id, moment)
    timed = isinstance(moment, float) and isinstance(length, float)
    return aggregator.mark_gap(moment, moment + length if timed else length)


def _timed(stream: list) -> list[tuple]:
    """Give each call a time: the running clock, or its odd step as it is."""
    out = []
    t = BASE
    for kind, entity_id, state, attrs, step, length in stream:
        if isinstance(step, float) and math.isfinite(step):
            t += step
            moment: object = t
        else:
            moment = step
        out.append((kind, entity_id, state, attrs, moment, length))
    return out


@SETTINGS
@given(calls, st.integers(min_value=0, max_value=60))
def test_reports_and_gaps_never_raise_and_survive_a_restart(
    stream: list, cut: int
) -> None:
    timed = _timed(stream)
    whole = TelemetryAggregator(INVENTORY)
    for call in timed:
        assert isinstance(_call(whole, call), bool)
    first = TelemetryAggregator(INVENTORY)
    for call in timed[:cut]:
        _call(first, call)
    saved = json.loads(json.dumps(first.to_json(), allow_nan=False))
    second = TelemetryAggregator.from_json(INVENTORY, saved)
    for call in timed[cut:]:
        _call(second, call)
    whole.advance_to(BASE + 10 * 86400)
    second.advance_to(BASE + 10 * 86400)
    assert second.history == whole.history
    assert second.to_json() == whole.to_json()
    for rollup in whole.history:
        assert 0 <= rollup.observed_s <= rollup.end - rollup.start
        assert 0 <= rollup.gap_s <= rollup.end - rollup.start
        assert not np.isinf(rollup.values).any()
        carried = rollup.values[:, DEVICE_FIELDS.index("silence_s")]
        assert (np.nan_to_num(carried, nan=0.0) >= 0).all()
