"""Config flow for HomeIQ: set-up, options (what to watch) and reconfigure.

One entry per Home Assistant (the manifest's `single_config_entry`). Everything
is kept in the entry's options: the options flow chooses which devices HomeIQ
watches and how often it scores; reconfigure sets what it learns from (back-fill
days, and the user's own home type, kept as a training label).
"""

from collections.abc import Mapping
from typing import Any, override

from homeassistant.config_entries import (
    ConfigEntry,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.core import callback
from homeassistant.helpers import selector
import probatio as vol

from .const import (
    CONF_BACKFILL_DAYS,
    CONF_EXCLUDE_AREAS,
    CONF_EXCLUDE_DEVICES,
    CONF_EXCLUDE_INTEGRATIONS,
    CONF_EXCLUDE_LABELS,
    CONF_HOME_TYPE,
    CONF_INCLUDE_AREAS,
    CONF_INCLUDE_DEVICES,
    CONF_INCLUDE_INTEGRATIONS,
    CONF_INCLUDE_LABELS,
    CONF_RETENTION_DAYS,
    CONF_SCAN_MINUTES,
    DEFAULT_BACKFILL_DAYS,
    DEFAULT_RETENTION_DAYS,
    DEFAULT_SCAN_MINUTES,
    DOMAIN,
    MAX_BACKFILL_DAYS,
    MAX_RETENTION_DAYS,
    MIN_RETENTION_DAYS,
)
from .core.dataset import HOME_TYPES

NOT_SET = "not_set"


def _number(low: int, high: int, unit: str) -> selector.NumberSelector:
    return selector.NumberSelector(
        selector.NumberSelectorConfig(
            min=low,
            max=high,
            step=1,
            unit_of_measurement=unit,
            mode=selector.NumberSelectorMode.BOX,
        )
    )


def _options_schema(integrations: list[str]) -> vol.Schema:
    """Return the options form: what to watch, how often to score, how long to keep."""
    integration = selector.SelectSelector(
        selector.SelectSelectorConfig(
            options=integrations, multiple=True, custom_value=True, sort=True
        )
    )
    area = selector.AreaSelector(selector.AreaSelectorConfig(multiple=True))
    label = selector.LabelSelector(selector.LabelSelectorConfig(multiple=True))
    device = selector.DeviceSelector(selector.DeviceSelectorConfig(multiple=True))
    return vol.Schema(
        {
            vol.Optional(CONF_INCLUDE_INTEGRATIONS): integration,
            vol.Optional(CONF_EXCLUDE_INTEGRATIONS): integration,
            vol.Optional(CONF_INCLUDE_AREAS): area,
            vol.Optional(CONF_EXCLUDE_AREAS): area,
            vol.Optional(CONF_INCLUDE_LABELS): label,
            vol.Optional(CONF_EXCLUDE_LABELS): label,
            vol.Optional(CONF_INCLUDE_DEVICES): device,
            vol.Optional(CONF_EXCLUDE_DEVICES): device,
            vol.Required(CONF_SCAN_MINUTES, default=DEFAULT_SCAN_MINUTES): _number(
                1, 60, "min"
            ),
            vol.Required(CONF_RETENTION_DAYS, default=DEFAULT_RETENTION_DAYS): _number(
                MIN_RETENTION_DAYS, MAX_RETENTION_DAYS, "d"
            ),
        }
    )


RECONFIGURE_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_BACKFILL_DAYS, default=DEFAULT_BACKFILL_DAYS): _number(
            0, MAX_BACKFILL_DAYS, "d"
        ),
        vol.Required(CONF_HOME_TYPE, default=NOT_SET): selector.SelectSelector(
            selector.SelectSelectorConfig(
                options=[NOT_SET, *HOME_TYPES], translation_key=CONF_HOME_TYPE
            )
        ),
    }
)


def _whole_numbers(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Return the input with the number selectors' floats as ints."""
    return {
        key: int(value) if isinstance(value, float) else value
        for key, value in user_input.items()
    }


class HomeIQConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set HomeIQ up; the manifest's `single_config_entry` refuses a second one."""

    VERSION = 1

    @override
    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Confirm that HomeIQ should start learning from this home."""
        if user_input is None:
            return self.async_show_form(step_id="user")
        return self.async_create_entry(title="HomeIQ", data={})

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the back-fill days and the user's own home type."""
        entry = self._get_reconfigure_entry()
        if user_input is not None:
            options = {**entry.options, **_whole_numbers(user_input)}
            if options[CONF_HOME_TYPE] == NOT_SET:
                del options[CONF_HOME_TYPE]
            return self.async_update_reload_and_abort(entry, options=options)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                RECONFIGURE_SCHEMA,
                {CONF_HOME_TYPE: NOT_SET, **entry.options},
            ),
        )

    @staticmethod
    @override
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> HomeIQOptionsFlow:
        """Return the options flow."""
        return HomeIQOptionsFlow()


class HomeIQOptionsFlow(OptionsFlowWithReload):
    """Choose the devices HomeIQ watches, the scoring interval and the retention."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show and save the options; the entry reloads with them."""
        if user_input is not None:
            kept = {
                key: value
                for key, value in self.config_entry.options.items()
                if key in (CONF_BACKFILL_DAYS, CONF_HOME_TYPE)
            }
            return self.async_create_entry(data={**kept, **_whole_numbers(user_input)})
        integrations = sorted(
            {entry.domain for entry in self.hass.config_entries.async_entries()}
            - {DOMAIN}
        )
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                _options_schema(integrations), self.config_entry.options
            ),
        )
