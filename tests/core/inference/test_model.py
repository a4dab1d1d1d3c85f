"""load_model and Model: loading, metadata, predictions of each kind, and refusals."""

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from homeiq_core.inference import (
    CLASSES,
    FEATURE_NAMES,
    MODEL_KIND,
    ModelError,
    backends,
    load_model,
    onnxruntime_available,
)
from homeiq_core.inference.graph import compile_model
from homeiq_core.inference.onnx_proto import decode_model

from .conftest import FEATURES, Exported
from .graphs import model_bytes, node


def test_a_classifier_predicts_labels_probabilities_and_classes(
    exported: dict[str, Exported],
) -> None:
    forest = exported["forest"]
    model = load_model(forest.path, backend="numpy", expected_features=FEATURES)
    assert model.backend == "numpy"
    assert model.kind == "classifier"
    assert model.input_name == "features"
    assert model.n_features == len(FEATURES)
    assert model.feature_names == FEATURES
    assert model.metadata[MODEL_KIND] == "forest"
    assert model.producer.startswith("skl2onnx")
    assert model.opsets[""] == 21
    assert model.classes == ("flat", "house", "studio")
    assert repr(model) == "<Model forest features=5 backend=numpy>"
    prediction = model.predict(forest.x)
    assert prediction.classes == model.classes
    assert prediction.labels.tolist() == forest.estimator.predict(forest.x).tolist()
    assert prediction.probabilities.dtype == np.float32
    np.testing.assert_allclose(
        prediction.probabilities, forest.estimator.predict_proba(forest.x), atol=1e-5
    )
    assert prediction.values is None
    assert prediction.scores is None


def test_a_regressor_predicts_values(exported: dict[str, Exported]) -> None:
    regressor = exported["regressor"]
    model = load_model(regressor.data, backend="numpy")
    assert model.kind == "regressor"
    assert model.classes is None
    prediction = model.predict(regressor.x)
    assert prediction.labels is prediction.probabilities is prediction.scores is None
    assert prediction.values.shape == (len(regressor.x),)
    np.testing.assert_allclose(
        prediction.values, regressor.estimator.predict(regressor.x), atol=1e-5
    )


def test_an_outlier_detector_predicts_labels_and_scores(
    exported: dict[str, Exported],
) -> None:
    outlier = exported["outlier"]
    model = load_model(outlier.data, backend="numpy")
    assert model.kind == "outlier"
    prediction = model.predict(outlier.x)
    assert set(prediction.labels.tolist()) <= {-1, 1}
    assert prediction.labels.tolist() == outlier.estimator.predict(outlier.x).tolist()
    np.testing.assert_allclose(
        prediction.scores, outlier.estimator.decision_function(outlier.x), atol=1e-5
    )
    np.testing.assert_allclose(
        prediction.values, outlier.estimator.score_samples(outlier.x), atol=1e-5
    )


@pytest.mark.parametrize("name", ["forest", "binary", "regressor", "outlier", "linear"])
def test_both_backends_return_the_same_outputs(
    exported: dict[str, Exported], name: str
) -> None:
    model = exported[name]
    mine = load_model(model.data, backend="numpy").run(model.x)
    theirs = load_model(model.data, backend="onnxruntime").run(model.x)
    assert list(mine) == list(theirs)
    for key, value in mine.items():
        assert value.dtype == theirs[key].dtype
        assert value.shape == theirs[key].shape
        if value.dtype.kind == "f":
            np.testing.assert_allclose(value, theirs[key], atol=1e-5, rtol=0)
        else:
            assert value.tolist() == theirs[key].tolist()


