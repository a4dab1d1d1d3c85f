"""Splits, fitting guards, metrics and the registry, piece by piece."""

import json

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from homeiq_trainer.models import data, fit, metrics as m, registry
from homeiq_trainer.models.pipeline import (
    above_chance,
    distinct_failures,
    null_auc_tolerance,
    shuffled_roc_auc,
)


class _Home:
    def __init__(self, home_id, key=""):
        self.home_id = home_id
        self.identity = key or home_id


def test_groups_are_stable_and_disjoint() -> None:
    ids = [f"home-{i:04d}" for i in range(400)]
    groups = [data.group_of(i, 7) for i in ids]
    assert groups == [data.group_of(i, 7) for i in ids]
    shares = {g: groups.count(g) / len(ids) for g in data.GROUPS}
    assert abs(shares["test"] - 0.25) < 0.06
    assert abs(shares["validation"] - 0.15) < 0.06
    assert groups != [data.group_of(i, 8) for i in ids]
    split = data.split_homes([_Home(i) for i in ids], 7)
    assert sum(len(v) for v in split.values()) == 400
    with pytest.raises(ValueError, match="group empty"):
        data.split_homes([_Home("a")], 7)
    with pytest.raises(ValueError, match="in both"):
        data.check_disjoint({"train": [_Home("a")], "test": [_Home("a")]})


def test_homes_named_train_only_always_train() -> None:
    homes = [_Home(f"home-{i:04d}", key=f"home-{i:04d}#digest") for i in range(40)]
    by_hash = data.split_homes(homes, 7)
    judged = by_hash["test"][:2] + by_hash["validation"][:1]
    chosen = {h.identity for h in judged}

    split = data.split_homes(homes, 7, train_only=chosen)

    assert all(h in split["train"] for h in judged)
    for name in ("validation", "test"):  # the others keep their groups
        assert split[name] == [h for h in by_hash[name] if h not in judged]
    plain_ids = {h.home_id for h in judged}  # ids alone are not identities
    assert data.split_homes(homes, 7, train_only=plain_ids) == by_hash


def test_position_feature_that_carries_the_label_is_dropped() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 600)
    names = ["age_days", "observed_days_14d", "silence_h"]
    x = np.column_stack(
        [y * 10 + rng.normal(0, 1, 600), rng.normal(0, 1, 600), rng.normal(0, 1, 600)]
    ).astype(np.float32)
    scores = fit.position_leaks(names, (x[:400], y[:400]), (x[400:], y[400:]), seed=0)
    assert set(scores) == {"age_days", "observed_days_14d"}
    assert fit.leaking(scores, 0.5) == ["age_days"]
    assert fit.usable_features(np.full((3, 2), np.nan), ["a", "b"]) == []


def test_temperature_scaling_keeps_the_model_exportable() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 3)).astype(np.float32)
    y = np.where(x[:, 0] + rng.normal(0, 1, 400) > 0, "a", "b")
    y[::3] = "c"
    homes = np.arange(400) // 4
    fitted = fit.fit_home_type(
        x[:300], y[:300], homes[:300], ["f0", "f1", "f2"], seed=0
    )
    assert 0.5 <= fitted.notes["temperature"] <= 5
    meta = registry.metadata(
        fitted,
        kind="home_type",
        schema_fingerprint="x",
        reference=np.zeros(3),
        metrics={"a": float("nan")},
        training_fingerprint="t",
        classes=list(fitted.estimator.classes_),
    )
    data_bytes = registry.export_checked(fitted, meta, x[300:])
    assert data_bytes
    assert json.loads(meta["homeiq.metrics"]) == {"a": None}
    raw = np.log(np.array([[0.9, 0.1], [0.2, 0.8]]))
    assert fit.best_temperature(raw, np.array(["a", "b"]), np.array(["a", "b"])) == (
        pytest.approx(0.5)
    )


def test_conformal_widening_reaches_nominal_coverage() -> None:
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 10, size=(1500, 1)).astype(np.float32)
    y = x[:, 0] + rng.normal(0, 2, 1500)
    fitted = fit.fit_battery(x[:500], y[:500], ["f"], seed=0)
    low, high = fitted[0.1], fitted[0.9]
    shift = fit.widen_interval(low, high, x[500:1000], y[500:1000])
    inside = (y[1000:] >= low.estimator.predict(x[1000:])) & (
        y[1000:] <= high.estimator.predict(x[1000:])
    )
    assert abs(inside.mean() - 0.8) < 0.06
    assert low.notes["conformal_shift"] == shift
    assert fit.widen_interval(low, high, x[:0], y[:0]) == 0.0


