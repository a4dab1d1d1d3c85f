"""`homeiq-trainer demo`: the whole loop in one command, for a newcomer.

Starts a real Home Assistant (from this venv) with HA's demo home and HomeIQ in a
fresh config dir, onboards an owner with a generated password, adds HomeIQ through
the config flow, drives some activity (service calls on the demo's lights and
switches), trains the models on a small synthetic mix and pushes them through
HomeIQ's API, then prints the URL, the login and what the entities now say, and
keeps HA running until Ctrl-C. Progress goes to stderr, the result to stdout.
"""

import argparse
from collections.abc import Callable, Sequence
import json
import logging
import os
from pathlib import Path
import secrets
import signal
import sys
import tempfile
import time
from types import FrameType
from typing import Any

from .config import load_config
from .daemon import RunSummary, configure_logging, run_once
from .errors import CommandError
from .hass_server import HassError, HassServer, entity_ids

USERNAME = "demo"
HOME_TYPE = "sensor.homeiq_home_type"
MODEL_VERSION = "sensor.homeiq_model_version"
DEVICES_MONITORED = "sensor.homeiq_devices_monitored"
# A small synthetic mix: enough homes and days for every model's rows (battery
# forecasts need 20 days), small enough to train in about a minute on 2 cores.
DEMO_HOMES = 24
DEMO_DAYS = 20
DEMO_SEED = 1
DEMO_FAILURE_RATE = 0.15
DEMO_PLAN_HOMES = 200
ACTIVITY_ROUNDS = 3
HEALTH_SHOWN = 5


def _say(line: str) -> None:
    print(f"demo: {line}", file=sys.stderr, flush=True)


def cache_root() -> Path:
    """Return HomeIQ's cache directory (as scripts/bootstrap chooses it)."""
    if root := os.environ.get("HOMEIQ_CACHE"):
        return Path(root)
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "homeiq"


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `demo`."""
    parser = subparsers.add_parser(
        "demo",
        help="start Home Assistant with demo devices and HomeIQ, train, push, show",
        description=(
            "Start a real Home Assistant on 127.0.0.1 with its demo devices and "
            "HomeIQ, drive some activity, train the models on a small synthetic mix, "
            "push them to HomeIQ, print the URL, a login and the entities' states, "
            "and keep Home Assistant running until Ctrl-C."
        ),
    )
    parser.add_argument(
        "--port", type=int, default=None, help="HTTP port (default: a free one)"
    )
    parser.add_argument(
        "--config-dir",
        type=Path,
        default=None,
        help="a new or empty directory for Home Assistant's configuration "
        "(default: a fresh one under $HOMEIQ_CACHE/demo, ~/.cache/homeiq/demo)",
    )
    parser.add_argument(
        "--no-wait",
        action="store_true",
        help="print the states and stop Home Assistant instead of waiting for Ctrl-C",
    )
    parser.add_argument(
        "--shipped-models",
        action="store_true",
        help="start HomeIQ with its shipped models (the loop then pushes only the "
        "models that beat them); default: on its rule-based fallback, so the "
        "loop's models replace the rules",
    )
    parser.add_argument(
        "--homes",
        type=int,
        default=DEMO_HOMES,
        help="synthetic homes to train on (default %(default)s)",
    )
    parser.add_argument(
        "--days",
        type=int,
        default=DEMO_DAYS,
        help="days per synthetic home (default %(default)s)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="worker processes for training (default: CPU count)",
    )
    parser.set_defaults(func=run_demo)


def config_directory(given: Path | None) -> Path:
    """Return a new or empty config directory: `given`, or a fresh one."""
    if given is None:
        root = cache_root() / "demo"
        root.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        return Path(tempfile.mkdtemp(prefix=f"{stamp}-", dir=root))
    if given.exists() and (not given.is_dir() or any(given.iterdir())):
        raise CommandError(
            f"--config-dir {given} is not a new or empty directory "
            "(the demo onboards a fresh Home Assistant there)"
        )
    given.mkdir(parents=True, exist_ok=True)
    return given


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo; return 0 once Home Assistant was stopped cleanly."""
    began = time.monotonic()
    config_dir = config_directory(args.config_dir)
    _say(f"Home Assistant's config dir: {config_dir} (delete it when done)")
    password = secrets.token_urlsafe(12)
    if not args.shipped_models:
        _say(
            "HomeIQ starts on its rule-based fallback (its shipped models are left "
            "out; --shipped-models keeps them), so the loop's models replace the rules"
        )
    server = HassServer(config_dir, port=args.port, shipped_models=args.shipped_models)
    with server:
        token_file = start(server, password)
        calls = drive_activity(server)
        _say(f"drove activity: {calls} service calls on the demo's lights, switches")
        before = server.state(MODEL_VERSION)
        settings = loop_config(server.url, token_file, config_dir / "trainer", args)
        summary = train_and_push(settings)
        print_result(server, password, settings, before, summary)
        print(f"ready in {time.monotonic() - began:.0f} s", flush=True)
        if not args.no_wait:
            print("Home Assistant keeps running; press Ctrl-C to stop it.", flush=True)
            wait_until_interrupted(server)
        _say("stopping Home Assistant")
    _say("stopped")
    return 0


