"""`run_once` and `homeiq-trainer run --once` against a real Home Assistant.

One `hass` from the venv (onboarded, HomeIQ added through the config flow, the
shipped models deployed) serves the module. A deployed failure model that learned
noise is replaced by the tiny run's candidate; the shipped models, trained on 400
homes, are kept with their figures.
"""

from collections.abc import Iterator
import hashlib
import json
import os
from pathlib import Path
import signal
import subprocess
import sys

import pytest
import pytest_socket

from homeiq_core.features import DEVICE_SCHEMA
from homeiq_trainer.config import Config, load_config
from homeiq_trainer.daemon import _pull, _push, _Run, run_once
from homeiq_trainer.ha_client import Client, Retry
from homeiq_trainer.hass_server import HassServer
from homeiq_trainer.models.pipeline import MODEL_NAMES
from homeiq_trainer.models.registry import current, verify
from homeiq_trainer.promotion import GATES, Verdict

from .conftest import FILES, TINY, Trained, noise_failure_model, synthetic_name

pytestmark = pytest.mark.usefixtures("socket_enabled")
STAGES = ["connect", "pull", "synthetic", "features", "train", "evaluate", "push"]


@pytest.fixture(scope="module")
def hass_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HassServer]:
    """One real hass with HomeIQ set up, for the module."""
    pytest_socket.enable_socket()  # runs before the function-scoped socket_enabled
    server = HassServer(tmp_path_factory.mktemp("hass-config"))
    try:
        server.start()
        server.onboard("owner", "correct-horse-battery")
        server.wait_until_running()
        flow = server.request(
            "POST", "/api/config/config_entries/flow", {"handler": "homeiq"}
        )
        server.request("POST", f"/api/config/config_entries/flow/{flow['flow_id']}", {})
        yield server
    finally:
        server.stop()


def _environ(server: HassServer, state: Path, data: Path) -> dict[str, str]:
    return {
        "HOMEIQ_URL": server.url,
        "HOMEIQ_TOKEN": server.token,
        "HOMEIQ_STATE_DIR": str(state),
        "HOMEIQ_DATA_DIR": str(data),
        "HOMEIQ_RETRY_ATTEMPTS": "3",
        "HOMEIQ_RETRY_DELAY": "0.2",
        **{f"HOMEIQ_{key.upper()}": str(value) for key, value in TINY.items()},
    }


def _config(server: HassServer, tmp_path: Path, data: Path) -> Config:
    return load_config(None, environ=_environ(server, tmp_path / "state", data))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_run_once_pushes_the_better_model_and_keeps_the_others(
    hass_server: HassServer, tmp_path: Path
) -> None:
    """The first run: generates the synthetic mix, trains, judges, pushes."""
    client = Client(hass_server.url, hass_server.token, Retry(attempts=2))
    noise = noise_failure_model()
    assert client.upload("device_failure", noise)["sha256"] == _sha(noise)
    assert client.download_model("device_failure") == noise
    shipped = {name: client.download_model(name) for name in FILES}
    config = _config(hass_server, tmp_path, tmp_path / "data")

    summary = run_once(config)

    assert summary.ok, summary.line
    assert summary.pushed == ["device_failure"]
    assert set(summary.kept) == {"home_type", "battery_days_left", "device_anomaly"}
    for reason in summary.kept.values():
        assert "beyond the tolerance" in reason
    candidate = (current(config.models, "device_failure") / "model.onnx").read_bytes()
    status = client.status()
    assert status["models"]["device_failure"]["sha256"] == _sha(candidate)
    assert status["models"]["device_failure"]["source"] == "uploaded"
    assert client.download_model("device_failure") == candidate
    for name in FILES:  # the kept models still serve
        if name != "device_failure":
            assert client.download_model(name) == shipped[name]

    assert summary.record is not None
    record = json.loads(summary.record.read_text())
    assert record == json.loads((config.state_dir / "last-run.json").read_text())
    assert [stage for stage, _ in record["stages"]] == STAGES
    assert record["ok"] is True
    assert record["pruned"]["versions"] == 0  # one version of each: nothing old
    verdicts = record["verdicts"]
    assert verdicts["device_failure"]["promote"] is True
    assert (
        verdicts["device_failure"]["candidate"] > verdicts["device_failure"]["deployed"]
    )
    assert verdicts["home_type"]["promote"] is False
    assert record["push"]["device_failure"]["sha256"] == _sha(candidate)
    assert record["push"]["device_failure"]["outcome"].endswith(", served")
    assert record["homes"]["all"] >= TINY["synthetic_homes"]
    assert (config.data / synthetic_name() / "manifest.json").is_file()
    assert record["config"]["token"] == "set"
    assert hass_server.token not in summary.record.read_text()
    assert summary.line.startswith("run ok in ")
    assert "pushed device_failure" in summary.line
    assert "kept home_type (log-loss " in summary.line


