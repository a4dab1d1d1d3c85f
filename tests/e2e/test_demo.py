"""`homeiq-trainer demo --no-wait`: a real HA, trained and pushed models, printed.

The demo runs in this process (as `homeiq-trainer demo` would), against a real
`hass` it starts itself; what it prints is checked against HA's own files.
"""

import base64
import hashlib
import json
from pathlib import Path
import re
import socket

import bcrypt
import pytest

import homeiq_core
from homeiq_trainer import cli, demo
from homeiq_trainer.errors import CommandError
from homeiq_trainer.hass_server import integration_source
from homeiq_trainer.models.registry import current

from .conftest import DemoRun

pytestmark = pytest.mark.usefixtures("socket_enabled")


def _password_hash(config_dir: Path, username: str) -> bytes:
    store_file = config_dir / ".storage" / "auth_provider.homeassistant"
    store = json.loads(store_file.read_text())
    (user,) = [u for u in store["data"]["users"] if u["username"] == username]
    return base64.b64decode(user["password"])


def test_demo_prints_a_working_login_and_the_new_models_states(
    demo_run: DemoRun,
) -> None:
    code, out, err, config_dir = (
        demo_run.code,
        demo_run.out,
        demo_run.err,
        demo_run.config_dir,
    )

    assert code == 0, err
    url = re.search(r"URL: +(http://127\.0\.0\.1:(\d+))", out)
    assert url is not None, out
    login = re.search(r"login: +(\S+) / (\S+)", out)
    assert login is not None
    username, password = login.groups()
    # The printed password is the owner's (checked against HA's own store).
    assert bcrypt.checkpw(password.encode(), _password_hash(config_dir, username))
    assert re.search(r"sensor\.homeiq_home_type: \w+ \(source model;", out), out
    assert "sensor.homeiq_model_version: rules -> model " in out
    for model in ("home_type", "device_failure", "battery_days_left", "device_anomaly"):
        assert f"  pushed {model}\n" in out
    assert re.search(r"again: homeiq-trainer run --once --config \S+\.toml", out)
    registry = demo_run.registry
    for name in ("home_type", "device_failure", "device_anomaly"):
        data = (current(registry, name) / "model.onnx").read_bytes()
        sha = hashlib.sha256(data).hexdigest()[:12]
        assert f"model {name}: uploaded v1 ({sha})" in out
    health = re.findall(r"^  sensor\.\w+_health: [\d.]+ %", out, re.MULTILINE)
    assert len(health) == demo.HEALTH_SHOWN
    assert re.search(r"sensor\.homeiq_devices_monitored: \d+", out)
    assert re.search(r"^ready in \d+ s$", out, re.MULTILINE)
    # Progress on stderr: start, activity, training, push, stop.
    steps = ("starting Home Assistant", "drove activity", "nightly loop", "stage push")
    for step in steps:
        assert step in err
    assert "stopped" in err
    token_file = config_dir / "homeiq-token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    # HA was stopped: nothing answers on its port any more.
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", int(url.group(2))), timeout=2),
    ):
        pass


def test_demo_refuses_a_config_dir_in_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "configuration.yaml").write_text("homeassistant:\n")

    with pytest.raises(SystemExit) as exited:
        cli.main(["demo", "--no-wait", "--config-dir", str(tmp_path)])

    assert exited.value.code == 1
    assert "is not a new or empty directory" in capsys.readouterr().err


def test_the_default_config_dir_is_fresh_under_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOMEIQ_CACHE", str(tmp_path / "cache"))
    first = demo.config_directory(None)
    second = demo.config_directory(None)

    assert first != second
    assert first.parent == second.parent == tmp_path / "cache" / "demo"
    assert not any(first.iterdir())

    monkeypatch.delenv("HOMEIQ_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert demo.cache_root() == tmp_path / "xdg" / "homeiq"


def test_an_install_without_the_integration_says_where_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A wheel: the core in site-packages, no integration beside it.
    core = tmp_path / "site-packages" / "homeiq_core"
    core.mkdir(parents=True)
    (core / "__init__.py").touch()
    monkeypatch.setattr(homeiq_core, "__file__", str(core / "__init__.py"))

    with pytest.raises(CommandError, match="run from a clone of the repository"):
        integration_source()
