"""Labels to training rows: one (device, day) row per device and day, with targets.

A home's rollups give one device feature vector per device and day, "as of" the end
of that day (`device_feature_rows`). This module puts targets next to them:

- **failure** (`failure_targets`): 1 when the device fails (any labelled kind) in
  the `horizon` after the row's time, else 0. Rows of a device that has already
  failed are excluded (-1) until its `recovered` time when the label carries one,
  for the rest of the window otherwise: a dead device that keeps reporting (stale
  states, a hub re-sending) must not teach the model that "failed" looks healthy.
  Rows whose horizon reaches past what the labels cover are excluded too
  (censored): an unannotated future is not a "no". A positive row is also marked
  `unseen` when its label says the failure showed nothing yet at the row's time
  (before a labelled onset, or a ground-truth sudden death): it stays a positive
  for evaluation, and the failure model does not fit on it (`fit.trainable`).
- **battery days left** (`battery_targets`): for battery devices, days until the
  next `battery_depletion` failure, capped at `cap_days` (the cap means "at least
  that long"); unknown (NaN) when the device has failed already or the labels end
  before the cap.

Home rows (`home_rows`) are the home features as of several observation lengths
(day 1, 3, 7, 14, 30), so a home watched for a day is trained on as such.
"""

from collections.abc import Sequence
from dataclasses import dataclass
import inspect

import numpy as np

from homeiq_core.aggregator import rollups_from_columns
from homeiq_core.dataset import FAILURE_KINDS, Failure, Inventory, Labels
from homeiq_core.explain import BATTERY_CAP_DAYS
from homeiq_core.features import device_feature_rows, home_feature_rows
from homeiq_core.rollups import DayRollup

DAY = 86400.0
HORIZON_DAYS = 7.0
OBSERVATION_DAYS = (1, 3, 7, 14, 30)
EXCLUDED = -1


@dataclass(frozen=True, slots=True)
class FailureTargets:
    """Failure targets of a home's (day, device) grid.

    `target`: 1 fails within the horizon, 0 does not, -1 excluded; `kind`: index in
    FAILURE_KINDS of the failure that makes a 1 (-1 otherwise); `lead_h`: hours
    from the row's time to that failure (NaN otherwise); `symptoms`: the row lies
    between a failure's onset and its failure time; `unseen`: a positive row whose
    failure, per its label, shows no symptom yet (`unseen_by_label`); `healthy`:
    per device, no failure labelled at all (and the labels are annotated).
    """

    target: np.ndarray  # int8 (days, devices)
    kind: np.ndarray  # int8 (days, devices)
    lead_h: np.ndarray  # float32 (days, devices)
    symptoms: np.ndarray  # bool (days, devices)
    healthy: np.ndarray  # bool (devices,)
    unseen: np.ndarray  # bool (days, devices)


def _recovered(failure: Failure) -> float:
    """Return when the device worked again (inf: it never did, or not labelled)."""
    recovered = getattr(failure, "recovered", None)
    return np.inf if recovered is None else float(recovered)


def unseen_by_label(failure: Failure, times: np.ndarray) -> np.ndarray:
    """Return which row `times` lie where the failure's label says nothing shows yet.

    That is before a labelled onset (onset earlier than the failure time: the
    symptoms' start is known), and always for a ground-truth sudden death (no
    symptoms, by its definition). A label without an onset window (onset equal to
    the failure time, e.g. the core's rules or a user's report) says nothing about
    symptoms: its rows are never unseen.
    """
    t = np.asarray(times, dtype=np.float64)
    if failure.onset < failure.failure_time:
        return t < failure.onset
    asserted = failure.kind == "sudden_death" and (
        getattr(failure, "provenance", "ground_truth") == "ground_truth"
    )
    return np.full(len(t), asserted)


