"""The loop end to end against a real `hass`: train, push, the entities follow.

One server for the module, in file order, as in life: HA with its demo home and a
copy of HomeIQ without shipped models (so the rule-based fallback serves first
and a pushed model is seen to take over); activity through service calls;
`homeiq-trainer run --once` as a subprocess (pull, train on the pulled home and a
small synthetic mix, judge, push, confirm); then HA restarted in the
middle of a push (the stored model keeps serving, the client retries and
succeeds), hostile uploads refused while the model keeps serving, and the
harness's own failure paths. HA is stopped by its PID at the end.
"""

from collections.abc import Iterator
from contextlib import contextmanager
import hashlib
import json
import os
from pathlib import Path
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest
import pytest_socket

from homeiq_trainer import demo
from homeiq_trainer.errors import CommandError
from homeiq_trainer.ha_client import Client, Retry
from homeiq_trainer.hass_server import HASS_PYTHON, HassError, HassServer
from homeiq_trainer.models.registry import current

pytestmark = pytest.mark.usefixtures("socket_enabled")

HOME_TYPE = "sensor.homeiq_home_type"
VERSION = "sensor.homeiq_model_version"
PUSHED = ("home_type", "device_failure", "device_anomaly", "battery_days_left_q50")
STATUS_SLOT = {"battery_days_left_q50": "battery_days_left"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HassServer]:
    """One real hass with HomeIQ (no shipped models) added, for the module."""
    pytest_socket.enable_socket()  # runs before the function-scoped socket_enabled
    config_dir = tmp_path_factory.mktemp("loop-hass")
    with HassServer(config_dir, shipped_models=False, name="HomeIQ loop") as hass:
        hass.start()
        hass.onboard("owner", "loop-password-1")
        hass.wait_until_running()
        hass.long_lived_token("homeiq e2e")
        hass.add_homeiq()
        yield hass


