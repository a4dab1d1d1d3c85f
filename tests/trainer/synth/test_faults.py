"""Failures as real homes show them; healthy devices as real homes show them.

Every labelled failure must show its kind's symptom between onset and failure
time where it can be seen, and healthy devices must show the benign quirks of
real ones (long silences of event-driven sensors, batteries at any level that
report coarsely and rarely, short binary on-times, the odd dropout) so that a
detector cannot tell them apart by those. The shares are checked as ranges over
many drawn homes: the generator draws behaviours, it does not copy one home.
"""

from collections import Counter

import numpy as np
import pytest

from homeiq_core.dataset import FAILURE_KINDS, Device, Failure
from homeiq_trainer.synth.faults import (
    AFTER_WINDOW,
    BEFORE_WINDOW,
    plan_failures,
)
from homeiq_trainer.synth.home import draw_plan

from .conftest import FAULT_OPTIONS
from .symptoms import (
    DAY,
    HOUR,
    HomeEvents,
    burst,
    dropouts,
    entity_of,
    link_ratio,
    longest_freeze,
    longest_silence,
    most_in_a_day,
    news_after,
    numeric,
    unavailable_after,
)

LINK_RATIO = 0.78
FREEZE_HOURS = 6.0
BURST = 10
EVENT_DRIVEN = ("moisture", "smoke", "door", "window", "opening")


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
            if d.device_id not in failing and d.protocol != "unknown" and d.entities
        ]
    return out


def _visible_end(events: HomeEvents, failure: Failure) -> float:
    return min(failure.failure_time, events.home.end)


def _battery_values(events: HomeEvents, device: Device) -> tuple[np.ndarray, ...]:
    entity = entity_of(device, device_class="battery")
    if entity is None:
        return np.zeros(0), np.zeros(0)
    return numeric(*events.rows(entity))


def _primary_battery(device: Device) -> bool:
    rechargeable = device.entities[0].domain in {"vacuum", "lawn_mower"}
    has = any(e.device_class == "battery" for e in device.entities)
    return has and device.power_source == "battery" and not rechargeable


def test_every_kind_is_labelled(fault_homes: list[HomeEvents]) -> None:
    kinds = Counter(f.kind for h in fault_homes for f in h.home.labels.failures)
    assert set(kinds) == set(FAILURE_KINDS)
    assert min(kinds.values()) >= 3, kinds
    # Mostly batteries and dropouts; stuck readings and flapping are rarer.
    total = kinds.total()
    assert (kinds["battery_depletion"] + kinds["intermittent_dropout"]) / total > 0.45
    assert (kinds["stuck_sensor"] + kinds["flapping"]) / total < 0.2


def test_labels_are_consistent(fault_homes: list[HomeEvents]) -> None:
    for events in fault_homes:
        home = events.home
        devices = {d.device_id for d in home.inventory.devices}
        seen = set()
        for failure in home.labels.failures:
            assert failure.device_id in devices
            assert failure.device_id not in seen  # one failure per device
            seen.add(failure.device_id)
            assert home.start - BEFORE_WINDOW <= failure.failure_time
            assert failure.failure_time <= home.end + AFTER_WINDOW
            assert failure.onset <= failure.failure_time
            if failure.kind == "sudden_death":
                assert failure.onset == failure.failure_time
            if failure.recovered is not None:
                assert failure.recovered > failure.failure_time
            assert failure.provenance == "ground_truth"


def test_failures_are_placed_independently_of_the_window(
    fault_homes: list[HomeEvents],
) -> None:
    failures = [f for h in fault_homes for f in h.home.labels.failures]
    start, end = fault_homes[0].home.start, fault_homes[0].home.end
    onsets = np.array([f.onset for f in failures])
    times = np.array([f.failure_time for f in failures])
    # Symptoms begin before the window, failures come after it.
    assert 0.05 < np.mean(onsets < start) < 0.5
    assert 0.1 < np.mean(times > end) < 0.5
    # Symptoms do not pile up on the first day.
    first_day = (onsets >= start) & (onsets < start + DAY)
    assert np.mean(first_day) < 0.1


def test_base_rate_is_flat_across_the_window() -> None:
    """The share of devices failing within 7 days does not rise with the day."""
    options = FAULT_OPTIONS
    window = options.days * DAY
    rate = {7: 0, options.days - 7: 0}
    devices = 0
    for index in range(400):  # plans only: cheap
        plan = draw_plan(options, index)
        faults = plan_failures(np.random.default_rng(index), plan, window, 0.15)
        devices += len(plan.devices)
        for fault in faults.values():
            for day in rate:
                rate[day] += day * DAY <= fault.failure < (day + 7) * DAY
    early, late = (rate[d] / devices for d in sorted(rate))
    assert early > 0.01
    assert 0.75 < late / early < 1.33, (early, late)


