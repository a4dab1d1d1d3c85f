"""Load HomeIQ's ONNX models from disk, keeping only those that fit the features.

Runs in an executor thread (reading and compiling a model takes milliseconds to
tens of them). A model whose feature names or schema fingerprint differ from the
core's schema is refused and reported, so the rule-based fallback stays in charge
and a repair tells the user.
"""

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from .core.features import DEVICE_SCHEMA, HOME_SCHEMA, FeatureSchema
from .core.health import MODEL, Models
from .core.inference import CREATED, FEATURE_SCHEMA, Model, ModelError, load_model

SCHEMAS: dict[str, FeatureSchema] = {
    "home_type": HOME_SCHEMA,
    "device_failure": DEVICE_SCHEMA,
    "battery_days_left": DEVICE_SCHEMA,
    "device_anomaly": DEVICE_SCHEMA,
}
ALTERNATIVES = {"battery_days_left": ("battery_days_left", "battery_days_left_q50")}


@dataclass(frozen=True, slots=True)
class LoadedModels:
    """The models in use, and the files refused with why."""

    models: Models
    refused: dict[str, str]
    created: str | None  # when the newest model was exported (ISO), if known


def load_models(*directories: Path) -> LoadedModels:
    """Load every known model with the numpy backend, first found in `directories`.

    The model store's directory comes first, so an uploaded model wins over the
    shipped default of the same name.
    """
    loaded: dict[str, Model] = {}
    refused: dict[str, str] = {}
    for name, schema in SCHEMAS.items():
        path = _find(directories, name)
        if path is None:
            continue
        try:
            model = load_model(path, backend="numpy", expected_features=schema.names)
            check_schema(model, schema)
        except (ModelError, OSError) as error:
            refused[name] = str(error)
            continue
        loaded[name] = model
    created = max(
        (m.metadata[CREATED] for m in loaded.values() if CREATED in m.metadata),
        default=None,
    )
    models = Models(
        home_type=loaded.get("home_type"),
        device_failure=loaded.get("device_failure"),
        battery_days_left=loaded.get("battery_days_left"),
        device_anomaly=loaded.get("device_anomaly"),
        version=_version(loaded),
    )
    return LoadedModels(models, refused, created)


def stems(name: str) -> tuple[str, ...]:
    """Return the file stems that can hold model `name`, preferred first."""
    return ALTERNATIVES.get(name, (name,))


def _find(directories: tuple[Path, ...], name: str) -> Path | None:
    for directory in directories:
        for stem in stems(name):
            path = directory / f"{stem}.onnx"
            if path.is_file():
                return path
    return None


def check_schema(model: Model, schema: FeatureSchema) -> None:
    """Refuse a model whose schema fingerprint is not the core's."""
    fingerprint = model.metadata.get(FEATURE_SCHEMA)
    if fingerprint is not None and fingerprint != schema.fingerprint():
        raise ModelError(
            f"model schema {fingerprint} differs from this HomeIQ's "
            f"{schema.kind} schema {schema.fingerprint()}"
        )


def _version(loaded: dict[str, Model]) -> str:
    """Name the models in use by the newest export time, to the minute (UTC).

    Minutes, not days: the nightly loop may replace a model the same day, and
    the version sensor must change when it does.
    """
    if not loaded:
        return "rules"
    stamps = sorted(
        filter(None, (_minute(m.metadata.get(CREATED, "")) for m in loaded.values()))
    )
    return f"{MODEL} {stamps[-1]}" if stamps else MODEL


def _minute(created: str) -> str | None:
    """Return an ISO time as 'YYYY-MM-DD HH:MM' in UTC; None if it is not one."""
    try:
        moment = datetime.fromisoformat(created)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M")
