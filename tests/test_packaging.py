"""What HACS and Home Assistant read from the repository is complete and consistent."""

import json
from pathlib import Path
import tomllib

import homeassistant
from homeassistant.util.yaml import load_yaml
import pytest

from custom_components.homeiq.binary_sensor import PROBLEM
from custom_components.homeiq.sensor import DEVICE_SENSORS, HOME_SENSORS

ROOT = Path(__file__).resolve().parents[1]
INTEGRATION = ROOT / "custom_components" / "homeiq"


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _ha_pins() -> dict[str, str]:
    """Return {package: pinned version} from HA's package_constraints.txt."""
    text = (Path(homeassistant.__file__).parent / "package_constraints.txt").read_text()
    pins = {}
    for line in text.splitlines():
        name, sep, version = line.partition("==")
        if sep and not line.startswith("#"):
            pins[name.strip().lower()] = version.strip()
    return pins


def test_manifest_is_a_valid_custom_integration_manifest() -> None:
    manifest = _json(INTEGRATION / "manifest.json")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

    assert manifest["domain"] == INTEGRATION.name == "homeiq"
    assert manifest["version"] == project["version"]
    assert manifest["config_flow"] is True
    assert manifest["single_config_entry"] is True
    for key in ("documentation", "issue_tracker"):
        assert manifest[key].startswith("https://")
    assert manifest["codeowners"]
    assert manifest["iot_class"] in {"calculated", "local_push", "local_polling"}
    assert manifest["integration_type"] in {"service", "hub"}


def test_manifest_requires_only_what_home_assistant_pins() -> None:
    """A requirement HA lacks a wheel for breaks the integration on HA OS."""
    pins = _ha_pins()
    for requirement in _json(INTEGRATION / "manifest.json")["requirements"]:
        name, _, version = requirement.partition("==")
        assert name.lower() in pins, f"{name} is not shipped with Home Assistant"
        assert not version or version == pins[name.lower()]


def test_hacs_metadata() -> None:
    hacs = _json(ROOT / "hacs.json")
    assert hacs["name"] == "HomeIQ"
    assert hacs["homeassistant"] == "2026.10.0"
    assert (INTEGRATION / "brand" / "icon.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("platform", "description"),
    [
        *(("sensor", d) for d in (*HOME_SENSORS, *DEVICE_SENSORS)),
        ("binary_sensor", PROBLEM),
    ],
    ids=lambda item: getattr(item, "key", item),
)
def test_every_entity_has_a_name_and_an_icon(platform, description) -> None:
    strings = _json(INTEGRATION / "translations" / "en.json")
    icons = _json(INTEGRATION / "icons.json")
    key = description.translation_key
    assert strings["entity"][platform][key]["name"]
    assert icons["entity"][platform][key]["default"].startswith("mdi:")


def test_every_action_is_described_translated_and_has_an_icon() -> None:
    services = load_yaml(INTEGRATION / "services.yaml")
    strings = _json(INTEGRATION / "translations" / "en.json")["services"]
    icons = _json(INTEGRATION / "icons.json")["services"]
    assert set(services) == set(strings) == set(icons)
    for name, service in services.items():
        assert strings[name]["name"]
        assert strings[name]["description"]
        for field in (service or {}).get("fields", {}):
            assert strings[name]["fields"][field]["name"]


def test_license_is_apache_and_declared() -> None:
    assert "Apache License" in (ROOT / "LICENSE").read_text()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "Apache-2.0"
