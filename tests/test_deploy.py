"""The deployment files: systemd units and the Home Assistant add-on.

The add-on's `config.yaml` is checked against the rules of HA's add-on
configuration documentation (the Supervisor's own schema is not installed here):
https://developers.home-assistant.io/docs/add-ons/configuration (required keys
name/version/slug/description/arch; arch names; startup and boot values; `map`
folder types; option types for `schema`; every option described by the schema).
The commands the units run are parsed by the trainer's own CLI and the units pass
`systemd-analyze verify`; the add-on's run script is run with options as the
Supervisor writes them, and the settings the daemon then uses are checked.
"""

import configparser
import json
import os
from pathlib import Path
import re
import shlex
import shutil
import socket
import subprocess
import sys
import zipfile

import pytest
import yaml

from homeiq_trainer import cli

ROOT = Path(__file__).resolve().parent.parent
SYSTEMD = ROOT / "deploy" / "systemd"
ADDON = ROOT / "deploy" / "addon" / "homeiq-trainer"
TRAINER = "/opt/homeiq-trainer/bin/homeiq-trainer"

# From the add-on configuration documentation (see the module docstring).
REQUIRED_KEYS = ("name", "version", "slug", "description", "arch")
ARCHES = {"armhf", "armv7", "aarch64", "amd64", "i386"}
STARTUPS = {"initialize", "system", "services", "application", "once"}
BOOTS = {"auto", "manual", "manual_only"}
MAP_TYPES = {
    "homeassistant_config",
    "addon_config",
    "all_addon_configs",
    "ssl",
    "addons",
    "backup",
    "share",
    "media",
    "data",
    "config",  # the legacy name of homeassistant_config
}
_BOUNDS = r"(\((-?[0-9.]*),(-?[0-9.]*)\))?"
SCHEMA_TYPE = re.compile(
    rf"(str{_BOUNDS}|bool|int{_BOUNDS}|float{_BOUNDS}|email|url|password|port"
    r"|match\(.+\)|list\([^|)]+(\|[^|)]+)*\)|device(\(.+\))?)\??"
)
# Commands documented as coming with another branch (models: `train`); checked
# too as soon as the CLI registers them.
LATER_COMMANDS = {"train"}


def _config() -> dict:
    return yaml.safe_load((ADDON / "config.yaml").read_text("utf-8"))


def _registered() -> set[str]:
    parser = cli.build_parser()
    (subparsers,) = (
        a for a in parser._actions if a.choices and a.dest == "==SUPPRESS=="
    )
    return set(subparsers.choices)


def _check_commands(commands: list[list[str]]) -> None:
    """Each command parses with the trainer's CLI (when registered here)."""
    registered = _registered()
    assert commands
    for words in commands:
        assert words[0] in registered | LATER_COMMANDS, words
        if words[0] in registered:
            cli.build_parser().parse_args(words)


def _valid_option(value: object, kind: str) -> bool:
    """Return True when a default `value` satisfies the schema type `kind`."""
    kind = kind.rstrip("?")
    if kind.startswith("match("):
        return re.fullmatch(kind[6:-1], str(value)) is not None
    if kind.startswith(("int", "float")):
        bounds = re.fullmatch(r"\w+(\((-?[0-9.]*),(-?[0-9.]*)\))?", kind)
        assert bounds is not None
        low, high = bounds.group(2), bounds.group(3)
        return (
            isinstance(value, int | float)
            and (kind.startswith("float") or isinstance(value, int))
            and (not low or value >= float(low))
            and (not high or value <= float(high))
        )
    if kind == "bool":
        return isinstance(value, bool)
    return isinstance(value, str)


def test_addon_config_follows_ha_addon_rules() -> None:
    """Required keys, arch names, startup/boot, maps, schema types and options."""
    config = _config()
    for key in REQUIRED_KEYS:
        assert isinstance(config.get(key), str | list), key
        assert config[key], key
    assert isinstance(config["version"], str)
    assert re.fullmatch(r"[a-z0-9_]+", config["slug"])  # URI friendly
    assert set(config["arch"]) <= ARCHES
    assert config.get("startup", "application") in STARTUPS
    assert config.get("boot", "auto") in BOOTS
    for entry in config.get("map", []):
        kind = entry["type"] if isinstance(entry, dict) else entry.split(":")[0]
        assert kind in MAP_TYPES
    options, schema = config["options"], config["schema"]
    for name, kind in schema.items():
        assert SCHEMA_TYPE.fullmatch(kind), kind
        if not kind.endswith("?"):
            assert name in options, f"required option {name} has no default"
    for name, value in options.items():
        assert name in schema, f"option {name} is not in the schema"
        assert value is None or _valid_option(value, schema[name]), name
    # The add-on talks to HomeIQ's API only: no folder of HA's is mapped.
    assert "map" not in config
    assert options["url"] == "http://homeassistant:8123"
    assert schema["token"] == "password?"  # the user's token, never a default