def test_sigterm_during_training_finishes_the_stage_and_stops(
    hass_server: HassServer, tiny_data: Path, tmp_path: Path
) -> None:
    """The registry is whole: the training stage ends, nothing is judged or pushed."""
    before = Client(hass_server.url, hass_server.token).status()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEIQ_")}
    env |= _environ(hass_server, tmp_path / "state", tiny_data)
    env["HOMEIQ_REGISTRY"] = str(tmp_path / "registry")
    process = subprocess.Popen(
        [sys.executable, "-m", "homeiq_trainer", "run", "--once"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stderr is not None
    for line in process.stderr:
        if json.loads(line).get("stage") == "train":
            break
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=300)

    assert process.returncode == 0, err
    assert "stopped before evaluate" in out
    messages = [json.loads(line)["message"] for line in err.splitlines()]
    assert "SIGTERM: stopping after the current stage" in messages
    for name in MODEL_NAMES:  # every model registered whole
        verify(current(tmp_path / "registry", name))
    assert not list((tmp_path / "registry").rglob(".staging-*"))
    record = json.loads((tmp_path / "state" / "last-run.json").read_text())
    assert record["stopped_before"] == "evaluate"
    assert "verdicts" not in record
    after = Client(hass_server.url, hass_server.token).status()
    assert after["models"] == before["models"]


def test_without_a_dataset_from_homeiq_the_run_goes_on_synthetic_only(
    hass_server: HassServer, tmp_path: Path
) -> None:
    """An integration without the dataset API (404), or a pull that cannot land."""
    environ = _environ(hass_server, tmp_path / "state", tmp_path / "data")
    environ["HOMEIQ_URL"] = hass_server.url + "/old"  # HA answers 404 there
    run = _Run(load_config(None, environ=environ), False, None)
    assert _pull(run) is None
    assert "no dataset from HomeIQ (HTTP 404" in run.notes[0]
    assert "training on synthetic homes only" in run.notes[0]

    config = _config(hass_server, tmp_path, tmp_path / "data")
    (config.data / "home").mkdir(parents=True)
    (config.data / "home" / "notes.txt").write_text("mine")  # not a dataset
    run = _Run(config, False, None)
    assert _pull(run) is None
    assert "refusing to replace it" in run.notes[0]
    assert (config.data / "home" / "notes.txt").read_text() == "mine"

    (config.data / "home" / "notes.txt").unlink()
    run = _Run(config, False, None)
    pulled = _pull(run)
    assert pulled == config.data / "home"
    assert (pulled / "manifest.json").is_file()
    assert run.record["pulled"] == str(pulled)


def test_push_outcomes_dry_run_already_served_and_refused(
    hass_server: HassServer, tmp_path: Path, trained: Trained
) -> None:
    client = Client(hass_server.url, hass_server.token, Retry(attempts=2))
    noise = noise_failure_model()
    client.upload("device_failure", noise)
    promote = {
        model: Verdict(model, True, "better", GATES[model].metric) for model in GATES
    }
    other_schema = bytes(noise).replace(
        DEVICE_SCHEMA.fingerprint().encode(), b"0123456789abcdef"
    )
    candidates = {
        **trained.models,
        "device_failure": noise,
        "device_anomaly": other_schema,
    }
    environ = _environ(hass_server, tmp_path / "state", tmp_path / "data")

    dry = _Run(
        load_config(None, environ={**environ, "HOMEIQ_PUSH": "false"}), False, None
    )
    _push(dry, promote, candidates)
    assert dry.summary.pushed == []
    assert set(dry.summary.kept.values()) == {"push = false: promoted, not pushed"}

    keep = {**promote, "home_type": Verdict("home_type", False, "worse", "log-loss")}
    keep["battery_days_left"] = Verdict("battery_days_left", False, "worse", "MAE")
    run = _Run(load_config(None, environ=environ), False, None)
    _push(run, keep, candidates)
    assert run.summary.pushed == []
    assert run.summary.kept["home_type"] == "worse"
    assert run.summary.kept["device_failure"] == (
        "the deployed model is this very candidate"
    )
    assert (
        "push failed: device_anomaly: FAILED: refused locally"
        in (run.summary.kept["device_anomaly"])
    )
    assert not run.summary.ok
    assert client.download_model("device_failure") == noise


def test_no_homes_at_all_fail_the_run_with_the_reason(
    hass_server: HassServer, tmp_path: Path
) -> None:
    environ = _environ(hass_server, tmp_path / "state", tmp_path / "data")
    environ["HOMEIQ_SYNTHETIC_HOMES"] = "0"

    summary = run_once(load_config(None, environ=environ))

    assert not summary.ok
    assert "no homes to train on" in summary.line
