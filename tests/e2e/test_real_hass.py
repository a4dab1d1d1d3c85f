"""HomeIQ in a real Home Assistant server started from this venv, driven over HTTP.

The same path a user takes: HA boots with the integration in its config dir's
custom_components/ next to HA's demo home (and its recorder), the config flow runs
through the REST API, the demo's devices get health entities on their own pages,
the home type sensor has a type, malformed events posted to the API are survived,
the entry survives a restart and can be removed. The tests run in file order
against one server (`homeiq_trainer.hass_server`), as a user would.
"""

from collections.abc import Iterator
import time
import urllib.error

import pytest
import pytest_socket

from homeiq_trainer.hass_server import HassServer

HOME_TYPE = "sensor.homeiq_home_type"
HOME_TYPES = {
    "studio",
    "apartment",
    "condo",
    "townhouse",
    "single_family_house",
    "cottage",
    "multi_story",
    "ranch_house",
}
# Health sensors that sit on a demo device's own page (device of a demo entity).
ON_DEMO_DEVICES = """\
{%- set demo = integration_entities('demo') | map('device_id') | select | list -%}
{{ states.sensor | map(attribute='entity_id')
   | select('match', '.*_health$')
   | map('device_id') | select('in', demo) | list | count }}"""

# phcc blocks sockets before each test; these tests talk to 127.0.0.1 only.
pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture(scope="module")
def hass_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HassServer]:
    """Start one real hass for this module, onboarded, and stop it afterwards."""
    pytest_socket.enable_socket()  # runs before the function-scoped socket_enabled
    server = HassServer(tmp_path_factory.mktemp("hass-config"), name="HomeIQ e2e")
    with server:
        server.start()
        server.onboard("owner", "correct-horse-battery")
        server.wait_until_running()
        yield server


def test_config_flow_sets_up_homeiq(hass_server: HassServer) -> None:
    flow = hass_server.request(
        "POST", "/api/config/config_entries/flow", {"handler": "homeiq"}
    )
    assert flow["type"] == "form"
    assert flow["step_id"] == "user"

    result = hass_server.request(
        "POST", f"/api/config/config_entries/flow/{flow['flow_id']}", {}
    )
    assert result["type"] == "create_entry"
    (entry,) = hass_server.homeiq_entries()
    assert entry["state"] == "loaded"
    assert hass_server.state(HOME_TYPE) in HOME_TYPES


def test_demo_devices_get_health_entities_on_their_own_pages(
    hass_server: HassServer,
) -> None:
    assert int(hass_server.render(ON_DEMO_DEVICES)) >= 5
    monitored = int(hass_server.state("sensor.homeiq_devices_monitored"))
    assert monitored >= 5
    # The back-fill from the demo's recorder ran in the background.
    deadline = time.monotonic() + 60
    while hass_server.homeiq_diagnostics()["backfill"]["done"] is not True:
        assert time.monotonic() < deadline, "the back-fill never finished"
        time.sleep(0.5)


def test_malformed_events_fired_over_the_api_are_survived(
    hass_server: HassServer,
) -> None:
    watched = hass_server.render(
        "{{ integration_entities('demo') | select('match', 'sensor.') | first }}"
    )
    before = hass_server.homeiq_diagnostics()["telemetry"]["malformed_events"]

    # HA's API needs both state keys (it parses them); the rest is ours to survive.
    states = {"old_state": None, "new_state": {"not": "a state"}}
    for entity_id in (["light.a"], 7, "Not An.Entity", watched):
        fired = hass_server.request(
            "POST", "/api/events/state_changed", {"entity_id": entity_id, **states}
        )
        assert fired == {"message": "Event state_changed fired."}

    diagnostics = hass_server.homeiq_diagnostics()
    assert diagnostics["telemetry"]["malformed_events"] == before + 1
    response = hass_server.request(
        "POST", "/api/services/homeiq/score_now?return_response", {}
    )
    assert response["service_response"]["home_type"] in HOME_TYPES


def test_entry_loads_again_after_a_restart(hass_server: HassServer) -> None:
    hass_server.stop()
    hass_server.start()
    hass_server.wait_until_running()

    (entry,) = hass_server.homeiq_entries()
    assert entry["state"] == "loaded"
    assert hass_server.state(HOME_TYPE) in HOME_TYPES
    assert hass_server.homeiq_diagnostics()["telemetry"]["days_kept"] >= 0


def test_removing_the_entry_removes_its_sensor(hass_server: HassServer) -> None:
    (entry,) = hass_server.homeiq_entries()

    result = hass_server.request(
        "DELETE", f"/api/config/config_entries/entry/{entry['entry_id']}"
    )

    assert result == {"require_restart": False}
    assert hass_server.homeiq_entries() == []
    with pytest.raises(urllib.error.HTTPError) as missing:
        hass_server.state(HOME_TYPE)
    assert missing.value.code == 404


def test_log_has_no_errors_from_homeiq(hass_server: HassServer) -> None:
    log = hass_server.log
    assert "Activating recovery mode" not in log
    errors = [
        line
        for line in log.splitlines()
        if " ERROR " in line and "homeiq" in line.lower()
    ]
    assert errors == []