def test_the_addon_options_schema_refuses_bad_values() -> None:
    """The schema's types do reject what they should (a check of the checker)."""
    schema = _config()["schema"]
    assert not _valid_option("3:00", schema["schedule"])
    assert not _valid_option("24:00", schema["schedule"])
    assert _valid_option("23:59", schema["schedule"])
    assert not _valid_option(0, schema["synthetic_days"])
    assert not _valid_option("yes", schema["push"])
    assert not _valid_option(1.5, schema["jobs"])
    assert not SCHEMA_TYPE.fullmatch("integer")


def test_addon_build_installs_the_trainer() -> None:
    """build.yaml covers every arch; the Dockerfile installs the wheel's extra."""
    config = _config()
    build = yaml.safe_load((ADDON / "build.yaml").read_text("utf-8"))
    assert set(build["build_from"]) == set(config["arch"])
    dockerfile = (ADDON / "Dockerfile").read_text("utf-8")
    lines = [line.strip() for line in dockerfile.splitlines()]
    assert lines[0].startswith("ARG BUILD_FROM")
    assert "FROM ${BUILD_FROM}" in lines
    assert "COPY wheels/ /tmp/wheels/" in lines
    assert 'pip install --no-cache-dir "${wheel}[trainer]"; \\' in lines
    assert "homeiq-trainer --version" in dockerfile
    assert "COPY run.sh /run.sh" in lines
    assert lines[-1] == 'CMD [ "/run.sh" ]'
    prepare = (ADDON.parent / "prepare").read_text("utf-8")
    assert "pip wheel --no-deps -w deploy/addon/homeiq-trainer/wheels ." in prepare


def test_addon_run_script_passes_shellcheck() -> None:
    shellcheck = shutil.which("shellcheck") or str(
        Path(sys.executable).with_name("shellcheck")
    )
    subprocess.run(
        [shellcheck, str(ADDON / "run.sh"), str(ADDON.parent / "prepare")], check=True
    )


