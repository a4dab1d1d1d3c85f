"""Reasons for a prediction, in plain words: occlusion against healthy references.

A model's metadata carries `homeiq.reference`: for each feature, a value typical of
a healthy device (or home), e.g. the median over healthy training rows. To explain a
row, each feature whose value differs from its reference is replaced by it, one at a
time, and the row is re-scored; the drop in risk is the feature's weight. The
features with the largest positive drops are the reasons, each rendered from a
template for its feature ("silent for 31 h, usually reports every 50 min"). Nothing
but the model and numpy is needed: no scikit-learn, no SHAP, so the integration and
the trainer explain predictions the same way.

What "risk" means depends on the model: the probability of the positive (last)
class for a binary classifier, of the predicted class for a multi-class one, the
anomaly for an outlier detector (minus its decision score) and, for a regressor of
days left, fewer days (minus the value).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
import json
import math

import numpy as np

from .dataset import PROTOCOLS
from .features import DEVICE_SCHEMA, HOME_SCHEMA
from .inference import REFERENCE, Model, ModelError

# Rows x features re-scored per model call: bounds the occlusion batch's memory.
_BATCH_ROWS = 4096


@dataclass(frozen=True, slots=True)
class Reason:
    """One reason: the feature, the risk it adds over its healthy value, the words."""

    feature: str
    weight: float
    text: str


def reference(model: Model) -> np.ndarray:
    """Return the model's healthy reference values (NaN where missing).

    Raises ModelError when the metadata has none or they do not fit the model.
    """
    raw = model.metadata.get(REFERENCE)
    if raw is None:
        raise ModelError(f"model has no {REFERENCE} metadata to explain with")
    try:
        values = json.loads(raw)
    except ValueError as error:
        raise ModelError(f"{REFERENCE} is not valid JSON") from error
    if not isinstance(values, list) or not all(
        value is None or (type(value) in {int, float}) for value in values
    ):
        raise ModelError(f"{REFERENCE} must be a JSON list of numbers or nulls")
    if len(values) != model.n_features:
        raise ModelError(
            f"{REFERENCE} has {len(values)} values, the model {model.n_features} "
            "features"
        )
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def risk(model: Model, rows: np.ndarray, *, target: int | None = None) -> np.ndarray:
    """Return one risk per row: higher is worse (see the module docstring).

    For a classifier, `target` picks the class column; by default the last column
    of a binary classifier, and each row's own most likely class otherwise.
    """
    prediction = model.predict(rows)
    if prediction.probabilities is not None:
        p = np.asarray(prediction.probabilities, dtype=np.float64)
        column: np.ndarray
        if target is not None:
            column = p[:, target]
        elif p.shape[1] == 2:
            column = p[:, 1]
        else:
            column = p.max(axis=1)
        return column
    if prediction.scores is not None:
        return -np.asarray(prediction.scores, dtype=np.float64)
    values = np.asarray(prediction.values, dtype=np.float64)
    return -(values if values.ndim == 1 else values[:, 0])


def explain(model: Model, rows: np.ndarray, *, top: int = 3) -> list[list[Reason]]:
    """Return the `top` reasons for each row's risk, largest weight first.

    Only features whose replacement by the healthy reference lowers the risk are
    reasons; a row that already looks healthy gets an empty list.
    """
    x = np.asarray(rows, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != model.n_features:
        raise ModelError(
            f"explain needs rows of {model.n_features} features, not {x.shape}"
        )
    names = model.feature_names or tuple(f"feature_{i}" for i in range(x.shape[1]))
    weights = occlusion_weights(model, x)
    reasons = []
    for row, row_weights in zip(x, weights, strict=True):
        order = np.argsort(-row_weights, kind="stable")[:top]
        reasons.append(
            [
                Reason(names[j], float(row_weights[j]), describe(names[j], row, names))
                for j in order
                if row_weights[j] > 0
            ]
        )
    return reasons


def occlusion_weights(model: Model, x: np.ndarray) -> np.ndarray:
    """Return (rows, features): the risk drop when each feature takes its reference.

    Features already at their reference (or both missing) weigh 0 without a call.
    Each row is scored for the class it is explained by, so a multi-class model's
    weights stay on that row's predicted class.
    """
    ref = reference(model)
    base_prediction = model.predict(x)
    targets = _targets(base_prediction.probabilities)
    base = _risk_of(model, x, targets)
    differs = ~((x == ref) | (np.isnan(x) & np.isnan(ref)))
    row_index, feature_index = np.nonzero(differs)
    weights = np.zeros(x.shape)
    for start in range(0, len(row_index), _BATCH_ROWS):
        rows = row_index[start : start + _BATCH_ROWS]
        features = feature_index[start : start + _BATCH_ROWS]
        occluded = x[rows].copy()
        occluded[np.arange(len(rows)), features] = ref[features]
        scored = _risk_of(model, occluded, None if targets is None else targets[rows])
        weights[rows, features] = base[rows] - scored
    return weights


def _targets(probabilities: np.ndarray | None) -> np.ndarray | None:
    """Return each row's explained class column (None: not a classifier)."""
    if probabilities is None:
        return None
    p = np.asarray(probabilities)
    if p.shape[1] == 2:
        return np.ones(len(p), dtype=np.int64)
    targets: np.ndarray = np.argmax(p, axis=1)
    return targets


