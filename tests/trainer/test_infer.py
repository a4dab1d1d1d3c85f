"""`homeiq-trainer infer` scores CSV and .npy files with HomeIQ's own evaluator."""

import csv
import io
import json
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest, RandomForestClassifier
from sklearn.linear_model import LinearRegression

from homeiq_core.inference import FEATURE_NAMES, load_model
from homeiq_trainer.cli import main
from homeiq_trainer.onnx_export import export_onnx

COMMAND = Path(sys.executable).with_name("homeiq-trainer")
NAMES = ["rooms", "doors", "lights"]
RNG = np.random.default_rng(5)
X = RNG.normal(size=(60, 3)).astype(np.float32)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("infer")
    labels = np.array(["flat", "house"])[(X[:, 0] > 0).astype(int)]
    estimators = {
        "classifier": RandomForestClassifier(n_estimators=4, random_state=0).fit(
            X, labels
        ),
        "regressor": LinearRegression().fit(X, X[:, 1] * 3),
        "targets": LinearRegression().fit(X, X[:, :2]),
        "outlier": IsolationForest(n_estimators=4, random_state=0).fit(X),
    }
    paths = {}
    for name, estimator in estimators.items():
        metadata = {} if name == "targets" else {FEATURE_NAMES: json.dumps(NAMES)}
        paths[name] = directory / f"{name}.onnx"
        paths[name].write_bytes(export_onnx(estimator, 3, metadata=metadata))
    return paths


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_a_classifier_scores_a_csv_whose_columns_are_in_any_order(
    models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # columns reversed, one extra column, one empty cell (NaN)
    rows = [[*reversed(row.tolist()), "x"] for row in X[:5]]
    rows[0][0] = ""
    source = write_csv(tmp_path / "in.csv", [*reversed(NAMES), "note"], rows)
    source.write_text(source.read_text().replace(",x", ",7"))
    assert (
        main(["infer", "--model", str(models["classifier"]), "--input", str(source)])
        == 0
    )
    table = read_csv(capsys.readouterr().out)
    assert list(table[0]) == ["label", "probability_flat", "probability_house"]
    x = X[:5].copy()
    x[0, 2] = np.nan
    expected = load_model(models["classifier"], backend="numpy").predict(x)
    assert [row["label"] for row in table] == expected.labels.tolist()
    probabilities = [[float(row[k]) for k in list(row)[1:]] for row in table]
    np.testing.assert_allclose(probabilities, expected.probabilities, atol=1e-7)


@pytest.mark.parametrize("backend", ["numpy", "onnxruntime", "auto"])
def test_backends_write_the_same_predictions(
    models: dict[str, Path], tmp_path: Path, backend: str
) -> None:
    source = write_csv(tmp_path / "in.csv", NAMES, X.tolist())
    target = tmp_path / f"{backend}.csv"
    arguments = ["--model", str(models["regressor"]), "--input", str(source)]
    assert (
        main(["infer", *arguments, "--backend", backend, "--output", str(target)]) == 0
    )
    values = [float(row["value"]) for row in read_csv(target.read_text())]
    np.testing.assert_allclose(values, X[:, 1] * 3, atol=1e-5)


def test_npy_input_and_outlier_and_multi_target_outputs(
    models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "in.npy"
    np.save(source, X)
    assert (
        main(["infer", "--model", str(models["outlier"]), "--input", str(source)]) == 0
    )
    table = read_csv(capsys.readouterr().out)
    assert list(table[0]) == ["label", "score"]
    assert {row["label"] for row in table} <= {"1", "-1"}
    assert (
        main(["infer", "--model", str(models["targets"]), "--input", str(source)]) == 0
    )
    table = read_csv(capsys.readouterr().out)
    assert list(table[0]) == ["value_0", "value_1"]
    np.testing.assert_allclose(
        [[float(row["value_0"]), float(row["value_1"])] for row in table],
        X[:, :2],
        atol=1e-5,
    )


def test_the_installed_command_runs_infer(
    models: dict[str, Path], tmp_path: Path
) -> None:
    source = write_csv(tmp_path / "in.csv", NAMES, X[:3].tolist())
    result = subprocess.run(
        [
            str(COMMAND),
            "infer",
            "--model",
            str(models["classifier"]),
            "--input",
            str(source),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "label,probability_flat,probability_house"
    assert len(result.stdout.splitlines()) == 4


def failure(capsys: pytest.CaptureFixture[str], *arguments: str) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main(["infer", *arguments])
    assert exit_info.value.code == 1
    error = capsys.readouterr().err
    assert error.startswith("homeiq-trainer: error: ")
    assert error.count("\n") == 1
    return error


def test_user_errors_are_one_line(
    models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = str(models["classifier"])
    missing = write_csv(tmp_path / "missing.csv", NAMES[:2], [[1, 2]])
    assert "feature 'lights' missing" in failure(
        capsys, "--model", model, "--input", str(missing)
    )
    text = write_csv(tmp_path / "text.csv", NAMES, [[1, "two", 3]])
    assert "line 2, column 'doors': 'two' is not a number" in failure(
        capsys, "--model", model, "--input", str(text)
    )
    short = tmp_path / "short.csv"
    short.write_text("rooms,doors,lights\n1,2\n")
    assert "line 2 has 2 cells, not 3" in failure(
        capsys, "--model", model, "--input", str(short)
    )
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "no header row" in failure(capsys, "--model", model, "--input", str(empty))
    absent = str(tmp_path / "absent.csv")
    assert "cannot read" in failure(capsys, "--model", model, "--input", absent)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(models["classifier"].read_bytes()[:100])
    message = failure(capsys, "--model", str(broken), "--input", str(missing))
    assert "broken.onnx: file truncated at byte 100" in message


def test_npy_errors_are_one_line(
    models: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = str(models["classifier"])
    flat = tmp_path / "flat.npy"
    np.save(flat, np.zeros(3))
    assert "expected a 2-D numeric array" in failure(
        capsys, "--model", model, "--input", str(flat)
    )
    narrow = tmp_path / "narrow.npy"
    np.save(narrow, np.zeros((2, 2)))
    assert "input has 2 features, model expects 3" in failure(
        capsys, "--model", model, "--input", str(narrow)
    )
    garbage = tmp_path / "garbage.npy"
    garbage.write_bytes(b"not numpy")
    assert "cannot read" in failure(capsys, "--model", model, "--input", str(garbage))
    good = tmp_path / "good.npy"
    np.save(good, X)
    assert "cannot write" in failure(
        capsys, "--model", model, "--input", str(good), "--output", str(tmp_path)
    )


def test_models_without_a_known_output_form_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.core.inference.graphs import model_bytes, node  # noqa: PLC0415

    nodes = [
        node("Identity", ["features"], ["a"]),
        node("Identity", ["features"], ["b"]),
    ]
    model = tmp_path / "two.onnx"
    model.write_bytes(model_bytes(nodes, ["a", "b"], n_features=3))
    source = write_csv(tmp_path / "in.csv", NAMES, X[:2].tolist())
    message = failure(capsys, "--model", str(model), "--input", str(source))
    assert "are not a classifier's, a regressor's or an outlier detector's" in message
