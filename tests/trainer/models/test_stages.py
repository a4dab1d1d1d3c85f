"""Stages run side by side give the same models and figures as one by one."""

import json
import threading

import pytest

from homeiq_trainer.models.extract import extract
from homeiq_trainer.models.pipeline import concurrently, train_models


def _figures(metrics: dict) -> str:
    """Return the figures as JSON text (NaN equal to NaN), timings left out."""
    kept = {
        k: v for k, v in metrics.items() if k not in {"fit_seconds", "stage_seconds"}
    }
    return json.dumps(kept, default=repr)


def test_two_threads_train_the_same_models(small_dataset, tmp_path) -> None:
    homes = extract([small_dataset], progress=False)
    one = train_models(homes, tmp_path / "one", seed=2, threads=1)
    started: list[str] = []
    two = train_models(
        homes, tmp_path / "two", seed=2, threads=2, progress=started.append
    )
    assert _figures(two.metrics) == _figures(one.metrics)
    assert sorted(started) == sorted(
        ["home_type", "device_failure", "battery_days_left", "device_anomaly",
         "sanity checks", "export"]
    )  # fmt: skip
    assert started[-1] == "export"
    seconds = two.metrics["stage_seconds"]
    assert set(seconds) == {
        *started,
        "device_failure: fit",
        "sanity checks: home type",
    }
    assert all(s["wall_s"] >= 0 and s["cpu_s"] >= 0 for s in seconds.values())
    for name in one.registered:
        a = (one.registered[name] / "model.onnx").stat().st_size
        assert (two.registered[name] / "model.onnx").stat().st_size == a


def test_concurrently_keeps_the_order_and_raises() -> None:
    names = concurrently(
        [lambda: threading.current_thread().name, lambda: 2, lambda: 3], threads=2
    )
    assert names[1:] == [2, 3]

    def fails() -> None:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        concurrently([lambda: 1, fails], threads=2)
    assert concurrently([lambda: 1, lambda: 2], threads=1) == [1, 2]
