"""Reasons by occlusion: a planted cause ranks first on real exported ONNX models."""

import json

import numpy as np
import pytest
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    IsolationForest,
)

from homeiq_core.explain import (
    MISSING_TEXTS,
    NO_FORECAST_REASONS,
    TEMPLATES,
    Reason,
    battery_forecast,
    describe,
    duration,
    explain,
    reference,
    risk,
)
from homeiq_core.features import DEVICE_SCHEMA, HOME_SCHEMA
from homeiq_core.inference import ModelError, load_model
from homeiq_trainer.onnx_export import export_onnx

NAMES = DEVICE_SCHEMA.names
SILENCE = NAMES.index("silence_h")
BATTERY = NAMES.index("battery_last")


def _rows(rng: np.random.Generator, n: int) -> np.ndarray:
    """Return plausible healthy device rows: every feature noise around 1."""
    x = rng.normal(1.0, 0.3, size=(n, len(NAMES)))
    x[:, SILENCE] = rng.exponential(2.0, n)  # hours
    x[:, BATTERY] = rng.uniform(20, 100, n)
    return x.astype(np.float32)


def _metadata(model_kind: str, ref: np.ndarray, **extra: str) -> dict[str, str]:
    return {
        "homeiq.model_kind": model_kind,
        "homeiq.feature_names": json.dumps(list(NAMES)),
        "homeiq.reference": json.dumps(
            [None if np.isnan(v) else float(v) for v in ref]
        ),
        **extra,
    }


@pytest.fixture(scope="module")
def failure_model():
    """A classifier whose only cause of failure is silence over 24 h."""
    rng = np.random.default_rng(0)
    x = _rows(rng, 3000)
    sick = rng.random(3000) < 0.3
    x[sick, SILENCE] = rng.uniform(24, 72, sick.sum())
    y = sick.astype(int)
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(x, y)
    ref = np.nanmedian(x[~sick], axis=0)
    data = export_onnx(
        model,
        len(NAMES),
        metadata=_metadata("device_failure", ref, **{"homeiq.classes": "[0, 1]"}),
    )
    return load_model(data, backend="numpy")


def test_planted_cause_ranks_first(failure_model) -> None:
    rng = np.random.default_rng(1)
    rows = _rows(rng, 5)
    rows[:, SILENCE] = [31, 40, 50, 60, 70]
    rows[0, NAMES.index("interval_mean_7d")] = 3000  # 50 min
    reasons = explain(failure_model, rows, top=3)
    assert len(reasons) == 5
    for row_reasons in reasons:
        assert row_reasons[0].feature == "silence_h"
        assert row_reasons[0].weight > 0.5
        weights = [r.weight for r in row_reasons]
        assert weights == sorted(weights, reverse=True)
        assert all(r.weight > 0 for r in row_reasons)
    assert reasons[0][0].text == "silent for 31 h, usually reports every 50 min"
    assert isinstance(reasons[0][0], Reason)


def test_healthy_row_has_no_strong_reason(failure_model) -> None:
    ref = reference(failure_model)
    reasons = explain(failure_model, ref[None, :].astype(np.float32))
    assert reasons == [[]]


def test_risk_of_binary_classifier_is_positive_class(failure_model) -> None:
    rows = _rows(np.random.default_rng(2), 2)
    rows[0, SILENCE] = 50
    p = failure_model.predict(rows).probabilities
    assert np.allclose(risk(failure_model, rows), p[:, 1])
    assert np.allclose(risk(failure_model, rows, target=0), p[:, 0])


def test_multiclass_reasons_follow_the_predicted_class() -> None:
    rng = np.random.default_rng(3)
    names = HOME_SCHEMA.names
    x = rng.normal(5, 1, size=(1200, len(names))).astype(np.float32)
    floors = names.index("floors")
    flat_or_studio = np.where(x[:, floors] < 4, "studio", "flat")
    y = np.where(x[:, floors] > 6, "house", flat_or_studio)
    model = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(x, y)
    ref = np.median(x, axis=0)
    metadata = {
        "homeiq.feature_names": json.dumps(list(names)),
        "homeiq.classes": json.dumps(list(model.classes_)),
        "homeiq.reference": json.dumps(ref.tolist()),
    }
    loaded = load_model(export_onnx(model, len(names), metadata=metadata))
    row = ref.copy()[None, :].astype(np.float32)
    row[0, floors] = 9
    [reasons] = explain(loaded, row)
    assert np.allclose(risk(loaded, row), loaded.predict(row).probabilities.max(axis=1))
    assert reasons[0].feature == "floors"
    assert reasons[0].text == "floors: 9"