def start(server: HassServer, password: str) -> Path:
    """Start HA, onboard the owner, add HomeIQ; return the token file."""
    _say(f"starting Home Assistant at {server.url} (log: {server.log_path})")
    server.start()
    server.onboard(USERNAME, password, name="Demo owner")
    server.wait_until_running()
    token_file = server.config_dir / "homeiq-token"
    token = server.long_lived_token("homeiq-trainer demo")
    token_file.touch(mode=0o600)
    token_file.write_text(token + "\n", "utf-8")
    entry = server.add_homeiq()
    _say(f"HomeIQ added through the config flow ({entry['title']})")
    return token_file


def drive_activity(server: HassServer, rounds: int = ACTIVITY_ROUNDS) -> int:
    """Toggle the demo's lights and switches `rounds` times; return the calls."""
    states = server.states()
    calls = 0
    for _ in range(rounds):
        for domain in ("light", "switch"):
            for entity_id in entity_ids(states, domain):
                server.call_service(domain, "toggle", {"entity_id": entity_id})
                calls += 1
    return calls


def loop_config(
    url: str, token_file: Path, work: Path, args: argparse.Namespace
) -> Path:
    """Write the trainer daemon's settings for this demo; return the TOML file."""
    data = cache_root() / "demo" / "data"  # synthetic homes are reused across runs
    values = {
        "url": url,
        "token_file": token_file,
        "state_dir": work,
        "data_dir": data,
        "synthetic_homes": args.homes,
        "synthetic_days": args.days,
        "failure_rate": DEMO_FAILURE_RATE,
        "plan_homes": DEMO_PLAN_HOMES,
        "seed": DEMO_SEED,
        "jobs": args.jobs,
    }
    work.mkdir(parents=True, exist_ok=True)
    path = work / "homeiq-trainer.toml"
    path.write_text("".join(f"{k} = {_toml(v)}\n" for k, v in values.items()), "utf-8")
    return path


def _toml(value: object) -> str:
    if isinstance(value, Path | str):
        return json.dumps(str(value))  # a TOML basic string is a JSON string
    return repr(value)


def train_and_push(settings: Path) -> RunSummary:
    """Run the nightly loop once: pull, train, judge against the deployed, push."""
    config = load_config(settings, environ={})
    _say(
        f"running the nightly loop once (homeiq-trainer run --once --config "
        f"{settings}): pull this home's data, train on it and "
        f"{config.synthetic_homes} synthetic homes x {config.synthetic_days} days, "
        "push each model the promotion gate finds better than the deployed one"
    )
    summary = _logged(lambda: run_once(config, progress=True), config.token)
    if not summary.ok:
        raise CommandError(f"the loop's run failed: {summary.line}")
    return summary


