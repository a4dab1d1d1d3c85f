"""Failures show in the telemetry before they happen; healthy devices stay clear.

Every labelled failure must show its kind's symptom between onset and failure
time (in the part of it inside the window), no device may show it before onset,
and no healthy device may show it at all, though healthy devices have their own
benign irregularities (a slow battery decline, a short dropout, a dip in link
quality, a value that holds for an hour).
"""

from collections import Counter

import numpy as np
import pytest

from homeiq_core.dataset import FAILURE_KINDS, Device, Failure

from .symptoms import (
    DAY,
    HOUR,
    HomeEvents,
    battery_fall,
    burst,
    dropouts,
    link_entity,
    link_ratio,
    longest_freeze,
    most_in_a_day,
    news_after,
)

BATTERY_RATE = 0.9  # points per day
LINK_RATIO = 0.78
FREEZE_HOURS = 6.0
BURST = 10


def _failures(
    homes: list[HomeEvents], kind: str
) -> list[tuple[HomeEvents, Failure, Device]]:
    out = []
    for events in homes:
        for failure in events.home.labels.failures:
            if failure.kind == kind:
                out.append((events, failure, events.device(failure.device_id)))
    return out


def _healthy(homes: list[HomeEvents]) -> list[tuple[HomeEvents, Device]]:
    out = []
    for events in homes:
        failing = {f.device_id for f in events.home.labels.failures}
        out += [
            (events, d)
            for d in events.home.inventory.devices
            if d.device_id not in failing
        ]
    return out


def _visible_end(events: HomeEvents, failure: Failure) -> float:
    return min(failure.failure_time, events.home.end)


def test_every_kind_is_labelled_often(fault_homes: list[HomeEvents]) -> None:
    kinds = Counter(f.kind for h in fault_homes for f in h.home.labels.failures)
    assert set(kinds) == set(FAILURE_KINDS)
    assert min(kinds.values()) >= 8, kinds


def test_labels_are_consistent(fault_homes: list[HomeEvents]) -> None:
    for events in fault_homes:
        home = events.home
        devices = {d.device_id for d in home.inventory.devices}
        seen = set()
        for failure in home.labels.failures:
            assert failure.device_id in devices
            assert failure.device_id not in seen  # one failure per device
            seen.add(failure.device_id)
            assert home.start < failure.failure_time
            if failure.kind == "sudden_death":
                assert failure.onset == failure.failure_time
            else:
                # Symptoms begin inside the window, after a day of normal life.
                assert home.start + 0.9 * DAY <= failure.onset < home.end


def test_some_failures_lie_beyond_the_window(fault_homes: list[HomeEvents]) -> None:
    failures = [f for h in fault_homes for f in h.home.labels.failures]
    beyond = [f for f in failures if f.failure_time > fault_homes[0].home.end]
    assert 0.1 < len(beyond) / len(failures) < 0.9


def test_battery_depletion_falls_before_failure(fault_homes: list[HomeEvents]) -> None:
    cases = _failures(fault_homes, "battery_depletion")
    assert cases
    for events, failure, device in cases:
        fall = battery_fall(
            events, device, failure.onset, _visible_end(events, failure)
        )
        assert fall is not None, device
        drop, rate = fall
        assert drop >= 5, (device.device_id, drop)
        assert rate >= BATTERY_RATE, (device.device_id, rate)


def test_healthy_batteries_decline_slowly_and_do_decline(
    fault_homes: list[HomeEvents],
) -> None:
    rates = []
    for events, device in _healthy(fault_homes):
        fall = battery_fall(events, device, events.home.start, events.home.end)
        rechargeable = device.entities[0].domain in {"vacuum", "lawn_mower"}
        if fall is not None and device.power_source == "battery" and not rechargeable:
            rates.append(fall[1])
            assert fall[1] < BATTERY_RATE / 2, device
    # A benign cue: healthy batteries also run down, only slowly.
    assert len(rates) > 100
    assert np.mean(np.array(rates) > 0) > 0.4


def test_radio_degradation_lowers_link_quality(fault_homes: list[HomeEvents]) -> None:
    cases = _failures(fault_homes, "radio_degradation")
    measured = 0
    for events, failure, device in cases:
        end = _visible_end(events, failure)
        late = (failure.onset + 0.7 * (end - failure.onset), end)
        before = (events.home.start, failure.onset)
        ratio = link_ratio(events, device, before, late)
        # Devices that report once in hours may say too little to measure.
        if ratio is not None:
            measured += 1
            assert ratio < LINK_RATIO, (device.device_id, ratio)
        # The link also drops out now and then before it fails.
        assert len(dropouts(events, device)) >= 1
    assert measured >= 0.85 * len(cases) > 0


