"""HomeIQ's state in Home Assistant's storage (`.storage/homeiq`).

One versioned document holds the aggregator (the current day's counters and the
closed daily rollups), the labels users gave (battery replacements, failures) and
the back-fill's progress. It is written at most once per scoring interval and when
Home Assistant stops, so a restart loses at most one interval of telemetry. Both
the snapshot and its JSON are made by the store's writer thread (see
`HomeIQCoordinator.snapshot`).
"""

from typing import Any, TypedDict, override

from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store

from .const import DOMAIN

STORAGE_KEY = DOMAIN
STORAGE_VERSION = 1
STORAGE_MINOR_VERSION = 2


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
        labels or back-fill record.
        """
        state = empty_state()
        if old_major_version == 1 and old_minor_version < 2:
            state["telemetry"] = old_data.get("aggregator")
            state["backfill"]["done"] = True  # it predates back-fill: never redo it
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
