"""End to end: HomeIQ in a real HA collects, the trainer pulls over HTTP, trains.

HA (phcc's `hass`, its HTTP server on 127.0.0.1) runs HomeIQ on the test home for
a few days of activity; the trainer's own client downloads `GET
/api/homeiq/dataset` (in a thread: the client is synchronous, the server lives on
the test's loop), unpacks it safely, and turns it into device rows.
"""

from datetime import timedelta
from pathlib import Path

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import numpy as np
import pytest
from pytest_homeassistant_custom_component.common import (
    CLIENT_ID,
    MockConfigEntry,
    MockUser,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from homeiq_trainer.dataset import read_dataset
from homeiq_trainer.ha_client import Client, Retry
from homeiq_trainer.models.extract import extract
from homeiq_trainer.pull import pull_dataset

from .conftest import Home

pytestmark = pytest.mark.usefixtures("export_paths")


async def test_the_trainer_pulls_what_homeiq_collected_and_gets_device_rows(
    hass: HomeAssistant,
    *,
    home: Home,
    loaded_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    hass_admin_user: MockUser,
    freezer: FrozenDateTimeFactory,
    tmp_path: Path,
) -> None:
    for hour in range(80):
        freezer.tick(timedelta(hours=1))
        hass.states.async_set("sensor.washer_plug_power", str(hour % 7))
        hass.states.async_set("binary_sensor.kitchen_motion_motion", "on")
        hass.states.async_set("binary_sensor.kitchen_motion_motion", "off")
        hass.states.async_set("sensor.kitchen_motion_battery", str(90 - hour / 8))
    await loaded_entry.runtime_data.coordinator.async_refresh()
    refresh = await hass.auth.async_create_refresh_token(hass_admin_user, CLIENT_ID)
    token = hass.auth.async_create_access_token(refresh)
    server = await hass_client(token)
    client = Client(
        str(server.make_url("")).rstrip("/"),
        token,
        Retry(attempts=2, first_delay=0.1, max_total=10.0, timeout=30.0),
    )

    out = await hass.async_add_executor_job(
        lambda: pull_dataset(client, tmp_path / "pulled", pseudonymize=True)
    )

    dataset = read_dataset(out)
    assert dataset.manifest.options["pseudonymized"] is True
    (rows,) = await hass.async_add_executor_job(lambda: extract([out], progress=False))
    days = len(loaded_entry.runtime_data.collector.aggregator.history)
    assert days >= 3
    assert rows.device_x.shape[:2] == (days, 5)
    assert all(device_id.startswith("dev_") for device_id in rows.device_ids)
    assert rows.home_type is None  # the user did not say
    assert np.isfinite(rows.device_x).any(axis=(0, 2)).all()  # every device
