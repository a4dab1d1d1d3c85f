"""Fixtures for tests that run HomeIQ inside a real Home Assistant (phcc's `hass`).

`home` fills HA's real registries with a small home: a Zigbee hub with a motion
sensor and a thermometer behind it, a Z-Wave lock with its node status sensor, a
Wi-Fi plug, on two floors; each entity has a state.
"""

from dataclasses import dataclass
from pathlib import Path

from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    area_registry as ar,
    device_registry as dr,
    entity_registry as er,
    floor_registry as fr,
)
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.homeiq import (
    coordinator as coordinator_module,
    export,
    model_store,
)
from custom_components.homeiq.const import DOMAIN, MODELS_DIR


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load the integration from custom_components/."""


@pytest.fixture(autouse=True)
def models_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Score with the rules unless a test puts models here or asks for the shipped.

    The shipped models change whenever they are retrained; the rules are fixed, so
    tests that check exact scores run on them.
    """
    directory = tmp_path_factory.mktemp("models")
    monkeypatch.setattr(coordinator_module, "MODELS_DIR", directory)
    return directory


@pytest.fixture
def shipped_models(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Score with the models HomeIQ ships."""
    monkeypatch.setattr(coordinator_module, "MODELS_DIR", MODELS_DIR)
    return MODELS_DIR


@pytest.fixture
def config_entry() -> MockConfigEntry:
    """Return a HomeIQ config entry as the config flow creates it."""
    return MockConfigEntry(domain=DOMAIN, title="HomeIQ", data={})


@dataclass
class Home:
    """Device ids of the test home, by role."""

    hub: str
    motion: str
    thermometer: str
    lock: str
    plug: str
    zha: MockConfigEntry
    zwave: MockConfigEntry
    wifi: MockConfigEntry


def add_device(
    hass: HomeAssistant,
    entry: MockConfigEntry,
    name: str,
    entities: list[tuple[str, str | None, str | None, str]],
    *,
    via: str | None = None,
    area_id: str | None = None,
) -> str:
    """Create a device with (domain, device_class, unit, state) entities."""
    devices = dr.async_get(hass)
    registry = er.async_get(hass)
    device = devices.async_get_or_create(
        config_entry_id=entry.entry_id,
        identifiers={(entry.domain, name)},
        name=name,
        manufacturer="Acme",
        model=name.rsplit(maxsplit=1)[-1],
        via_device_id=via,
    )
    if area_id is not None:
        devices.async_update_device(device.id, area_id=area_id)
    for i, (domain, device_class, unit, state) in enumerate(entities):
        item = registry.async_get_or_create(
            domain,
            entry.domain,
            f"{name}-{i}",
            config_entry=entry,
            device_id=device.id,
            original_device_class=device_class,
            unit_of_measurement=unit,
            suggested_object_id=f"{name} {device_class or domain}".lower(),
        )
        hass.states.async_set(item.entity_id, state)
    return device.id


@pytest.fixture
async def home(hass: HomeAssistant) -> Home:
    """Fill the registries with the test home."""
    floors = fr.async_get(hass)
    areas = ar.async_get(hass)
    ground = floors.async_create("Ground floor", level=0)
    upstairs = floors.async_create("Upstairs", level=1)
    kitchen = areas.async_create("Kitchen", floor_id=ground.floor_id)
    bedroom = areas.async_create("Bedroom", floor_id=upstairs.floor_id)
    entries = {}
    for domain in ("zha", "zwave_js", "shelly"):
        entries[domain] = MockConfigEntry(domain=domain, title=domain)
        entries[domain].add_to_hass(hass)
    hub = add_device(
        hass, entries["zha"], "Coordinator", [("sensor", None, None, "ok")]
    )
    motion = add_device(
        hass,
        entries["zha"],
        "Kitchen motion",
        [("binary_sensor", "motion", None, "off"), ("sensor", "battery", "%", "80")],
        via=hub,
        area_id=kitchen.id,
    )
    thermometer = add_device(
        hass,
        entries["zha"],
        "Bedroom thermometer",
        [
            ("sensor", "temperature", "°C", "19.5"),
            ("sensor", "battery", "%", "60"),
        ],
        via=hub,
        area_id=bedroom.id,
    )
    lock = add_device(
        hass, entries["zwave_js"], "Front lock", [("lock", None, None, "locked")]
    )
    registry = er.async_get(hass)
    status = registry.async_get_or_create(
        "sensor",
        "zwave_js",
        "front-lock.node_status",
        config_entry=entries["zwave_js"],
        device_id=lock,
        entity_category=EntityCategory.DIAGNOSTIC,
        translation_key="node_status",
        suggested_object_id="front_lock_node_status",
    )
    hass.states.async_set(status.entity_id, "alive")
    plug = add_device(
        hass,
        entries["shelly"],
        "Washer plug",
        [("switch", None, None, "on"), ("sensor", "power", "W", "3.5")],
        area_id=kitchen.id,
    )
    await hass.async_block_till_done()
    return Home(hub, motion, thermometer, lock, plug, *entries.values())


@pytest.fixture
async def loaded_entry(
    hass: HomeAssistant, home: Home, config_entry: MockConfigEntry
) -> MockConfigEntry:
    """Set HomeIQ up in `hass` (with the test home) and return its entry."""
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    return config_entry


@pytest.fixture(autouse=True)
def model_store_dir(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Keep each test's uploaded models in its own directory."""
    directory = tmp_path_factory.mktemp("model_store")
    monkeypatch.setattr(model_store, "STORE_PATH", str(directory))
    return directory


@pytest.fixture
def export_paths(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Keep each test's dataset exports and pseudonym salt in its own directory."""
    directory = tmp_path_factory.mktemp("homeiq")
    monkeypatch.setattr(export, "EXPORT_DIR", str(directory / "exports"))
    monkeypatch.setattr(export, "SALT_PATH", str(directory / "pseudonym.salt"))
    return directory