def test_dropouts_mostly_recover(fault_homes: list[HomeEvents]) -> None:
    for kind, low, high in (
        ("intermittent_dropout", 0.4, 0.8),
        ("battery_depletion", 0.15, 0.55),
        ("sudden_death", 0.0, 0.0),
    ):
        cases = _failures(fault_homes, kind)
        back = [f.recovered is not None for _, f, _ in cases]
        assert low <= np.mean(back) <= high, (kind, np.mean(back))


def test_healthy_batteries_span_the_range(fault_homes: list[HomeEvents]) -> None:
    first = []
    for events, device in _healthy(fault_homes):
        if _primary_battery(device):
            _, values = _battery_values(events, device)
            if len(values):
                first.append(values[0])
    levels = np.array(first)
    assert len(levels) > 150
    assert np.percentile(levels, 10) < 30
    assert np.percentile(levels, 90) >= 95
    assert 0.05 < np.mean(levels < 20) < 0.3


def test_doomed_batteries_look_healthy_before_onset(
    fault_homes: list[HomeEvents],
) -> None:
    healthy = []
    for events, device in _healthy(fault_homes):
        if _primary_battery(device):
            _, values = _battery_values(events, device)
            healthy += values[:1].tolist()
    doomed, emptied = [], 0
    cases = _failures(fault_homes, "battery_depletion")
    for events, failure, device in cases:
        times, values = _battery_values(events, device)
        before = values[times < failure.onset]
        if len(before):
            doomed.append(before[0])
        after = values[(times >= failure.onset) & (times < failure.failure_time)]
        emptied += bool(len(after)) and after.min() <= 10
    assert len(doomed) >= 8
    assert abs(np.median(doomed) - np.median(healthy)) < 20, (doomed, healthy)
    # Where a report came after onset, the battery reads (nearly) empty.
    assert emptied >= 0.3 * len(cases) > 0


def test_battery_reports_are_coarse_and_rare(fault_homes: list[HomeEvents]) -> None:
    rows, tens, zwave, steps = [], 0, 0, []
    for events, device in _healthy(fault_homes):
        if not _primary_battery(device):
            continue
        _, values = _battery_values(events, device)
        days = (events.home.end - events.home.start) / DAY
        change = np.abs(np.diff(values))
        # Reports that changed the level (restarts re-write the same level).
        rows.append((1 + np.count_nonzero(change)) / days * 30)
        steps.append(bool(np.any((change > 0) & (change < 1))))
        if device.protocol == "z-wave":
            zwave += 1
            tens += bool(np.all(values % 10 == 0))
    rows = np.array(rows)
    # Most batteries change a handful of times a month; a chatty few often.
    assert np.median(rows) < 12
    assert 0.25 < np.mean(rows <= 3) < 0.9
    assert np.mean(rows > 30) > 0.02
    # Z-Wave: most in 10-point steps or the low-battery code only.
    assert tens >= 0.5 * zwave > 0
    assert 0.05 < np.mean(steps) < 0.5  # Zigbee's half points


def test_healthy_event_sensors_fall_silent_for_days(
    fault_homes: list[HomeEvents],
) -> None:
    silent = []
    for events, device in _healthy(fault_homes):
        if device.entities[0].device_class in EVENT_DRIVEN:
            silent.append(longest_silence(events, device))
    silent = np.array(silent)
    assert len(silent) > 100
    assert 0.3 < np.mean(silent > 24) < 0.95
    assert 0.15 < np.mean(silent > 48) < 0.9


def test_dead_devices_often_stay_available(fault_homes: list[HomeEvents]) -> None:
    available, dead = 0, 0
    for kind in ("battery_depletion", "sudden_death", "intermittent_dropout"):
        for events, failure, device in _failures(fault_homes, kind):
            home = events.home
            back = failure.recovered or np.inf
            if failure.failure_time < home.end - 2 * DAY and back > home.end:
                dead += 1
                available += not unavailable_after(events, device, failure.failure_time)
    assert dead >= 10
    assert 0.2 < available / dead < 0.8


def test_nothing_new_after_failure(fault_homes: list[HomeEvents]) -> None:
    for kind in FAILURE_KINDS:
        for events, failure, device in _failures(fault_homes, kind):
            if kind == "stuck_sensor" or failure.recovered is not None:
                continue
            if events.home.start < failure.failure_time < events.home.end:
                assert news_after(events, device, failure.failure_time) == []


def test_radio_degradation_lowers_link_quality(fault_homes: list[HomeEvents]) -> None:
    ratios = []
    for events, failure, device in _failures(fault_homes, "radio_degradation"):
        end = _visible_end(events, failure)
        start = max(events.home.start, failure.onset - 3 * DAY)
        late = (failure.onset + 0.7 * (end - failure.onset), end)
        ratio = link_ratio(events, device, (start, failure.onset), late)
        if ratio is not None and failure.onset > events.home.start + DAY:
            ratios.append(ratio)
    # Few homes enable link-quality entities; where they do, it falls.
    assert len(ratios) >= 2
    assert np.mean(np.array(ratios) < LINK_RATIO) >= 0.7, ratios


