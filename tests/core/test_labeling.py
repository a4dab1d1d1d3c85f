"""The forward-only label rule: what it labels, and that it cannot see the past."""

from dataclasses import replace

import numpy as np
import pytest

from homeiq_core.aggregator import TelemetryAggregator
from homeiq_core.dataset import Failure
from homeiq_core.labeling import rule_failures
from homeiq_core.rollups import FIELD_INDEX
from homeiq_trainer.models.rows import failure_targets

from .telemetry_homes import at, climate, home, motion

DAYS = 12
HOUR = 3600.0


def _rollups(silent_days=(), low_battery_day=None, new_battery_day=None):
    """Twelve days of two climate sensors and a motion sensor, hourly reports."""
    inventory = home(climate(0), climate(1), motion(2))
    start = at("2026-01-05 00:00")
    aggregator = TelemetryAggregator(inventory, start=start, history_days=None)
    for hour in range(DAYS * 24):
        t = start + hour * HOUR + 60
        day = hour // 24
        aggregator.record("sensor.t0", f"{20 + hour % 3}", None, t)
        battery = 80.0
        if low_battery_day is not None and day >= low_battery_day:
            battery = 4.0
        if new_battery_day is not None and day >= new_battery_day:
            battery = 100.0
        aggregator.record("sensor.t1_battery", f"{battery}", None, t + 1)
        if day not in silent_days:
            aggregator.record("binary_sensor.m2", "on" if hour % 2 else "off", None, t)
    aggregator.advance_to(start + DAYS * 86400)
    return inventory, list(aggregator.history)


IDS = ("climate0", "climate1", "motion2")


def test_silence_of_two_whole_days_is_a_failure_that_recovers() -> None:
    _, rollups = _rollups(silent_days=(4, 5, 6))
    [failure] = rule_failures(rollups, IDS)
    assert failure.device_id == "motion2"
    assert failure.kind == "sudden_death"
    assert failure.failure_time == rollups[4].start == failure.onset
    assert getattr(failure, "recovered", rollups[7].start) == rollups[7].start


def test_one_silent_day_is_not_a_failure() -> None:
    _, rollups = _rollups(silent_days=(4,))
    assert rule_failures(rollups, IDS) == ()


def test_low_battery_is_a_failure_until_a_new_battery() -> None:
    _, rollups = _rollups(low_battery_day=3, new_battery_day=8)
    [failure] = rule_failures(rollups, IDS)
    assert (failure.device_id, failure.kind) == ("climate1", "battery_depletion")
    assert failure.failure_time == rollups[3].start
    assert getattr(failure, "recovered", rollups[8].start) == rollups[8].start


def test_never_recovering_devices_are_labelled_once() -> None:
    _, rollups = _rollups(silent_days=range(6, DAYS), low_battery_day=9)
    failures = rule_failures(rollups, IDS)
    assert [(f.device_id, f.kind) for f in failures] == [
        ("motion2", "sudden_death"),
        ("climate1", "battery_depletion"),
    ]
    assert [f.failure_time for f in failures] == [rollups[6].start, rollups[9].start]


def test_user_reports_are_kept_and_no_rollups_means_only_them() -> None:
    user = Failure("climate0", "stuck_sensor", 10.0, 20.0)
    assert rule_failures([], IDS, user=[user]) == (user,)
    _, rollups = _rollups()
    late = replace(user, onset=rollups[5].start, failure_time=rollups[5].start)
    assert rule_failures(rollups, IDS, user=[late]) == (late,)


def test_days_not_watched_whole_do_not_count_as_silence() -> None:
    _, rollups = _rollups(silent_days=(4, 5))
    rollups[5] = replace(rollups[5], observed_s=rollups[5].observed_s / 2)
    assert rule_failures(rollups, IDS) == ()


@pytest.mark.parametrize("k", [1, 3, 5, 7])
def test_labels_cannot_see_the_past(k: int) -> None:
    """Targets of rows at or after day k depend on days >= k only.

    The same home is labelled three ways: with its whole history, with days before
    k replaced (every device busy, batteries half full: no past failure), and with
    no past at all. Wherever a row at or after day k is a training row under
    both, its target is the same.
    """
    _, rollups = _rollups(silent_days=(2, 3, 8, 9), low_battery_day=6)
    times = np.array([r.end for r in rollups])
    until = rollups[-1].end

    def targets(days):
        failures = rule_failures(days, IDS)
        return failure_targets(
            IDS, failures, times, labels_until=until, horizon_days=3
        ).target

    whole = targets(rollups)
    changed = [_opposite(r) for r in rollups[:k]] + rollups[k:]
    perturbed = targets(changed)
    forward = targets(rollups[k:])
    after = times >= rollups[k].start
    for other in (perturbed, forward):
        both = (whole >= 0) & (other >= 0) & after[:, None]
        assert both.any()
        assert np.array_equal(whole[both], other[both])
    assert (forward[after] == 1).any()


def _opposite(rollup):
    """Return the day with every device busy and every battery half full."""
    values = rollup.values.copy()
    values[:, FIELD_INDEX["events"]] = (
        np.nan_to_num(values[:, FIELD_INDEX["events"]]) * 3 + 1
    )
    battery = values[:, FIELD_INDEX["battery_min"]]
    values[:, FIELD_INDEX["battery_min"]] = np.where(np.isnan(battery), np.nan, 50.0)
    return replace(rollup, values=values)
