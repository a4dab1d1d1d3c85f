"""HomeIQ's model store: the current and the previous upload of every model file.

Lives in the config dir (`homeiq/models/`): `current/<name>.onnx`,
`previous/<name>.onnx`, `index.json` (version, checksum, creation time per
file) and `rolled_back.json` (why a file was rolled back automatically, so the
repair that says so outlives a restart until a new upload or a manual rollback).
The shipped models are the fallback for every name nothing is stored for.
Every method here does file work: call it in the executor. Files and the index
are written to a temporary name, flushed, then moved into place with os.replace,
so a crash leaves either the old or the new version, never half of one.
"""

from dataclasses import asdict, dataclass
import json
import math
import os
from pathlib import Path
import time
from typing import Any

import numpy as np

from .const import LOGGER
from .core.features import FeatureSchema
from .core.inference import CREATED, Model, ModelError, Prediction, load_model
from .models_loader import SCHEMAS, check_schema

# File stems, named exactly as models_loader finds them.
NAMES: tuple[str, ...] = (
    "home_type",
    "device_failure",
    "device_anomaly",
    "battery_days_left",
    "battery_days_left_q10",
    "battery_days_left_q50",
    "battery_days_left_q90",
)
STORE_PATH = "homeiq/models"
MAX_MODEL_BYTES = 8 * 1024 * 1024
CURRENT = "current"
PREVIOUS = "previous"
INDEX = "index.json"
ROLLED_BACK = "rolled_back.json"


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """One stored model file."""

    version: int
    sha256: str
    created: str | None
    uploaded: float

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> StoredVersion:
        """Read a version from the index."""
        return cls(
            version=int(raw["version"]),
            sha256=str(raw["sha256"]),
            created=None if raw.get("created") is None else str(raw["created"]),
            uploaded=float(raw["uploaded"]),
        )


def slot(name: str) -> str:
    """Return the model a file stem feeds (the battery quantiles are one model)."""
    return "battery_days_left" if name.startswith("battery_days_left") else name


def schema_of(name: str) -> FeatureSchema:
    """Return the feature schema the model file `name` must read."""
    return SCHEMAS[slot(name)]


def validate(name: str, data: bytes, rows: np.ndarray) -> Model:
    """Load `data` as model `name` and run it on `rows`, or raise ModelError.

    Checks that it parses within the size cap, reads the core's feature names and
    schema fingerprint, and gives finite outputs of the right shape for `rows` (the
    home's current feature rows; a row of zeros and one of NaN when there are none).
    """
    schema = schema_of(name)
    model = load_model(
        data,
        backend="numpy",
        max_bytes=MAX_MODEL_BYTES,
        expected_features=schema.names,
    )
    check_schema(model, schema)
    canary(name, model, rows)
    return model


def canary(name: str, model: Model, rows: np.ndarray) -> None:
    """Run `model` as file `name` on `rows`; raise ModelError unless usable."""
    schema = schema_of(name)
    if not len(rows):
        rows = np.array([[0.0] * len(schema), [math.nan] * len(schema)])
    prediction = model.predict(model.align(rows, schema.names))
    _check_outputs(name, prediction)


def _check_outputs(name: str, prediction: Prediction) -> None:
    """Refuse outputs the scoring cannot use: missing or not finite."""
    kind = slot(name)
    if kind in {"home_type", "device_failure"}:
        output, what = prediction.probabilities, "probabilities"
    elif kind == "device_anomaly":
        output, what = prediction.scores, "scores"
        output = prediction.values if output is None else output
    else:
        output, what = prediction.values, "values"
    if output is None:
        raise ModelError(f"canary: a {kind} model must give {what}")
    # load_model already checked one answer per row and one probability per class.
    if not np.isfinite(np.asarray(output, dtype=np.float64)).all():
        raise ModelError(f"canary: {what} not finite on the home's current features")