def test_regressor_and_outlier_risks() -> None:
    rng = np.random.default_rng(4)
    x = _rows(rng, 2000)
    days = x[:, BATTERY] * 2  # days left follow the battery level
    ref = np.median(x, axis=0)
    regressor = HistGradientBoostingRegressor(max_iter=30, random_state=0).fit(x, days)
    model = load_model(export_onnx(regressor, len(NAMES), metadata=_metadata("b", ref)))
    row = ref.copy()[None, :].astype(np.float32)
    row[0, BATTERY] = 5
    [reasons] = explain(model, row, top=1)
    assert reasons[0].feature == "battery_last"
    assert reasons[0].text == "battery at 5 %"

    forest = IsolationForest(n_estimators=50, random_state=0).fit(x)
    outlier = load_model(export_onnx(forest, len(NAMES), metadata=_metadata("a", ref)))
    row[0, BATTERY] = 100
    row[0, SILENCE] = 500
    [reasons] = explain(outlier, row, top=2)
    assert reasons[0].feature == "silence_h"
    assert np.allclose(risk(outlier, row), -outlier.predict(row).scores)


def test_reference_errors(failure_model) -> None:
    model = failure_model
    saved = dict(model.metadata)
    try:
        del model.metadata["homeiq.reference"]
        with pytest.raises(ModelError, match=r"no homeiq\.reference"):
            reference(model)
        for bad, message in (
            ("{", "not valid JSON"),
            ('{"a": 1}', "list of numbers"),
            ("[true]", "list of numbers"),
            ("[1, 2]", "2 values"),
        ):
            model.metadata["homeiq.reference"] = bad
            with pytest.raises(ModelError, match=message):
                reference(model)
    finally:
        model.metadata.clear()
        model.metadata.update(saved)
    with pytest.raises(ModelError, match="explain needs rows"):
        explain(model, np.zeros((2, 3)))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (40, "40 s"),
        (3000, "50 min"),
        (31 * 3600, "31 h"),
        (3 * 86400, "3.0 days"),
        (30 * 86400, "30 days"),
    ],
)
def test_duration(seconds: float, text: str) -> None:
    assert duration(seconds) == text


def test_every_template_renders_every_value() -> None:
    rng = np.random.default_rng(5)
    for name in NAMES:
        for value in (0.0, -3.5, 0.25, 12.0, 250.0, np.nan):
            row = rng.uniform(0, 100, len(NAMES))
            row[NAMES.index(name)] = value
            text = describe(name, row, NAMES)
            assert text
            described = DEVICE_SCHEMA.features[NAMES.index(name)].description
            assert "nan" not in text.replace(described, "").lower()
    for name in HOME_SCHEMA.names:
        assert describe(name, np.ones(len(HOME_SCHEMA)), HOME_SCHEMA.names)
    assert set(TEMPLATES) <= set(NAMES)
    assert set(MISSING_TEXTS) <= set(NAMES)


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("unavailable_7d", 5 / 7, "went unavailable 5 times in 7 days"),
        ("unavailable_1d", 2, "went unavailable 2 times on the day"),
        ("battery_slope_7d", -0.3, "battery falling 2.1 % a week (over 7 days)"),
        ("battery_slope_14d", 0.0, "battery steady over 14 days"),
        ("lqi_slope_14d", -2.0, "link quality falling 2 a day over 14 days"),
        ("rssi_slope_14d", 0.5, "signal strength rising 0.5 a day over 14 days"),
        ("protocol", 1, "uses z-wave"),
        ("protocol", 99, "protocol unknown"),
        ("battery_powered", 1, "runs on battery"),
        ("mains_powered", 0, "not mains powered"),
        ("unavailable_frac_7d", 0.2, "unavailable 20 % of the time over 7 days"),
        ("interval_max_7d", 7200, "longest gap between reports 2 h in 7 days"),
        ("battery_last", np.nan, "no battery reading in 14 days"),
        ("value_mean_1d", 21.5, "mean of the primary measurement on the day: 21.5"),
        ("events_per_report_7d", 1.5, "events per report over 7 days: 1.5"),
        ("night_changes_frac_7d", 0.5, "50 % of its changes at night (00-06 h)"),
    ],
)
def test_templates(name: str, value: float, text: str) -> None:
    row = np.zeros(len(NAMES))
    row[NAMES.index(name)] = value
    assert describe(name, row, NAMES) == text


def test_unknown_features_get_a_generic_text() -> None:
    names = ("device_kind_motion", "gap_frac_7d", "hours_since_change", "silence_h")
    row = np.array([1.0, 0.5, np.nan, 2.0])
    assert describe("device_kind_motion", row, names) == "device kind motion: 1"
    assert describe("hours_since_change", row, names) == (
        "hours since change: not known"
    )
    assert describe("silence_h", row, names) == "silent for 2 h"
    assert describe("interval_mean_7d", np.array([4000.0]), ("interval_mean_7d",)) == (
        "reports every 67 min on average"
    )
    assert describe("observed_days", np.array([3.0]), ("observed_days",)) == (
        "days watched over the last 14: 3 days"
    )
    with pytest.raises(ValueError, match="2 names"):
        describe("a", np.zeros(3), ("a", "b"))


def test_battery_forecast_rule_in_the_core() -> None:
    forecast, reason = battery_forecast(
        np.array([[5.0, 3.0, 4.0], [13.0, 13.5, 20.0]]), np.array([30.0, 80.0])
    )
    assert forecast[0].tolist() == [3.0, 4.0, 5.0]
    assert reason.tolist() == [0, 2]
    assert np.isnan(forecast[1]).all()
    assert set(NO_FORECAST_REASONS) == {1, 2}
