"""HomeIQ's state in Home Assistant's storage (`.storage/homeiq`).

One versioned document holds the aggregator (the current day's counters and the
closed daily rollups), the labels users gave (battery replacements, failures) and
the back-fill's progress. It is written at most once per scoring interval and when
Home Assistant stops, so a restart loses at most one interval of telemetry. Both
the snapshot and its JSON are made by the store's writer thread (see
`HomeIQCoordinator.snapshot`).
"""

import base64
from collections.abc import Sequence
from typing import Any, TypedDict, override
import zlib

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store
import numpy as np

from .const import DOMAIN
from .core.rollups import (
    DEVICE_FIELDS,
    HOURS,
    DayRollup,
    RollupError,
    rollups_from_json,
)

STORAGE_KEY = DOMAIN
STORAGE_VERSION = 1
STORAGE_MINOR_VERSION = 3


class Labels(TypedDict):
    """What users told HomeIQ, kept for training (POSIX seconds)."""

    battery_replaced: dict[str, float]  # device id -> when
    failures: list[dict[str, Any]]  # {"device_id", "kind", "time"}


class Backfill(TypedDict):
    """How far the first back-fill from the recorder got."""

    done: bool
    progress: float  # 0-100 %
    events: int


class StoredState(TypedDict):
    """The whole document."""

    telemetry: dict[str, Any] | None
    labels: Labels
    backfill: Backfill
    saved_at: float | None  # POSIX s: from then until the next start, HA was down


def empty_state() -> StoredState:
    """Return the state of a fresh installation."""
    return {
        "telemetry": None,
        "labels": {"battery_replaced": {}, "failures": []},
        "backfill": {"done": False, "progress": 0.0, "events": 0},
        "saved_at": None,
    }


class HomeIQStore(Store[StoredState]):
    """The store, with migrations from earlier layouts."""

    def __init__(self, hass: HomeAssistant) -> None:
        """Open `.storage/homeiq`; JSON is written off the event loop."""
        super().__init__(
            hass,
            STORAGE_VERSION,
            STORAGE_KEY,
            minor_version=STORAGE_MINOR_VERSION,
            atomic_writes=True,
            serialize_in_event_loop=False,
        )

    @override
    async def _async_migrate_func(
        self,
        old_major_version: int,
        old_minor_version: int,
        old_data: dict[str, Any],
    ) -> StoredState:
        """Bring an older document up to date.

        1.1 (HomeIQ 0.1) held the telemetry alone, under "aggregator", and had no
        labels or back-fill record; 1.2 kept the closed days in their JSON form.
        """
        state = empty_state()
        if old_major_version == 1 and old_minor_version < 2:
            state["telemetry"] = old_data.get("aggregator")
            state["backfill"]["done"] = True  # it predates back-fill: never redo it
            return state
        if old_major_version == 1 and old_minor_version == 2:
            # 1.3 packs the closed days; `unpack_telemetry` reads both forms.
            state.update(old_data)  # type: ignore[typeddict-item]
            return state
        raise NotImplementedError(
            f"HomeIQ storage version {old_major_version}.{old_minor_version} "
            "is newer than this HomeIQ"
        )

    async def async_load_state(self) -> StoredState:
        """Return the saved state, or a fresh one."""
        data = await self.async_load()
        if not isinstance(data, dict):
            return empty_state()
        state = empty_state()
        state.update(data)
        # The store keeps what it loaded for later loads; HomeIQ loads once per
        # set-up, and 30 days of telemetry are tens of MB: let them go.
        data["telemetry"] = None
        return state


# --- closed days, packed -------------------------------------------------------------
#
# A closed day's JSON form holds a list of ~100 numbers per device: 30 days of 1,000
# devices are tens of MB of text and hundreds of MB as Python objects when read
# back. Stored packed instead (the header as JSON, the device rows as one
# compressed float64 matrix, the hours as one int64 matrix), a day goes straight
# from its matrices to a `DayRollup` (checked in bulk), never through its JSON form.


def pack_telemetry(
    telemetry: dict[str, Any], history: Sequence[DayRollup] | None = None
) -> dict[str, Any]:
    """Return the aggregator's JSON state with its closed days packed.

    `history`: the closed days as rollups, when `telemetry` was made without them
    (`to_json(history=False)`); otherwise the JSON days in `telemetry` are packed.
    """
    days = rollups_from_json(telemetry["history"]) if history is None else history
    return {**telemetry, "history": [pack_rollup(day) for day in days]}


def pack_rollup(rollup: DayRollup) -> dict[str, Any]:
    """Return one closed day in its packed form."""
    return {
        **rollup.header_json(),
        "packed": {
            "device_ids": list(rollup.device_ids),
            "values": _encode(rollup.values),
            "hours": _encode(rollup.hours.astype(np.int64)),  # layout 1.3's
        },
    }


def unpack_telemetry(telemetry: object) -> object:
    """Return the state with its closed days as rollups, from either form.

    Days in their JSON form (layout 1.2) are left to the core to read. Raises
    `RollupError` for a packed day that cannot be read.
    """
    if not isinstance(telemetry, dict) or not isinstance(
        telemetry.get("history"), list
    ):
        return telemetry  # the core says what is wrong with it
    # Each day's JSON list holds its own copy of every device id: 30 days of 1,000
    # devices would keep 30,000 strings (2.6 MB) where 1,000 do.
    names: dict[str, str] = {}
    return {
        **telemetry,
        "history": [_unpacked(day, names) for day in telemetry["history"]],
    }


def _unpacked(day: object, names: dict[str, str]) -> object:
    if not isinstance(day, dict) or "packed" not in day:
        return day
    packed = day["packed"]
    header = {key: value for key, value in day.items() if key != "packed"}
    try:
        ids = [names.setdefault(name, name) for name in packed["device_ids"]]
        values = _decode(packed["values"], np.float64)
        hours = _decode(packed["hours"], np.int64)
        rows = len(ids)
        return DayRollup.from_arrays(
            header,
            ids,
            values.reshape(rows, -1) if rows else values.reshape(0, len(DEVICE_FIELDS)),
            hours.reshape(rows, -1) if rows else hours.reshape(0, HOURS),
        )
    except (KeyError, TypeError, ValueError, zlib.error) as error:
        if isinstance(error, RollupError):
            raise
        raise RollupError(f"packed rollup: unreadable ({error!r})") from None


def _encode(array: np.ndarray) -> str:
    return base64.b64encode(zlib.compress(array.tobytes(), 1)).decode("ascii")


def _decode(text: str, dtype: type[np.generic]) -> np.ndarray:
    return np.frombuffer(zlib.decompress(base64.b64decode(text)), dtype=dtype)
