"""Real models of each family, fitted by scikit-learn, exported by the trainer once."""

from dataclasses import dataclass
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingRegressor,
    IsolationForest,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from homeiq_core.inference import CLASSES, FEATURE_NAMES, MODEL_KIND, SCHEMA_VERSION
from homeiq_trainer.onnx_export import export_onnx

FEATURES = ("rooms", "doors", "lights", "sensors", "age")


@dataclass(frozen=True)
class Exported:
    """An exported model, the estimator it came from, and rows to score."""

    path: Path
    data: bytes
    estimator: BaseEstimator
    x: np.ndarray


def _fit_and_export(name: str, estimator: BaseEstimator, directory: Path) -> Exported:
    rng = np.random.default_rng(len(name))
    x = rng.normal(size=(150, len(FEATURES))).astype(np.float32)
    y = np.array(["flat", "house", "studio"])[
        (x[:, 0] > 0).astype(int) + (x[:, 1] > 0.5)
    ]
    metadata = {
        SCHEMA_VERSION: "1",
        MODEL_KIND: name,
        FEATURE_NAMES: json.dumps(FEATURES),
    }
    if name == "binary":
        y = (x[:, 2] > 0).astype(np.int64)
    if name == "regressor":
        x[rng.random(x.shape) < 0.1] = np.nan
        y = np.nan_to_num(x[:, 0]) * 2.0
    if name == "outlier":
        estimator.fit(x)
    else:
        estimator.fit(x, y)
    if hasattr(estimator, "classes_"):
        metadata[CLASSES] = json.dumps(estimator.classes_.tolist())
    data = export_onnx(estimator, len(FEATURES), metadata=metadata)
    path = directory / f"{name}.onnx"
    path.write_bytes(data)
    return Exported(path, data, estimator, x)


@pytest.fixture(scope="session")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Exported]:
    """Return one exported model per family, keyed by a short name."""
    directory = tmp_path_factory.mktemp("models")
    estimators = {
        "forest": RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0),
        "binary": GradientBoostingClassifier(n_estimators=5, random_state=0),
        "regressor": HistGradientBoostingRegressor(max_iter=5, random_state=0),
        "outlier": IsolationForest(n_estimators=5, random_state=0),
        "linear": make_pipeline(StandardScaler(), LogisticRegression()),
    }
    return {
        name: _fit_and_export(name, estimator, directory)
        for name, estimator in estimators.items()
    }