def failure_targets(
    device_ids: Sequence[str],
    failures: Sequence[Failure],
    times: np.ndarray,
    *,
    labels_until: float,
    horizon_days: float = HORIZON_DAYS,
    annotated: bool = True,
) -> FailureTargets:
    """Return the failure targets of rows at `times` (POSIX s) for `device_ids`.

    Row (i, j) is excluded when device j is inside a failure (failed at or before
    times[i], not recovered by then), when times[i] + horizon passes
    `labels_until`, and everywhere when the labels are not `annotated`.
    """
    t = np.asarray(times, dtype=np.float64)[:, None]
    shape = (len(t), len(device_ids))
    target = np.zeros(shape, dtype=np.int8)
    kind = np.full(shape, EXCLUDED, dtype=np.int8)
    lead = np.full(shape, np.nan, dtype=np.float32)
    column = {device_id: j for j, device_id in enumerate(device_ids)}
    horizon = horizon_days * DAY
    failed = np.zeros(shape, dtype=bool)
    symptoms = np.zeros(shape, dtype=bool)
    unseen = np.zeros(shape, dtype=bool)
    healthy = np.full(len(device_ids), annotated)
    # Latest failure first, so the soonest one within the horizon writes last.
    for failure in sorted(failures, key=lambda f: -f.failure_time):
        j = column.get(failure.device_id)
        if j is None:
            continue
        at = failure.failure_time
        healthy[j] = False
        symptoms[:, j] |= (t[:, 0] >= failure.onset) & (t[:, 0] < at)
        failed[:, j] |= (t[:, 0] >= at) & (t[:, 0] < _recovered(failure))
        soon = (t[:, 0] < at) & (at <= t[:, 0] + horizon)
        target[soon, j] = 1
        kind[soon, j] = FAILURE_KINDS.index(failure.kind)
        lead[soon, j] = (at - t[soon, 0]) / 3600.0
        unseen[soon, j] = unseen_by_label(failure, t[soon, 0])
    excluded = failed | (t + horizon > labels_until)
    if not annotated:
        excluded[:] = True
    target[excluded] = EXCLUDED
    kind[excluded] = EXCLUDED
    lead[excluded] = np.nan
    return FailureTargets(
        target, kind, lead, symptoms & ~excluded, healthy, unseen & ~excluded
    )


def battery_targets(
    device_ids: Sequence[str],
    on_battery: np.ndarray,
    failures: Sequence[Failure],
    times: np.ndarray,
    *,
    labels_until: float,
    cap_days: float = BATTERY_CAP_DAYS,
    annotated: bool = True,
) -> np.ndarray:
    """Return days until each battery device's battery is empty, capped; NaN unknown.

    NaN for devices not on battery, for rows inside any failure of the device, for
    rows whose cap reaches past `labels_until` (whether or not the battery dies
    before it), and everywhere when the labels are not `annotated`.
    """
    t = np.asarray(times, dtype=np.float64)
    days = np.full((len(t), len(device_ids)), cap_days, dtype=np.float64)
    column = {device_id: j for j, device_id in enumerate(device_ids)}
    failed = np.zeros(days.shape, dtype=bool)
    for failure in sorted(failures, key=lambda f: -f.failure_time):
        j = column.get(failure.device_id)
        if j is None:
            continue
        at = failure.failure_time
        failed[:, j] |= (t >= at) & (t < _recovered(failure))
        if failure.kind == "battery_depletion":
            ahead = t < at
            days[ahead, j] = np.minimum((at - t[ahead]) / DAY, cap_days)
    # Censor every row whose cap passes the labels' end, dying or not: keeping the
    # rows that die inside the window (and only those) would select rows by their
    # future, and a model evaluated there looks at mostly dying batteries.
    censored = np.broadcast_to(t[:, None] + cap_days * DAY > labels_until, days.shape)
    unknown = failed | censored | ~np.asarray(on_battery, dtype=bool)[None, :]
    if not annotated:
        unknown[:] = True
    days[unknown] = np.nan
    return days.astype(np.float32)


