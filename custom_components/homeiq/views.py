"""HomeIQ's HTTP API for the trainer: upload or download a model, status, export.

All need an admin user's token (HA's own auth). Errors are JSON objects with a
message and the fitting status code; bodies are read in chunks up to a size cap,
and every file or model operation runs in the executor.
"""

from datetime import UTC, datetime
import hashlib
from http import HTTPStatus
import json
import re
import time
from typing import Any

from aiohttp import web
from homeassistant.components.http.decorators import require_admin
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.http import KEY_HASS, HomeAssistantView

from .const import DOMAIN
from .coordinator import HomeIQConfigEntry, HomeIQCoordinator
from .core.inference import CREATED, FEATURE_SCHEMA, METRICS, Model, ModelError
from .export import ExportError, archive_name, async_export_stream
from .model_store import MAX_MODEL_BYTES, NAMES
from .models_loader import SCHEMAS, stems

SHA256_HEADER = "X-HomeIQ-SHA256"
SOURCE_HEADER = "X-HomeIQ-Source"
CHUNK_BYTES = 64 * 1024
EXPORT_CHUNK_BYTES = 1 << 20
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")


@callback
def async_register_views(hass: HomeAssistant) -> None:
    """Register the API's views."""
    hass.http.register_view(ModelUploadView())
    hass.http.register_view(ModelDownloadView())
    hass.http.register_view(StatusView())
    hass.http.register_view(DatasetView())


def _loaded_entry(hass: HomeAssistant) -> HomeIQConfigEntry | None:
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry.state is ConfigEntryState.LOADED:
            loaded: HomeIQConfigEntry = entry
            return loaded
    return None


def _coordinator(hass: HomeAssistant) -> HomeIQCoordinator | None:
    entry = _loaded_entry(hass)
    return None if entry is None else entry.runtime_data.coordinator


def _unknown_model(view: HomeAssistantView, name: str) -> web.Response:
    known = ", ".join(NAMES)
    return view.json_message(
        f"unknown model '{name}'; known: {known}", HTTPStatus.NOT_FOUND
    )


class ModelUploadView(HomeAssistantView):
    """POST /api/homeiq/models/{name}: the ONNX bytes of a new model."""

    url = "/api/homeiq/models/{name}"
    name = "api:homeiq:models"
    requires_auth = True

    @require_admin
    async def post(self, request: web.Request, name: str) -> web.Response:
        """Validate the uploaded model and make it the current one."""
        if name not in NAMES:
            return _unknown_model(self, name)
        expected = request.headers.get(SHA256_HEADER, "").strip().lower()
        if not _HEX_DIGEST.fullmatch(expected):
            return self.json_message(
                f"header {SHA256_HEADER} must be the body's SHA-256 in hex",
                HTTPStatus.BAD_REQUEST,
            )
        coordinator = _coordinator(request.app[KEY_HASS])
        if coordinator is None:
            return self.json_message(
                "HomeIQ is not loaded", HTTPStatus.SERVICE_UNAVAILABLE
            )
        if coordinator.model_lock.locked():
            return self.json_message(
                "another model upload is in progress", HTTPStatus.CONFLICT
            )
        async with coordinator.model_lock:
            return await self._install(request, coordinator, name, expected)

    async def _install(
        self,
        request: web.Request,
        coordinator: HomeIQCoordinator,
        name: str,
        expected: str,
    ) -> web.Response:
        data = await _read_capped(request)
        if data is None:
            return self.json_message(
                f"model larger than {MAX_MODEL_BYTES:,} bytes",
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            )
        digest = hashlib.sha256(data).hexdigest()
        if digest != expected:
            return self.json_message(
                f"checksum mismatch: body has SHA-256 {digest}", HTTPStatus.BAD_REQUEST
            )
        try:
            version = await coordinator.async_install_model(name, data)
        except ModelError as error:
            return self.json_message(
                f"model refused: {error}", HTTPStatus.UNPROCESSABLE_ENTITY
            )
        return self.json({"name": name, "version": version, "sha256": digest})


class ModelDownloadView(HomeAssistantView):
    """GET /api/homeiq/models/{name}: the ONNX bytes serving as model file `name`.

    The uploaded current version when the store has one, else the shipped file; the
    trainer scores it beside a new candidate on the same held-out rows.
    """

    url = "/api/homeiq/models/{name}"
    name = "api:homeiq:models:download"
    requires_auth = True

    @require_admin
    async def get(self, request: web.Request, name: str) -> web.Response:
        """Return the model's bytes with their SHA-256, or a JSON 404."""
        if name not in NAMES:
            return _unknown_model(self, name)
        coordinator = _coordinator(request.app[KEY_HASS])
        if coordinator is None:
            return self.json_message(
                "HomeIQ is not loaded", HTTPStatus.SERVICE_UNAVAILABLE
            )
        hass = request.app[KEY_HASS]
        found = await hass.async_add_executor_job(_serving_file, coordinator, name)
        if found is None:
            return self.json_message(
                f"no model '{name}' stored or shipped: HomeIQ uses its rules",
                HTTPStatus.NOT_FOUND,
            )
        data, source = found
        return web.Response(
            body=data,
            content_type="application/octet-stream",
            headers={
                SHA256_HEADER: hashlib.sha256(data).hexdigest(),
                SOURCE_HEADER: source,
            },
        )


