"""The promotion gate on real models: tiny candidates, shipped and bad deployed ones."""

import json
import math

import numpy as np
import onnx
import pytest

from homeiq_core.inference import FEATURE_SCHEMA
from homeiq_trainer.models.data import failure_rows
from homeiq_trainer.models.rows import DAY, HORIZON_DAYS, HomeRows
from homeiq_trainer.promotion import (
    GATES,
    HeldOut,
    Verdict,
    judge,
    later_days_figures,
)

from .conftest import Trained, noise_failure_model


@pytest.fixture(scope="module")
def held(trained: Trained) -> HeldOut:
    return HeldOut.of(trained.test)


def _with_schema(data: bytes, fingerprint: str) -> bytes:
    model = onnx.load_from_string(data)
    for prop in model.metadata_props:
        if prop.key == FEATURE_SCHEMA:
            prop.value = fingerprint
    return model.SerializeToString()


@pytest.mark.parametrize("model", list(GATES))
def test_a_worse_candidate_is_kept_with_the_figures_why(
    model: str, trained: Trained, shipped: dict[str, bytes], held: HeldOut
) -> None:
    """24 homes' models against the shipped ones (400 homes) lose on every model."""
    verdict = judge(model, trained.models, shipped, held, seed=1)

    assert not verdict.promote
    assert verdict.delta is not None
    assert verdict.tolerance is not None
    assert verdict.delta < -verdict.tolerance
    assert verdict.tolerance <= GATES[model].cap
    assert "worse by" in verdict.reason
    assert "beyond the tolerance" in verdict.reason
    assert verdict.reason.startswith(f"{GATES[model].metric} ")
    assert verdict.homes == len(trained.test)
    assert verdict.rows > 0


@pytest.mark.parametrize("model", list(GATES))
def test_a_better_candidate_is_promoted(
    model: str, trained: Trained, shipped: dict[str, bytes], held: HeldOut
) -> None:
    verdict = judge(model, shipped, trained.models, held, seed=1)

    assert verdict.promote
    assert verdict.delta is not None
    assert verdict.delta > 0
    assert "better by" in verdict.reason
    low, high = verdict.interval or (math.nan, math.nan)
    assert low <= high


def test_a_candidate_beats_a_deployed_model_that_learned_noise(
    trained: Trained, held: HeldOut
) -> None:
    deployed = {"device_failure": noise_failure_model()}

    verdict = judge("device_failure", trained.models, deployed, held, seed=1)

    assert verdict.promote
    assert verdict.candidate is not None
    assert verdict.deployed is not None
    assert verdict.candidate > verdict.deployed + 0.1


def test_the_same_model_is_equal_and_promoted(trained: Trained, held: HeldOut) -> None:
    verdict = judge("device_anomaly", trained.models, trained.models, held, seed=1)

    assert verdict.promote
    assert verdict.delta == 0
    assert verdict.reason.endswith(": equal")
    assert verdict.interval == (0.0, 0.0)


@pytest.mark.parametrize(
    ("deployed", "reason"),
    [
        (None, "no deployed model: HomeIQ uses rules"),
        (b"not a model", "the deployed model does not load"),
    ],
)
def test_without_a_usable_deployed_model_the_candidate_is_promoted(
    trained: Trained, held: HeldOut, deployed: bytes | None, reason: str
) -> None:
    verdict = judge("home_type", trained.models, {"home_type": deployed}, held, seed=1)

    assert verdict.promote
    assert verdict.reason.startswith(reason)
    assert verdict.candidate is None


def test_a_deployed_model_of_another_schema_cannot_be_scored(
    trained: Trained, held: HeldOut
) -> None:
    old = _with_schema(trained.models["device_failure"], "0123456789abcdef")

    verdict = judge(
        "device_failure", trained.models, {"device_failure": old}, held, seed=1
    )

    assert verdict.promote
    assert "reads feature schema 0123456789abcdef" in verdict.reason
    assert "cannot score these rows" in verdict.reason


