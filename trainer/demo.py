"""`homeiq-trainer demo`: the whole loop in one command, for a newcomer.

Starts a real Home Assistant (from this venv) with HA's demo home and HomeIQ in a
fresh config dir, onboards an owner with a generated password, adds HomeIQ through
the config flow, drives some activity (service calls on the demo's lights and
switches), trains the models on a small synthetic mix and pushes them through
HomeIQ's API, then prints the URL, the login and what the entities now say, and
keeps HA running until Ctrl-C. Progress goes to stderr, the result to stdout.
"""

import argparse
from collections.abc import Sequence
import os
from pathlib import Path
import secrets
import signal
import sys
import tempfile
import time
from types import FrameType
from typing import Any

from . import cli
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
    with HassServer(config_dir, port=args.port) as server:
        token_file = start(server, password)
        calls = drive_activity(server)
        _say(f"drove activity: {calls} service calls on the demo's lights, switches")
        before = server.state(MODEL_VERSION)
        train_and_push(server.url, token_file, config_dir / "trainer", args)
        print_result(server, password, token_file, before)
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


def train_and_push(
    url: str, token_file: Path, work: Path, args: argparse.Namespace
) -> None:
    """Train on a small synthetic mix, then push the models to HomeIQ."""
    registry = work / "registry"
    data = cache_root() / "demo" / "data"  # synthetic homes are reused across runs
    _say(
        f"training on {args.homes} synthetic homes x {args.days} days "
        f"(cached in {data})"
    )
    _run(
        "train",
        "--homes",
        str(args.homes),
        "--days",
        str(args.days),
        *("--seed", str(DEMO_SEED), "--failure-rate", str(DEMO_FAILURE_RATE)),
        *("--plan-homes", str(DEMO_PLAN_HOMES), "--jobs", str(args.jobs)),
        *("--work", str(data), "--registry", str(registry)),
        *("--report", str(work / "report")),
    )
    _say("pushing the models to HomeIQ")
    _run(
        "push",
        *("--url", url, "--token-file", str(token_file)),
        *("--registry", str(registry)),
    )


def _run(*argv: str) -> None:
    """Run a trainer command; its output is progress here, so it goes to stderr."""
    saved = sys.stdout
    sys.stdout = sys.stderr
    try:
        code = cli.main(list(argv))
    finally:
        sys.stdout = saved
    if code != 0:
        raise CommandError(f"`homeiq-trainer {argv[0]}` failed (exit code {code})")


def print_result(
    server: HassServer, password: str, token_file: Path, version_before: str
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
        f"  token:  {token_file} (for --token-file of status and push)",
        f"  config: {server.config_dir} (HA's log: {server.log_path})",
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

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        while server.pid is not None:
            time.sleep(poll)
    except KeyboardInterrupt:
        return
    finally:
        signal.signal(signal.SIGTERM, previous)
    raise HassError(f"Home Assistant stopped by itself\n{server.log_tail()}")
