"""Export with metadata, the parity check, and the model registry on disk.

Registry layout (every write atomic: a temporary directory renamed into place, the
pointer replaced with os.replace)::

    REGISTRY/<name>/v0001/model.onnx      the model, HomeIQ metadata inside
    REGISTRY/<name>/v0001/metrics.json    its held-out metrics
    REGISTRY/<name>/v0001/homes.json      which homes trained, validated, tested it
    REGISTRY/<name>/v0001/checksum.sha256 sha256 of model.onnx
    REGISTRY/<name>/current               "v0001": the version in use

`prune` deletes old versions (never the current one, nor any the caller protects);
a version is first renamed out of the `v*` namespace, so a pruning cut short never
leaves a half-deleted version that looks whole.
"""

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
import hashlib
import json
import os
from pathlib import Path
import shutil
import tempfile

import numpy as np

from homeiq_core import inference
from homeiq_core.inference import load_model, onnxruntime_available
from homeiq_trainer import __version__
from homeiq_trainer.onnx_export import export_onnx

from .fit import Fitted

PARITY_ATOL = 1e-5  # the core's parity bound (tests/core/inference)
PARITY_ROWS = 2000
POINTER = "current"
STALE_STAGING_SECONDS = 24 * 3600  # a staging directory this old was left by a crash


class RegistryError(ValueError):
    """A registry that cannot be read or written as asked."""


def metadata(
    fitted: Fitted,
    *,
    kind: str,
    schema_fingerprint: str,
    reference: np.ndarray,
    metrics: Mapping[str, object],
    training_fingerprint: str,
    classes: Sequence[object] | None = None,
) -> dict[str, str]:
    """Return the metadata_props of a model (DESIGN.md constraint 4)."""
    values = {
        inference.SCHEMA_VERSION: inference.SCHEMA,
        inference.MODEL_KIND: kind,
        inference.FEATURE_NAMES: json.dumps(list(fitted.features)),
        inference.FEATURE_SCHEMA: schema_fingerprint,
        inference.TRAINER_VERSION: __version__,
        inference.CREATED: datetime.now(UTC).isoformat(timespec="seconds"),
        inference.TRAINING_FINGERPRINT: training_fingerprint,
        inference.METRICS: json.dumps(_finite(metrics), sort_keys=True),
        inference.REFERENCE: json.dumps(
            [None if not np.isfinite(v) else float(v) for v in reference]
        ),
    }
    if classes is not None:
        values[inference.CLASSES] = json.dumps(
            [c if isinstance(c, str) else int(c) for c in classes]
        )
    return values


def _finite(value: object) -> object:
    """Return `value` with NaN and infinities replaced by None (valid JSON)."""
    if isinstance(value, Mapping):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def export_checked(fitted: Fitted, meta: Mapping[str, str], rows: np.ndarray) -> bytes:
    """Export to ONNX and check it against scikit-learn on held-out `rows`.

    Raises RegistryError when the numpy backend (and onnxruntime, when importable)
    differ from scikit-learn by more than PARITY_ATOL on any output.
    """
    data = export_onnx(fitted.estimator, len(fitted.features), metadata=meta)
    x = np.ascontiguousarray(rows[:PARITY_ROWS], dtype=np.float32)
    if not len(x):
        x = np.zeros((1, len(fitted.features)), dtype=np.float32)
    expected = _sklearn_outputs(fitted.estimator, x)
    backends = ["numpy"] + (["onnxruntime"] if onnxruntime_available() else [])
    for backend in backends:
        got = _onnx_outputs(load_model(data, backend=backend), x)
        for name, value in expected.items():
            difference = float(np.max(np.abs(got[name] - value))) if len(x) else 0.0
            scale = max(1.0, float(np.max(np.abs(value))))
            if not difference <= PARITY_ATOL * scale:
                raise RegistryError(
                    f"{meta.get(inference.MODEL_KIND)}: {backend} {name} differs "
                    f"from scikit-learn by {difference:.3g}"
                )
    return data


def _sklearn_outputs(estimator, x: np.ndarray) -> dict[str, np.ndarray]:
    if hasattr(estimator, "predict_proba"):
        return {"probabilities": estimator.predict_proba(x)}
    if hasattr(estimator, "score_samples"):
        return {
            "scores": estimator.decision_function(x),
            "values": estimator.score_samples(x),
        }
    return {"values": estimator.predict(x)}


def _onnx_outputs(model, x: np.ndarray) -> dict[str, np.ndarray]:
    p = model.predict(x)
    out = {}
    for name in ("probabilities", "scores", "values"):
        value = getattr(p, name)
        if value is not None:
            out[name] = np.asarray(value, dtype=np.float64)
    return out


@dataclass(frozen=True, slots=True)
class Entry:
    """One registered model version."""

    name: str
    version: str
    path: Path
    current: bool
    metrics: dict[str, object]
    size: int


