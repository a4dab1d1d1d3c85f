"""`homeiq-trainer status` and `push` against a real Home Assistant on 127.0.0.1.

One `hass` from the venv serves the whole module (onboarded, HomeIQ added through
the config flow); the tests run in file order, as a user would: the status before
HomeIQ is set up, then pushes of the shipped models and of bad ones.
"""

from collections.abc import Iterator
import hashlib
from pathlib import Path
import shutil
import socket
import threading
import time

import onnx
import pytest
import pytest_socket

from homeiq_trainer import ha_client
from homeiq_trainer.cli import main
from homeiq_trainer.errors import CommandError
from homeiq_trainer.ha_client import TOKEN_ENV, Client, Retry, read_token
from homeiq_trainer.hass_server import HassServer

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "custom_components" / "homeiq" / "models"
USED = ("home_type", "device_failure", "device_anomaly", "battery_days_left_q50")
STATUS_KEYS = {
    "home_type": "home_type",
    "device_failure": "device_failure",
    "device_anomaly": "device_anomaly",
    "battery_days_left_q50": "battery_days_left",
}
FAST = ("--attempts", "3", "--retry-delay", "0.1", "--max-retry-time", "5")

pytestmark = pytest.mark.usefixtures("socket_enabled")


@pytest.fixture(scope="module")
def hass_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HassServer]:
    """Start one real hass for this module, onboarded, and stop it afterwards."""
    pytest_socket.enable_socket()  # runs before the function-scoped socket_enabled
    server = HassServer(tmp_path_factory.mktemp("hass-config"))
    try:
        server.start()
        server.onboard("owner", "correct-horse-battery")
        server.wait_until_running()
        yield server
    finally:
        server.stop()