def test_bootstrap_and_classification_metrics() -> None:
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 500)
    score = y + rng.normal(0, 0.5, 500)
    homes = np.repeat(np.arange(50), 10)
    low, high = m.bootstrap(lambda r: m.roc_auc(y[r], score[r]), homes, seed=0)
    assert low < m.roc_auc(y, score) < high
    assert np.isnan(m.bootstrap(lambda r: float("nan"), homes, seed=0)).all()
    assert np.isnan(m.pr_auc(np.zeros(3), np.zeros(3)))
    assert np.isnan(m.recall_at_precision(np.zeros(3), np.zeros(3), 0.8))
    assert m.threshold_at_precision(np.zeros(3), np.zeros(3), 0.8) == np.inf
    assert m.recall_at_precision(np.array([0, 1]), np.array([1.0, 0.0]), 0.8) == 0
    assert m.threshold_at_precision(np.array([0, 1]), np.array([1.0, 0.0]), 0.8) == (
        np.inf
    )
    assert m.recall_at_precision(np.array([0, 1]), np.array([0.0, 1.0]), 0.8) == 1.0
    assert null_auc_tolerance(0, 5) == 0.5
    assert null_auc_tolerance(10, 100) > 0.1
    assert null_auc_tolerance(5000, 5000) == 0.1


def test_calibration_metrics() -> None:
    classes = np.array(["a", "b"])
    p = np.array([[0.9, 0.1]] * 10)
    truth = np.array(["a"] * 9 + ["b"])
    assert m.expected_calibration_error(truth, p, classes) == pytest.approx(0.0)
    assert np.isnan(m.expected_calibration_error(truth[:0], p[:0], classes))
    curve = m.reliability(truth, p, classes)
    assert curve == {"confidence": [0.9], "accuracy": [0.9], "count": [10]}
    # A model calibrated by construction still shows ECE on few rows: the floor.
    rng = np.random.default_rng(0)
    confident = rng.dirichlet([1.0, 1.0], size=40)
    few = m.ece_floor(confident, classes, seed=1)
    many = m.ece_floor(np.repeat(confident, 50, axis=0), classes, seed=1)
    assert 0 < many < few < 0.5
    assert np.isnan(m.ece_floor(p[:0], classes, seed=1))
    houses = np.array(["studio", "cottage"])
    probabilities = np.array([[0.8, 0.2], [0.3, 0.7]])
    assert m.flat_vs_house_accuracy(houses, probabilities, houses) == 1.0


def test_battery_forecast_rule() -> None:
    quantiles = np.array(
        [[2.0, 3.0, 5.0], [12.0, 13.5, 14.0], [1.0, 2.0, 3.0], [6.0, 4.0, 20.0]]
    )
    last = np.array([20.0, 60.0, np.nan, 30.0])
    forecast, reason = m.battery_forecast(quantiles, last)
    assert reason.tolist() == [0, 2, 1, 0]
    assert forecast[0].tolist() == [2.0, 3.0, 5.0]
    assert np.isnan(forecast[1:3]).all()
    assert forecast[3].tolist() == [4.0, 6.0, 14.0]  # sorted, clipped to the cap
    result = m.battery_metrics(
        np.array([3.0, 14.0, 2.0, 7.0]),
        quantiles,
        last,
        np.array([4.0, np.nan, 1.0, 30.0]),
        np.arange(4),
        seed=0,
    )
    assert result["forecast_rows"] == 2
    assert result["mae_days"] == pytest.approx(0.5)
    assert result["coverage_10_90"] == 1.0
    assert result["linear_baseline_mae_days_same_rows"] == pytest.approx(4.0)
    low, high = result["model_minus_linear_mae_days_ci"]  # paired: 0.5 - 4.0
    assert -6.0 <= low <= -3.5 <= high <= -1.0
    assert result["no_forecast_share"] == 0.5


def test_registry_versions_pointer_checksum(tmp_path) -> None:
    first = registry.register(tmp_path, "m", b"abc", {"x": 1.0}, {"train": ["h1"]})
    second = registry.register(tmp_path, "m", b"abcd", {"x": 2.0}, {"train": []})
    assert (first.name, second.name) == ("v0001", "v0002")
    assert registry.current(tmp_path, "m") == second
    listed = registry.entries(tmp_path)
    assert [(e.version, e.current, e.size) for e in listed] == [
        ("v0001", False, 3),
        ("v0002", True, 4),
    ]
    (second / "model.onnx").write_bytes(b"tampered")
    with pytest.raises(registry.RegistryError, match="checksum"):
        registry.current(tmp_path, "m")
    (second / "checksum.sha256").unlink()
    with pytest.raises(registry.RegistryError, match="missing"):
        registry.verify(second)
    with pytest.raises(registry.RegistryError, match="no current version"):
        registry.current(tmp_path, "other")
    with pytest.raises(registry.RegistryError, match="not a registry"):
        registry.entries(tmp_path / "nothing")
    assert not list(tmp_path.glob("m/.staging-*"))