def _serving_file(
    coordinator: HomeIQCoordinator, name: str
) -> tuple[bytes, str] | None:
    """Return the bytes of model file `name` and "uploaded" or "shipped", if any."""
    candidates = [(coordinator.models_dir / f"{name}.onnx", "shipped")]
    if coordinator.model_store.current(name) is not None:
        stored = coordinator.model_store.current_dir / f"{name}.onnx"
        candidates.insert(0, (stored, "uploaded"))
    for path, source in candidates:
        try:
            return path.read_bytes(), source
        except FileNotFoundError:
            continue
    return None


async def _read_capped(request: web.Request) -> bytes | None:
    """Return the body, or None once it exceeds the cap (not read further)."""
    if request.content_length is not None and request.content_length > MAX_MODEL_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(CHUNK_BYTES):
        size += len(chunk)
        if size > MAX_MODEL_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class StatusView(HomeAssistantView):
    """GET /api/homeiq/status: the models in use, counts and back-fill state."""

    url = "/api/homeiq/status"
    name = "api:homeiq:status"
    requires_auth = True

    @require_admin
    async def get(self, request: web.Request) -> web.Response:
        """Return HomeIQ's status."""
        coordinator = _coordinator(request.app[KEY_HASS])
        if coordinator is None:
            return self.json_message(
                "HomeIQ is not loaded", HTTPStatus.SERVICE_UNAVAILABLE
            )
        return self.json(status(coordinator))


def status(coordinator: HomeIQCoordinator) -> dict[str, Any]:
    """Return what the status endpoint reports."""
    data = coordinator.data
    models = coordinator.models.models
    return {
        "model_version": models.version,
        "models": {
            name: _model_status(coordinator, name, getattr(models, name))
            for name in SCHEMAS
        },
        "devices_monitored": len(coordinator.collector.home.inventory.devices),
        "backfill": dict(coordinator.state["backfill"]),
        "last_scoring": None
        if data is None
        else datetime.fromtimestamp(data.health.time, UTC).isoformat(),
        # Every stored file, the battery quantiles q10/q90 too (stored, not scored).
        "files": {
            stem: {"version": version.version, "sha256": version.sha256}
            for stem in NAMES
            if (version := coordinator.model_store.current(stem)) is not None
        },
        "rolled_back": dict(coordinator.rolled_back),
        # What an upload must carry as its homeiq.schema, per model.
        "schemas": {name: schema.fingerprint() for name, schema in SCHEMAS.items()},
        "max_model_bytes": MAX_MODEL_BYTES,
    }


def _model_status(
    coordinator: HomeIQCoordinator, name: str, model: Model | None
) -> dict[str, Any] | None:
    if model is None:
        return None
    stored = next(
        (
            (stem, version)
            for stem in stems(name)
            if (version := coordinator.model_store.current(stem)) is not None
        ),
        None,
    )
    metrics = model.metadata.get(METRICS)
    return {
        "source": "shipped" if stored is None else "uploaded",
        "file": None if stored is None else stored[0],
        "version": None if stored is None else stored[1].version,
        "sha256": None if stored is None else stored[1].sha256,
        "created": model.metadata.get(CREATED),
        "metrics": _json_or_text(metrics),
        "schema": model.metadata.get(FEATURE_SCHEMA),
    }


def _json_or_text(raw: str | None) -> Any:
    if raw is None:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw


_YES = ("1", "true", "yes", "on")
_NO = ("", "0", "false", "no", "off")


class DatasetView(HomeAssistantView):
    """GET /api/homeiq/dataset[?pseudonymize=1]: the collected data, as a tar.

    The archive is built in the executor into an unnamed temporary file, then
    streamed in chunks; the file is gone once the response ends, however it ends.
    """

    url = "/api/homeiq/dataset"
    name = "api:homeiq:dataset"
    requires_auth = True

    @require_admin
    async def get(self, request: web.Request) -> web.StreamResponse:
        """Stream the dataset archive."""
        flag = request.query.get("pseudonymize", "").strip().lower()
        if flag not in _YES + _NO:
            return self.json_message(
                f"pseudonymize must be one of {', '.join(_YES + _NO[1:])}",
                HTTPStatus.BAD_REQUEST,
            )
        hass = request.app[KEY_HASS]
        entry = _loaded_entry(hass)
        if entry is None:
            return self.json_message(
                "HomeIQ is not loaded", HTTPStatus.SERVICE_UNAVAILABLE
            )
        pseudonymize = flag in _YES
        try:
            archive, exported = await async_export_stream(
                hass, entry, pseudonymize=pseudonymize
            )
        except (ExportError, OSError) as error:
            return self.json_message(
                f"export failed: {error}", HTTPStatus.INTERNAL_SERVER_ERROR
            )
        name = archive_name(time.time(), pseudonymize=pseudonymize)
        response = web.StreamResponse(
            headers={
                "Content-Type": "application/x-tar",
                "Content-Disposition": f'attachment; filename="{name}"',
                "Content-Length": str(exported.bytes),
                "Cache-Control": "no-store",
            }
        )
        try:
            await response.prepare(request)
            while chunk := await hass.async_add_executor_job(
                archive.read, EXPORT_CHUNK_BYTES
            ):
                await response.write(chunk)
        finally:
            await hass.async_add_executor_job(archive.close)
        await response.write_eof()
        return response