def test_rows_that_cannot_judge_keep_the_deployed_model(
    trained: Trained, shipped: dict[str, bytes]
) -> None:
    nothing = HeldOut.of(trained.test[:0])
    verdict = judge("device_failure", trained.models, shipped, nothing, seed=1)
    assert not verdict.promote
    assert verdict.reason == "no held-out rows for device_failure: nothing to judge on"

    # Rows of one class only: PR-AUC is undefined for both models.
    held = HeldOut.of(trained.test)
    x, target, homes = held.failure
    negatives = target == 0
    one_class = HeldOut(
        held.home,
        (x[negatives], target[negatives], homes[negatives]),
        held.battery,
        held.anomaly,
        held.homes,
    )
    verdict = judge("device_failure", trained.models, shipped, one_class, seed=1)
    assert not verdict.promote
    assert "cannot judge device_failure" in verdict.reason
    assert verdict.to_json()["candidate"] is None  # NaN is written as null


@pytest.mark.parametrize(
    ("candidate", "deployed", "promote", "reason"),
    [
        (0.3, math.nan, True, "the deployed model's metric is undefined"),
        (math.nan, 0.3, False, "the candidate's metric is undefined"),
    ],
)
def test_an_undefined_metric_on_one_side(
    candidate: float, deployed: float, promote: bool, reason: str
) -> None:
    from homeiq_trainer.promotion import _undefined  # noqa: PLC0415

    assert _undefined("device_failure", candidate, deployed, 10) == (
        promote,
        reason + (" on the held-out rows"),
    )


def test_verdicts_are_json() -> None:
    verdict = Verdict(
        "device_failure",
        True,
        "why",
        "PR-AUC",
        candidate=0.5,
        deployed=math.nan,
        interval=(-0.1, math.inf),
    )
    out = json.loads(json.dumps(verdict.to_json()))
    assert out["deployed"] is None
    assert out["interval"] == [-0.1, None]
    assert out["candidate"] == 0.5


def test_later_days_are_the_rows_no_training_label_reached(
    long_homes: list[HomeRows], trained: Trained
) -> None:
    """A home that trained on its earlier days is judged on days past their labels."""
    homes = long_homes
    held = HeldOut.later_days(homes)

    before, after = failure_rows(homes, "before"), failure_rows(homes, "after")
    x, _target, home = held.failure
    assert 0 < len(x) < len(after)
    for index, h in enumerate(homes):
        # The last training row's label looks HORIZON_DAYS ahead: no later.
        trained_until = h.times[before.day[before.home == index]].max()
        mine = after.day[after.home == index]
        unseen = h.times[mine] > trained_until + HORIZON_DAYS * DAY
        assert (home == index).sum() == unseen.sum()
    assert len(held.battery[0]) > 0
    assert not np.isnan(held.battery[1]).any()
    assert len(held.home[0]) == len(held.anomaly[0]) == 0  # learned from every day
    assert held.homes == 4
    assert HeldOut.later_days([]).homes == 0
    # 20 days: the labelled days end 7 days early, the first half trained, and
    # their labels reach 7 days on: nothing is left unseen.
    assert len(HeldOut.later_days(trained.homes).failure[0]) == 0


def test_later_days_figures_score_candidate_and_comparable_deployed(
    long_homes: list[HomeRows], trained: Trained, shipped: dict[str, bytes]
) -> None:
    held = HeldOut.later_days(long_homes)

    figures = later_days_figures(trained.models, shipped, held)

    battery, failure = figures["battery_days_left"], figures["device_failure"]
    assert battery["metric"] == "MAE days"
    assert battery["rows"] == len(held.battery[0]) > 0
    assert isinstance(battery["candidate"], float)
    assert isinstance(battery["deployed"], float)
    assert battery["candidate"] != battery["deployed"]
    assert failure["rows"] == len(held.failure[0])
    assert failure["positive_rows"] == int(held.failure[1].sum())
    json.dumps(figures)
    q50 = "battery_days_left_q50"
    other = {**shipped, q50: _with_schema(shipped[q50], "0" * 16)}
    assert (
        later_days_figures(trained.models, other, held)["battery_days_left"]["deployed"]
        is None
    )
    assert (
        later_days_figures(trained.models, {}, held)["battery_days_left"]["deployed"]
        is None
    )
    assert (
        later_days_figures(trained.models, {q50: b"junk"}, held)["battery_days_left"][
            "deployed"
        ]
        is None
    )