def test_failure_fit_cut_to_the_validation_count_equals_a_fit_of_that_count() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(600, 3)).astype(np.float32)
    y = (x[:, 0] + rng.normal(scale=0.5, size=600) > 1.2).astype(int)
    fitted = fit.fit_failure(
        x[:400], y[:400], x[400:], y[400:], ["a", "b", "c"], seed=0
    )
    best = fitted.notes["iterations"]
    assert set(fitted.notes["validation_pr_auc_by_iterations"]) == set(
        fit.FAILURE_ITERATIONS
    )
    fresh = fit._failure_model(best, 0).fit(x[:400], y[:400])
    np.testing.assert_allclose(
        fitted.estimator.predict_proba(x), fresh.predict_proba(x), rtol=1e-12
    )
    assert fitted.estimator.n_iter_ == best


def test_negatives_subsampled_with_weights_that_keep_the_base_rate() -> None:
    y = np.r_[np.ones(50, dtype=int), np.zeros(9950, dtype=int)]
    rows, weight = fit.subsample_negatives(y, seed=0, max_negatives=2000)
    assert y[rows].sum() == 50  # every positive kept
    assert 1500 < (y[rows] == 0).sum() < 2500
    assert weight[y[rows] == 0].sum() == pytest.approx(9950, rel=0.1)
    assert (weight[y[rows] == 1] == 1).all()
    every, ones = fit.subsample_negatives(y, seed=0, max_negatives=20_000)
    assert len(every) == len(y)
    assert (ones == 1).all()


def test_a_null_auc_counts_failures_not_their_rows() -> None:
    # Two devices failing (7 positive rows each, one row per day before the
    # failure), one more in another home at the same hour: three failures.
    day = np.array([3, 4, 5, 6, 7, 8, 9] * 3 + [9, 9])
    lead_h = np.concatenate([np.arange(168.0, 0, -24)] * 3 + [[np.nan, np.nan]])
    lead_h[7:14] += 5.0  # the second device fails five hours later
    rows = data.DeviceRows(
        x=np.zeros((23, 1), np.float32),
        target=np.array([1] * 21 + [0, 0], np.int8),
        kind=np.array([2] * 21 + [-1, -1], np.int8),
        lead_h=lead_h.astype(np.float32),
        symptoms=np.zeros(23, bool),
        healthy=np.zeros(23, bool),
        battery_days=np.full(23, np.nan, np.float32),
        home=np.array([0] * 14 + [1] * 7 + [0, 1]),
        day=day,
        unseen=np.zeros(23, bool),
    )
    assert distinct_failures(rows) == 3
    assert distinct_failures(rows.take(rows.target == 0)) == 0
    # With 3 failures the tolerance is wider than with their 21 rows.
    assert null_auc_tolerance(3, 2) > null_auc_tolerance(21, 2)


def test_only_a_shuffled_score_above_chance_is_a_leak() -> None:
    assert above_chance(0.70, 0.17)
    assert not above_chance(0.66, 0.17)
    assert not above_chance(0.30, 0.17)  # below chance: noise, not a leak
    assert not above_chance(float("nan"), 0.17)


def test_shuffled_labels_give_chance_on_a_weighted_subsample() -> None:
    # The subsample's weights belong to the original labels: the check ignores them.
    rng = np.random.default_rng(5)
    x = rng.normal(size=(4000, 2)).astype(np.float32)
    y = (x[:, 0] > 1.6).astype(int)
    rows, weight = fit.subsample_negatives(y, seed=0, max_negatives=200)
    auc = shuffled_roc_auc(
        (x[rows], y[rows], weight),
        (x, y),
        rng=np.random.default_rng(1),
        seed=0,
    )
    assert abs(auc - 0.5) < null_auc_tolerance(int(y.sum()), int((y == 0).sum()))


