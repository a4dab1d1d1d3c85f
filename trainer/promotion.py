"""The promotion gate: a new model is pushed only when not worse than the deployed.

Both models score the SAME held-out rows (this run's test homes, which neither
trained on when the seed stays the same, see docs/trainer-daemon.md). Per model one
metric, oriented so that higher is better, gives the paired difference

    delta = metric(candidate) - metric(deployed)

and its 95 % interval over the test homes resampled with replacement (both models
on each resample). The gate:

    promote  <=>  delta >= -min(half-width of that interval, CAP[model])

that is: the candidate is not worse than the deployed model by more than the noise
of the comparison, and never by more than CAP. The metrics and caps:

    home_type          log-loss (nats, lower better) of the true type    cap 0.05
    device_failure     PR-AUC of failure within 7 days                   cap 0.02
    battery_days_left  MAE (days) of the median, clipped to 0..cap days  cap 1.0
    device_anomaly     ROC-AUC, symptomatic rows against healthy devices cap 0.02

Without a deployed model (HomeIQ scores with its rules), with one the integration
could not give, or one of another feature schema (it cannot read these rows), the
candidate is promoted: it passed the training's sanity checks. When the rows cannot
judge (the metric is undefined for both, e.g. no failure among them), the deployed
model stays.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
import math

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score

from homeiq_core.features import DEVICE_SCHEMA, HOME_SCHEMA
from homeiq_core.inference import FEATURE_SCHEMA, ModelError, load_model

from .models.data import (
    DeviceRows,
    battery_rows,
    device_rows,
    failure_rows,
    home_type_rows,
    time_split,
)
from .models.metrics import bootstrap
from .models.rows import BATTERY_CAP_DAYS, DAY, HORIZON_DAYS, HomeRows

DEVICE_NAMES = tuple(DEVICE_SCHEMA.names)
HOME_NAMES = tuple(HOME_SCHEMA.names)
PROBABILITY_FLOOR = 1e-15  # log-loss of a class given probability 0


@dataclass(frozen=True, slots=True)
class Gate:
    """How one model is judged: its files, the scored file, the metric and cap."""

    files: tuple[str, ...]  # pushed together when promoted
    scored: str  # the file the metric reads
    metric: str
    higher_is_better: bool
    cap: float


GATES: dict[str, Gate] = {
    "home_type": Gate(("home_type",), "home_type", "log-loss", False, 0.05),
    "device_failure": Gate(("device_failure",), "device_failure", "PR-AUC", True, 0.02),
    "battery_days_left": Gate(
        (
            "battery_days_left_q10",
            "battery_days_left_q50",
            "battery_days_left_q90",
        ),
        "battery_days_left_q50",
        "MAE days",
        False,
        1.0,
    ),
    "device_anomaly": Gate(
        ("device_anomaly",), "device_anomaly", "ROC-AUC", True, 0.02
    ),
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The gate's decision for one model, with the figures behind it."""

    model: str
    promote: bool
    reason: str
    metric: str
    candidate: float | None = None
    deployed: float | None = None
    delta: float | None = None  # oriented: positive means the candidate is better
    interval: tuple[float, float] | None = None
    tolerance: float | None = None
    rows: int = 0
    homes: int = 0

    def to_json(self) -> dict[str, object]:
        """Return the verdict as JSON-ready values (None for undefined numbers)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, float) and not math.isfinite(value):
                out[key] = None
        if self.interval is not None:
            out["interval"] = [_finite_or_none(v) for v in self.interval]
        return out


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


# --- per-model rows and metrics ------------------------------------------------------

type Rows = tuple[np.ndarray, np.ndarray, Callable[[np.ndarray], float]]
"""x, each row's home, and the metric of a score column over chosen rows."""


def _scores(data: bytes, names: Sequence[str], x: np.ndarray) -> np.ndarray:
    """Run the ONNX `data` (numpy backend) on `x`; the output the metric reads."""
    return _predict(data, names, x)[0]