def test_healthy_links_hold(fault_homes: list[HomeEvents]) -> None:
    checked = 0
    for events, device in _healthy(fault_homes):
        start, end = events.home.start, events.home.end
        ratio = link_ratio(
            events, device, (start, start + 3 * DAY), (end - 3 * DAY, end)
        )
        if ratio is not None:
            checked += 1
            assert ratio > 0.88, (device.device_id, ratio)
    assert checked > 300


def test_intermittent_dropouts_repeat(fault_homes: list[HomeEvents]) -> None:
    cases = _failures(fault_homes, "intermittent_dropout")
    assert cases
    for events, failure, device in cases:
        times = dropouts(events, device)
        inside = times[
            (times >= failure.onset) & (times < _visible_end(events, failure))
        ]
        assert most_in_a_day(inside) >= 2, device.device_id
        assert most_in_a_day(times[times < failure.onset]) <= 1


def test_healthy_devices_drop_out_rarely(fault_homes: list[HomeEvents]) -> None:
    dropping = 0
    healthy = _healthy(fault_homes)
    for events, device in healthy:
        times = dropouts(events, device)
        dropping += bool(len(times))
        assert most_in_a_day(times) <= 1, device.device_id
    # A benign cue: some healthy devices drop out once or twice.
    assert 0.02 < dropping / len(healthy) < 0.4


def test_stuck_sensors_freeze(fault_homes: list[HomeEvents]) -> None:
    cases = _failures(fault_homes, "stuck_sensor")
    assert cases
    for events, failure, device in cases:
        hours = longest_freeze(
            events, device, failure.onset, _visible_end(events, failure)
        )
        assert hours >= FREEZE_HOURS, (device.device_id, hours)
        # The radio still talks while the value is stuck.
        entity, _ = link_entity(device)
        battery = [e.entity_id for e in device.entities if e.device_class == "battery"]
        talking = [e for e in [entity, *battery] if e is not None]
        if talking:
            times = np.concatenate([events.rows(e)[0] for e in talking])
            assert (times > failure.onset).any()


def test_healthy_sensors_change_within_hours(fault_homes: list[HomeEvents]) -> None:
    checked = 0
    for events, device in _healthy(fault_homes):
        if device.name.endswith(("thermometer", "energy meter")):
            checked += 1
            hours = longest_freeze(events, device, events.home.start, events.home.end)
            assert hours < FREEZE_HOURS, (device.device_id, hours)
    assert checked > 60


def test_flapping_bursts(fault_homes: list[HomeEvents]) -> None:
    cases = _failures(fault_homes, "flapping")
    assert cases
    for events, failure, device in cases:
        end = _visible_end(events, failure)
        assert burst(events, device, failure.onset, end) >= BURST, device.device_id
        assert burst(events, device, events.home.start, failure.onset) < BURST


def test_healthy_binary_sensors_do_not_burst(fault_homes: list[HomeEvents]) -> None:
    checked = 0
    for events, device in _healthy(fault_homes):
        if device.entities[0].entity_id.startswith("binary_sensor."):
            checked += 1
            assert burst(events, device, events.home.start, events.home.end) < BURST
    assert checked > 200


@pytest.mark.parametrize("kind", [k for k in FAILURE_KINDS if k != "stuck_sensor"])
def test_dead_after_failure(fault_homes: list[HomeEvents], kind: str) -> None:
    dead = 0
    for events, failure, device in _failures(fault_homes, kind):
        if failure.failure_time < events.home.end:
            dead += 1
            assert news_after(events, device, failure.failure_time) == []
            _, states = events.rows(device.entities[0].entity_id)
            last_hours = (events.home.end - failure.failure_time) / HOUR
            if last_hours > 26:  # the longest wait before HA marks it unavailable
                assert states[-1] == "unavailable", device.device_id
    assert dead >= 2


def test_stuck_after_failure(fault_homes: list[HomeEvents]) -> None:
    for events, failure, device in _failures(fault_homes, "stuck_sensor"):
        if failure.failure_time < events.home.end:
            measured = [
                e
                for e in device.entities
                if e.device_class in {"temperature", "humidity", "power"}
            ]
            frozen = news_after(events, device, failure.failure_time)
            assert not set(frozen) & {e.entity_id for e in measured}


def test_healthy_devices_stay_alive(fault_homes: list[HomeEvents]) -> None:
    for events, device in _healthy(fault_homes):
        _, states = events.rows(device.entities[0].entity_id)
        if len(states) and device.power_source == "mains":
            alive = states[~np.isin(states, ["unavailable", "unknown"])]
            assert len(alive), device.device_id