def _risk_of(model: Model, x: np.ndarray, targets: np.ndarray | None) -> np.ndarray:
    """Return the risk of each row, for its own target class when given."""
    if targets is None:
        return risk(model, x)
    p = np.asarray(model.predict(x).probabilities, dtype=np.float64)
    chosen: np.ndarray = p[np.arange(len(p)), targets]
    return chosen


# --- battery forecasts --------------------------------------------------------------

BATTERY_CAP_DAYS = 14.0  # the battery models predict days left up to this cap
NO_FORECAST_REASONS = {
    1: "no battery reading in the last 14 days",
    2: "battery still on its plateau: more than 14 days left",
}


def battery_forecast(
    quantiles: np.ndarray, battery_last: np.ndarray, *, cap: float = BATTERY_CAP_DAYS
) -> tuple[np.ndarray, np.ndarray]:
    """Apply the "no forecast" rule to the battery models' q10/q50/q90 outputs.

    Returns (rows x 3 days, NaN where no forecast) and a reason code per row: 0
    forecast given; 1 no battery reading in the last 14 days (`battery_last` NaN);
    2 the median is within a day of the cap: the level is still on its plateau
    and the data say only "more than `cap` days". Quantiles are sorted (they may
    cross) and clipped to [0, cap]. `NO_FORECAST_REASONS` has the texts.
    """
    q = np.clip(np.sort(np.asarray(quantiles, dtype=np.float64), axis=1), 0.0, cap)
    reason = np.zeros(len(q), dtype=np.int8)
    reason[q[:, 1] >= cap - 1.0] = 2
    reason[np.isnan(np.asarray(battery_last, dtype=np.float64))] = 1
    return np.where(reason[:, None] == 0, q, np.nan), reason


# --- templates -----------------------------------------------------------------------


def duration(seconds: float) -> str:
    """Return a duration in the unit a person would use: 40 s, 50 min, 31 h, 3 days."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h"
    days = seconds / 86400
    return f"{days:.1f} days" if days < 10 else f"{days:.0f} days"


def _number(value: float) -> str:
    """Return a number with as many digits as it deserves."""
    if value == 0 or abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}".removesuffix(".0")
    return f"{value:.2g}"


def _percent(fraction: float) -> str:
    return f"{100 * fraction:.0f} %"


class _Row:
    """A row's values by feature name (NaN for names the row does not have)."""

    def __init__(self, row: np.ndarray, names: Sequence[str]) -> None:
        self._values = dict(zip(names, np.asarray(row, dtype=np.float64), strict=True))

    def __getitem__(self, name: str) -> float:
        return float(self._values.get(name, math.nan))


type Template = Callable[[_Row, str], str]


def _silence(r: _Row, name: str) -> str:
    text = f"silent for {duration(r['silence_h'] * 3600)}"
    usual = r["interval_mean_7d"]
    if math.isfinite(usual) and usual > 0:
        text += f", usually reports every {duration(usual)}"
    return text


def _per_day(what: str, window: str) -> Template:
    def render(r: _Row, name: str) -> str:
        value = r[name]
        if window == "day":
            return f"{what} {_number(value)} times on the day"
        return f"{what} {_number(value * 7)} times in 7 days"

    return render


def _battery_trend(r: _Row, name: str) -> str:
    slope = r[name] * 7
    span = "7" if name.endswith("7d") else "14"
    if slope < 0:
        return f"battery falling {_number(-slope)} % a week (over {span} days)"
    return f"battery steady over {span} days"


