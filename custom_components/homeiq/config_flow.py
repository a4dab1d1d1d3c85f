"""Config flow for HomeIQ: one confirmation step, one entry per Home Assistant."""

from typing import Any, override

from homeassistant.config_entries import ConfigFlow, ConfigFlowResult

from .const import DOMAIN


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
