"""The daemon's machinery: schedule, lock, logs, records, signals, the loop."""

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
import io
import json
import logging
import os
from pathlib import Path
import signal
import socket
import subprocess
import sys
import threading
import time as clock
import zoneinfo

from hypothesis import given, settings, strategies as st
import pytest

from homeiq_trainer import cli, daemon
from homeiq_trainer.config import load_config
from homeiq_trainer.daemon import (
    AlreadyRunning,
    configure_logging,
    instance_lock,
    next_run,
    serve,
    stop_on_signals,
    write_record,
)

AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")
SECRET = "eyJhbGciOiJIUzI1NiJ9.do-not-log-me"

pytestmark = pytest.mark.usefixtures("socket_enabled")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


# --- schedule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "at", "expected"),
    [
        # Summer (CEST, UTC+2): 01:00 local -> 03:00 local the same day.
        (utc(2026, 6, 1, 23, 0), time(3, 0), utc(2026, 6, 2, 1, 0)),
        # After today's time -> tomorrow.
        (utc(2026, 6, 2, 2, 0), time(3, 0), utc(2026, 6, 3, 1, 0)),
        # Exactly at the time -> tomorrow (strictly after now).
        (utc(2026, 6, 2, 1, 0), time(3, 0), utc(2026, 6, 3, 1, 0)),
        # Winter (CET, UTC+1).
        (utc(2026, 12, 1, 12, 0), time(3, 0), utc(2026, 12, 2, 2, 0)),
        # Spring forward (2026-03-29 02:00 -> 03:00): 03:00 exists, 23 h later.
        (utc(2026, 3, 28, 2, 0), time(3, 0), utc(2026, 3, 29, 1, 0)),
        # ... and 02:30 does not: it runs at 03:30 CEST, after the jump.
        (utc(2026, 3, 28, 23, 0), time(2, 30), utc(2026, 3, 29, 1, 30)),
        # Fall back (2026-10-25 03:00 -> 02:00): 02:30 runs once, the first time ...
        (utc(2026, 10, 24, 23, 0), time(2, 30), utc(2026, 10, 25, 0, 30)),
        # ... not again when the clock shows 02:30 a second time.
        (utc(2026, 10, 25, 0, 31), time(2, 30), utc(2026, 10, 26, 1, 30)),
        (utc(2026, 10, 25, 1, 45), time(2, 30), utc(2026, 10, 26, 1, 30)),
        # A time away from the change is 25 h after the previous day's.
        (utc(2026, 10, 24, 1, 0), time(3, 0), utc(2026, 10, 25, 2, 0)),
    ],
)
def test_next_run_in_amsterdam_across_dst(
    now: datetime, at: time, expected: datetime
) -> None:
    got = next_run(now, at, AMSTERDAM)

    assert got.astimezone(UTC) == expected
    assert got.tzinfo is AMSTERDAM


def test_next_run_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_run(datetime(2026, 1, 1), time(3, 0), AMSTERDAM)


@settings(max_examples=300, deadline=None)
@given(
    st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2037, 12, 31),
        timezones=st.just(UTC),
    ),
    st.times(),
    st.sampled_from([AMSTERDAM, NEW_YORK, zoneinfo.ZoneInfo("Australia/Lord_Howe")]),
)
def test_next_run_is_the_next_showing_of_the_time(
    now: datetime, at: time, zone: zoneinfo.ZoneInfo
) -> None:
    """After now, within a day and a DST shift, on the wall clock when it exists."""
    at = at.replace(microsecond=0)
    got = next_run(now, at, zone)

    assert now < got.astimezone(UTC) <= now + timedelta(hours=25)
    local = got.astimezone(zone)
    exists = local.replace(tzinfo=None).time() == at
    shifted = got.astimezone(UTC) - timedelta(hours=1)
    assert exists or shifted.astimezone(zone).replace(tzinfo=None).time() != at
    # Nothing earlier after now shows the time (the next run is the first one).
    earlier = next_run(now, at, zone)
    assert earlier == got


# --- single instance -----------------------------------------------------------------


def test_a_second_instance_is_refused_while_the_first_holds_the_lock(
    tmp_path: Path,
) -> None:
    with instance_lock(tmp_path / "state") as path:
        assert path.read_text().strip() == str(os.getpid())
        with (
            pytest.raises(AlreadyRunning, match=rf"pid {os.getpid()}\) holds"),
            instance_lock(tmp_path / "state"),
        ):
            pass  # pragma: no cover
    with instance_lock(tmp_path / "state"):  # free again once released
        pass