def _run_addon(
    tmp_path: Path, options: dict[str, object]
) -> subprocess.CompletedProcess:
    """Run the add-on's run.sh --once with `options`, the venv's trainer on PATH."""
    (tmp_path / "options.json").write_text(json.dumps(options))
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "HOMEIQ_OPTIONS": str(tmp_path / "options.json"),
        "HOMEIQ_DATA": str(tmp_path / "data"),
        "HOMEIQ_RETRY_ATTEMPTS": "1",  # not an add-on option: fail fast
        "TZ": "Europe/Amsterdam",  # the Supervisor sets the host's zone
    }
    return subprocess.run(
        ["sh", str(ADDON / "run.sh"), "--once"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_addon_options_become_the_daemons_settings(
    tmp_path: Path, socket_enabled: None
) -> None:
    """run.sh maps every option to HOMEIQ_*; one run records what it was given."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = {
        **_config()["options"],
        "url": f"http://127.0.0.1:{port}",
        "token": "an-admins-long-lived-token",
        "synthetic_homes": 12,
        "push": False,
    }
    result = _run_addon(tmp_path, options)

    assert result.returncode == 1, result.stderr  # nobody listens on that port
    assert "run FAILED" in result.stdout
    record = json.loads((tmp_path / "data" / "last-run.json").read_text())
    config = record["config"]
    assert config["url"] == options["url"]
    assert config["schedule"] == options["schedule"]
    assert config["synthetic_homes"] == 12
    assert config["synthetic_days"] == options["synthetic_days"]
    assert config["jobs"] == options["jobs"]
    assert config["push"] is False
    assert config["state_dir"] == str(tmp_path / "data")
    assert config["token"] == "set"
    assert "an-admins-long-lived-token" not in result.stdout + result.stderr


def test_addon_without_a_token_says_what_to_set(tmp_path: Path) -> None:
    result = _run_addon(tmp_path, _config()["options"])

    assert result.returncode == 1
    assert "set the add-on's token option" in result.stderr


def _unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    # Repeated keys (ExecStart, Environment) are kept as lines of one value.
    parser.read_string(_join_repeats((SYSTEMD / name).read_text("utf-8")))
    return parser


def _join_repeats(text: str) -> str:
    seen: dict[tuple[str, str], int] = {}
    out, section = [], ""
    for line in text.splitlines():
        kept = line
        if line.startswith("["):
            section = line
        elif "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            seen[section, key] = seen.get((section, key), 0) + 1
            if seen[section, key] > 1:
                kept = f"  {value}"
        out.append(kept)
    return "\n".join(out)


def _commands(service: configparser.SectionProxy) -> list[list[str]]:
    """Return the trainer commands of a unit's ExecStart lines."""
    commands = []
    for line in service["ExecStart"].splitlines():
        words = shlex.split(line)
        assert words[0] == TRAINER
        commands.append(words[1:])
    _check_commands(commands)
    return commands


def test_systemd_units_run_the_daemon_or_once_nightly() -> None:
    """The daemon keeps its schedule; the timer variant starts `run --once`."""
    daemon = _unit("homeiq-trainer.service")
    service = daemon["Service"]
    assert service["Type"] == "exec"
    assert _commands(service) == [
        ["run", "--config", "/etc/homeiq-trainer/trainer.toml"]
    ]
    assert service["Restart"] == "on-failure"
    assert daemon["Install"]["WantedBy"] == "multi-user.target"
    once = _unit("homeiq-trainer-once.service")["Service"]
    assert once["Type"] == "oneshot"
    assert _commands(once) == [
        ["run", "--once", "--config", "/etc/homeiq-trainer/trainer.toml"]
    ]
    timer = _unit("homeiq-trainer.timer")
    assert timer["Timer"]["Unit"] == "homeiq-trainer-once.service"
    assert timer["Timer"]["Persistent"] == "true"
    assert timer["Install"]["WantedBy"] == "timers.target"
    for unit in (service, once):
        # SIGTERM to the trainer only, which ends its run between stages.
        assert unit["KillMode"] == "mixed"
        assert unit["StateDirectory"] == "homeiq-trainer"
        assert unit["LoadCredential"] == "token:/etc/homeiq-trainer/token"
        assert unit["Environment"] == "HOMEIQ_TOKEN_FILE=%d/token"
        assert unit["ReadWritePaths"] == "/var/lib/homeiq-trainer"
        assert unit["ProtectSystem"] == "strict"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd")
def test_systemd_verifies_the_units(tmp_path: Path) -> None:
    """`systemd-analyze verify`, the trainer path pointed at this venv's."""
    trainer = str(Path(sys.executable).with_name("homeiq-trainer"))
    for path in SYSTEMD.iterdir():
        text = path.read_text("utf-8").replace(TRAINER, trainer)
        (tmp_path / path.name).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", *sorted(map(str, tmp_path.iterdir()))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd")
def test_the_timer_calendar_is_valid_for_systemd() -> None:
    """systemd itself parses the timer's OnCalendar."""
    calendar = _unit("homeiq-trainer.timer")["Timer"]["OnCalendar"]
    result = subprocess.run(
        ["systemd-analyze", "calendar", calendar],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "03:00:00" in result.stdout


def test_the_wheel_holds_every_package_and_the_command(tmp_path: Path) -> None:
    """`pip wheel --no-deps .` (the add-on's recipe) packs every module and the CLI.

    Built from a copy of the project, as the image's build context would hold it.
    """
    project = tmp_path / "project"
    for part in ("pyproject.toml", "README.md", "trainer", "custom_components"):
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(
                source, project / part, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            project.mkdir(exist_ok=True)
            shutil.copy(source, project / part)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            ".",
        ],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
    )
    if result.returncode and "No matching distribution" in result.stderr:
        pytest.skip("pip cannot reach an index to fetch the build backend")
    assert result.returncode == 0, result.stderr
    (wheel,) = tmp_path.glob("homeiq-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"homeiq_trainer/{path.relative_to(ROOT / 'trainer')}"
        for path in (ROOT / "trainer").rglob("*.py")
    } | {
        f"homeiq_core/{path.relative_to(ROOT / 'custom_components/homeiq/core')}"
        for path in (ROOT / "custom_components/homeiq/core").rglob("*.py")
    }
    assert expected - names == set(), (
        "modules missing from the wheel (pyproject packages)"
    )
    (entry_points,) = (n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "homeiq-trainer = homeiq_trainer.cli:main" in text
