"""HomeIQ in a real Home Assistant server started from this venv, driven over HTTP.

The same path a user takes: HA boots with the integration in its config dir's
custom_components/ next to HA's demo home (and its recorder), the config flow runs
through the REST API, the demo's devices get health entities on their own pages,
the home type sensor has a type, malformed events posted to the API are survived,
the entry survives a restart and can be removed. The tests run in file order
against one server, as a user would.
"""

from collections.abc import Iterator
import json
from pathlib import Path
import signal
import socket
import subprocess
import sys
import time
from typing import Any
import urllib.error
import urllib.parse
import urllib.request

import pytest
import pytest_socket

ROOT = Path(__file__).resolve().parents[2]
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
CONFIGURATION = """\
homeassistant:
  name: HomeIQ e2e
  latitude: 52.37
  longitude: 4.89
  elevation: 0
  unit_system: metric
  time_zone: Europe/Amsterdam
  country: NL
  currency: EUR
http:
  server_host: 127.0.0.1
  server_port: {port}
api:
config:
onboarding:
recorder:
demo:
"""

# phcc blocks sockets before each test; these tests talk to 127.0.0.1 only.
pytestmark = pytest.mark.usefixtures("socket_enabled")


class HassServer:
    """A `hass` process on 127.0.0.1 and an HTTP client for its API."""

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = config_dir
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        (config_dir / "configuration.yaml").write_text(CONFIGURATION.format(port=port))
        (config_dir / "custom_components").mkdir()
        (config_dir / "custom_components" / "homeiq").symlink_to(
            ROOT / "custom_components" / "homeiq"
        )
        self.log_path = config_dir / "hass.log"
        self.token = ""
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90) -> None:
        """Start hass and wait until its HTTP API answers."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    *("-m", "homeassistant", "--skip-pip"),
                    *("--config", str(self.config_dir)),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"hass exited with {self.process.returncode}:\n{self.log}")
            try:
                self.request("GET", "/api/onboarding")
            except urllib.error.URLError, ConnectionError:
                time.sleep(0.5)
            else:
                return
        pytest.fail(f"hass did not answer within {timeout} s:\n{self.log}")

    def wait_until_running(self, timeout: float = 90) -> None:
        """Wait until hass has set up everything at start (needs a token)."""
        deadline = time.monotonic() + timeout
        while self.request("GET", "/api/config")["state"] != "RUNNING":
            if time.monotonic() > deadline:
                pytest.fail(f"hass did not finish starting in {timeout} s:\n{self.log}")
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop hass the way a service manager does."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    @property
    def log(self) -> str:
        """Return what hass has logged so far."""
        return self.log_path.read_text(errors="replace")

    def request(
        self, method: str, path: str, body: dict | None = None, *, form: bool = False
    ) -> Any:
        """Send a request to hass and return the decoded JSON answer."""
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        data = None
        if body is not None and form:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(
            self.url + path, data=data, headers=headers, method=method
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")

    def onboard(self) -> None:
        """Create the owner account and log in as it, as the onboarding UI does."""
        client_id = self.url + "/"
        created = self.request(
            "POST",
            "/api/onboarding/users",
            {
                "client_id": client_id,
                "name": "Owner",
                "username": "owner",
                "password": "correct-horse-battery",
                "language": "en",
            },
        )
        tokens = self.request(
            "POST",
            "/auth/token",
            {
                "grant_type": "authorization_code",
                "code": created["auth_code"],
                "client_id": client_id,
            },
            form=True,
        )
        self.token = tokens["access_token"]

    def state(self, entity_id: str) -> str:
        """Return the current state of `entity_id`."""
        return self.request("GET", f"/api/states/{entity_id}")["state"]

    def homeiq_entries(self) -> list[dict[str, Any]]:
        """Return HomeIQ's config entries as the integrations page sees them."""
        return self.request("GET", "/api/config/config_entries/entry?domain=homeiq")

    def homeiq_diagnostics(self) -> dict[str, Any]:
        """Return HomeIQ's diagnostics download."""
        (entry,) = self.homeiq_entries()
        path = f"/api/diagnostics/config_entry/{entry['entry_id']}"
        return self.request("GET", path)["data"]

    def render(self, template: str) -> str:
        """Render a template on the server."""
        request = urllib.request.Request(
            self.url + "/api/template",
            data=json.dumps({"template": template}).encode(),
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
            },
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.read().decode()


@pytest.fixture(scope="module")
def hass_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HassServer]:
    """Start one real hass for this module, onboarded, and stop it afterwards."""
    pytest_socket.enable_socket()  # runs before the function-scoped socket_enabled
    server = HassServer(tmp_path_factory.mktemp("hass-config"))
    try:
        server.start()
        server.onboard()
        server.wait_until_running()
        yield server
    finally:
        server.stop()


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
