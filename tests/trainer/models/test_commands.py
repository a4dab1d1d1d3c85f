"""End to end: train on a small dataset, list, ship, evaluate on unseen homes."""

import json

import pytest

from homeiq_core.explain import explain
from homeiq_core.features import DEVICE_SCHEMA, HOME_SCHEMA
from homeiq_core.inference import load_model
from homeiq_trainer import cli
from homeiq_trainer.models.extract import extract
from homeiq_trainer.models.pipeline import (
    MODEL_NAMES,
    SanityError,
    evaluate_registry,
    registered_homes,
)


@pytest.fixture(scope="module")
def trained(small_dataset, tmp_path_factory):
    base = tmp_path_factory.mktemp("trained")
    registry, report, ship = base / "registry", base / "report", base / "shipped"
    code = cli.main(
        [
            "train",
            "--data",
            str(small_dataset),
            "--registry",
            str(registry),
            "--report",
            str(report),
            "--ship",
            str(ship),
            "--seed",
            "2",
            "--jobs",
            "2",
            "--plan-homes",
            "200",
            "--check-plans",
            "60",
            "--quiet",
        ]
    )
    assert code == 0
    return registry, report, ship


def test_train_registers_every_model_with_its_metadata(trained, capsys) -> None:
    registry, report, ship = trained
    for name in MODEL_NAMES:
        version = registry / name / "v0001"
        assert (registry / name / "current").read_text().strip() == "v0001"
        for part in ("model.onnx", "metrics.json", "homes.json", "checksum.sha256"):
            assert (version / part).is_file()
        model = load_model(ship / f"{name}.onnx", backend="numpy")
        meta = model.metadata
        schema = HOME_SCHEMA if name == "home_type" else DEVICE_SCHEMA
        assert meta["homeiq.schema"] == schema.fingerprint()
        assert meta["homeiq.model_kind"] == name
        assert model.feature_names == schema.names  # whole schema vectors
        assert len(json.loads(meta["homeiq.reference"])) == model.n_features
        assert json.loads(meta["homeiq.metrics"])
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["sanity"]["failed"] == []
    assert metrics["home_type"]["plan_homes"] == 200
    plans = metrics["home_type"]["held_out_plans"]
    assert plans["homes"] == 60
    assert plans["reads_composition_only"]
    assert 0 <= plans["ece_floor"] < 1
    assert 0 <= plans["ece"] <= 1
    assert any("held-out plans" in line for line in metrics["summary"])
    assert set(metrics["split"]) == {"train", "validation", "test"}
    assert metrics["device_failure"]["baselines"]
    page = (report / "report.html").read_text()
    assert page.count("data:image/png;base64") >= 5
    assert cli.main(["models", "list", "--registry", str(registry)]) == 0
    listing = capsys.readouterr().out
    assert listing.count("*") == len(MODEL_NAMES)
    assert "device_failure" in listing


def test_shipped_failure_model_explains_its_rows(trained, small_dataset) -> None:
    _, _, ship = trained
    model = load_model(ship / "device_failure.onnx", backend="numpy")
    [home] = extract([small_dataset], jobs=1, progress=False)[:1]
    rows = home.device_x[-1]
    x = model.align(rows, DEVICE_SCHEMA.names)
    reasons = explain(model, x, top=2)
    assert len(reasons) == len(rows)
    assert all(len(r) <= 2 for r in reasons)


def test_evaluate_on_unseen_homes(trained, tmp_path, capsys) -> None:
    registry, _, _ = trained
    other = tmp_path / "other"
    assert (
        cli.main(
            [
                "generate",
                "--homes",
                "16",
                "--days",
                "20",
                "--seed",
                "9",
                "--failure-rate",
                "0.15",
                "--out",
                str(other),
                "--quiet",
            ]
        )
        == 0
    )
    report = tmp_path / "eval"
    code = cli.main(
        [
            "evaluate",
            "--models",
            str(registry),
            "--data",
            str(other),
            "--report",
            str(report),
            "--jobs",
            "1",
            "--quiet",
        ]
    )
    assert code == 0
    metrics = json.loads((report / "metrics.json").read_text())
    assert metrics["test_homes"] == 16
    assert metrics["sanity"]["failed"] == []
    assert "device_failure" in capsys.readouterr().out


def test_evaluate_refuses_training_homes(trained, small_dataset) -> None:
    registry, _, _ = trained
    seen = set().union(*registered_homes(registry).values())
    homes = [h for h in extract([small_dataset], progress=False) if h.identity in seen]
    with pytest.raises(SanityError, match="trained a registered model"):
        evaluate_registry(homes, registry, seed=0)


def test_command_errors(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit) as error:
        cli.main(["models", "list", "--registry", str(tmp_path / "none")])
    assert error.value.code == 1
    (tmp_path / "empty").mkdir()
    assert cli.main(["models", "list", "--registry", str(tmp_path / "empty")]) == 0
    assert "no models" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(
            [
                "train",
                "--data",
                str(tmp_path / "missing"),
                "--quiet",
                "--registry",
                str(tmp_path / "r"),
                "--report",
                str(tmp_path / "p"),
            ]
        )
    with pytest.raises(SystemExit):
        cli.main(
            [
                "evaluate",
                "--models",
                str(tmp_path / "none"),
                "--data",
                str(tmp_path / "missing"),
                "--report",
                str(tmp_path / "p"),
            ]
        )