def register(
    registry: str | os.PathLike[str],
    name: str,
    data: bytes,
    metrics: Mapping[str, object],
    homes: Mapping[str, object],
) -> Path:
    """Add a model version to the registry, make it current; return its directory."""
    root = Path(registry) / name
    root.mkdir(parents=True, exist_ok=True)
    version = f"v{_last_version(root) + 1:04d}"
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    try:
        (staging / "model.onnx").write_bytes(data)
        (staging / "metrics.json").write_text(
            json.dumps(_finite(metrics), indent=2, sort_keys=True) + "\n"
        )
        (staging / "homes.json").write_text(json.dumps(homes, indent=1) + "\n")
        (staging / "checksum.sha256").write_text(
            f"{hashlib.sha256(data).hexdigest()}  model.onnx\n"
        )
        os.rename(staging, root / version)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _write_atomic(root / POINTER, version + "\n")
    return root / version


def _last_version(root: Path) -> int:
    numbers = [
        int(p.name[1:])
        for p in root.iterdir()
        if p.is_dir() and p.name.startswith("v") and p.name[1:].isdigit()
    ]
    return max(numbers, default=0)


def _write_atomic(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".pointer-")
    with os.fdopen(handle, "w") as file:
        file.write(text)
    os.replace(temporary, path)


def current(registry: str | os.PathLike[str], name: str) -> Path:
    """Return the directory of a model's current version; RegistryError if none."""
    root = Path(registry) / name
    try:
        version = (root / POINTER).read_text().strip()
    except OSError:
        raise RegistryError(f"{root}: no current version") from None
    path = root / version
    verify(path)
    return path


def verify(path: Path) -> None:
    """Raise RegistryError when a version's model does not match its checksum."""
    try:
        data = (path / "model.onnx").read_bytes()
        recorded = (path / "checksum.sha256").read_text().split()[0]
    except OSError, IndexError:
        raise RegistryError(f"{path}: model or checksum missing") from None
    if hashlib.sha256(data).hexdigest() != recorded:
        raise RegistryError(f"{path}: model.onnx does not match its checksum")


def entries(registry: str | os.PathLike[str]) -> list[Entry]:
    """Return every registered version, by model name then version."""
    root = Path(registry)
    if not root.is_dir():
        raise RegistryError(f"{root}: not a registry directory")
    out = []
    for model in sorted(p for p in root.iterdir() if p.is_dir()):
        pointer = model / POINTER
        chosen = pointer.read_text().strip() if pointer.exists() else None
        for version in sorted(model.glob("v[0-9]*")):
            metrics_path = version / "metrics.json"
            metrics = (
                json.loads(metrics_path.read_text()) if metrics_path.exists() else {}
            )
            model_file = version / "model.onnx"
            out.append(
                Entry(
                    model.name,
                    version.name,
                    version,
                    version.name == chosen,
                    metrics,
                    model_file.stat().st_size if model_file.exists() else 0,
                )
            )
    return out


@dataclass(frozen=True, slots=True)
class Pruned:
    """What `prune` deleted: the version (and leftover) directories and their bytes."""

    paths: list[Path]
    bytes: int


def prune(
    registry: str | os.PathLike[str], keep: int, *, protect: Collection[str] = ()
) -> Pruned:
    """Delete all but each model's newest `keep` versions.

    Kept whatever their age: the current version and every version whose model's
    SHA-256 is in `protect` (e.g. the models Home Assistant serves). Leftovers of
    an interrupted prune go too, and staging directories of a register that
    crashed more than a day ago.
    """
    if keep < 1:
        raise RegistryError(f"keep must be at least 1, not {keep}")
    root = Path(registry)
    if not root.is_dir():
        raise RegistryError(f"{root}: not a registry directory")
    doomed: list[Path] = []
    for model in sorted(p for p in root.iterdir() if p.is_dir()):
        pointer = model / POINTER
        chosen = pointer.read_text().strip() if pointer.exists() else None
        versions = sorted(model.glob("v[0-9]*"), key=lambda p: p.name, reverse=True)
        doomed += [
            v
            for v in versions[keep:]
            if v.name != chosen and _checksum(v) not in protect
        ]
        doomed += _leftovers(model)
    freed = sum(_bytes(path) for path in doomed)
    for path in doomed:
        _delete(path)
    return Pruned(doomed, freed)


def _checksum(version: Path) -> str | None:
    try:
        return (version / "checksum.sha256").read_text().split()[0]
    except OSError, IndexError:
        return None


def _leftovers(model: Path) -> list[Path]:
    cutoff = datetime.now(UTC).timestamp() - STALE_STAGING_SECONDS
    staging = [p for p in model.glob(".staging-*") if p.stat().st_mtime < cutoff]
    return [p for p in [*model.glob(".deleting-*"), *staging] if p.is_dir()]


def _bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _delete(path: Path) -> None:
    if not path.name.startswith("."):
        doomed = path.with_name(f".deleting-{path.name}")
        os.rename(path, doomed)
        path = doomed
    shutil.rmtree(path, ignore_errors=True)
