"""core.health: the rule-based fallback and the model path, on replayed telemetry."""

from dataclasses import astuple, replace
import json

import numpy as np
import pytest
from sklearn.ensemble import (
    GradientBoostingClassifier,
    IsolationForest,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression

from homeiq_core.aggregator import TelemetryAggregator
from homeiq_core.dataset import HOME_TYPES, Area, Device, Entity, Floor, Inventory
from homeiq_core.explain import BATTERY_CAP_DAYS, NO_FORECAST_REASONS
from homeiq_core.features import DEVICE_SCHEMA, HOME_SCHEMA
from homeiq_core.health import (
    ClosedDays,
    LiveState,
    Models,
    _duration,
    score_home,
    score_home_type,
)
from homeiq_core.inference import (
    CLASSES,
    CREATED,
    FEATURE_NAMES,
    FEATURE_SCHEMA,
    REFERENCE,
    Model,
    ModelError,
    load_model,
)
from homeiq_trainer.onnx_export import export_onnx

T0 = 1_767_225_600.0  # 2026-01-01 00:00 UTC
DAY = 86400.0
N = 5


def _inventory(floors: int = 1, areas: tuple[str, ...] = ()) -> Inventory:
    devices = tuple(
        Device(
            f"d{i}",
            f"Device {i}",
            "Acme",
            "T1",
            "zigbee",
            "battery",
            None,
            (
                Entity(f"sensor.t{i}", "sensor", "temperature", "°C"),
                Entity(f"sensor.b{i}", "sensor", "battery", "%"),
            ),
            integration="zha",
        )
        for i in range(N)
    )
    return Inventory(
        "home",
        "UTC",
        floors=tuple(Floor(f"f{k}", f"Floor {k}", k) for k in range(floors)),
        areas=tuple(Area(name, name) for name in areas),
        devices=devices,
    )


def _history(inventory: Inventory, days: int = 10, drain: float = 1.0):
    """Every device reports every 10 min; battery drains `drain` x (i+1) %/day."""
    aggregator = TelemetryAggregator(inventory, start=T0, history_days=None)
    times = T0 + np.arange(0, days * DAY, 600.0)
    for k, t in enumerate(times.tolist()):
        for i in range(N):
            aggregator.record(f"sensor.t{i}", str(20 + k % 5 * 0.1), {}, t)
            if k % 36 == 0:
                level = 100 - (t - T0) / DAY * drain * (i + 1)
                aggregator.record(f"sensor.b{i}", f"{level:.1f}", {}, t)
    aggregator.advance_to(T0 + days * DAY)
    return aggregator.history


def _live(now: float, **changes) -> LiveState:
    values = {
        "last_seen": np.full(N, now - 300),
        "unavailable": np.zeros(N),
        "dead": np.zeros(N, dtype=bool),
        "battery": np.full(N, np.nan),
        "replaced": np.full(N, np.nan),
        "groups": ("device:hub",) * N,
        "group_names": {"device:hub": "Zigbee stick"},
    }
    values.update(changes)
    return LiveState(**values)


@pytest.fixture(scope="module")
def history():
    return _history(_inventory())


NOW = T0 + 10 * DAY


def test_healthy_home_has_no_problems_and_battery_forecasts(history) -> None:
    result = score_home(_inventory(), history, _live(NOW), NOW, watch_start=T0)
    assert result.source == "rules"
    assert result.at_risk == 0
    assert result.outages == ()
    for i, scores in enumerate(result.devices.values()):
        assert scores.health > 95
        assert not scores.problem
        level_now = 100 - 9 * (i + 1)  # the last reading, 9 days in
        assert scores.battery_days_left == pytest.approx(level_now / (i + 1), rel=0.1)
        assert scores.battery_empty == pytest.approx(
            NOW + scores.battery_days_left * DAY, abs=DAY
        )


def test_silence_is_judged_against_the_devices_own_rhythm(history) -> None:
    # Reporting every 10 min: 2 h of silence is long; 40 min is not.
    last_seen = np.array([NOW - 7200, NOW - 2400, NOW, NOW, NOW])
    result = score_home(
        _inventory(),
        history,
        _live(NOW, last_seen=last_seen, groups=(None,) * N),
        NOW,
        watch_start=T0,
    )
    silent, fine = result.devices["d0"], result.devices["d1"]
    assert silent.problem
    assert silent.reasons[0] == "silent for 2 h, usually reports every 10 min"
    assert not fine.problem


def test_without_a_rhythm_silence_waits_a_day() -> None:
    inventory = _inventory()
    now = T0 + 20 * 3600
    result = score_home(
        inventory, [], _live(now, last_seen=np.full(N, np.nan)), now, watch_start=T0
    )
    assert not any(s.problem for s in result.devices.values())
    later = T0 + 3 * DAY
    result = score_home(
        inventory,
        [],
        _live(later, last_seen=np.full(N, np.nan), groups=(None,) * N),
        later,
        watch_start=T0,
    )
    scores = result.devices["d0"]
    assert scores.problem
    assert scores.reasons[0] == "silent for 3 days, no reporting rhythm learned yet"
    assert scores.no_forecast == "no battery reading"


def test_all_devices_of_a_hub_down_together_is_one_outage(history) -> None:
    last_seen = np.full(N, NOW - 5 * 3600) + np.arange(N) * 60
    result = score_home(
        _inventory(), history, _live(NOW, last_seen=last_seen), NOW, watch_start=T0
    )
    (outage,) = result.outages
    assert outage.name == "Zigbee stick"
    assert len(outage.devices) == N
    assert outage.since == pytest.approx(last_seen.max())
    assert result.at_risk == 1
    for scores in result.devices.values():
        assert not scores.problem
        assert scores.outage == "device:hub"
        assert scores.reasons[0].startswith("Zigbee stick is down: all 5")


def test_devices_going_silent_hours_apart_are_separate_problems(history) -> None:
    last_seen = NOW - 3 * 3600 - np.arange(N) * 3600.0
    result = score_home(
        _inventory(), history, _live(NOW, last_seen=last_seen), NOW, watch_start=T0
    )
    assert result.outages == ()
    assert result.at_risk == N


def test_dead_unavailable_and_low_battery(history) -> None:
    live = _live(
        NOW,
        dead=np.array([True, False, False, False, False]),
        unavailable=np.array([0.0, 1.0, 0.5, 0.0, 0.0]),
        battery=np.array([np.nan, np.nan, np.nan, 4.0, np.nan]),
        groups=(None,) * N,
    )
    result = score_home(_inventory(), history, live, NOW, watch_start=T0)
    d = result.devices
    assert d["d0"].reasons[0] == "Z-Wave node reported dead"
    assert d["d0"].failure_risk == pytest.approx(0.95)
    assert d["d1"].reasons[0] == "unavailable"
    assert "50% of its entities down" in d["d2"].reasons
    assert d["d3"].problem
    assert "battery empty in about" in d["d3"].reasons[0]
    # d4 drains 5 %/day from 100: 55 % left is 11 days, not urgent.
    assert not d["d4"].problem


def test_a_replacement_restarts_the_forecast(history) -> None:
    # d2 read 73 % yesterday; 100 % now is a new battery.
    live = _live(NOW, battery=np.array([np.nan, np.nan, 100.0, np.nan, np.nan]))
    result = score_home(_inventory(), history, live, NOW, watch_start=T0)
    assert result.devices["d2"].no_forecast == (
        "not enough readings since the battery was last changed"
    )
    marked = np.array([NOW - 3600, np.nan, np.nan, np.nan, np.nan])
    result = score_home(
        _inventory(), history, _live(NOW, replaced=marked), NOW, watch_start=T0
    )
    assert result.devices["d0"].battery_days_left is None
    assert result.devices["d1"].battery_days_left is not None


def test_a_battery_that_does_not_drain_has_no_forecast() -> None:
    inventory = _inventory()
    history = _history(inventory, days=6, drain=0.0)
    result = score_home(
        inventory, history, _live(T0 + 6 * DAY), T0 + 6 * DAY, watch_start=T0
    )
    assert result.devices["d0"].no_forecast == "battery not draining measurably"


def test_rule_home_type_follows_the_inventory() -> None:
    small = score_home_type(_inventory(1, ("Living",)), [], None)
    tall = score_home_type(
        _inventory(4, tuple(f"Room {i}" for i in range(12))), [], None
    )
    assert small.label in {"studio", "apartment"}
    assert tall.label == "multi_story"
    assert set(small.probabilities) == set(HOME_TYPES)
    assert sum(small.probabilities.values()) == pytest.approx(1.0, abs=1e-3)
    assert small.source == "rules"
    assert 0 < small.confidence <= 1


def test_durations_read_like_people_say_them() -> None:
    assert _duration(30) == "1 min"
    assert _duration(3000) == "50 min"
    assert _duration(31 * 3600) == "31 h"
    assert _duration(5 * DAY) == "5 days"
    assert _duration(float("inf")) == "ever"


# --- models ---------------------------------------------------------------------------


def _metadata(names, classes=None, schema=DEVICE_SCHEMA, reference=None) -> dict:
    metadata = {
        FEATURE_NAMES: json.dumps(list(names)),
        FEATURE_SCHEMA: schema.fingerprint(),
        CREATED: "2026-11-30T12:00:00+00:00",
    }
    if classes is not None:
        metadata[CLASSES] = json.dumps(classes)
    if reference is not None:
        metadata[REFERENCE] = json.dumps(reference)
    return metadata


def _device_rows(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(300, len(DEVICE_SCHEMA)))
    silence = DEVICE_SCHEMA.index("interval_max_1d")
    x[:, silence] = rng.uniform(0, 10, 300)
    y = (x[:, silence] > 5).astype(int)
    return np.nan_to_num(x), y


@pytest.fixture(scope="module")
def models() -> Models:
    x, y = _device_rows()
    names = DEVICE_SCHEMA.names
    reference = np.median(x[y == 0], axis=0).tolist()
    failure = GradientBoostingClassifier(n_estimators=20, random_state=0).fit(x, y)
    anomaly = IsolationForest(n_estimators=20, random_state=0).fit(x)
    battery = RandomForestRegressor(n_estimators=5, random_state=0).fit(
        x, np.abs(x[:, 0]) * 30
    )
    homes = np.random.default_rng(1).normal(size=(80, len(HOME_SCHEMA)))
    labels = np.array(HOME_TYPES)[np.arange(80) % len(HOME_TYPES)]
    home_type = LogisticRegression(max_iter=200).fit(homes, labels)
    n = len(names)
    return Models(
        device_failure=load_model(
            export_onnx(
                failure, n, metadata=_metadata(names, [0, 1], reference=reference)
            ),
            backend="numpy",
        ),
        device_anomaly=load_model(
            export_onnx(anomaly, n, metadata=_metadata(names)), backend="numpy"
        ),
        battery_days_left=load_model(
            export_onnx(battery, n, metadata=_metadata(names)), backend="numpy"
        ),
        home_type=load_model(
            export_onnx(
                home_type,
                len(HOME_SCHEMA),
                metadata=_metadata(
                    HOME_SCHEMA.names, sorted(HOME_TYPES), schema=HOME_SCHEMA
                ),
            ),
            backend="numpy",
        ),
        version="model 2026-11-30",
    )


def test_models_fill_the_same_outputs(history, models: Models) -> None:
    result = score_home(
        _inventory(), history, _live(NOW), NOW, watch_start=T0, models=models
    )
    assert result.source == "model"
    assert result.home_type.source == "model"
    assert set(result.home_type.probabilities) == set(HOME_TYPES)
    for scores in result.devices.values():
        assert 0 <= scores.failure_risk <= 1
        assert 0 <= scores.anomaly <= 1
        assert 0 <= scores.health <= 100
        assert scores.battery_days_left is not None
        if scores.anomaly <= 0.5:  # no more unusual than the detector's cut
            assert scores.health == pytest.approx(
                100 * (1 - scores.failure_risk), abs=0.1
            )
        else:  # health is rounded to 0.1, the risk to 4 digits
            assert scores.health <= 100 * (1 - scores.failure_risk) + 0.05


def test_live_rules_still_count_under_a_model(history, models: Models) -> None:
    live = _live(
        NOW, dead=np.array([True, False, False, False, False]), groups=(None,) * N
    )
    result = score_home(_inventory(), history, live, NOW, watch_start=T0, models=models)
    assert result.devices["d0"].failure_risk >= 0.95
    assert result.devices["d0"].problem


def test_a_home_without_devices_still_has_a_type() -> None:
    empty = Inventory("home", "UTC")
    result = score_home(empty, [], LiveState.quiet(0), NOW, watch_start=T0)
    assert result.devices == {}
    assert result.at_risk == 0
    assert result.home_type.label in HOME_TYPES


def _constant_battery_model(days: float) -> Model:
    """A battery model that predicts `days` for every device."""
    x, _ = _device_rows()
    fitted = RandomForestRegressor(n_estimators=1, random_state=0).fit(
        x, np.full(len(x), days)
    )
    metadata = _metadata(DEVICE_SCHEMA.names)
    return load_model(
        export_onnx(fitted, len(DEVICE_SCHEMA), metadata=metadata), backend="numpy"
    )


def test_a_battery_model_below_its_cap_gives_the_forecast(history) -> None:
    models = Models(battery_days_left=_constant_battery_model(5.0))
    result = score_home(
        _inventory(), history, _live(NOW), NOW, watch_start=T0, models=models
    )
    for scores in result.devices.values():
        assert scores.battery_days_left == pytest.approx(5.0)
        assert scores.no_forecast is None


def test_a_battery_model_at_its_cap_keeps_the_trend_or_says_more(history) -> None:
    models = Models(battery_days_left=_constant_battery_model(BATTERY_CAP_DAYS + 30))
    result = score_home(
        _inventory(), history, _live(NOW), NOW, watch_start=T0, models=models
    )
    # "More than 14 days" from the model: the readings' own trend is kept.
    level_now = 100 - 9 * 1
    assert result.devices["d0"].battery_days_left == pytest.approx(level_now, rel=0.1)

    flat = _history(_inventory(), days=6, drain=0.0)
    now = T0 + 6 * DAY
    result = score_home(
        _inventory(), flat, _live(now), now, watch_start=T0, models=models
    )
    assert result.devices["d0"].battery_days_left is None
    assert result.devices["d0"].no_forecast == NO_FORECAST_REASONS[2]


def test_a_scoring_between_day_closes_reuses_the_closed_days(
    history, models: Models
) -> None:
    """The same results as scoring afresh; recomputed when a day or model changes."""
    inventory, memo = _inventory(), ClosedDays()
    later = NOW + 3600
    live = _live(later, dead=np.array([False, True, False, False, False]))

    def both(days, live, now, models):
        fresh = score_home(inventory, days, live, now, watch_start=T0, models=models)
        kept = score_home(
            inventory, days, live, now, watch_start=T0, models=models, memo=memo
        )
        assert (kept.devices, kept.outages, kept.source) == (
            fresh.devices,
            fresh.outages,
            fresh.source,
        )
        # NaN-aware: this test's home type model gives NaN on NaN features.
        np.testing.assert_equal(astuple(kept.home_type), astuple(fresh.home_type))
        return memo.features

    first = both(history, _live(NOW), NOW, models)
    assert both(history, live, later, models) is first  # nothing recomputed
    assert both(list(history), live, later, models) is first  # same days, new list
    # A closed day more: recomputed (the features read it).
    longer = _history(inventory, days=11)
    assert both(longer, live, later + DAY, models) is not first
    again = memo.features
    assert memo.home_type is not None
    assert memo.home_type.source == "model"
    # Only the home type model swapped out: recomputed, and the rules type the home.
    no_type = replace(models, home_type=None)
    assert both(longer, live, later + DAY, no_type) is not again
    assert memo.home_type.source == "rules"
    assert memo.learned is not None
    again = memo.features
    # Another model object: recomputed, and without models the rules decide.
    assert both(longer, live, later + DAY, Models()) is not again
    assert memo.learned is None


def test_a_failing_model_leaves_no_closed_days_behind(history, models: Models) -> None:
    broken = Models(device_failure=models.home_type)  # reads other features
    memo = ClosedDays()
    with pytest.raises(ModelError):
        score_home(
            _inventory(),
            history,
            _live(NOW),
            NOW,
            watch_start=T0,
            models=broken,
            memo=memo,
        )
    assert memo.key == ()
    result = score_home(
        _inventory(), history, _live(NOW), NOW, watch_start=T0, models=models, memo=memo
    )
    assert result.source == "model"
