"""A real Home Assistant server with HomeIQ, for the demo and the end-to-end tests.

`HassServer` starts `hass` from the running Python (`python -m homeassistant`, so
the venv's HA) on 127.0.0.1 with a config dir holding HA's `demo` home and the
HomeIQ integration, then takes the path a user takes: the owner account through
the onboarding API, a long-lived access token, HomeIQ added through the config-flow
REST API. It stops `hass` by its PID (SIGTERM, then SIGKILL after a timeout).
When HA does not come up, the error says so with the tail of its log.

Needs Home Assistant in this Python (`scripts/bootstrap` installs it with the test
extra) and the integration's files: from a clone of the repository (an editable
install) they are found beside the core; otherwise pass their directory.

`HOMEIQ_HASS_PYTHON` names another Python to start `hass` from, e.g. a venv with a
newer Home Assistant release than the tests pin: that HA installs what its default
integrations and HomeIQ's manifest need at its first start (no `--skip-pip`), which
takes a few minutes the first time.
"""

import asyncio
from collections.abc import Sequence
import importlib.util
import json
import os
from pathlib import Path
import shutil
import signal
import socket
import subprocess
import sys
import time
from types import TracebackType
from typing import Any, Self
import urllib.error
import urllib.parse
import urllib.request

import homeiq_core

from .errors import CommandError

HOST = "127.0.0.1"
DOMAIN = "homeiq"
CONFIGURATION = """\
homeassistant:
  name: {name}
  latitude: 52.37
  longitude: 4.89
  elevation: 0
  unit_system: metric
  time_zone: Europe/Amsterdam
  country: NL
  currency: EUR
http:
  server_host: {host}
  server_port: {port}
api:
config:
onboarding:
history:
logbook:
recorder:
demo:
"""
# The onboarding steps after the owner account: location and units come from
# configuration.yaml; marking them done keeps HA from setting up the weather and
# radio integrations that would reach out to the internet, and the UI from asking.
HASS_PYTHON = "HOMEIQ_HASS_PYTHON"  # another Python to start hass from
START_S = 120  # the longest a start may take
FIRST_START_S = 900  # … when it may install packages (another Python)
ONBOARDED_STEPS = ("core_config", "analytics", "integration")
ONBOARDING_STORE_VERSION = 4


class HassError(CommandError):
    """Home Assistant did not start, stopped, or refused a request."""


def integration_source() -> Path:
    """Return the HomeIQ integration directory this trainer was installed from.

    The core is `custom_components/homeiq/core`, imported as `homeiq_core`; in a
    clone (editable install) the integration is its parent. A wheel ships the core
    alone, so there is nothing to find.
    """
    candidate = Path(homeiq_core.__file__).resolve().parent.parent
    manifest = candidate / "manifest.json"
    try:
        domain = json.loads(manifest.read_text("utf-8")).get("domain")
    except OSError, ValueError:
        domain = None
    if domain != DOMAIN:
        raise CommandError(
            f"the HomeIQ integration is not beside this trainer's core ({candidate}); "
            "run from a clone of the repository (scripts/bootstrap installs it "
            "editable) or give the custom_components/homeiq directory"
        )
    return candidate


def install_integration(config_dir: Path, source: Path, *, models: bool) -> Path:
    """Put HomeIQ in `config_dir`/custom_components unless one is there already.

    With `models`, a link to `source` (the shipped models included); without, a
    copy without the models directory.
    """
    target = config_dir / "custom_components" / DOMAIN
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    if models:
        target.symlink_to(source.resolve(), target_is_directory=True)
    else:
        ignore = shutil.ignore_patterns("models", "__pycache__")
        shutil.copytree(source, target, ignore=ignore)
    return target


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