def _logged(run: Callable[[], RunSummary], secret: str) -> RunSummary:
    """Run with the daemon's stage lines on stderr, then restore the logging."""
    logger = logging.getLogger("homeiq_trainer")
    saved = list(logger.handlers), logger.level, logger.propagate
    configure_logging("text", secret)
    try:
        return run()
    finally:
        logger.handlers[:] = saved[0]
        logger.setLevel(saved[1])
        logger.propagate = saved[2]


def print_result(
    server: HassServer,
    password: str,
    settings: Path,
    version_before: str,
    summary: RunSummary,
) -> None:
    """Print where HA is, how to log in, and what HomeIQ's entities say."""
    home = server.entity(HOME_TYPE)
    attributes = home["attributes"]
    top = sorted(attributes.get("probabilities", {}).items(), key=lambda kv: -kv[1])[:3]
    lines = [
        "",
        "HomeIQ demo",
        f"  URL:    {server.url}",
        f"  login:  {USERNAME} / {password}",
        f"  token:  {server.config_dir / 'homeiq-token'} (for --token-file)",
        f"  config: {server.config_dir} (HA's log: {server.log_path})",
        "",
        f"the loop: {summary.line}",
        *(f"  pushed {name}" for name in summary.pushed),
        *(f"  kept the deployed {name}: {why}" for name, why in summary.kept.items()),
        f"  again: homeiq-trainer run --once --config {settings}",
        "",
        f"{MODEL_VERSION}: {version_before} -> {server.state(MODEL_VERSION)}",
        f"{HOME_TYPE}: {home['state']} (source {attributes.get('source')}; "
        + ", ".join(f"{name} {p:.2f}" for name, p in top)
        + ")",
        f"{DEVICES_MONITORED}: {server.state(DEVICES_MONITORED)}",
        *_models(server.request("GET", "/api/homeiq/status")),
        "device health:",
        *_health(server.states()),
        "",
    ]
    print("\n".join(lines), flush=True)


def _models(status: dict[str, Any]) -> list[str]:
    lines = []
    for name, model in (status.get("models") or {}).items():
        if model is None:
            lines.append(f"model {name}: none (rules)")
        elif model.get("source") == "uploaded":
            sha = str(model.get("sha256"))[:12]
            lines.append(f"model {name}: uploaded v{model.get('version')} ({sha})")
        else:
            lines.append(f"model {name}: shipped")
    return lines


def _health(states: Sequence[dict[str, Any]]) -> list[str]:
    """Describe a few devices' health sensors, with their reasons."""
    healths = [
        s
        for s in states
        if s["entity_id"].startswith("sensor.") and s["entity_id"].endswith("_health")
    ]
    lines = []
    for state in sorted(healths, key=lambda s: s["entity_id"])[:HEALTH_SHOWN]:
        reasons = "; ".join(state["attributes"].get("reasons") or []) or "no concern"
        unit = state["attributes"].get("unit_of_measurement", "")
        lines.append(f"  {state['entity_id']}: {state['state']} {unit} ({reasons})")
    if len(healths) > HEALTH_SHOWN:
        lines.append(f"  … and {len(healths) - HEALTH_SHOWN} more")
    return lines


def wait_until_interrupted(server: HassServer, poll: float = 1.0) -> None:
    """Wait for Ctrl-C (or SIGTERM); raise HassError if hass stops by itself."""

    def interrupt(number: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    # SIGINT too: a shell starting us in the background leaves it ignored.
    previous = {
        number: signal.signal(number, interrupt)
        for number in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        while server.pid is not None:
            time.sleep(poll)
    except KeyboardInterrupt:
        return
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    raise HassError(f"Home Assistant stopped by itself\n{server.log_tail()}")
