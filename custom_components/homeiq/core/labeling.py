"""Failure labels for collected data, by a rule that only ever looks forward.

Homes collected by the integration or converted from a recorder carry no ground
truth. This rule turns their rollups (and what the user reported) into `Failure`
labels, so the failure model can be trained and checked on them. It is applied to
the whole history once; a label's time is always the start of the day whose data
(and the following day's) made it, so the label of a row at time t is decided by
data from after t only. It never reads features, and no data from before a day
changes that day's labels (`tests/core/test_labeling.py` shows both).

The rule, per device and local day d (whole days, recording gaps excluded):

- `rule:silent_48h` (kind `sudden_death`): the device sent nothing on day d nor
  on day d + 1 (at least 48 h of silence) while other devices of the home did send
  on both days, and both days were watched whole. It recovers on the next day it
  sends anything. Caveat: event-driven sensors without a visible heartbeat (a
  cupboard contact) can be silent that long and healthy; these labels are noisy.
- `rule:battery_5pct` (kind `battery_depletion`): the device's lowest battery
  reading on day d is at most 5 %. It recovers on the first later day whose lowest
  reading is above 50 % (a new battery).
- the user's own reports (provenance `user`, e.g. through the integration's
  "report a failure" or "battery replaced" services) are kept as they are.
"""

from collections.abc import Sequence
from dataclasses import fields

import numpy as np

from .dataset import Failure
from .rollups import FIELD_INDEX, DayRollup

SILENT_DAYS = 2  # consecutive silent whole days: at least 48 h
LOW_BATTERY_PCT = 5.0
NEW_BATTERY_PCT = 50.0
WHOLE_DAY = 0.99  # share of a day that must have been watched


def _failure(
    device_id: str, kind: str, time: float, recovered: float | None, rule: str
) -> Failure:
    """Return a Failure, with recovery and provenance when the format has them."""
    names = {field.name for field in fields(Failure)}
    extra: dict[str, object] = {}
    if "recovered" in names:
        extra["recovered"] = recovered
    if "provenance" in names:
        extra["provenance"] = rule
    return Failure(device_id, kind, time, time, **extra)  # type: ignore[arg-type]


def _grid(
    rollups: Sequence[DayRollup], device_ids: Sequence[str], name: str
) -> np.ndarray:
    """Return field `name` as a (days, devices) array in `device_ids` order."""
    out = np.full((len(rollups), len(device_ids)), np.nan)
    for i, rollup in enumerate(rollups):
        index = {d: k for k, d in enumerate(rollup.device_ids)}
        columns = [index.get(d, -1) for d in device_ids]
        present = np.array([c >= 0 for c in columns], dtype=bool)
        picked = rollup.values[np.maximum(columns, 0), FIELD_INDEX[name]]
        out[i] = np.where(present, picked, np.nan)
    return out


def rule_failures(
    rollups: Sequence[DayRollup],
    device_ids: Sequence[str],
    *,
    user: Sequence[Failure] = (),
) -> tuple[Failure, ...]:
    """Return the rule's failure labels over `rollups`, plus the user's reports.

    Each label's `failure_time` (= `onset`) is the start of the day that fired it.
    """
    if not rollups:
        return tuple(user)
    starts = np.array([r.start for r in rollups])
    whole = np.array([r.observed_s >= WHOLE_DAY * (r.end - r.start) for r in rollups])
    events = np.nan_to_num(_grid(rollups, device_ids, "events"))
    battery = _grid(rollups, device_ids, "battery_min")
    labels = [*_silences(starts, whole, events, device_ids)]
    labels += _low_batteries(starts, battery, device_ids)
    labels += user
    return tuple(sorted(labels, key=lambda f: (f.failure_time, f.device_id)))


def _silences(
    starts: np.ndarray, whole: np.ndarray, events: np.ndarray, ids: Sequence[str]
) -> list[Failure]:
    sent = events > 0
    others = (sent.sum(axis=1, keepdims=True) - sent) > 0
    silent_day = ~sent & others & whole[:, None]
    out = []
    for j, device_id in enumerate(ids):
        day = 0
        while day + SILENT_DAYS <= len(starts):
            if not silent_day[day : day + SILENT_DAYS, j].all():
                day += 1
                continue
            back = np.flatnonzero(sent[day:, j])
            recovered = float(starts[day + back[0]]) if len(back) else None
            out.append(
                _failure(
                    device_id, "sudden_death", starts[day], recovered, "rule:silent_48h"
                )
            )
            if recovered is None:
                break
            day += int(back[0])
    return out


def _low_batteries(
    starts: np.ndarray, battery: np.ndarray, ids: Sequence[str]
) -> list[Failure]:
    out = []
    for j, device_id in enumerate(ids):
        day = 0
        levels = battery[:, j]
        while day < len(starts):
            low = np.flatnonzero(levels[day:] <= LOW_BATTERY_PCT)
            if not len(low):
                break
            day += int(low[0])
            fresh = np.flatnonzero(levels[day:] > NEW_BATTERY_PCT)
            recovered = float(starts[day + fresh[0]]) if len(fresh) else None
            out.append(
                _failure(
                    device_id,
                    "battery_depletion",
                    starts[day],
                    recovered,
                    "rule:battery_5pct",
                )
            )
            if recovered is None:
                break
            day += int(fresh[0])
    return out


__all__ = ["LOW_BATTERY_PCT", "SILENT_DAYS", "rule_failures"]
