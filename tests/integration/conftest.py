"""Fixtures for tests that run HomeIQ inside a real Home Assistant (phcc's `hass`)."""

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.homeiq.const import DOMAIN


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load the integration from custom_components/."""


@pytest.fixture
def config_entry() -> MockConfigEntry:
    """Return a HomeIQ config entry as the config flow creates it."""
    return MockConfigEntry(domain=DOMAIN, title="HomeIQ", data={})


@pytest.fixture
async def loaded_entry(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> MockConfigEntry:
    """Set HomeIQ up in `hass` and return its entry."""
    config_entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(config_entry.entry_id)
    await hass.async_block_till_done()
    return config_entry