def _link_trend(r: _Row, name: str) -> str:
    what = "link quality" if name.startswith("lqi") else "signal strength"
    slope = r[name]
    direction = "falling" if slope < 0 else "rising"
    return f"{what} {direction} {_number(abs(slope))} a day over 14 days"


def _flag(on: str, off: str) -> Template:
    def render(r: _Row, name: str) -> str:
        return on if r[name] >= 0.5 else off

    return render


def _protocol(r: _Row, name: str) -> str:
    code = r[name]
    if 0 <= code < len(PROTOCOLS) and code == int(code):
        return f"uses {PROTOCOLS[int(code)]}"
    return "protocol unknown"


def _fmt(pattern: str, scale: float = 1.0) -> Template:
    """Return a template formatting the feature (times `scale`) into `pattern`."""

    def render(r: _Row, name: str) -> str:
        return pattern.format(_number(r[name] * scale))

    return render


def _frac(pattern: str) -> Template:
    def render(r: _Row, name: str) -> str:
        return pattern.format(_percent(r[name]))

    return render


def _gap(pattern: str) -> Template:
    def render(r: _Row, name: str) -> str:
        return pattern.format(duration(r[name]))

    return render


# Feature name -> template(row, name). Features without one get the generic text.
TEMPLATES: dict[str, Template] = {
    "battery_powered": _flag("runs on battery", "not on battery"),
    "mains_powered": _flag("mains powered", "not mains powered"),
    "protocol": _protocol,
    "silence_h": _silence,
    "age_days": _fmt("first seen {} days ago"),
    "observed_days_14d": _fmt("watched {} of the last 14 days"),
    "reports_1d": _fmt("{} reports on the day"),
    "reports_7d": _fmt("{} reports a day over 7 days"),
    "reports_ratio_1d_7d": _frac("reported {} of its usual rate on the day"),
    "interval_mean_7d": _gap("reports every {} on average"),
    "interval_cv_7d": _fmt("irregular reports (variation {})"),
    "interval_max_1d": _gap("longest gap between reports {} on the day"),
    "interval_max_7d": _gap("longest gap between reports {} in 7 days"),
    "interval_max_ratio_1d": _fmt("longest gap on the day {}x its usual interval"),
    "unavailable_1d": _per_day("went unavailable", "day"),
    "unavailable_7d": _per_day("went unavailable", "week"),
    "unavailable_trend": _fmt("{} more drops to unavailable a day than a week before"),
    "unavailable_frac_1d": _frac("unavailable {} of the day"),
    "unavailable_frac_7d": _frac("unavailable {} of the time over 7 days"),
    "unknown_7d": _per_day("went unknown", "week"),
    "unknown_frac_7d": _frac("unknown {} of the time over 7 days"),
    "unavailable_at_end": _frac("{} of its entities unavailable at the day's end"),
    "changes_1d": _fmt("{} state changes on the day"),
    "changes_7d": _fmt("{} state changes a day over 7 days"),
    "changes_ratio_1d_7d": _frac("changed {} as often as usual on the day"),
    "night_changes_frac_7d": _frac("{} of its changes at night (00-06 h)"),
    "hour_profile_shift_1d": _frac("daily rhythm {} different from the week before"),
    "flaps_1d": _per_day("flipped back within 30 s", "day"),
    "flaps_7d": _per_day("flipped back within 30 s", "week"),
    "flap_frac_7d": _frac("{} of its changes flipped back within 30 s"),
    "frozen_max_1d": _fmt("value stuck for {} h on the day while reporting"),
    "frozen_max_7d": _fmt("value stuck for {} h in 7 days while reporting"),
    "repeat_frac_1d": _frac("{} of readings repeated the last value on the day"),
    "repeat_frac_7d": _frac("{} of readings repeated the last value over 7 days"),
    "non_numeric_frac_7d": _frac("{} of readings were not numbers"),
    "value_z_1d": _fmt("readings {} standard deviations off the week before"),
    "value_std_ratio_1d_7d": _fmt("readings {}x as variable as over the week"),
    "battery_last": _fmt("battery at {} %"),
    "battery_min_7d": _fmt("battery down to {} % in 7 days"),
    "battery_slope_7d": _battery_trend,
    "battery_slope_14d": _battery_trend,
    "battery_days_left": _fmt("battery empty in about {} days at its 14-day trend"),
    "battery_reports_7d": _fmt("{} battery readings a day"),
    "lqi_mean_1d": _fmt("link quality {} of 255 on the day"),
    "lqi_mean_7d": _fmt("link quality {} of 255 over 7 days"),
    "lqi_min_1d": _fmt("link quality down to {} of 255 on the day"),
    "lqi_slope_14d": _link_trend,
    "rssi_mean_1d": _fmt("signal strength {} dBm on the day"),
    "rssi_mean_7d": _fmt("signal strength {} dBm over 7 days"),
    "rssi_min_1d": _fmt("signal strength down to {} dBm on the day"),
    "rssi_slope_14d": _link_trend,
    "power_mean_1d": _fmt("drew {} W on average on the day"),
    "energy_7d": _fmt("used {} kWh a day over 7 days"),
    # Device schema 3: against the device's own days 8-28 back.
    "lqi_drop_1d": _frac("link quality {} below its own usual on the day"),
    "lqi_drop_7d": _frac("link quality {} below its own usual over 7 days"),
    "rssi_drop_1d": _fmt("signal {} dB weaker than its own usual on the day"),
    "rssi_drop_7d": _fmt("signal {} dB weaker than its own usual over 7 days"),
    "reports_ratio_1d_base": _frac("reported {} of its own usual rate on the day"),
    "reports_ratio_7d_base": _frac("reported {} of its own usual rate over 7 days"),
    "long_gaps_1d": _fmt("{} gaps longer than it used to leave, on the day"),
    "long_gaps_7d": _fmt("{} gaps a day longer than it used to leave, over 7 days"),
    "long_gap_frac_7d": _frac("{} of its gaps longer than it used to leave"),
    "gap_max_ratio_1d": _fmt("longest gap on the day {}x its own long gaps"),
    "unavailable_excess_7d": _fmt("{} more drops to unavailable a day than it used to"),
    "binary_flaps_ratio_7d_base": _fmt("flips back {}x as often as it used to"),
    "changes_ratio_7d_base": _frac("changed {} as often as it used to"),
    "frozen_ratio_1d": _fmt("held a value {}x as long as it ever used to"),
    "frozen_ratio_7d": _fmt("held a value {}x as long as it ever used to"),
    "battery_fall_7d": _fmt("battery fell {} points in 7 days"),
    "battery_fall_28d": _fmt("battery fell {} points in 4 weeks"),
    "battery_days_left_7d": _fmt("battery empty in about {} days at its 7-day fall"),
}