def _port_taken(port: int) -> bool:
    """Return True when something listens on `port` (TIME_WAIT does not count)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
        except OSError:
            return True
    return False


class HassServer:
    """A `hass` process on 127.0.0.1 and an HTTP client for its API."""

    def __init__(
        self,
        config_dir: Path,
        *,
        port: int | None = None,
        integration: Path | None = None,
        shipped_models: bool = True,
        name: str = "HomeIQ demo",
    ) -> None:
        """Prepare `config_dir` (configuration, HomeIQ, onboarding) for a start.

        An existing `custom_components/homeiq` there is kept; otherwise it links to
        `integration` (default: the one this trainer comes from), or, without
        `shipped_models`, is a copy of it without its models, so that HomeIQ
        starts on its rule-based fallback.
        """
        self.python = os.environ.get(HASS_PYTHON) or sys.executable
        self.installs = self.python != sys.executable  # its own packages, at start
        if self.installs and not os.access(self.python, os.X_OK):
            raise HassError(f"{HASS_PYTHON}={self.python} is not an executable Python")
        if not self.installs and importlib.util.find_spec("homeassistant") is None:
            raise HassError(
                f"Home Assistant is not installed in this Python ({sys.executable}); "
                "scripts/bootstrap installs it into .venv"
            )
        self.config_dir = config_dir
        self.port = free_port() if port is None else port
        self.url = f"http://{HOST}:{self.port}"
        self.log_path = config_dir / "hass.log"
        self.token = ""
        self.process: subprocess.Popen[bytes] | None = None
        config_dir.mkdir(parents=True, exist_ok=True)
        configuration = CONFIGURATION.format(name=name, host=HOST, port=self.port)
        (config_dir / "configuration.yaml").write_text(configuration, "utf-8")
        install_integration(
            config_dir, integration or integration_source(), models=shipped_models
        )
        self._seed_onboarding()

    def _seed_onboarding(self) -> None:
        """Mark the onboarding steps after the owner account done, once."""
        store = self.config_dir / ".storage" / "onboarding"
        if store.exists():
            return
        store.parent.mkdir(exist_ok=True)
        content = {
            "version": ONBOARDING_STORE_VERSION,
            "minor_version": 1,
            "key": "onboarding",
            "data": {"done": list(ONBOARDED_STEPS)},
        }
        store.write_text(json.dumps(content), "utf-8")

    def __enter__(self) -> Self:
        """Return the server (started by the caller); it stops on leaving."""
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop hass whatever happened."""
        self.stop()

    @property
    def start_timeout(self) -> float:
        """Return how long a start may take: longer when hass installs packages."""
        return FIRST_START_S if self.installs else START_S

    @property
    def pid(self) -> int | None:
        """Return the PID of the running hass, if any."""
        if self.process is None or self.process.poll() is not None:
            return None
        return self.process.pid

    def start(self, timeout: float | None = None) -> None:
        """Start hass and wait until its HTTP API answers (`start_timeout` s)."""
        timeout = self.start_timeout if timeout is None else timeout
        if self.pid is not None:
            return
        if _port_taken(self.port):
            raise HassError(f"port {self.port} on {HOST} is in use; choose another")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    self.python,
                    *("-m", "homeassistant"),
                    *(() if self.installs else ("--skip-pip",)),
                    *("--config", str(self.config_dir)),
                ],
                # In the config dir: `python -m` puts the working directory first
                # on sys.path, where a clone's custom_components would shadow the
                # config dir's.
                cwd=self.config_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own session: Ctrl-C in a terminal reaches the demo, which then
                # stops hass with SIGTERM, rather than both at once.
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                self.request("GET", "/api/onboarding")
            except urllib.error.HTTPError:
                return  # it answers
            except OSError:
                time.sleep(0.3)
            else:
                return
        self.stop()
        raise HassError(
            f"hass did not answer within {timeout:.0f} s\n{self.log_tail()}"
        )

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            code = self.process.returncode
            raise HassError(f"hass exited with code {code}\n{self.log_tail()}")

    def wait_until_running(self, timeout: float | None = None) -> None:
        """Wait until hass has set up everything at start (needs a token)."""
        timeout = self.start_timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while self.request("GET", "/api/config")["state"] != "RUNNING":
            self._check_alive()
            if time.monotonic() > deadline:
                raise HassError(
                    f"hass did not finish starting in {timeout:.0f} s\n"
                    f"{self.log_tail()}"
                )
            time.sleep(0.2)

    def stop(self, timeout: float = 60) -> None:
        """Stop hass by its PID: SIGTERM, then SIGKILL after `timeout` seconds."""
        if self.process is None or self.process.poll() is not None:
            return
        os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()

    @property
    def log(self) -> str:
        """Return what hass has logged so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        """Return the last `lines` lines of hass's log, to explain a failure."""
        tail = self.log.splitlines()[-lines:]
        return f"last lines of {self.log_path}:\n" + "\n".join(tail)

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        form: bool = False,
        timeout: float = 30,
    ) -> Any:
        """Send a request to hass and return the decoded JSON answer."""
        raw = self.send(method, path, body, form=form, timeout=timeout)
        return json.loads(raw or b"null")

    def send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        form: bool = False,
        timeout: float = 30,
    ) -> bytes:
        """Send a request to hass and return the answer's bytes."""
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
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer: bytes = response.read()
        return answer

    def onboard(self, username: str, password: str, name: str = "Owner") -> None:
        """Create the owner account and log in as it, as the onboarding UI does."""
        client_id = self.url + "/"
        created = self._call(
            "create the owner account",
            "POST",
            "/api/onboarding/users",
            {
                "client_id": client_id,
                "name": name,
                "username": username,
                "password": password,
                "language": "en",
            },
        )
        tokens = self._call(
            "log in as the owner",
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

    def _call(
        self,
        what: str,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        *,
        form: bool = False,
    ) -> Any:
        """Send a request; explain a refusal as HassError."""
        try:
            return self.request(method, path, body, form=form)
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace").strip()
            raise HassError(
                f"could not {what}: HTTP {error.code} {detail}".rstrip()
            ) from None

    def long_lived_token(self, client_name: str, lifespan_days: int = 30) -> str:
        """Create a long-lived access token (as the profile page does) and use it."""
        token = asyncio.run(self._websocket_token(client_name, lifespan_days))
        self.token = token
        return token

    async def _websocket_token(self, client_name: str, lifespan_days: int) -> str:
        # There wherever Home Assistant is; the trainer does not need it otherwise.
        import aiohttp  # noqa: PLC0415

        url = self.url.replace("http", "ws", 1) + "/api/websocket"
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(url, timeout=aiohttp.ClientWSTimeout(30)) as socket_,
        ):
            await socket_.receive_json()  # auth_required
            await socket_.send_json({"type": "auth", "access_token": self.token})
            greeting = await socket_.receive_json()
            if greeting.get("type") != "auth_ok":
                raise HassError(f"websocket login refused: {greeting}")
            await socket_.send_json(
                {
                    "id": 1,
                    "type": "auth/long_lived_access_token",
                    "client_name": client_name,
                    "lifespan": lifespan_days,
                }
            )
            answer = await socket_.receive_json()
            # HA (2026.11+) takes the `http:` settings written here as a pending
            # trial and, unless confirmed, reverts them and restarts itself after
            # 5 minutes. Confirm them; an HA without the command answers an error.
            await socket_.send_json({"id": 2, "type": "http/config/promote"})
            await socket_.receive_json()
        if not answer.get("success"):
            raise HassError(f"no long-lived token: {answer.get('error')}")
        return str(answer["result"])

    def add_homeiq(self) -> dict[str, Any]:
        """Add HomeIQ through the config flow, as the integrations page does."""
        flow = self._call(
            "start HomeIQ's config flow",
            "POST",
            "/api/config/config_entries/flow",
            {"handler": DOMAIN},
        )
        if flow.get("type") == "form":
            flow = self._call(
                "finish HomeIQ's config flow",
                "POST",
                f"/api/config/config_entries/flow/{flow['flow_id']}",
                {},
            )
        if flow.get("type") != "create_entry":
            raise HassError(f"HomeIQ's config flow ended with {flow}")
        (entry,) = self.homeiq_entries()
        if entry["state"] != "loaded":
            raise HassError(f"HomeIQ did not load: {entry}\n{self.log_tail()}")
        return dict(entry)

    def homeiq_entries(self) -> list[dict[str, Any]]:
        """Return HomeIQ's config entries as the integrations page sees them."""
        entries: list[dict[str, Any]] = self.request(
            "GET", f"/api/config/config_entries/entry?domain={DOMAIN}"
        )
        return entries

    def homeiq_diagnostics(self) -> dict[str, Any]:
        """Return HomeIQ's diagnostics download (its `data`)."""
        (entry,) = self.homeiq_entries()
        path = f"/api/diagnostics/config_entry/{entry['entry_id']}"
        data: dict[str, Any] = self.request("GET", path)["data"]
        return data

    def entity(self, entity_id: str) -> dict[str, Any]:
        """Return the state object of `entity_id` (state, attributes …)."""
        found: dict[str, Any] = self.request("GET", f"/api/states/{entity_id}")
        return found

    def state(self, entity_id: str) -> str:
        """Return the current state of `entity_id`."""
        return str(self.entity(entity_id)["state"])

    def states(self) -> list[dict[str, Any]]:
        """Return every entity's state object."""
        found: list[dict[str, Any]] = self.request("GET", "/api/states")
        return found

    def call_service(
        self, domain: str, service: str, data: dict[str, Any] | None = None
    ) -> Any:
        """Call a service (an action) with `data`."""
        return self.request("POST", f"/api/services/{domain}/{service}", data or {})

    def render(self, template: str) -> str:
        """Render a template on the server."""
        return self.send("POST", "/api/template", {"template": template}).decode()


def entity_ids(states: Sequence[dict[str, Any]], domain: str) -> list[str]:
    """Return the sorted entity ids of `domain` among `states`."""
    prefix = f"{domain}."
    return sorted(s["entity_id"] for s in states if s["entity_id"].startswith(prefix))