@pytest.fixture(scope="module")
def token_file(server: HassServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("token") / "token"
    path.write_text(server.token)
    return path


def _trainer(*argv: str) -> subprocess.CompletedProcess[str]:
    """Run `homeiq-trainer` as a user would, without HOMEIQ_* from this process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEIQ_")}
    return subprocess.run(
        [sys.executable, "-m", "homeiq_trainer", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def settings(
    server: HassServer,
    token_file: Path,
    homeiq_cache: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """The daemon's settings: this server, the demo's small synthetic mix."""
    path = tmp_path_factory.mktemp("loop-state") / "homeiq-trainer.toml"
    path.write_text(
        f"url = {json.dumps(server.url)}\n"
        f"token_file = {json.dumps(str(token_file))}\n"
        f"state_dir = {json.dumps(str(path.parent))}\n"
        f"data_dir = {json.dumps(str(homeiq_cache / 'demo' / 'data'))}\n"
        f"synthetic_homes = {demo.DEMO_HOMES}\n"
        f"synthetic_days = {demo.DEMO_DAYS}\n"
        f"failure_rate = {demo.DEMO_FAILURE_RATE}\n"
        f"plan_homes = {demo.DEMO_PLAN_HOMES}\n"
        f"seed = {demo.DEMO_SEED}\n"
        "jobs = 2\n"
    )
    return path


@pytest.fixture(scope="module")
def registry(settings: Path) -> Path:
    """Where `run --once` registers its candidates."""
    return settings.parent / "registry"


def _model(registry: Path, name: str) -> bytes:
    return (current(registry, name) / "model.onnx").read_bytes()


def _sha(registry: Path, name: str) -> str:
    return hashlib.sha256(_model(registry, name)).hexdigest()


def _served(server: HassServer) -> dict[str, str | None]:
    models = server.request("GET", "/api/homeiq/status")["models"]
    return {
        name: (models[STATUS_SLOT.get(name, name)] or {}).get("sha256")
        for name in PUSHED
    }


def _healths(server: HassServer) -> dict[str, str]:
    # Health, not failure risk: the failure-risk entities are disabled by default.
    return {
        s["entity_id"]: s["state"]
        for s in server.states()
        if s["entity_id"].endswith("_health")
    }


def test_the_loop_puts_new_models_behind_the_entities(
    server: HassServer, settings: Path, registry: Path
) -> None:
    assert server.state(VERSION) == "rules"
    assert server.entity(HOME_TYPE)["attributes"]["source"] == "rules"
    healths_before = _healths(server)
    assert demo.drive_activity(server, rounds=2) >= 4

    done = _trainer("run", "--once", "--config", str(settings), "--log-format", "text")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "run ok in" in done.stderr
    for model in ("home_type", "device_failure", "battery_days_left", "device_anomaly"):
        assert f"{model}: promote" in done.stderr
    version = server.state(VERSION)
    assert version != "rules"
    assert version.startswith("model ")
    home = server.entity(HOME_TYPE)["attributes"]
    assert home["source"] == "model"
    assert home["model_version"] == version
    assert _served(server) == {name: _sha(registry, name) for name in PUSHED}
    # Device health now follows the models' failure risk, not the rules'.
    healths_after = _healths(server)
    assert healths_before
    assert set(healths_after) == set(healths_before)
    assert healths_after != healths_before
    assert all(0 <= float(health) <= 100 for health in healths_after.values())


def test_ha_restarted_in_the_middle_of_a_push(
    server: HassServer, registry: Path, token_file: Path
) -> None:
    before = _served(server)
    # A different valid battery model: the q90 file under the median's name.
    newer = (current(registry, "battery_days_left_q90") / "model.onnx").read_bytes()
    retries: list[str] = []
    client = Client(server.url, server.token, Retry(8, 0.5, 90, 10), retries.append)
    first_done, ha_down = threading.Event(), threading.Event()
    answers: list[object] = []

    def push() -> None:
        try:
            anomaly = _model(registry, "device_anomaly")
            answers.append(client.upload("device_anomaly", anomaly))
            first_done.set()
            ha_down.wait(60)
            answers.append(client.upload("battery_days_left_q50", newer))
        except CommandError as error:
            answers.append(error)
            first_done.set()

    pusher = threading.Thread(target=push)
    pusher.start()
    assert first_done.wait(60)
    server.stop()
    ha_down.set()
    time.sleep(1)  # the push meets a server that is down
    server.start()
    server.wait_until_running()
    pusher.join(120)

    assert not pusher.is_alive()
    assert [type(a) for a in answers] == [dict, dict], answers
    assert answers[1]["version"] == 2  # type: ignore[index]
    assert retries, "the client never had to retry"
    served = _served(server)
    assert served["battery_days_left_q50"] == hashlib.sha256(newer).hexdigest()
    assert served["home_type"] == before["home_type"]
    assert server.entity(HOME_TYPE)["attributes"]["source"] == "model"


def test_a_push_while_ha_is_down_fails_and_the_stored_models_serve_after(
    server: HassServer,
) -> None:
    before = _served(server)
    version = server.state(VERSION)
    server.stop()
    client = Client(server.url, server.token, Retry(2, 0.1, 5, 5), lambda _: None)

    with pytest.raises(CommandError, match="failed after 2 attempt"):
        client.upload("home_type", b"anything")

    server.start()
    server.wait_until_running()
    assert _served(server) == before
    assert server.state(VERSION) == version


def _post(server: HassServer, name: str, data: bytes, sha: str) -> tuple[int, str]:
    request = urllib.request.Request(
        f"{server.url}/api/homeiq/models/{name}",
        data=data,
        method="POST",
        headers={"Authorization": f"Bearer {server.token}", "X-HomeIQ-SHA256": sha},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@pytest.mark.parametrize(
    ("kind", "status", "message"),
    [
        ("wrong-checksum", 400, "checksum mismatch"),
        ("not-onnx", 422, "model refused"),
        ("too-large", 413, "larger than"),
    ],
)
def test_a_hostile_upload_is_refused_and_the_model_keeps_serving(
    server: HassServer, registry: Path, kind: str, status: int, message: str
) -> None:
    before = _served(server)
    version = server.state(VERSION)
    good = _model(registry, "home_type")
    data = {
        "wrong-checksum": good,
        "not-onnx": b"<html>not a model</html>",
        "too-large": b"\0" * (9 << 20),
    }[kind]
    sha = hashlib.sha256(b"other" if kind == "wrong-checksum" else data).hexdigest()

    answer = _post(server, "home_type", data, sha)

    assert answer[0] == status
    assert message in answer[1]
    assert _served(server) == before
    assert server.state(VERSION) == version
    assert server.entity(HOME_TYPE)["attributes"]["source"] == "model"


def test_onboarding_twice_and_a_second_homeiq_are_refused_clearly(
    server: HassServer,
) -> None:
    token = server.token
    with pytest.raises(HassError, match="could not create the owner account: HTTP"):
        server.onboard("intruder", "another-password")
    with pytest.raises(HassError, match="HomeIQ's config flow ended with"):
        server.add_homeiq()
    assert server.token == token
    assert len(server.homeiq_entries()) == 1


def test_a_second_hass_on_a_config_dir_in_use_fails_with_its_log(
    server: HassServer, tmp_path: Path
) -> None:
    second = HassServer(tmp_path / "second")
    # The running server's lock: HA allows one instance per config dir.
    (tmp_path / "second" / ".ha_run.lock").symlink_to(
        server.config_dir / ".ha_run.lock"
    )

    expected = r"hass exited with code 1\nlast lines"
    with pytest.raises(HassError, match=expected) as error:
        second.start()

    assert "already running" in str(error.value)
    assert second.pid is None


def test_waiting_for_ctrl_c_returns_on_it(server: HassServer) -> None:
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    began = time.monotonic()

    demo.wait_until_interrupted(server, poll=0.1)

    timer.join()
    assert time.monotonic() - began < 10
    assert server.pid is not None  # the caller stops it


def test_waiting_reports_a_hass_that_stops_by_itself(server: HassServer) -> None:
    pid = server.pid
    assert pid is not None
    os.kill(pid, signal.SIGKILL)

    with pytest.raises(HassError, match="stopped by itself"):
        demo.wait_until_interrupted(server, poll=0.1)

    assert server.pid is None
    server.stop()  # nothing left to stop: a no-op


def test_hass_that_does_not_answer_in_time_is_stopped_with_its_log(
    tmp_path: Path,
) -> None:
    hass = HassServer(tmp_path / "slow")

    with pytest.raises(HassError, match=r"did not answer within 0 s\nlast lines of"):
        hass.start(timeout=0.01)

    assert hass.pid is None


def test_hass_from_another_python_installs_what_it_needs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`HOMEIQ_HASS_PYTHON` (e.g. a newer HA's venv) runs hass without --skip-pip."""
    argv = tmp_path / "argv"
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {argv}\nexit 3\n')
    python.chmod(0o755)
    monkeypatch.setenv(HASS_PYTHON, str(python))
    hass = HassServer(tmp_path / "other")

    with pytest.raises(HassError, match="hass exited with code 3"):
        hass.start()

    config = str(tmp_path / "other")
    assert argv.read_text().split() == ["-m", "homeassistant", "--config", config]


def test_another_python_that_is_not_there_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(HASS_PYTHON, str(tmp_path / "missing"))
    with pytest.raises(HassError, match=r"HOMEIQ_HASS_PYTHON=\S+ is not an executable"):
        HassServer(tmp_path / "config")


def test_a_port_in_use_is_refused(tmp_path: Path, server: HassServer) -> None:
    with socket_bound() as port:
        hass = HassServer(tmp_path / "busy", port=port)
        with pytest.raises(HassError, match=f"port {port} on 127.0.0.1 is in use"):
            hass.start()


@contextmanager
def socket_bound() -> Iterator[int]:
    """Listen on a free port of 127.0.0.1 for the block; yield the port."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_the_http_settings_are_confirmed_so_hass_keeps_running(
    server: HassServer,
) -> None:
    # Unconfirmed, HA would revert them and restart itself after 5 minutes.
    stored = json.loads((server.config_dir / ".storage" / "http").read_text())
    assert stored["data"]["pending"] is None
    assert stored["data"]["stable"]["server_port"] == server.port
