"""Real models for the daemon's tests: one tiny training run, shared by the session.

24 synthetic homes over 20 days (seed 1, failure rate 0.15) are the smallest mix
found to pass every sanity check of the training; it takes about half a minute.
"""

from dataclasses import dataclass
import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import GradientBoostingClassifier

from homeiq_core.features import DEVICE_SCHEMA
from homeiq_core.inference import CLASSES, CREATED, FEATURE_NAMES, FEATURE_SCHEMA
from homeiq_trainer.generate import generate_dataset
from homeiq_trainer.models.data import split_homes
from homeiq_trainer.models.extract import extract
from homeiq_trainer.models.pipeline import train_models
from homeiq_trainer.models.plans import plan_rows
from homeiq_trainer.models.registry import current
from homeiq_trainer.models.rows import HomeRows
from homeiq_trainer.onnx_export import export_onnx
from homeiq_trainer.promotion import GATES
from homeiq_trainer.synth.options import GeneratorOptions

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "custom_components" / "homeiq" / "models"
FILES = tuple(name for gate in GATES.values() for name in gate.files)
# The daemon's settings for a tiny run (see the module docstring).
TINY = {
    "synthetic_homes": 24,
    "synthetic_days": 20,
    "seed": 1,
    "failure_rate": 0.15,
    "plan_homes": 100,
    "jobs": 1,
}


@dataclass(frozen=True)
class Trained:
    """A tiny training run: its data, rows, test homes and model files."""

    data: Path
    homes: list[HomeRows]
    test: list[HomeRows]
    models: dict[str, bytes]


def synthetic_name() -> str:
    """Return the directory name the daemon gives the tiny synthetic mix."""
    return (
        f"synthetic-{TINY['synthetic_homes']}x{TINY['synthetic_days']}"
        f"-seed{TINY['seed']}-f{TINY['failure_rate']}"
    )


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny synthetic mix, generated once, in a data_dir the daemon reuses."""
    data = tmp_path_factory.mktemp("daemon-data")
    options = GeneratorOptions(
        homes=TINY["synthetic_homes"],
        days=TINY["synthetic_days"],
        seed=TINY["seed"],
        failure_rate=TINY["failure_rate"],
    )
    generate_dataset(options, data / synthetic_name(), jobs=2)
    return data


@pytest.fixture(scope="session")
def trained(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """Models trained once on the tiny mix, as the daemon trains them."""
    homes = extract([tiny_data / synthetic_name()], jobs=2, progress=False)
    registry = tmp_path_factory.mktemp("daemon-registry")
    seed = int(TINY["seed"])
    plans = plan_rows(int(TINY["plan_homes"]), seed=seed)
    train_models(homes, registry, seed=seed, plans=plans)
    models = {
        name: (current(registry, name) / "model.onnx").read_bytes() for name in FILES
    }
    return Trained(tiny_data, homes, split_homes(homes, seed)["test"], models)


@pytest.fixture(scope="session")
def long_homes(tmp_path_factory: pytest.TempPathFactory) -> list[HomeRows]:
    """Four homes of 50 days: long enough to have days past a training label."""
    data = tmp_path_factory.mktemp("long-homes")
    options = GeneratorOptions(homes=4, days=50, seed=3, failure_rate=0.3)
    generate_dataset(options, data, jobs=2)
    return extract([data], jobs=2, progress=False)


@pytest.fixture(scope="session")
def shipped() -> dict[str, bytes]:
    """The models HomeIQ ships (trained on 400 homes: better than the tiny ones)."""
    return {name: (SHIPPED / f"{name}.onnx").read_bytes() for name in FILES}


def noise_failure_model() -> bytes:
    """A real failure model that learned noise: what a bad deployed model looks like."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, len(DEVICE_SCHEMA)))
    y = (x[:, 0] > 0).astype(int)
    model = GradientBoostingClassifier(n_estimators=10, random_state=0).fit(x, y)
    return export_onnx(
        model,
        len(DEVICE_SCHEMA),
        metadata={
            FEATURE_NAMES: json.dumps(list(DEVICE_SCHEMA.names)),
            CLASSES: json.dumps([0, 1]),
            FEATURE_SCHEMA: DEVICE_SCHEMA.fingerprint(),
            CREATED: "2026-11-30T12:00:00+00:00",
        },
    )
