"""Labels to (device, day) rows: targets, exclusions, censoring, a real home."""

from dataclasses import fields

import numpy as np
import pytest

from homeiq_core.dataset import FAILURE_KINDS, Failure
from homeiq_core.features import DEVICE_SCHEMA, HOME_SCHEMA
from homeiq_trainer.dataset import read_dataset
from homeiq_trainer.models.rows import (
    DAY,
    battery_targets,
    failure_targets,
    home_rows,
    replay,
)

IDS = ("a", "b", "c")
T0 = 1_000_000.0
TIMES = T0 + DAY * np.arange(1, 21)  # ends of 20 days
UNTIL = T0 + 20 * DAY


def _failure(device, kind, day, recovered_day=None):
    failure = Failure(device, kind, T0 + (day - 2) * DAY, T0 + day * DAY)
    if recovered_day is not None:
        if "recovered" not in {f.name for f in fields(Failure)}:
            pytest.skip("this dataset format has no recovery times")
        failure = Failure(
            device,
            kind,
            failure.onset,
            failure.failure_time,
            recovered=T0 + recovered_day * DAY,
        )
    return failure


def test_fails_within_seven_days_then_excluded() -> None:
    # device a fails at the middle of day 10 (T0 + 9.5 days)
    failure = Failure("a", "sudden_death", T0 + 7.5 * DAY, T0 + 9.5 * DAY)
    result = failure_targets(IDS, [failure], TIMES, labels_until=UNTIL)
    a = result.target[:, 0]
    # rows at ends of days 1..20: day 3 ends at T0+3d, 3 + 7 >= 9.5 -> positive
    assert a.tolist()[:9] == [0, 0, 1, 1, 1, 1, 1, 1, 1]
    assert (a[9:] == -1).all()  # failed from T0 + 9.5 d: every later row excluded
    assert result.kind[2, 0] == FAILURE_KINDS.index("sudden_death")
    assert result.lead_h[2, 0] == pytest.approx(6.5 * 24)
    assert np.isnan(result.lead_h[0, 0])
    assert result.symptoms[:, 0].tolist()[:9] == [0] * 7 + [1, 1]  # onset 7.5 d
    assert result.healthy.tolist() == [False, True, True]
    # other devices: 0 until the horizon passes the labels' end, then censored
    assert (result.target[:13, 1:] == 0).all()
    assert (result.target[13:, 1:] == -1).all()


def test_soonest_failure_wins_and_repeat_failures_after_recovery() -> None:
    first = _failure("b", "battery_depletion", 5, recovered_day=6)
    second = _failure("b", "stuck_sensor", 9)
    result = failure_targets(IDS, [second, first], TIMES, labels_until=UNTIL)
    b = result.target[:, 1]
    assert b.tolist()[:10] == [1, 1, 1, 1, -1, 1, 1, 1, -1, -1]
    assert result.kind[3, 1] == FAILURE_KINDS.index("battery_depletion")
    assert result.kind[5, 1] == FAILURE_KINDS.index("stuck_sensor")


def test_unannotated_labels_exclude_everything_and_unknown_devices_are_ignored() -> (
    None
):
    failure = _failure("zz", "sudden_death", 5)
    result = failure_targets(IDS, [failure], TIMES, labels_until=UNTIL)
    assert (result.target[:13] == 0).all()
    none = failure_targets(IDS, [], TIMES, labels_until=UNTIL, annotated=False)
    assert (none.target == -1).all()
    assert (none.kind == -1).all()
    assert not none.healthy.any()


def test_battery_days_left_capped_censored_and_only_on_battery() -> None:
    on_battery = np.array([True, True, False])
    failures = [
        _failure("a", "battery_depletion", 12),
        _failure("b", "sudden_death", 4),
        _failure("zz", "sudden_death", 4),
    ]
    days = battery_targets(IDS, on_battery, failures, TIMES, labels_until=UNTIL)
    a = days[:, 0]
    assert a[0] == pytest.approx(11)  # end of day 1 -> failure at T0 + 12 d
    assert a[5] == pytest.approx(6)  # end of day 6: the cap ends with the labels
    # Past day 6 the cap passes the labels' end: censored although the battery
    # dies inside the window (keeping it would select rows by their future).
    assert np.isnan(a[6:]).all()
    b = days[:, 1]
    assert np.isnan(b[3:]).all()  # failed on day 4, never recovered
    assert b[0] == 14.0  # at least 14 days left, known: labels cover it
    assert np.isnan(days[:, 2]).all()  # mains
    late = battery_targets(IDS, on_battery, [], TIMES, labels_until=UNTIL)
    assert (late[:6, :2] == 14).all()
    assert np.isnan(late[6:, :2]).all()  # 14 days past the labels' end: censored
    none = battery_targets(
        IDS, on_battery, [], TIMES, labels_until=UNTIL, annotated=False
    )
    assert np.isnan(none).all()


def test_home_rows_of_a_generated_home(small_dataset) -> None:
    dataset = read_dataset(small_dataset)
    home = next(iter(dataset))
    rollups = replay(home)
    rows = home_rows(
        home.entry.home_id,
        home.inventory,
        home.labels,
        rollups,
        start=home.entry.start,
        end=home.entry.end,
    )
    days, devices = len(rollups), len(home.inventory.devices)
    assert rows.device_x.shape == (days, devices, len(DEVICE_SCHEMA))
    assert rows.device_x.dtype == np.float32
    assert rows.failure.target.shape == (days, devices)
    assert rows.battery_days.shape == (days, devices)
    assert rows.home_days.tolist() == [n for n in (1, 3, 7, 14, 30) if n <= days]
    assert rows.home_x.shape == (len(rows.home_days), len(HOME_SCHEMA))
    assert rows.home_type == home.labels.home_type
    assert rows.times[-1] == rollups[-1].end
    empty = home_rows("x", home.inventory, None, [], start=0.0, end=1.0)
    assert empty.home_x.shape[0] == 0
    assert (empty.failure.target == -1).all()


def test_unseen_positives_follow_what_the_label_says_about_symptoms() -> None:
    # A battery with symptoms from day 6, failing at day 9.5: rows of days 3-5
    # are positive but show nothing yet; days 6-9 show the symptoms.
    battery = Failure("a", "battery_depletion", T0 + 6 * DAY, T0 + 9.5 * DAY)
    # A ground-truth sudden death: never anything to see.
    death = Failure("b", "sudden_death", T0 + 9.5 * DAY, T0 + 9.5 * DAY)
    # Labels without an onset window (the core's rules, a user's report) say
    # nothing about symptoms: none of their rows is unseen.
    rule = Failure(
        "c", "sudden_death", T0 + 9.5 * DAY, T0 + 9.5 * DAY, None, "rule:silent_48h"
    )
    result = failure_targets(IDS, [battery, death, rule], TIMES, labels_until=UNTIL)
    positive = result.target == 1
    assert result.unseen[:, 0].tolist()[:9] == [0, 0, 1, 1, 1, 0, 0, 0, 0]
    assert (result.unseen[:, 1] == positive[:, 1]).all()
    assert positive[:, 1].sum() == 7
    assert not result.unseen[:, 2].any()
    assert not (result.unseen & ~positive).any()  # only positives are ever unseen