@dataclass(frozen=True, slots=True)
class HomeRows:
    """Everything the models train on from one home, as compact arrays."""

    home_id: str
    home_type: str | None  # the dataset's label (training target)
    true_home_type: str | None  # the truth, when the dataset knows it
    device_ids: tuple[str, ...]
    times: np.ndarray  # float64 (days,): end of each day, POSIX s
    start: float
    end: float
    device_x: np.ndarray  # float32 (days, devices, DEVICE_SCHEMA)
    failure: FailureTargets
    battery_days: np.ndarray  # float32 (days, devices)
    home_x: np.ndarray  # float32 (lengths, HOME_SCHEMA)
    home_days: np.ndarray  # int (lengths,): observed days of each home row
    key: str = ""  # the home across datasets: id and a digest of its entry

    @property
    def identity(self) -> str:
        """Return `key`, or the home id when there is no key."""
        return self.key or self.home_id


def replay(home: object) -> list[DayRollup]:
    """Return a dataset home's daily rollups, with reports and gaps when it has them.

    Works with the dataset format's optional heartbeat reports and recording gaps
    (passed on when both the home and the aggregator know them).
    """
    entry = home.entry  # type: ignore[attr-defined]
    kwargs: dict[str, object] = {"start": entry.start, "end": entry.end}
    accepted = inspect.signature(rollups_from_columns).parameters
    for name in ("reports", "gaps"):
        value = getattr(home, name, None)
        if name in accepted and value is not None:
            kwargs[name] = value
    return rollups_from_columns(home.inventory, home.events, **kwargs)  # type: ignore[attr-defined]


def feature_arrays(
    inventory: Inventory, rollups: Sequence[DayRollup]
) -> dict[str, np.ndarray]:
    """Return a home's feature rows for every day: the part worth caching."""
    return {
        "times": np.array([r.end for r in rollups], dtype=np.float64),
        "device_x": device_feature_rows(inventory, rollups).astype(np.float32),
        "home_all": home_feature_rows(inventory, rollups).astype(np.float32),
    }


def home_rows(
    home_id: str,
    inventory: Inventory,
    labels: Labels | None,
    rollups: Sequence[DayRollup],
    *,
    start: float,
    end: float,
) -> HomeRows:
    """Return the rows and targets of one home from its rollups and labels."""
    return rows_from_arrays(
        home_id,
        inventory,
        labels,
        feature_arrays(inventory, rollups),
        start=start,
        end=end,
    )


def rows_from_arrays(
    home_id: str,
    inventory: Inventory,
    labels: Labels | None,
    arrays: dict[str, np.ndarray],
    *,
    start: float,
    end: float,
    key: str = "",
) -> HomeRows:
    """Return HomeRows from a home's feature arrays (`feature_arrays`) and labels."""
    devices = inventory.devices
    ids = tuple(device.device_id for device in devices)
    times = arrays["times"]
    failures = labels.failures if labels is not None else ()
    annotated = labels is not None and bool(getattr(labels, "annotated", True))
    on_battery = np.array([d.power_source == "battery" for d in devices], dtype=bool)
    lengths = [n for n in OBSERVATION_DAYS if n <= len(times)]
    return HomeRows(
        home_id=home_id,
        home_type=labels.home_type if labels is not None else None,
        true_home_type=labels.true_home_type if labels is not None else None,
        device_ids=ids,
        times=times,
        start=start,
        end=end,
        device_x=arrays["device_x"],
        failure=failure_targets(
            ids, failures, times, labels_until=end, annotated=annotated
        ),
        battery_days=battery_targets(
            ids, on_battery, failures, times, labels_until=end, annotated=annotated
        ),
        home_x=arrays["home_all"][[n - 1 for n in lengths]],
        home_days=np.array(lengths, dtype=np.int64),
        key=key,
    )
