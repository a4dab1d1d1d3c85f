"""The model store and HomeIQ's HTTP API, through HA's real HTTP stack and auth."""

import asyncio
from collections.abc import AsyncIterator
import hashlib
from http import HTTPStatus
import json
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import issue_registry as ir
import numpy as np
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from sklearn.linear_model import LinearRegression

from custom_components.homeiq import model_store
from custom_components.homeiq.const import DOMAIN, MODELS_DIR
from custom_components.homeiq.coordinator import EVENT_MODEL_UPDATED
from custom_components.homeiq.core.features import DEVICE_SCHEMA
from custom_components.homeiq.core.health import ClosedDays
from custom_components.homeiq.diagnostics import async_get_config_entry_diagnostics
from custom_components.homeiq.model_store import MAX_MODEL_BYTES
from homeiq_core.inference import FEATURE_NAMES, FEATURE_SCHEMA
from homeiq_trainer.onnx_export import export_onnx

from .conftest import Home
from .test_models import _failure_model

URL = "/api/homeiq/models/device_failure"
VERSION = "sensor.homeiq_model_version"


def _headers(data: bytes) -> dict[str, str]:
    return {"X-HomeIQ-SHA256": hashlib.sha256(data).hexdigest()}


async def _upload(
    client: TestClient, data: bytes, url: str = URL, **headers: str
) -> tuple[int, dict[str, Any]]:
    response = await client.post(url, data=data, headers=headers or _headers(data))
    return response.status, await response.json()


async def _client(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, entry: MockConfigEntry
) -> TestClient:
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return await hass_client()


def _good() -> bytes:
    return _failure_model(DEVICE_SCHEMA.fingerprint())