def test_rare_failure_kinds_weigh_more_and_positives_keep_their_total() -> None:
    # 40 battery positives (kind 0), 10 flapping (kind 4), 10 sudden deaths (kind 5)
    target = np.array([0] * 100 + [1] * 60)
    kind = np.array([-1] * 100 + [0] * 40 + [4] * 10 + [5] * 10)
    weight = np.array([2.5] * 100 + [1.0] * 60)
    out = fit.kind_balanced_weights(target, kind, weight, unforeseeable=5, power=0.5)
    assert np.array_equal(out[:100], weight[:100])  # negatives untouched
    assert out[target == 1].sum() == pytest.approx(60)  # the base rate is kept
    battery, flapping, sudden = out[100], out[140], out[150]
    assert flapping / battery == pytest.approx((40 / 10) ** 0.5)
    assert flapping > sudden  # sudden death: no boost
    assert battery < sudden
    assert battery / sudden == pytest.approx((25 / 40) ** 0.5)
    flat = fit.kind_balanced_weights(target, kind, weight, unforeseeable=5, power=0)
    assert np.allclose(flat, weight)
    none = fit.kind_balanced_weights(
        target, np.where(target == 1, 5, -1), weight, unforeseeable=5
    )
    assert np.array_equal(none, weight)


def test_the_failure_model_fits_no_unseen_positive_unless_nothing_else() -> None:
    target = np.array([0, 1, 1, 0, 1], np.int8)
    unseen = np.array([False, True, False, False, True])
    assert fit.trainable(target, unseen).tolist() == [1, 0, 1, 1, 0]
    # Every positive unseen (e.g. only sudden deaths labelled): fit them all.
    assert fit.trainable(target, target == 1).all()


def test_platt_recovers_a_logistic_map_and_never_reverses_a_ranking() -> None:
    rng = np.random.default_rng(3)
    raw = rng.normal(size=20_000)
    y = (rng.random(20_000) < 1 / (1 + np.exp(-(2.0 * raw - 1.0)))).astype(float)
    slope, intercept = fit.platt(raw, y)
    assert abs(slope - 2.0) < 0.15
    assert abs(intercept + 1.0) < 0.1
    # A score that ranks backwards: only the intercept moves, to the rate.
    slope, intercept = fit.platt(-raw, y)
    assert slope == 1.0
    assert np.mean(1 / (1 + np.exp(-(-raw + intercept)))) == pytest.approx(y.mean())


def test_a_failure_model_fitted_on_fewer_positives_is_calibrated_back() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(30_000, 3)).astype(np.float32)
    y = (rng.random(30_000) < 1 / (1 + np.exp(-(2 * x[:, 0] - 5)))).astype(int)
    kept = (y == 0) | (rng.random(30_000) < 0.4)  # most positives left out
    train, valid = np.arange(30_000) < 20_000, np.arange(30_000) >= 20_000
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0)
    model.fit(x[train & kept], y[train & kept])
    fitted = fit.Fitted(model, ("a", "b", "c"), {})
    before = model.predict_proba(x[valid])[:, 1]
    assert before.mean() < 0.6 * y[valid].mean()  # runs below the rate

    fit.calibrate_failure(fitted, x[valid], y[valid])

    after = model.predict_proba(x[valid])[:, 1]
    assert after.mean() == pytest.approx(y[valid].mean(), rel=0.02)
    assert m.binary_calibration_error(y[valid], after) < m.binary_calibration_error(
        y[valid], before
    )
    # The same ranking (a monotone map; ties may differ in the last bit).
    assert m.roc_auc(y[valid], after) == pytest.approx(
        m.roc_auc(y[valid], before), abs=1e-6
    )
    assert fitted.notes["calibration"]["slope"] > 0
    fit.calibrate_failure(fitted, x[valid], np.zeros(10_000, int))  # one class
    assert fitted.notes["calibration"] is None


def test_calibration_error_and_the_problem_flag() -> None:
    y = np.array([0] * 90 + [1] * 10)
    assert m.binary_calibration_error(y, np.zeros(100)) == pytest.approx(0.1)
    assert m.binary_calibration_error(y, np.full(100, 0.1)) == pytest.approx(0.0)
    assert np.isnan(m.binary_calibration_error(y[:0], np.zeros(0)))
    risk = np.array([0.0] * 88 + [0.7, 0.7] + [0.9] * 6 + [0.1] * 4)
    flag = m.flag_metrics(y, risk, 0.5)
    assert flag == {"threshold": 0.5, "flagged": 8, "precision": 0.75, "recall": 0.6}
    assert np.isnan(m.flag_metrics(y, np.zeros(100), 0.5)["precision"])


def test_a_tie_in_validation_goes_to_the_fewer_trees() -> None:
    scores = {50: 0.2936, 100: 0.2914, 200: 0.3000, 300: 0.2978}
    assert fit.fewest_within(scores) == 50
    assert fit.fewest_within({50: 0.20, 100: 0.25, 200: 0.30, 300: 0.295}) == 200
