"""Constants for the HomeIQ integration."""

from datetime import timedelta
import logging

DOMAIN = "homeiq"
LOGGER = logging.getLogger(__package__)

# How often entities refresh from the in-memory telemetry. Events are counted as
# they arrive; publishing them on every event would flood the recorder.
UPDATE_INTERVAL = timedelta(seconds=30)