def test_auto_picks_onnxruntime_when_it_is_importable(
    exported: dict[str, Exported], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert onnxruntime_available()
    assert load_model(exported["forest"].data).backend == "onnxruntime"
    monkeypatch.setattr(backends, "onnxruntime_available", lambda: False)
    assert load_model(exported["forest"].data).backend == "numpy"


def test_onnxruntime_backend_errors_are_model_errors(
    exported: dict[str, Exported], monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys  # noqa: PLC0415

    with pytest.raises(ModelError, match="unknown backend 'gpu'"):
        load_model(exported["forest"].data, backend="gpu")  # type: ignore[arg-type]
    model = load_model(exported["forest"].data, backend="onnxruntime")
    with pytest.raises(ModelError, match="onnxruntime failed"):
        model._backend.run(np.zeros((1, 3), np.float32))
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert not onnxruntime_available()
    with pytest.raises(ModelError, match="the onnxruntime backend is unavailable"):
        load_model(exported["forest"].data, backend="onnxruntime")
    assert load_model(exported["forest"].data).backend == "numpy"


def test_a_model_onnxruntime_refuses_is_refused() -> None:
    # Declared output type BOOL for a float value: onnxruntime's type check fails.
    data = model_bytes(
        [node("Identity", ["features"], ["y"])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.BOOL, None)],
    )
    with pytest.raises(ModelError, match="onnxruntime refused the model"):
        load_model(data, backend="onnxruntime")
    with pytest.raises(ModelError, match="output 'y' computes a value not BOOL"):
        load_model(data, backend="numpy")


def test_inputs_are_checked_and_converted(exported: dict[str, Exported]) -> None:
    model = load_model(exported["forest"].data, backend="numpy")
    as_float64 = model.predict(exported["forest"].x.astype(np.float64)).labels
    assert as_float64.tolist() == model.predict(exported["forest"].x).labels.tolist()
    assert model.predict(np.zeros((0, 5))).labels.shape == (0,)
    with pytest.raises(ModelError, match="input has 4 features, model expects 5"):
        model.predict(np.zeros((2, 4)))
    with pytest.raises(ModelError, match=r"must be a 2-D array \[rows, features\]"):
        model.predict(np.zeros(5))
    with pytest.raises(ModelError, match="input must be numeric, not <U1"):
        model.predict(np.array([["a"] * 5]))


def test_align_puts_named_columns_in_model_order(exported: dict[str, Exported]) -> None:
    model = load_model(exported["forest"].data, backend="numpy")
    names = ["extra", *reversed(FEATURES)]
    x = np.arange(12, dtype=np.float32).reshape(2, 6)
    aligned = model.align(x, names)
    assert aligned.tolist() == x[:, [5, 4, 3, 2, 1]].tolist()
    with pytest.raises(ModelError, match="feature 'rooms' missing"):
        model.align(x[:, :5], names[:5])
    with pytest.raises(ModelError, match="a column name appears twice"):
        model.align(x, ["rooms", "age", "sensors", "lights", "doors", "rooms"])
    with pytest.raises(ModelError, match=r"2 column names for an array of \(2, 6\)"):
        model.align(x, ["a", "b"])
    unnamed = load_model(model_bytes([node("Identity", ["features"], ["y"])], ["y"]))
    assert unnamed.feature_names is None
    assert unnamed.align(x[:, :4], list("abcd")) is not None
    with pytest.raises(ModelError, match="input has 6 features, model expects 4"):
        unnamed.align(x, list("abcdef"))


def with_metadata(data: bytes, **changes: str) -> bytes:
    model = onnx.load_from_string(data)
    props = {p.key: p.value for p in model.metadata_props} | changes
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, props)
    return model.SerializeToString()


@pytest.mark.parametrize(
    ("expected", "message"),
    [
        (("rooms", "doors", "lights", "sensors"), "model needs feature 'age'"),
        ((*FEATURES, "extra"), "feature 'extra' missing from the model"),
        (
            ("doors", "rooms", "lights", "sensors", "age"),
            "column 0 is 'rooms' in the model, 'doors' expected",
        ),
        ((*FEATURES[:4], "rooms"), "model needs feature 'age'"),
        ((*FEATURES, "age"), "expected features name a feature twice"),
    ],
)
def test_expected_features_must_match_exactly(
    exported: dict[str, Exported], expected: tuple, message: str
) -> None:
    with pytest.raises(ModelError, match=message):
        load_model(exported["forest"].data, expected_features=expected)


def test_expected_features_of_a_model_without_names_check_the_count() -> None:
    data = model_bytes([node("Identity", ["features"], ["y"])], ["y"])
    assert load_model(data, expected_features="abcd").n_features == 4
    with pytest.raises(ModelError, match="input has 3 features, model expects 4"):
        load_model(data, expected_features="abc")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({FEATURE_NAMES: "[1, 2]"}, "must be a list of non-empty strings"),
        ({FEATURE_NAMES: '["a", "a", "b", "c", "d"]'}, "names a feature twice"),
        ({FEATURE_NAMES: "{"}, "homeiq.feature_names is not valid JSON"),
        ({FEATURE_NAMES: "[" * 100_000}, "homeiq.feature_names is not valid JSON"),
        ({FEATURE_NAMES: '{"a": 1}'}, "must be a JSON list"),
        ({FEATURE_NAMES: '["a", "b"]'}, "names 2 features, the model's input has 5"),
        ({CLASSES: '["flat", "house", "castle"]'}, "differs from the model's class"),
        ({CLASSES: "[true, false]"}, "must be a list of strings or of integers"),
        ({CLASSES: '["flat", 1]'}, "must be a list of strings or of integers"),
    ],
)
def test_inconsistent_metadata_is_refused(
    exported: dict[str, Exported], changes: dict, message: str
) -> None:
    with pytest.raises(ModelError, match=message):
        load_model(with_metadata(exported["forest"].data, **changes), backend="numpy")


def test_classes_come_from_the_graph_without_metadata(
    exported: dict[str, Exported],
) -> None:
    model = onnx.load_from_string(exported["binary"].data)
    del model.metadata_props[:]
    loaded = load_model(model.SerializeToString(), backend="numpy")
    assert loaded.classes == (0, 1)
    assert loaded.metadata == {}