def test_healthy_links_hold(fault_homes: list[HomeEvents]) -> None:
    checked = held = 0
    for events, device in _healthy(fault_homes):
        start, end = events.home.start, events.home.end
        ratio = link_ratio(
            events, device, (start, start + 3 * DAY), (end - 3 * DAY, end)
        )
        if ratio is not None:
            checked += 1
            held += ratio > 0.88
    assert held >= 0.97 * checked > 30


def test_intermittent_dropouts_repeat(fault_homes: list[HomeEvents]) -> None:
    checked = 0
    for events, failure, device in _failures(fault_homes, "intermittent_dropout"):
        # Seen as "unavailable" where the integration polls (Wi-Fi: minutes).
        if device.protocol != "wifi":
            continue
        begin = max(failure.onset, events.home.start)
        end = _visible_end(events, failure)
        if end - begin < 2 * DAY:
            continue
        checked += 1
        times = dropouts(events, device)
        assert most_in_a_day(times[(times >= begin) & (times < end)]) >= 2
    assert checked >= 1


def test_healthy_devices_drop_out_rarely(fault_homes: list[HomeEvents]) -> None:
    dropping = 0
    healthy = _healthy(fault_homes)
    for events, device in healthy:
        times = dropouts(events, device)
        dropping += bool(len(times))
        assert most_in_a_day(times) <= 2, device.device_id
    # A benign cue: some healthy devices drop out once or twice.
    assert 0.01 < dropping / len(healthy) < 0.4


def test_stuck_sensors_freeze(fault_homes: list[HomeEvents]) -> None:
    cases = _failures(fault_homes, "stuck_sensor")
    measured = 0
    for events, failure, device in cases:
        begin = max(failure.onset, events.home.start)
        end = _visible_end(events, failure)
        if end - begin > 12 * HOUR:
            measured += 1
            assert longest_freeze(events, device, begin, end) >= FREEZE_HOURS
    assert measured >= 1


def test_healthy_sensors_change_within_hours(fault_homes: list[HomeEvents]) -> None:
    hours = []
    for events, device in _healthy(fault_homes):
        if device.name.endswith(("thermometer", "energy meter")) and not (
            events.home.gaps
        ):
            hours.append(
                longest_freeze(events, device, events.home.start, events.home.end)
            )
    assert len(hours) > 60
    assert np.mean(np.array(hours) < FREEZE_HOURS) > 0.95


def test_flapping_bursts(fault_homes: list[HomeEvents]) -> None:
    cases = _failures(fault_homes, "flapping")
    assert cases
    for events, failure, device in cases:
        begin = max(failure.onset, events.home.start)
        end = _visible_end(events, failure)
        if end - begin > DAY:
            assert burst(events, device, begin, end) >= BURST, device.device_id
        assert burst(events, device, events.home.start, failure.onset) < BURST


def test_healthy_binary_sensors_toggle_quickly_but_do_not_burst(
    fault_homes: list[HomeEvents],
) -> None:
    checked, quick = 0, 0
    for events, device in _healthy(fault_homes):
        main = device.entities[0]
        if main.domain != "binary_sensor" or main.device_class == "tamper":
            continue
        checked += 1
        home = events.home
        assert burst(events, device, home.start, home.end) < BURST
        times, states = events.rows(main.entity_id)
        on = np.flatnonzero((states[:-1] == "on") & (states[1:] == "off"))
        short = (times[on + 1] - times[on] < 30).sum()
        quick += short / ((home.end - home.start) / DAY) >= 1
    assert checked > 200
    # Cupboards, fridges and quick PIRs: on for under 30 s at least daily.
    assert 0.1 < quick / checked < 0.8


def test_stuck_after_failure(fault_homes: list[HomeEvents]) -> None:
    for events, failure, device in _failures(fault_homes, "stuck_sensor"):
        if events.home.start < failure.failure_time < events.home.end:
            measured = [
                e
                for e in device.entities
                if e.device_class in {"temperature", "humidity", "power"}
            ]
            frozen = news_after(events, device, failure.failure_time)
            assert not set(frozen) & {e.entity_id for e in measured}


@pytest.mark.parametrize("power", ["mains"])
def test_healthy_devices_stay_alive(fault_homes: list[HomeEvents], power: str) -> None:
    for events, device in _healthy(fault_homes):
        _, states = events.rows(device.entities[0].entity_id)
        if len(states) and device.power_source == power:
            alive = states[~np.isin(states, ["unavailable", "unknown"])]
            assert len(alive), device.device_id