# Texts for a missing value where "missing" itself says something.
MISSING_TEXTS: dict[str, str] = {
    "silence_h": "never reported",
    "battery_last": "no battery reading in 14 days",
    "battery_slope_14d": "no battery trend: too few readings",
    "battery_days_left": "no battery forecast: too few readings",
    "lqi_mean_1d": "no link quality reported on the day",
    "rssi_mean_1d": "no signal strength reported on the day",
    "interval_mean_7d": "no regular reports in 7 days",
}

_SPECS = {
    spec.name: spec
    for schema in (DEVICE_SCHEMA, HOME_SCHEMA)
    for spec in schema.features
}


def describe(feature: str, row: np.ndarray, names: Sequence[str]) -> str:
    """Return the plain-English text of `feature`'s value in `row` (named `names`).

    Known features have a template; any other feature, including ones added to a
    schema after this module, gets a generic "description: value unit" text.
    """
    if len(row) != len(names):
        raise ValueError(f"{len(names)} names for a row of {len(row)} values")
    values = _Row(row, names)
    value = values[feature]
    if math.isnan(value):
        return MISSING_TEXTS.get(feature, f"{_label(feature)}: not known")
    template = TEMPLATES.get(feature)
    if template is not None:
        return template(values, feature)
    return _generic(feature, value)


def _label(feature: str) -> str:
    spec = _SPECS.get(feature)
    return spec.description if spec is not None else feature.replace("_", " ")


def _generic(feature: str, value: float) -> str:
    spec = _SPECS.get(feature)
    unit = spec.unit if spec is not None else ""
    if unit == "fraction":
        return f"{_label(feature)}: {_percent(value)}"
    if unit in {"", "count", "code", "flag", "ratio", "entity unit"}:
        return f"{_label(feature)}: {_number(value)}"
    return f"{_label(feature)}: {_number(value)} {unit}"


__all__ = [
    "BATTERY_CAP_DAYS",
    "MISSING_TEXTS",
    "NO_FORECAST_REASONS",
    "TEMPLATES",
    "Reason",
    "battery_forecast",
    "describe",
    "explain",
    "reference",
]
