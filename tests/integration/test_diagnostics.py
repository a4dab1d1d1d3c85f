"""Diagnostics report the tally per domain."""

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator


async def test_diagnostics_count_domains(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    loaded_entry: MockConfigEntry,
) -> None:
    hass.states.async_set("light.kitchen", "on")
    hass.states.async_set("light.hall", "on")
    hass.states.async_set("sensor.power", "12")
    await hass.async_block_till_done()

    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, loaded_entry
    )

    events = diagnostics["events"]
    assert events["by_domain"]["light"] == 2
    assert events["by_domain"]["sensor"] == 1
    assert events["rejected"] == 0
    assert "light.kitchen" not in str(diagnostics)