def test_a_second_daemon_process_exits_with_a_clear_message(tmp_path: Path) -> None:
    config = _config_file(tmp_path, "http://127.0.0.1:9")
    with instance_lock(tmp_path / "state"):
        result = subprocess.run(
            [*TRAINER, "run", "--config", str(config), "--once"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=_env(),
        )
    assert result.returncode == 1
    assert "another homeiq-trainer run" in result.stderr
    assert "one instance per state directory" in result.stderr
    assert SECRET not in result.stderr + result.stdout


# --- logs and records ----------------------------------------------------------------


def test_logs_are_json_lines_without_the_token() -> None:
    stream = io.StringIO()
    handler = configure_logging("json", SECRET, stream)
    try:
        logger = logging.getLogger("homeiq_trainer.daemon")
        logger.info("stage %s", "train", extra={"stage": "train"})
        logger.warning("retrying with Bearer %s", SECRET)
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            logger.exception("crashed")
    finally:
        logging.getLogger("homeiq_trainer").removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["message"] == "stage train"
    assert lines[0]["stage"] == "train"
    assert lines[0]["level"] == "info"
    assert lines[1]["message"] == "retrying with Bearer ***"
    assert "RuntimeError: boom" in lines[2]["exception"]
    assert SECRET not in stream.getvalue()


def test_text_logs_for_people() -> None:
    stream = io.StringIO()
    handler = configure_logging("text", SECRET, stream)
    try:
        logging.getLogger("homeiq_trainer.daemon").info("hello %s", SECRET)
    finally:
        logging.getLogger("homeiq_trainer").removeHandler(handler)
    assert stream.getvalue().rstrip().endswith("INFO hello ***")


def test_run_records_are_written_atomically_and_pruned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(daemon, "KEEP_RECORDS", 3)
    for day in range(1, 6):
        path = write_record(
            tmp_path, {"started": f"2026-12-0{day}T03:00:00+00:00", "ok": True}
        )
    assert path.name == "20261205T030000+0000.json"
    assert sorted(p.name[:8] for p in (tmp_path / "runs").iterdir()) == [
        "20261203",
        "20261204",
        "20261205",
    ]
    last = json.loads((tmp_path / "last-run.json").read_text())
    assert last["started"].startswith("2026-12-05")
    assert not list(tmp_path.rglob(".*.part"))


# --- the loop ------------------------------------------------------------------------

TRAINER = [sys.executable, "-m", "homeiq_trainer"]


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _config_file(tmp_path: Path, url: str, **extra: object) -> Path:
    (tmp_path / "token").write_text(SECRET)
    lines = [
        f'url = "{url}"',
        'token_file = "token"',
        'state_dir = "state"',
        "retry_attempts = 2",
        "retry_delay = 0.05",
        "retry_max_seconds = 1",
        "timeout = 2",
    ] + [f"{key} = {json.dumps(value)}" for key, value in extra.items()]
    path = tmp_path / "trainer.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOMEIQ_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[3])
    return env


def test_a_run_that_cannot_reach_ha_fails_and_records_why(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    config = load_config(_config_file(tmp_path, url), environ={})

    summary = daemon.run_once(config)

    assert not summary.ok
    assert summary.pushed == []
    assert "run FAILED" in summary.line
    assert "failed after 2 attempt(s)" in summary.line
    assert summary.record is not None
    record = json.loads(summary.record.read_text())
    assert record["ok"] is False
    assert "Connection" in record["error"] or "refused" in record["error"]
    assert [stage for stage, _ in record["stages"]] == ["connect"]
    assert record["config"]["token"] == "set"
    assert SECRET not in summary.record.read_text()


def test_the_loop_survives_an_unreachable_ha_and_stops_when_asked(
    tmp_path: Path,
) -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    config = load_config(
        _config_file(tmp_path, url, schedule="03:00", timezone="UTC"), environ={}
    )
    stop = threading.Event()
    clock = iter(
        [
            utc(2026, 12, 2, 2, 59, 59),  # computes the next run: 03:00
            utc(2026, 12, 2, 3, 0, 0),  # due: runs (and fails: HA unreachable)
            utc(2026, 12, 2, 3, 0, 5),  # computes tomorrow's run
        ]
    )

    def now() -> datetime:
        try:
            return next(clock)
        except StopIteration:
            stop.set()  # the test's end: ask the daemon to stop while it waits
            return utc(2026, 12, 2, 3, 0, 6)

    code = serve(config, stop=stop, now=now)

    assert code == 0
    records = list((config.state_dir / "runs").iterdir())
    assert len(records) == 1
    assert json.loads(records[0].read_text())["ok"] is False


def test_sigterm_stops_the_waiting_daemon_cleanly(tmp_path: Path) -> None:
    config = _config_file(tmp_path, "http://127.0.0.1:9")
    process = subprocess.Popen(
        [*TRAINER, "run", "--config", str(config)],
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert process.stderr is not None
    lines = []
    for line in process.stderr:  # wait until it waits for its first run
        lines.append(json.loads(line))
        if lines[-1]["message"].startswith("next run at "):
            break
    process.send_signal(signal.SIGTERM)
    _, rest = process.communicate(timeout=30)
    lines += [json.loads(line) for line in rest.splitlines()]

    assert process.returncode == 0
    messages = [line["message"] for line in lines]
    assert messages[0] == "started"
    assert lines[0]["config"]["token"] == "set"
    assert "SIGTERM: stopping after the current stage" in messages
    assert messages[-1] == "stopped"
    assert not (tmp_path / "state" / "runs").exists()  # no run was started


def test_two_signals_stop_a_run_at_once(tmp_path: Path) -> None:
    """SIGINT twice during a retrying request: exit 130 without waiting it out."""
    port = _closed_port()
    config = _config_file(tmp_path, f"http://127.0.0.1:{port}")
    text = config.read_text().replace("retry_attempts = 2", "retry_attempts = 50")
    config.write_text(
        text.replace("retry_max_seconds = 1", "retry_max_seconds = 600").replace(
            "retry_delay = 0.05", "retry_delay = 5"
        )
    )
    process = subprocess.Popen(
        [*TRAINER, "run", "--config", str(config), "--once", "--log-format", "text"],
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    assert process.stderr is not None
    for line in process.stderr:
        if "retrying in" in line:
            break
    process.send_signal(signal.SIGINT)
    for line in process.stderr:  # the first one asks for a stop between stages
        if "SIGINT: stopping after the current stage" in line:
            break
    process.send_signal(signal.SIGINT)
    _, rest = process.communicate(timeout=30)

    assert process.returncode == 130
    assert "second SIGINT: stopping now" in rest
    assert "interrupted" in rest


# --- in this process: the signal handlers and the command ---------------------------


@pytest.fixture
def trainer_logs() -> Iterator[None]:
    """Give the trainer's logger back as it was after `run` configured it."""
    logger = logging.getLogger("homeiq_trainer")
    handlers, propagate, level = list(logger.handlers), logger.propagate, logger.level
    yield
    logger.handlers[:] = handlers
    logger.propagate, logger.level = propagate, level


def test_a_signal_sets_the_stop_and_a_second_interrupts() -> None:
    before = signal.getsignal(signal.SIGTERM)
    stop = threading.Event()
    with stop_on_signals(stop):
        signal.raise_signal(signal.SIGTERM)
        assert stop.is_set()
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_stop_before_the_run_records_where_it_stopped(tmp_path: Path) -> None:
    config = load_config(_config_file(tmp_path, "http://127.0.0.1:9"), environ={})
    stop = threading.Event()
    stop.set()

    summary = daemon.run_once(config, stop=stop)

    assert summary.stopped
    assert not summary.ok
    assert summary.line.endswith("stopped before connect")
    assert summary.record is not None
    assert json.loads(summary.record.read_text())["stopped_before"] == "connect"


def test_the_run_command_once_prints_the_summary_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], trainer_logs: None
) -> None:
    config = _config_file(tmp_path, f"http://127.0.0.1:{_closed_port()}")

    code = cli.main(["run", "--once", "--config", str(config), "--log-format", "text"])

    out, err = capsys.readouterr()
    assert code == 1
    assert out.startswith("run FAILED in ")
    assert "INFO stage connect" in err
    assert SECRET not in out + err


def test_two_interrupts_end_the_run_command_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], trainer_logs: None
) -> None:
    config = _config_file(
        tmp_path,
        f"http://127.0.0.1:{_closed_port()}",
        retry_attempts=10,
        retry_delay=30,
        retry_max_seconds=600,
    )
    text = config.read_text()
    for key in ("retry_attempts = 2", "retry_delay = 0.05", "retry_max_seconds = 1"):
        text = text.replace(key + "\n", "")
    config.write_text(text)

    def interrupt() -> None:
        for _ in range(2):
            clock.sleep(1.0)
            os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    started = clock.monotonic()
    code = cli.main(["run", "--once", "--config", str(config), "--log-format", "text"])

    assert code == 130
    assert clock.monotonic() - started < 20  # not the 30 s retry delay
    err = capsys.readouterr().err
    assert "SIGINT: stopping after the current stage" in err
    assert "second SIGINT: stopping now" in err
