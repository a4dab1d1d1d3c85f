"""GET /api/homeiq/models/{name}: the bytes serving as a model, through HA's HTTP."""

import hashlib
from http import HTTPStatus
from pathlib import Path

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.homeiq.core.features import DEVICE_SCHEMA

from .conftest import Home
from .test_model_api import _client, _good, _upload
from .test_models import _failure_model

URL = "/api/homeiq/models/device_failure"


async def test_download_gives_the_shipped_then_the_uploaded_model(  # noqa: PLR0917 - fixtures
    hass: HomeAssistant,
    home: Home,
    config_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    models_dir: Path,
    model_store_dir: Path,
) -> None:
    shipped = _good()
    (models_dir / "device_failure.onnx").write_bytes(shipped)
    client = await _client(hass, hass_client, config_entry)

    response = await client.get(URL)
    assert response.status == HTTPStatus.OK
    assert await response.read() == shipped
    assert response.headers["X-HomeIQ-SHA256"] == hashlib.sha256(shipped).hexdigest()
    assert response.headers["X-HomeIQ-Source"] == "shipped"
    assert response.content_type == "application/octet-stream"

    uploaded = _failure_model(DEVICE_SCHEMA.fingerprint()).replace(
        b"2026-11-30T12:00:00", b"2026-12-01T12:00:00"
    )
    assert (await _upload(client, uploaded))[0] == HTTPStatus.OK
    response = await client.get(URL)
    assert await response.read() == uploaded
    assert response.headers["X-HomeIQ-SHA256"] == hashlib.sha256(uploaded).hexdigest()
    assert response.headers["X-HomeIQ-Source"] == "uploaded"


async def test_download_answers_json_404s_and_refuses_non_admins(
    hass: HomeAssistant,
    home: Home,
    config_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    hass_read_only_access_token: str,
) -> None:
    admin = await _client(hass, hass_client, config_entry)
    reader = await hass_client(hass_read_only_access_token)

    response = await admin.get(URL)  # nothing shipped in this test's models dir
    assert response.status == HTTPStatus.NOT_FOUND
    assert "uses its rules" in (await response.json())["message"]

    response = await admin.get("/api/homeiq/models/weather")
    assert response.status == HTTPStatus.NOT_FOUND
    assert "device_failure" in (await response.json())["message"]

    assert (await reader.get(URL)).status == HTTPStatus.UNAUTHORIZED


async def test_download_answers_503_when_homeiq_is_not_loaded(
    hass: HomeAssistant,
    home: Home,
    config_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    client = await _client(hass, hass_client, config_entry)
    assert await hass.config_entries.async_unload(config_entry.entry_id)

    response = await client.get(URL)
    assert response.status == HTTPStatus.SERVICE_UNAVAILABLE
