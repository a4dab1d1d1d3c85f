"""Constants for the HomeIQ integration."""

from datetime import timedelta
import logging
from pathlib import Path
from typing import Final

from .core.features import LONG_WINDOW_DAYS

DOMAIN: Final = "homeiq"
LOGGER = logging.getLogger(__package__)

# Options (config entry options; every one has a default below).
CONF_INCLUDE_INTEGRATIONS: Final = "include_integrations"
CONF_EXCLUDE_INTEGRATIONS: Final = "exclude_integrations"
CONF_INCLUDE_AREAS: Final = "include_areas"
CONF_EXCLUDE_AREAS: Final = "exclude_areas"
CONF_INCLUDE_LABELS: Final = "include_labels"
CONF_EXCLUDE_LABELS: Final = "exclude_labels"
CONF_INCLUDE_DEVICES: Final = "include_devices"
CONF_EXCLUDE_DEVICES: Final = "exclude_devices"
CONF_SCAN_MINUTES: Final = "scoring_interval"
CONF_BACKFILL_DAYS: Final = "backfill_days"
CONF_RETENTION_DAYS: Final = "retention_days"
CONF_HOME_TYPE: Final = "home_type"

SELECTION_KEYS: Final = (
    CONF_INCLUDE_INTEGRATIONS,
    CONF_EXCLUDE_INTEGRATIONS,
    CONF_INCLUDE_AREAS,
    CONF_EXCLUDE_AREAS,
    CONF_INCLUDE_LABELS,
    CONF_EXCLUDE_LABELS,
    CONF_INCLUDE_DEVICES,
    CONF_EXCLUDE_DEVICES,
)

DEFAULT_SCAN_MINUTES: Final = 5
DEFAULT_BACKFILL_DAYS: Final = 14
DEFAULT_RETENTION_DAYS: Final = max(28, LONG_WINDOW_DAYS)
# The features read up to LONG_WINDOW_DAYS back (a device's own reporting rhythm).
MIN_RETENTION_DAYS: Final = LONG_WINDOW_DAYS
MAX_RETENTION_DAYS: Final = 365
MAX_BACKFILL_DAYS: Final = 60

# Registry changes come in bursts (an integration adding 30 entities at start-up):
# the inventory is rebuilt once the burst has settled.
REBUILD_DELAY: Final = timedelta(seconds=2)

# The shipped models; files that are absent leave the rule-based fallback in charge.
MODELS_DIR: Final = Path(__file__).parent / "models"

# Labels HomeIQ stores for training (in HA's label registry).
LABEL_BATTERY_REPLACED: Final = "homeiq_battery_replaced"
LABEL_FAILED: Final = "homeiq_failed"
LABEL_HOME_TYPE_PREFIX: Final = "homeiq_home_type_"

# A repair is raised for a device predicted to fail with at least this risk.
REPAIR_RISK: Final = 0.8

SERVICE_SCORE_NOW: Final = "score_now"
SERVICE_BATTERY_REPLACED: Final = "mark_battery_replaced"
SERVICE_REPORT_FAILURE: Final = "report_device_failure"
SERVICE_ROLLBACK_MODEL: Final = "rollback_model"
SERVICE_EXPORT_DATASET: Final = "export_dataset"
