"""Repairs HomeIQ raises: a device about to fail, an outage, a model that does not fit.

Issues are recreated from every scoring and deleted as soon as their cause is gone;
users can dismiss them in the Repairs dashboard like any other.
"""

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, issue_registry as ir

from .const import DOMAIN, REPAIR_RISK
from .coordinator import HomeIQConfigEntry

FAILING = "device_failing"
OUTAGE = "outage"
MODEL_MISMATCH = "model_mismatch"
MODEL_ROLLED_BACK = "model_rolled_back"


@callback
def async_update_issues(hass: HomeAssistant, entry: HomeIQConfigEntry) -> None:
    """Make the repairs match the latest scoring."""
    coordinator = entry.runtime_data.coordinator
    if coordinator.data is None:
        return
    health = coordinator.data.health
    devices = dr.async_get(hass)
    wanted: dict[str, tuple[str, dict[str, str]]] = {}
    for device_id, scores in health.devices.items():
        if scores.problem and scores.failure_risk >= REPAIR_RISK:
            device = devices.async_get(device_id)
            name = device_id if device is None else device.name_by_user or device.name
            wanted[f"{FAILING}_{device_id}"] = (
                FAILING,
                {
                    "device": name or device_id,
                    "risk": f"{100 * scores.failure_risk:.0f}",
                    "reasons": "; ".join(scores.reasons) or "-",
                },
            )
    for outage in health.outages:
        wanted[f"{OUTAGE}_{outage.group}"] = (
            OUTAGE,
            {"name": outage.name, "devices": str(len(outage.devices))},
        )
    for name, problem in coordinator.models.refused.items():
        wanted[f"{MODEL_MISMATCH}_{name}"] = (
            MODEL_MISMATCH,
            {"model": name, "problem": problem},
        )
    for name, problem in coordinator.rolled_back.items():
        wanted[f"{MODEL_ROLLED_BACK}_{name}"] = (
            MODEL_ROLLED_BACK,
            {"model": name, "problem": problem},
        )
    registry = ir.async_get(hass)
    for (domain, issue_id), _issue in list(registry.issues.items()):
        if domain == DOMAIN and issue_id not in wanted:
            ir.async_delete_issue(hass, DOMAIN, issue_id)
    for issue_id, (key, placeholders) in wanted.items():
        ir.async_create_issue(
            hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            is_persistent=False,
            severity=ir.IssueSeverity.ERROR
            if key == OUTAGE
            else ir.IssueSeverity.WARNING,
            translation_key=key,
            translation_placeholders=placeholders,
        )
