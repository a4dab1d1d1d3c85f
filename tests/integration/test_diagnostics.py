"""Diagnostics and system health: counts and scores, never names or device ids."""

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    get_system_health_info,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.homeiq.const import CONF_EXCLUDE_DEVICES, DOMAIN

from .conftest import Home


async def test_diagnostics_report_counts_and_scores_redacted(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    home: Home,
) -> None:
    entry = MockConfigEntry(
        domain=DOMAIN, data={}, options={CONF_EXCLUDE_DEVICES: [home.plug]}
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    hass.bus.async_fire(
        "state_changed", {"entity_id": "lock.front_lock_lock", "new_state": "x"}
    )
    await hass.async_block_till_done()

    diagnostics = await get_diagnostics_for_config_entry(hass, hass_client, entry)

    assert diagnostics["inventory"]["devices"] == 4
    assert diagnostics["inventory"]["areas"] == 2
    assert diagnostics["inventory"]["floors"] == 2
    assert diagnostics["telemetry"]["malformed_events"] == 1
    assert diagnostics["options"][CONF_EXCLUDE_DEVICES] == "**REDACTED**"
    assert len(diagnostics["scores"]) == 4
    assert diagnostics["models"]["version"] == "rules"
    text = str(diagnostics)
    for secret in (home.lock, home.plug, "Front lock", "lock.front_lock_lock"):
        assert secret not in text


async def test_system_health_says_what_is_watched(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    assert await async_setup_component(hass, "system_health", {})
    await hass.async_block_till_done()

    info = await get_system_health_info(hass, DOMAIN)

    assert info["devices_monitored"] == 5
    assert info["model_version"] == "rules"
    assert info["last_scoring"] is True
    assert info["backfill"] in {"done", "0 %"}


async def test_system_health_without_an_entry(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, "system_health", {})
    assert await async_setup_component(hass, DOMAIN, {})
    await hass.async_block_till_done()

    assert await get_system_health_info(hass, DOMAIN) == {"devices_monitored": 0}