def _predict(
    data: bytes, names: Sequence[str], x: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Return the model's output on `x` and its class names (if a classifier)."""
    model = load_model(data, backend="numpy")
    prediction = model.predict(model.align(x, names))
    classes = [str(c) for c in model.classes] if model.classes is not None else []
    if prediction.probabilities is not None:
        return np.asarray(prediction.probabilities, dtype=np.float64), classes
    if prediction.scores is not None:  # IsolationForest: lower values, more anomalous
        return -np.asarray(prediction.values, dtype=np.float64), classes
    return np.asarray(prediction.values, dtype=np.float64), classes


def _home_type_loss(data: bytes, x: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Return each row's log-loss of its true type; unknown types get the floor."""
    if not len(x):
        return np.zeros(0)
    probabilities, classes = _predict(data, HOME_NAMES, x)
    index = {name: k for k, name in enumerate(classes)}
    column = np.array([index.get(str(t), -1) for t in truth], dtype=np.int64)
    given = probabilities[np.arange(len(x)), np.maximum(column, 0)]
    given = np.where(column >= 0, given, 0.0)
    return -np.log(np.clip(given, PROBABILITY_FLOOR, 1.0))


def _mean_metric(
    per_row: np.ndarray,
) -> Callable[[np.ndarray], float]:
    def metric(rows: np.ndarray) -> float:
        return float(per_row[rows].mean()) if len(rows) else float("nan")

    return metric


def _auc(y: np.ndarray, score: np.ndarray, kind: str) -> Callable[[np.ndarray], float]:
    function = average_precision_score if kind == "pr" else roc_auc_score

    def metric(rows: np.ndarray) -> float:
        truth = y[rows]
        if len(rows) == 0 or truth.min() == truth.max():
            return float("nan")
        return float(function(truth, score[rows]))

    return metric


@dataclass(frozen=True, slots=True)
class HeldOut:
    """The held-out rows every model is judged on, built once per run."""

    home: tuple[np.ndarray, np.ndarray, np.ndarray]  # x, truth, home
    failure: tuple[np.ndarray, np.ndarray, np.ndarray]  # x, target, home
    battery: tuple[np.ndarray, np.ndarray, np.ndarray]  # x, days left, home
    anomaly: tuple[np.ndarray, np.ndarray, np.ndarray]  # x, symptomatic, home
    homes: int

    @classmethod
    def of(cls, test: Sequence[HomeRows]) -> HeldOut:
        """Return the rows of the test homes, as training evaluates them."""
        if not test:
            none = (np.zeros((0, 0)), np.zeros(0), np.zeros(0, dtype=np.int64))
            return cls(none, none, none, none, 0)
        ht = home_type_rows(test)
        failure = failure_rows(test, "after")
        battery = _with_reading(battery_rows(test, "after"))
        devices = device_rows(test)
        mask = devices.symptoms | devices.healthy
        return cls(
            home=(ht.x, ht.truth, ht.home),
            failure=(failure.x, failure.target.astype(int), failure.home),
            battery=(battery.x, battery.battery_days.astype(np.float64), battery.home),
            anomaly=(
                devices.x[mask],
                devices.symptoms[mask].astype(int),
                devices.home[mask],
            ),
            homes=len(test),
        )

    @classmethod
    def later_days(cls, homes: Sequence[HomeRows]) -> HeldOut:
        """Return the unseen failure and battery rows of homes that always train.

        Such a home (the daemon's pulled one) taught the failure and battery models
        its rows up to its time split (`time_split`), whose labels reach one label
        window past the split: its rows after that window's end, and the failures
        they are labelled with, are unseen. The home-type and anomaly models learned
        from all its days, so their parts are empty.
        """
        held = cls.of(())
        if not homes:
            return held
        failure = _beyond_labels(failure_rows(homes, "after"), homes, HORIZON_DAYS)
        battery = _with_reading(
            _beyond_labels(battery_rows(homes, "after"), homes, BATTERY_CAP_DAYS)
        )
        return replace(
            held,
            failure=(failure.x, failure.target.astype(int), failure.home),
            battery=(battery.x, battery.battery_days.astype(np.float64), battery.home),
            homes=len(homes),
        )


def _with_reading(battery: DeviceRows) -> DeviceRows:
    """Keep the battery rows with a reading (rows without one get no forecast)."""
    if not len(battery):
        return battery
    return battery.take(~np.isnan(battery.x[:, DEVICE_NAMES.index("battery_last")]))


def _beyond_labels(
    rows: DeviceRows, homes: Sequence[HomeRows], label_days: float
) -> DeviceRows:
    """Keep the rows later than their home's split by more than `label_days`."""
    keep = np.zeros(len(rows), dtype=bool)
    for index, home in enumerate(homes):
        mine = rows.home == index
        end = time_split(home, label_days) + label_days * DAY
        keep[mine] = home.times[rows.day[mine]] > end
    return rows.take(keep)


def _paired(
    model: str, held: HeldOut, candidate: bytes, deployed: bytes
) -> tuple[Callable[[np.ndarray], float], Callable[[np.ndarray], float], np.ndarray]:
    """Return both models' metric functions over row indices, and each row's home."""
    new, homes = _metric(model, held, candidate)
    old, _ = _metric(model, held, deployed)
    return new, old, homes


def _metric(
    model: str, held: HeldOut, data: bytes
) -> tuple[Callable[[np.ndarray], float], np.ndarray]:
    """Return the model file's metric function over row indices, and each row's home."""
    if model == "home_type":
        x, truth, homes = held.home
        return _mean_metric(_home_type_loss(data, x, truth)), homes
    if model == "battery_days_left":
        x, truth, homes = held.battery
        error = (
            np.abs(np.clip(_scores(data, DEVICE_NAMES, x), 0, BATTERY_CAP_DAYS) - truth)
            if len(x)
            else np.zeros(0)
        )
        return _mean_metric(error), homes
    x, y, homes = held.failure if model == "device_failure" else held.anomaly
    if model == "device_failure":
        score = _scores(data, DEVICE_NAMES, x)[:, 1] if len(x) else np.zeros(0)
        return _auc(y, score, "pr"), homes
    score = _scores(data, DEVICE_NAMES, x) if len(x) else np.zeros(0)
    return _auc(y, score, "roc"), homes


# --- the gate ------------------------------------------------------------------------


def schema_of(data: bytes) -> str | None:
    """Return a model's feature-schema fingerprint; ModelError if it is no model."""
    return load_model(data, backend="numpy").metadata.get(FEATURE_SCHEMA)


def judge(
    model: str,
    candidate: Mapping[str, bytes],
    deployed: Mapping[str, bytes | None],
    held: HeldOut,
    *,
    seed: int,
) -> Verdict:
    """Return the gate's verdict on `model` (files as GATES lists them)."""
    gate = GATES[model]
    mine = candidate[gate.scored]
    theirs = deployed.get(gate.scored)
    if theirs is None:
        return Verdict(model, True, "no deployed model: HomeIQ uses rules", gate.metric)
    try:
        their_schema = schema_of(theirs)
    except ModelError as error:
        return Verdict(
            model, True, f"the deployed model does not load: {error}", gate.metric
        )
    if their_schema != schema_of(mine):
        return Verdict(
            model,
            True,
            f"the deployed model reads feature schema {their_schema}, not "
            f"{schema_of(mine)}: it cannot score these rows",
            gate.metric,
        )
    return _compare(model, gate, mine, theirs, held, seed=seed)


def _compare(
    model: str, gate: Gate, mine: bytes, theirs: bytes, held: HeldOut, *, seed: int
) -> Verdict:
    new, old, homes = _paired(model, held, mine, theirs)
    everything = np.arange(len(homes))
    sign = 1.0 if gate.higher_is_better else -1.0
    candidate, deployed = new(everything), old(everything)
    verdict = Verdict(
        model,
        False,
        "",
        gate.metric,
        candidate=candidate,
        deployed=deployed,
        rows=len(homes),
        homes=len(np.unique(homes)),
    )
    if not math.isfinite(candidate) or not math.isfinite(deployed):
        promote, why = _undefined(model, candidate, deployed, len(homes))
        return replace(verdict, promote=promote, reason=why)
    delta = sign * (candidate - deployed)
    low, high = bootstrap(lambda r: sign * (new(r) - old(r)), homes, seed=seed)
    half = (high - low) / 2 if math.isfinite(high - low) else 0.0
    tolerance = min(half, gate.cap)
    promote = delta >= -tolerance
    reason = (
        f"{gate.metric} {candidate:.4g} vs deployed {deployed:.4g}: "
        f"{_difference(delta, tolerance, promote)}"
    )
    return replace(
        verdict,
        promote=promote,
        reason=reason,
        delta=delta,
        interval=(low, high),
        tolerance=tolerance,
    )


LATER_DAYS_MODELS = ("device_failure", "battery_days_left")


def later_days_figures(
    candidate: Mapping[str, bytes],
    deployed: Mapping[str, bytes | None],
    held: HeldOut,
) -> dict[str, dict[str, object]]:
    """Return the failure and battery metrics on pulled homes' unseen later days.

    `held` is `HeldOut.later_days` of the homes that always train. The candidate's
    figure, and the deployed model's where it reads the same feature schema; None
    where the metric is undefined (e.g. no failure among the rows). A figure, not a
    gate: one home's later days are too few rows to decide on.
    """
    out: dict[str, dict[str, object]] = {}
    for model in LATER_DAYS_MODELS:
        gate = GATES[model]
        mine, theirs = candidate[gate.scored], deployed.get(gate.scored)
        metric, homes = _metric(model, held, mine)
        everything = np.arange(len(homes))
        figures: dict[str, object] = {
            "metric": gate.metric,
            "rows": len(homes),
            "candidate": _finite_or_none(metric(everything)),
            "deployed": None,
        }
        if model == "device_failure":
            figures["positive_rows"] = int(held.failure[1].sum())
        if theirs is not None and _same_schema(mine, theirs):
            figures["deployed"] = _finite_or_none(
                _metric(model, held, theirs)[0](everything)
            )
        out[model] = figures
    return out


def _same_schema(mine: bytes, theirs: bytes) -> bool:
    """Return whether the deployed model loads and reads the candidate's rows."""
    try:
        return schema_of(theirs) == schema_of(mine)
    except ModelError:
        return False


def _difference(delta: float, tolerance: float, promote: bool) -> str:
    if delta > 0:
        return f"better by {delta:.3g}"
    if delta == 0:
        return "equal"
    where = "within" if promote else "beyond"
    return f"worse by {-delta:.3g}, {where} the tolerance {tolerance:.3g}"


def _undefined(
    model: str, candidate: float, deployed: float, rows: int
) -> tuple[bool, str]:
    """Decide when a metric is undefined (NaN) for one model or both."""
    if math.isfinite(candidate):
        return True, "the deployed model's metric is undefined on the held-out rows"
    if math.isfinite(deployed):
        return False, "the candidate's metric is undefined on the held-out rows"
    if not rows:
        return False, f"no held-out rows for {model}: nothing to judge on"
    return False, (
        f"the held-out rows cannot judge {model} (metric undefined, e.g. one class)"
    )