def _linear_battery_model() -> bytes:
    """A regressor that answers NaN for rows with missing features."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, len(DEVICE_SCHEMA)))
    model = LinearRegression().fit(x, x[:, 0] + 10)
    return export_onnx(
        model,
        len(DEVICE_SCHEMA),
        metadata={
            FEATURE_NAMES: json.dumps(list(DEVICE_SCHEMA.names)),
            FEATURE_SCHEMA: DEVICE_SCHEMA.fingerprint(),
        },
    )


async def test_a_good_upload_swaps_the_model_and_fires_an_event(
    hass: HomeAssistant,
    home: Home,
    config_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    model_store_dir: Path,
) -> None:
    client = await _client(hass, hass_client, config_entry)
    assert hass.states.get(VERSION).state == "rules"
    events: list[Event] = []
    hass.bus.async_listen(EVENT_MODEL_UPDATED, events.append)
    data = _good()

    status, body = await _upload(client, data)
    await hass.async_block_till_done()

    assert status == HTTPStatus.OK, body
    assert body == {
        "name": "device_failure",
        "version": 1,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    assert hass.states.get(VERSION).state == "model 2026-11-30 12:00"
    assert [e.data for e in events] == [{"name": "device_failure", "version": 1}]
    assert (model_store_dir / "current" / "device_failure.onnx").read_bytes() == data
    index = json.loads((model_store_dir / "index.json").read_text())
    assert index["device_failure"]["current"]["version"] == 1

    response = await client.get("/api/homeiq/status")
    report = await response.json()
    assert response.status == HTTPStatus.OK
    failure = report["models"]["device_failure"]
    assert failure["source"] == "uploaded"
    assert failure["version"] == 1
    assert failure["created"] == "2026-11-30T12:00:00+00:00"
    assert failure["schema"] == DEVICE_SCHEMA.fingerprint()
    assert report["models"]["home_type"] is None
    assert report["devices_monitored"] == 5
    assert report["backfill"]["done"] is True
    assert report["last_scoring"] is not None
    assert report["schemas"]["device_failure"] == DEVICE_SCHEMA.fingerprint()
    assert report["max_model_bytes"] == MAX_MODEL_BYTES


@pytest.mark.parametrize(
    ("data", "headers", "expected", "message"),
    [
        (_good()[:-200], None, HTTPStatus.UNPROCESSABLE_ENTITY, "model refused"),
        (b"not an onnx model", None, HTTPStatus.UNPROCESSABLE_ENTITY, "refused"),
        (
            _failure_model("0123456789abcdef"),
            None,
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "0123456789abcdef",
        ),
        (_good(), {"X-HomeIQ-SHA256": "0" * 64}, HTTPStatus.BAD_REQUEST, "checksum"),
        (_good(), {"X-Other": "1"}, HTTPStatus.BAD_REQUEST, "X-HomeIQ-SHA256"),
        (
            b"\0" * (MAX_MODEL_BYTES + 1),
            None,
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            "larger",
        ),
    ],
    ids=["truncated", "not-onnx", "wrong-schema", "bad-checksum", "no-checksum", "big"],
)
async def test_bad_uploads_are_refused_and_the_model_keeps_serving(  # noqa: PLR0917 - fixtures and a case
    hass: HomeAssistant,
    home: Home,
    config_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    data: bytes,
    headers: dict[str, str] | None,
    expected: HTTPStatus,
    message: str,
) -> None:
    client = await _client(hass, hass_client, config_entry)
    assert (await _upload(client, _good()))[0] == HTTPStatus.OK

    status, body = await _upload(client, data, **(headers or _headers(data)))

    assert status == expected
    assert message in body["message"]
    assert hass.states.get(VERSION).state == "model 2026-11-30 12:00"
    coordinator = config_entry.runtime_data.coordinator
    assert coordinator.model_store.current("device_failure").version == 1
    assert coordinator.models.models.device_failure is not None


async def test_a_model_failing_its_canary_is_refused(
    hass: HomeAssistant,
    home: Home,
    config_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    client = await _client(hass, hass_client, config_entry)

    status, body = await _upload(
        client, _linear_battery_model(), "/api/homeiq/models/battery_days_left_q50"
    )

    assert status == HTTPStatus.UNPROCESSABLE_ENTITY
    assert "canary" in body["message"]
    coordinator = config_entry.runtime_data.coordinator
    assert coordinator.model_store.current("battery_days_left_q50") is None


async def test_non_admins_unknown_names_and_concurrent_uploads_are_refused(
    hass: HomeAssistant,
    home: Home,
    config_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    hass_read_only_access_token: str,
) -> None:
    admin = await _client(hass, hass_client, config_entry)
    reader = await hass_client(hass_read_only_access_token)
    data = _good()

    assert (await reader.post(URL, data=data, headers=_headers(data))).status == (
        HTTPStatus.UNAUTHORIZED
    )
    assert (await reader.get("/api/homeiq/status")).status == HTTPStatus.UNAUTHORIZED
    status, body = await _upload(admin, data, "/api/homeiq/models/weather")
    assert status == HTTPStatus.NOT_FOUND
    assert "device_failure" in body["message"]

    coordinator = config_entry.runtime_data.coordinator
    async with coordinator.model_lock:  # as if another upload were running
        status, body = await _upload(admin, data)
    assert status == HTTPStatus.CONFLICT
    assert "in progress" in body["message"]

    first, second = await asyncio.gather(_upload(admin, data), _upload(admin, data))
    assert sorted([first[0], second[0]]) in (
        [HTTPStatus.OK, HTTPStatus.OK],  # one finished before the other began
        [HTTPStatus.OK, HTTPStatus.CONFLICT],
    )
    assert hass.states.get(VERSION).state == "model 2026-11-30 12:00"


async def test_rollback_restores_the_previous_then_the_shipped_model(
    hass: HomeAssistant,
    home: Home,
    config_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    client = await _client(hass, hass_client, config_entry)
    newer = _failure_model(DEVICE_SCHEMA.fingerprint())
    older = _good()
    # A second version: same model, another creation date.
    newer = newer.replace(b"2026-11-30T12:00:00", b"2026-12-01T12:00:00")
    assert (await _upload(client, older))[0] == HTTPStatus.OK
    status, body = await _upload(client, newer)
    assert (status, body["version"]) == (HTTPStatus.OK, 2)
    assert hass.states.get(VERSION).state == "model 2026-12-01 12:00"

    response = await hass.services.async_call(
        DOMAIN,
        "rollback_model",
        {"name": "device_failure"},
        blocking=True,
        return_response=True,
    )
    assert response == {"name": "device_failure", "version": 1, "source": "uploaded"}
    assert hass.states.get(VERSION).state == "model 2026-11-30 12:00"

    response = await hass.services.async_call(
        DOMAIN,
        "rollback_model",
        {"name": "device_failure"},
        blocking=True,
        return_response=True,
    )
    assert response == {"name": "device_failure", "version": None, "source": "shipped"}
    assert hass.states.get(VERSION).state == "rules"
    with pytest.raises(ServiceValidationError, match="shipped default"):
        await hass.services.async_call(
            DOMAIN, "rollback_model", {"name": "device_failure"}, blocking=True
        )


async def test_the_store_survives_a_reload_and_a_broken_file_rolls_back(
    hass: HomeAssistant,
    home: Home,
    config_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    model_store_dir: Path,
) -> None:
    client = await _client(hass, hass_client, config_entry)
    first = _good()
    second = first.replace(b"2026-11-30T12:00:00", b"2026-12-01T12:00:00")
    assert (await _upload(client, first))[0] == HTTPStatus.OK
    assert (await _upload(client, second))[0] == HTTPStatus.OK

    assert await hass.config_entries.async_reload(config_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get(VERSION).state == "model 2026-12-01 12:00"

    # The current file gets damaged on disk: at the next load it is rolled back.
    (model_store_dir / "current" / "device_failure.onnx").write_bytes(b"garbage")
    assert await hass.config_entries.async_reload(config_entry.entry_id)
    await hass.async_block_till_done()

    assert hass.states.get(VERSION).state == "model 2026-11-30 12:00"
    coordinator = config_entry.runtime_data.coordinator
    assert coordinator.model_store.current("device_failure").version == 1
    issue = ir.async_get(hass).async_get_issue(
        DOMAIN, "model_rolled_back_device_failure"
    )
    assert issue is not None
    assert "failed to load" in issue.translation_placeholders["problem"]

    # The repair outlives a restart: the reason is kept with the store.
    assert await hass.config_entries.async_reload(config_entry.entry_id)
    await hass.async_block_till_done()
    assert ir.async_get(hass).async_get_issue(
        DOMAIN, "model_rolled_back_device_failure"
    )
    assert hass.states.get(VERSION).state == "model 2026-11-30 12:00"

    assert (await _upload(client, second))[0] == HTTPStatus.OK
    await hass.async_block_till_done()
    assert (
        ir.async_get(hass).async_get_issue(DOMAIN, "model_rolled_back_device_failure")
        is None
    )


async def test_a_model_that_fails_at_scoring_time_is_rolled_back(
    hass: HomeAssistant,
    home: Home,
    config_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = await _client(hass, hass_client, config_entry)
    assert (await _upload(client, _good()))[0] == HTTPStatus.OK
    home_type = (MODELS_DIR / "home_type.onnx").read_bytes()
    url = "/api/homeiq/models/home_type"
    assert (await _upload(client, home_type, url))[0] == HTTPStatus.OK
    coordinator = config_entry.runtime_data.coordinator
    model = coordinator.models.models.device_failure
    assert model is not None

    def broken(_x: np.ndarray) -> None:
        raise model_store.ModelError("output 'probabilities' is not finite")

    # The uploaded model object starts failing (as a model could on new data: a
    # closed day more, so the models run again rather than their kept outputs).
    monkeypatch.setattr(model, "predict", broken)
    coordinator.closed_days = ClosedDays()
    await coordinator.async_refresh()
    await hass.async_block_till_done()

    assert coordinator.last_update_success
    # The failing model is rolled back, not the newest upload.
    assert coordinator.model_store.current("device_failure") is None
    assert coordinator.model_store.current("home_type") is not None
    assert coordinator.models.models.device_failure is None
    assert coordinator.data.health.home_type.source == "model"
    assert "failed to score" in coordinator.rolled_back["device_failure"]
    assert set(coordinator.rolled_back) == {"device_failure"}

    # Rolling home_type back by hand raises no repair and keeps the other reason.
    await hass.services.async_call(
        DOMAIN, "rollback_model", {"name": "home_type"}, blocking=True
    )
    assert set(coordinator.rolled_back) == {"device_failure"}
    await hass.async_block_till_done()
    assert (
        ir.async_get(hass).async_get_issue(DOMAIN, "model_rolled_back_home_type")
        is None
    )


async def test_a_corrupt_index_means_nothing_stored(tmp_path: Path) -> None:
    (tmp_path / "index.json").write_text("{not json")
    store = model_store.ModelStore(tmp_path)
    store.load()
    assert store.index == {}


@pytest.mark.parametrize("text", ["{not json", "[1, 2]"])
async def test_an_unreadable_rollback_record_means_no_repair(
    tmp_path: Path, text: str
) -> None:
    (tmp_path / "rolled_back.json").write_text(text)
    store = model_store.ModelStore(tmp_path)
    store.load()
    assert store.rolled_back == {}


def test_metrics_are_reported_as_json() -> None:
    from custom_components.homeiq.views import _json_or_text  # noqa: PLC0415

    assert _json_or_text(json.dumps({"auc": 0.9})) == {"auc": 0.9}
    assert _json_or_text("n/a") == "n/a"
    assert _json_or_text(None) is None


async def test_the_shipped_home_and_anomaly_models_can_be_uploaded(
    hass: HomeAssistant,
    home: Home,
    config_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    client = await _client(hass, hass_client, config_entry)
    uploaded = (
        "home_type",
        "device_anomaly",
        "battery_days_left_q50",
        "battery_days_left_q90",
    )
    for name in uploaded:
        data = (MODELS_DIR / f"{name}.onnx").read_bytes()
        status, body = await _upload(client, data, f"/api/homeiq/models/{name}")
        assert (status, body["version"]) == (HTTPStatus.OK, 1), body
    report = await (await client.get("/api/homeiq/status")).json()
    assert report["files"] == {
        name: {
            "version": 1,
            "sha256": hashlib.sha256(
                (MODELS_DIR / f"{name}.onnx").read_bytes()
            ).hexdigest(),
        }
        for name in uploaded
    }
    for name in ("home_type", "device_anomaly", "battery_days_left"):
        assert report["models"][name]["source"] == "uploaded"
    assert report["models"]["battery_days_left"]["file"] == "battery_days_left_q50"
    assert hass.states.get("sensor.homeiq_home_type").attributes["source"] == "model"


def test_the_canary_runs_on_a_zero_and_a_missing_row_without_devices() -> None:
    data = _good()
    model = model_store.validate("device_failure", data, np.empty((0, 0)))
    assert model.n_features == len(DEVICE_SCHEMA)
    with pytest.raises(model_store.ModelError, match="must give probabilities"):
        model_store.validate(
            "device_failure", _linear_battery_model(), np.ones((2, len(DEVICE_SCHEMA)))
        )


async def test_the_api_answers_503_when_homeiq_is_not_loaded(
    hass: HomeAssistant,
    home: Home,
    config_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    client = await _client(hass, hass_client, config_entry)
    assert await hass.config_entries.async_unload(config_entry.entry_id)

    assert (await _upload(client, _good()))[0] == HTTPStatus.SERVICE_UNAVAILABLE
    response = await client.get("/api/homeiq/status")
    assert response.status == HTTPStatus.SERVICE_UNAVAILABLE


async def test_a_streamed_body_over_the_cap_is_refused_without_a_length(
    hass: HomeAssistant,
    home: Home,
    config_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
) -> None:
    client = await _client(hass, hass_client, config_entry)

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(9):
            yield b"\0" * (1024 * 1024)

    response = await client.post(
        URL, data=chunks(), headers={"X-HomeIQ-SHA256": "a" * 64}
    )
    assert response.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE


async def test_a_shipped_model_failing_at_scoring_time_fails_the_update(
    hass: HomeAssistant,
    home: Home,
    config_entry: MockConfigEntry,
    models_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    (models_dir / "device_failure.onnx").write_bytes(_good())
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    coordinator = config_entry.runtime_data.coordinator

    def broken(_x: np.ndarray) -> None:
        raise model_store.ModelError("broken")

    monkeypatch.setattr(coordinator.models.models.device_failure, "predict", broken)
    coordinator.closed_days = ClosedDays()  # a closed day more: the models run again
    await coordinator.async_refresh()

    assert not coordinator.last_update_success
    assert coordinator.models.models.device_failure is not None


async def test_removing_homeiq_deletes_the_uploads_and_diagnostics_list_them(
    hass: HomeAssistant,
    home: Home,
    config_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    model_store_dir: Path,
) -> None:
    client = await _client(hass, hass_client, config_entry)
    assert (await _upload(client, _good()))[0] == HTTPStatus.OK
    diagnostics = await async_get_config_entry_diagnostics(hass, config_entry)
    assert diagnostics["models"]["uploaded"] == {"device_failure": 1}
    assert diagnostics["models"]["rolled_back"] == {}

    assert await hass.config_entries.async_remove(config_entry.entry_id)
    await hass.async_block_till_done()

    assert not await hass.async_add_executor_job(model_store_dir.exists)