def test_files_are_read_within_the_size_limit(
    exported: dict[str, Exported], tmp_path: Path
) -> None:
    forest = exported["forest"]
    assert load_model(str(forest.path), max_bytes=len(forest.data)).kind == "classifier"
    with pytest.raises(ModelError, match=f"model is {len(forest.data):,} bytes, limit"):
        load_model(forest.path, max_bytes=len(forest.data) - 1)
    with pytest.raises(ModelError, match="model is 2 bytes, limit is 1 bytes"):
        load_model(b"ab", max_bytes=1)
    big = tmp_path / "big.onnx"
    with big.open("wb") as file:  # sparse: no disk used
        file.truncate(80 * 1024 * 1024 + 1)
    with pytest.raises(ModelError, match=r"model is 80\.0 MiB, limit is 64 MiB"):
        load_model(big)
    with pytest.raises(ModelError, match=r"cannot read model file .*No such file"):
        load_model(tmp_path / "missing.onnx")
    assert load_model(bytearray(forest.data)).kind == "classifier"
    assert load_model(memoryview(forest.data)).kind == "classifier"


def test_a_file_that_grows_while_read_is_refused(
    exported: dict[str, Exported], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "growing.onnx"
    path.write_bytes(exported["forest"].data)
    real_stat = Path.stat

    def stale_stat(self: Path, **kwargs: object):
        result = real_stat(self, **kwargs)
        if self == path:
            path.write_bytes(exported["forest"].data * 3)  # grows after stat()
        return result

    monkeypatch.setattr(Path, "stat", stale_stat)
    with pytest.raises(ModelError, match=r"model is .*, limit is"):
        load_model(path, max_bytes=len(exported["forest"].data) * 2)


def test_zipmap_probabilities_become_a_matrix(exported: dict[str, Exported]) -> None:
    from skl2onnx import convert_sklearn  # noqa: PLC0415
    from skl2onnx.common.data_types import FloatTensorType  # noqa: PLC0415

    from homeiq_trainer.onnx_export import INPUT_NAME  # noqa: PLC0415

    forest = exported["forest"]
    onx = convert_sklearn(
        forest.estimator,
        initial_types=[(INPUT_NAME, FloatTensorType([None, 5]))],
        target_opset={"": 21, "ai.onnx.ml": 3},
    )
    for backend in ("numpy", "onnxruntime"):
        model = load_model(onx.SerializeToString(), backend=backend)
        assert model.kind == "classifier"
        prediction = model.predict(forest.x)
        np.testing.assert_allclose(
            prediction.probabilities,
            forest.estimator.predict_proba(forest.x),
            atol=1e-5,
        )
        assert prediction.labels.tolist() == forest.estimator.predict(forest.x).tolist()


def test_classifier_outputs_that_do_not_fit_their_classes_are_refused() -> None:
    labels = onnx.helper.make_tensor_value_info("label", onnx.TensorProto.FLOAT, None)
    nodes = [
        node("Identity", ["features"], ["label"]),
        node("Identity", ["features"], ["probabilities"]),
    ]
    with pytest.raises(ModelError, match=r"0 class labels but probabilities of shape"):
        load_model(model_bytes(nodes, [labels, "probabilities"]), backend="numpy")
    nodes = [
        node("ReduceSum", ["features"], ["label"]),
    ]
    reshaped = [
        node("Reshape", ["features", "flat"], ["label"]),
        node("Identity", ["features"], ["scores"]),
    ]
    with pytest.raises(ModelError, match="output 'label' has no row per input row"):
        load_model(
            model_bytes(
                reshaped,
                [labels, "scores"],
                initializers={"flat": np.array([-1], dtype=np.int64)},
            ),
            backend="numpy",
        )


def test_metadata_keys_are_the_documented_ones() -> None:
    from homeiq_core.inference import METADATA_KEYS  # noqa: PLC0415

    assert METADATA_KEYS == (
        "homeiq.schema_version",
        "homeiq.model_kind",
        "homeiq.feature_names",
        "homeiq.classes",
        "homeiq.trainer_version",
        "homeiq.created",
        "homeiq.training_fingerprint",
        "homeiq.metrics",
        "homeiq.schema",
        "homeiq.reference",
    )
    assert json.loads(json.dumps(list(METADATA_KEYS)))


def test_a_compiled_forest_keeps_no_parsed_attributes_but_its_labels(
    exported: dict[str, Exported],
) -> None:
    """A forest's per-node attributes (megabytes) are freed once its kernels hold
    them; the compiled model still classifies the same and knows its classes."""
    forest = exported["forest"]
    plan = compile_model(decode_model(forest.data))
    kept = {name for step in plan.steps for name in step.node.attributes}
    assert kept == {"classlabels_strings"}
    model = load_model(forest.data, backend="numpy")
    assert model.classes == ("flat", "house", "studio")
    np.testing.assert_allclose(
        model.predict(forest.x).probabilities,
        forest.estimator.predict_proba(forest.x),
        atol=1e-5,
    )