@pytest.fixture
def token(hass_server: HassServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """Put the admin's token in the environment, as a user would."""
    monkeypatch.setenv(TOKEN_ENV, hass_server.token)
    return hass_server.token


@pytest.fixture
def registry(tmp_path: Path) -> Path:
    """A registry holding the shipped models as version 1 of each."""
    for path in SHIPPED.glob("*.onnx"):
        version = tmp_path / path.stem / "v0001"
        version.mkdir(parents=True)
        shutil.copy(path, version / "model.onnx")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        (version / "checksum.sha256").write_text(f"{digest}  model.onnx\n")
        (tmp_path / path.stem / "current").write_text("v0001\n")
    return tmp_path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run the trainer's CLI; return its exit code and everything it printed."""
    try:
        code = main(list(argv))
    except SystemExit as stop:
        code = int(stop.code or 0)
    out, err = capsys.readouterr()
    return code, out + err


def assert_no_token(output: str, token: str) -> None:
    """The token must never reach the output."""
    assert token not in output
    assert token[:16] not in output


def test_status_before_homeiq_is_set_up_says_so(
    hass_server: HassServer, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = run(capsys, "status", "--url", hass_server.url, *FAST)

    assert code == 1
    assert "HTTP 404" in output
    assert "(is HomeIQ installed and set up?)" in output
    assert "retrying" not in output
    assert_no_token(output, token)


def test_status_shows_the_shipped_models_and_counts(
    hass_server: HassServer, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = hass_server.request(
        "POST", "/api/config/config_entries/flow", {"handler": "homeiq"}
    )
    hass_server.request(
        "POST", f"/api/config/config_entries/flow/{flow['flow_id']}", {}
    )

    code, output = run(capsys, "status", "--url", hass_server.url)

    assert code == 0
    assert "home_type: shipped, created " in output
    assert "device_failure: shipped" in output
    assert "devices monitored: " in output
    assert_no_token(output, token)


def test_push_of_the_shipped_models_activates_them(
    hass_server: HassServer,
    token: str,
    registry: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, output = run(
        capsys, "push", "--url", hass_server.url, "--registry", str(registry)
    )

    assert code == 0, output
    models = hass_server.request("GET", "/api/homeiq/status")["models"]
    for name in USED:
        assert f"{name}: uploaded as version 1, served" in output
        served = models[STATUS_KEYS[name]]
        assert served["source"] == "uploaded"
        assert served["file"] == name
        digest = hashlib.sha256((SHIPPED / f"{name}.onnx").read_bytes()).hexdigest()
        assert served["sha256"] == digest
    assert_no_token(output, token)

    code, output = run(capsys, "status", "--url", hass_server.url)
    assert "home_type: uploaded home_type v1 sha256 " in output


def test_a_second_push_skips_what_is_served(
    hass_server: HassServer,
    token: str,
    registry: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, output = run(
        capsys, "push", "--url", hass_server.url, "--registry", str(registry)
    )

    assert code == 0
    assert output.count("skipped: already served") == len(USED)


def test_a_quantile_file_is_stored_and_a_dry_run_uploads_nothing(
    hass_server: HassServer,
    token: str,
    registry: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = ("--url", hass_server.url, "--registry", str(registry))
    code, output = run(capsys, "push", *url, "--model", "battery_days_left_q10")
    assert code == 0
    assert "uploaded as version 1, stored (not used for scoring" in output

    code, output = run(capsys, "push", *url, "--model", "battery_days_left_q90")
    code, output = run(
        capsys, "push", *url, "--model", "battery_days_left_q90", "--dry-run"
    )
    assert code == 0
    assert "battery_days_left_q90: would upload (dry run)" in output


def test_a_model_of_the_wrong_schema_is_refused_locally(
    hass_server: HassServer,
    token: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    proto = onnx.load(SHIPPED / "device_failure.onnx")
    for prop in proto.metadata_props:
        if prop.key == "homeiq.schema":
            prop.value = "0" * 16
    onnx.save(proto, tmp_path / "device_failure.onnx")
    (tmp_path / "home_type.onnx").write_bytes(b"not onnx at all")

    code, output = run(
        capsys,
        "push",
        "--url",
        hass_server.url,
        "--file",
        str(tmp_path / "device_failure.onnx"),
        "--file",
        str(tmp_path / "home_type.onnx"),
    )

    assert code == 1
    assert "device_failure: FAILED: refused locally: its homeiq.schema is '0000" in (
        output
    )
    assert "home_type: FAILED: not a valid ONNX model" in output
    served = hass_server.request("GET", "/api/homeiq/status")["models"]
    assert served["device_failure"]["version"] == 1


def test_a_model_the_integration_refuses_is_not_retried(
    hass_server: HassServer,
    token: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The anomaly model reads the same features but answers scores, not failures.
    shutil.copy(SHIPPED / "device_anomaly.onnx", tmp_path / "device_failure.onnx")

    code, output = run(
        capsys,
        "push",
        "--url",
        hass_server.url,
        "--file",
        str(tmp_path / "device_failure.onnx"),
        *FAST,
    )

    assert code == 1
    assert "device_failure: FAILED: HTTP 422: model refused: " in output
    assert "retrying" not in output


def test_a_wrong_token_gives_a_clear_error(
    hass_server: HassServer,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    wrong = "wrong-" + "x" * 40
    (tmp_path / "token").write_text(wrong + "\n")

    code, output = run(
        capsys,
        "status",
        "--url",
        hass_server.url,
        "--token-file",
        str(tmp_path / "token"),
    )

    assert code == 1
    assert "HTTP 401" in output
    assert "is the token valid and an admin user's?" in output
    assert_no_token(output, wrong)


def test_a_missing_token_is_explained(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.delenv(TOKEN_ENV, raising=False)
    code, output = run(capsys, "status", "--url", "http://127.0.0.1:9")
    assert code == 1
    assert f"set {TOKEN_ENV}" in output

    (tmp_path / "empty").write_text("\n")
    with pytest.raises(CommandError, match="is empty"):
        read_token(tmp_path / "empty")
    with pytest.raises(CommandError, match="cannot read token file"):
        read_token(tmp_path / "absent")


def test_an_unreachable_url_is_retried_then_fails_within_the_bound(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, "secret-token-that-must-not-show")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()

    code, output = run(
        capsys,
        "status",
        "--url",
        f"http://127.0.0.1:{port}",
        "--attempts",
        "10",
        "--retry-delay",
        "0.2",
        "--max-retry-time",
        "1",
    )

    assert code == 1
    assert time.monotonic() - started < 3
    assert "ConnectionRefusedError" in output
    assert "retrying in 0.4 s" in output
    assert "failed after 3 attempt(s)" in output
    assert_no_token(output, "secret-token-that-must-not-show")


def test_a_connection_dropped_mid_request_is_retried() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def drop_twice() -> None:
        for _ in range(2):
            connection, _ = server.accept()
            connection.recv(1024)
            connection.close()

    thread = threading.Thread(target=drop_twice, daemon=True)
    thread.start()
    lines: list[str] = []
    client = Client(f"http://127.0.0.1:{port}", "t", Retry(2, 0.05, 5, 5), lines.append)
    try:
        # Closed with the body unread, the peer may reset instead (a race).
        with pytest.raises(CommandError, match=r"RemoteDisconnected|ConnectionReset"):
            client.upload("home_type", b"x" * 100)
    finally:
        thread.join(5)
        server.close()
    assert len(lines) == 1
    assert "token" not in repr(client)
    with pytest.raises(SystemExit):
        main(["status", "--url", "http://127.0.0.1:9", "--attempts", "0"])


def test_status_after_homeiq_is_removed_retries_the_503_then_fails(
    hass_server: HassServer, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (entry,) = hass_server.homeiq_entries()
    hass_server.request(
        "DELETE", f"/api/config/config_entries/entry/{entry['entry_id']}"
    )

    code, output = run(capsys, "status", "--url", hass_server.url, *FAST)

    assert code == 1
    assert "HTTP 503: HomeIQ is not loaded" in output
    assert "retrying in 0.1 s (attempt 2/3)" in output
    assert "failed after 3 attempt(s)" in output
    assert_no_token(output, token)


def test_push_arguments_are_checked_before_connecting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = ("push", "--url", "http://127.0.0.1:9")
    cases = {
        ("--file", "a.onnx", "--model", "home_type"): "either --file or --model",
        ("--file", str(tmp_path / "model.onnx")): "the file's name must be one of",
        ("--file", str(tmp_path / "home_type.onnx")): "cannot read",
        ("--registry", str(tmp_path / "none")): "no current version",
    }
    for argv, message in cases.items():
        code, output = run(capsys, *url, *argv)
        assert code == 1
        assert message in output


def test_an_upload_the_integration_does_not_serve_is_a_failure() -> None:
    data = (SHIPPED / "home_type.onnx").read_bytes()
    candidate = ha_client.Candidate("home_type", SHIPPED, data)
    candidate.uploaded = candidate.sha256
    candidate.outcome = "uploaded as version 2"
    status = {"models": {"home_type": {"file": "home_type", "sha256": "0" * 64}}}

    ha_client._confirm([candidate], status)

    assert candidate.failed
    assert candidate.outcome.endswith(f"but the integration serves {'0' * 64}")
    assert ha_client._describe(None) == "none (rule-based fallback)"