class ModelStore:
    """The uploaded models in the config dir; see the module docstring."""

    def __init__(self, directory: Path) -> None:
        """Use `directory` (created on the first upload)."""
        self.directory = directory
        self.current_dir = directory / CURRENT
        self.previous_dir = directory / PREVIOUS
        self.index: dict[str, dict[str, StoredVersion]] = {}
        self.rolled_back: dict[str, str] = {}  # file stem -> why it was rolled back

    def load(self) -> None:
        """Read the index; a missing or unreadable one means nothing is stored."""
        self.rolled_back = self._read_rolled_back()
        path = self.directory / INDEX
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            self.index = {
                name: {
                    which: StoredVersion.from_json(entry)
                    for which, entry in versions.items()
                }
                for name, versions in raw.items()
                if name in NAMES
            }
        except FileNotFoundError:
            self.index = {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            LOGGER.warning("Model store index %s unreadable (%s): ignored", path, error)
            self.index = {}

    def _read_rolled_back(self) -> dict[str, str]:
        path = self.directory / ROLLED_BACK
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            LOGGER.warning("%s unreadable (%s): ignored", path, error)
            return {}
        if not isinstance(raw, dict):
            return {}
        return {str(k): str(v) for k, v in raw.items() if k in NAMES}

    def current(self, name: str) -> StoredVersion | None:
        """Return the stored version of `name` in use, None for the shipped one."""
        return self.index.get(name, {}).get(CURRENT)

    def activate(self, name: str, data: bytes, sha256: str, model: Model) -> int:
        """Make `data` the current version of `name`; the current one becomes previous.

        Returns the new version number.
        """
        self.current_dir.mkdir(parents=True, exist_ok=True)
        self.previous_dir.mkdir(parents=True, exist_ok=True)
        versions = self.index.setdefault(name, {})
        old = versions.get(CURRENT)
        new = StoredVersion(
            version=1 + max((v.version for v in versions.values()), default=0),
            sha256=sha256,
            created=model.metadata.get(CREATED),
            uploaded=time.time(),
        )
        staged = self.current_dir / f".{name}.onnx.tmp"
        _write(staged, data)
        target = self.current_dir / f"{name}.onnx"
        if old is not None and target.exists():
            os.replace(target, self.previous_dir / f"{name}.onnx")
            versions[PREVIOUS] = old
        os.replace(staged, target)
        versions[CURRENT] = new
        self._save_index()
        self._note_rollback(name, None)
        return new.version

    def rollback(self, name: str, problem: str | None = None) -> StoredVersion | None:
        """Put the previous version of `name` back; the current one is discarded.

        `problem` says why, for an automatic rollback (kept until the next upload);
        a manual one (None) forgets any earlier reason. Without a previous version
        the shipped default takes over (returns None). Raises KeyError when nothing
        is stored for `name`.
        """
        versions = self.index[name]
        target = self.current_dir / f"{name}.onnx"
        previous = versions.pop(PREVIOUS, None)
        if previous is not None:
            os.replace(self.previous_dir / f"{name}.onnx", target)
            versions[CURRENT] = previous
        else:
            target.unlink(missing_ok=True)
            del self.index[name]
        self._save_index()
        self._note_rollback(name, problem)
        return previous

    def _note_rollback(self, name: str, problem: str | None) -> None:
        if problem is None and name not in self.rolled_back:
            return
        if problem is None:
            del self.rolled_back[name]
        else:
            self.rolled_back[name] = problem
        text = json.dumps(self.rolled_back, indent=1)
        _write(self.directory / ROLLED_BACK, text.encode())

    def _save_index(self) -> None:
        raw = {
            name: {which: asdict(version) for which, version in versions.items()}
            for name, versions in self.index.items()
        }
        _write(self.directory / INDEX, json.dumps(raw, indent=1).encode())


def _write(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (temporary file, fsync, os.replace)."""
    staged = path.with_name(f".{path.name}.part")
    with staged.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(staged, path)
