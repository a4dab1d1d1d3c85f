"""Config flow, options flow and reconfigure."""

from homeassistant.config_entries import SOURCE_USER, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.homeiq.const import (
    CONF_BACKFILL_DAYS,
    CONF_EXCLUDE_INTEGRATIONS,
    CONF_HOME_TYPE,
    CONF_RETENTION_DAYS,
    CONF_SCAN_MINUTES,
    DOMAIN,
)

from .conftest import Home


async def test_user_flow_creates_entry(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "user"
    assert result["errors"] is None

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == "HomeIQ"
    assert result["data"] == {}
    (entry,) = hass.config_entries.async_entries(DOMAIN)
    assert entry.state is ConfigEntryState.LOADED


async def test_second_entry_is_refused(
    hass: HomeAssistant, config_entry: MockConfigEntry
) -> None:
    config_entry.add_to_hass(hass)

    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "single_instance_allowed"
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1


async def test_options_choose_devices_and_reload(
    hass: HomeAssistant, home: Home, loaded_entry: MockConfigEntry
) -> None:
    hass.config_entries.async_update_entry(
        loaded_entry, options={CONF_HOME_TYPE: "cottage", CONF_BACKFILL_DAYS: 3}
    )
    await hass.async_block_till_done()
    result = await hass.config_entries.options.async_init(loaded_entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    options = result["data_schema"].schema[CONF_EXCLUDE_INTEGRATIONS].config
    assert set(options["options"]) >= {"zha", "zwave_js", "shelly"}
    assert DOMAIN not in options["options"]

    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            CONF_EXCLUDE_INTEGRATIONS: ["shelly"],
            CONF_SCAN_MINUTES: 10.0,
            CONF_RETENTION_DAYS: 30.0,
        },
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert loaded_entry.options == {
        CONF_HOME_TYPE: "cottage",
        CONF_BACKFILL_DAYS: 3,
        CONF_EXCLUDE_INTEGRATIONS: ["shelly"],
        CONF_SCAN_MINUTES: 10,
        CONF_RETENTION_DAYS: 30,
    }
    runtime = loaded_entry.runtime_data
    assert home.plug not in runtime.collector.home.devices
    assert runtime.collector.retention_days == 30
    assert runtime.coordinator.update_interval.total_seconds() == 600
    assert hass.states.get("sensor.homeiq_devices_monitored").state == "4"


async def test_reconfigure_sets_home_type_and_backfill(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    result = await loaded_entry.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_BACKFILL_DAYS: 7.0, CONF_HOME_TYPE: "condo"}
    )
    await hass.async_block_till_done()

    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert loaded_entry.options == {CONF_BACKFILL_DAYS: 7, CONF_HOME_TYPE: "condo"}
    assert loaded_entry.state is ConfigEntryState.LOADED

    # "Not set" removes the user's home type again.
    result = await loaded_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {CONF_BACKFILL_DAYS: 7, CONF_HOME_TYPE: "not_set"}
    )
    await hass.async_block_till_done()
    assert loaded_entry.options == {CONF_BACKFILL_DAYS: 7}
