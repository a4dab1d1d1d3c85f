"""The daemon's settings: a TOML file, then environment variables over it.

Every key of the file (a flat table, see docs/trainer-daemon.md) can also be set by
the environment variable HOMEIQ_<KEY> (HOMEIQ_URL, HOMEIQ_SCHEDULE, ...), which
wins. The access token is read from HOMEIQ_TOKEN, else from the file `token_file`
names; it never appears in the file itself, in `repr` or in a log.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import time as clock
import math
import os
from pathlib import Path
import re
import tomllib
from typing import Any
import zoneinfo

from .errors import CommandError
from .ha_client import TOKEN_ENV, Retry

ENV_PREFIX = "HOMEIQ_"
TOKEN_FILE_ENV = "HOMEIQ_TOKEN_FILE"
DEFAULT_STATE_DIR = Path("~/.local/state/homeiq-trainer")
_SCHEDULE = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


class ConfigError(CommandError):
    """A configuration that cannot be used, with what to fix."""


def _default_state_dir() -> Path:
    """Return systemd's StateDirectory when set, else ~/.local/state/homeiq-trainer."""
    given = os.environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(given) if given else DEFAULT_STATE_DIR.expanduser()


@dataclass(frozen=True, slots=True)
class Config:
    """What `homeiq-trainer run` needs; see docs/trainer-daemon.md for each key."""

    url: str
    token: str = field(repr=False)
    token_file: Path | None = None
    schedule: str = "03:00"
    timezone: str | None = None
    state_dir: Path = field(default_factory=_default_state_dir)
    data_dir: Path | None = None
    registry: Path | None = None
    synthetic_homes: int = 400
    synthetic_days: int = 30
    failure_rate: float = 0.05
    plan_homes: int = 3000
    seed: int = 1
    jobs: int = 2
    pseudonymize: bool = False
    push: bool = True
    timeout: float = 30.0
    retry_attempts: int = 5
    retry_delay: float = 1.0
    retry_max_seconds: float = 60.0
    keep_versions: int = 10

    @property
    def data(self) -> Path:
        """Return where datasets go: `data_dir`, else <state_dir>/data."""
        return self.data_dir or self.state_dir / "data"

    @property
    def models(self) -> Path:
        """Return the model registry: `registry`, else <state_dir>/registry."""
        return self.registry or self.state_dir / "registry"

    @property
    def retry(self) -> Retry:
        """Return how hard each request to Home Assistant is tried."""
        return Retry(
            self.retry_attempts,
            self.retry_delay,
            self.retry_max_seconds,
            self.timeout,
        )

    @property
    def run_at(self) -> clock:
        """Return the schedule as a time of day."""
        hour, minute = self.schedule.split(":")
        return clock(int(hour), int(minute))

    def zone(self) -> zoneinfo.ZoneInfo:
        """Return the time zone of the schedule: `timezone`, else the system's."""
        if self.timezone is not None:
            return zoneinfo.ZoneInfo(self.timezone)
        return local_zone()

    def public(self) -> dict[str, object]:
        """Return the settings as JSON-ready values, the token replaced by "set"."""
        out: dict[str, object] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            out[item.name] = str(value) if isinstance(value, Path) else value
        out["token"] = "set"
        return out


def local_zone(localtime: Path = Path("/etc/localtime")) -> zoneinfo.ZoneInfo:
    """Return the system's time zone: TZ, else /etc/localtime, else UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return zoneinfo.ZoneInfo(name)
        except zoneinfo.ZoneInfoNotFoundError, ValueError:
            pass
    try:
        with localtime.open("rb") as file:
            return zoneinfo.ZoneInfo.from_file(file, key="localtime")
    except OSError, ValueError:
        return zoneinfo.ZoneInfo("UTC")


# --- reading ---------------------------------------------------------------------

# Every key of the file and its kind (the token is no key: see the module docstring).
KEYS: dict[str, str] = {
    "url": "str",
    "token_file": "path",
    "schedule": "str",
    "timezone": "str",
    "state_dir": "path",
    "data_dir": "path",
    "registry": "path",
    "synthetic_homes": "int",
    "synthetic_days": "int",
    "failure_rate": "float",
    "plan_homes": "int",
    "seed": "int",
    "jobs": "int",
    "pseudonymize": "bool",
    "push": "bool",
    "timeout": "float",
    "retry_attempts": "int",
    "retry_delay": "float",
    "retry_max_seconds": "float",
    "keep_versions": "int",
}


def load_config(
    path: Path | None = None, environ: Mapping[str, str] | None = None
) -> Config:
    """Return the configuration of `path` (optional) with `environ` over it.

    Raises ConfigError naming the key and the problem.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    if path is not None:
        values.update(_from_file(path))
    values.update(_from_environment(environ))
    if "url" not in values:
        raise ConfigError(
            "no Home Assistant URL: set `url` in the config file or HOMEIQ_URL"
        )
    token = _token(values.get("token_file"), environ)
    config = Config(token=token, **values)
    _check(config)
    return config


def _from_file(path: Path) -> dict[str, Any]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"cannot read config {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"{path}: not valid TOML: {error}") from None
    if "token" in raw:
        raise ConfigError(
            f"{path}: `token` does not belong in the config file; put it in the "
            f"file `token_file` names or in {TOKEN_ENV}"
        )
    unknown = sorted(set(raw) - set(KEYS))
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(KEYS))}"
        )
    base = path.parent
    return {
        key: _typed(key, value, f"{path}: {key}", base) for key, value in raw.items()
    }


def _from_environment(environ: Mapping[str, str]) -> dict[str, Any]:
    out = {}
    for key, kind in KEYS.items():
        name = ENV_PREFIX + key.upper()
        text = environ.get(name)
        if text is None or not text.strip():
            continue
        out[key] = _typed(key, _parse_text(kind, text.strip(), name), name)
    return out


def _parse_text(kind: str, text: str, where: str) -> object:
    """Return an environment variable's text as the value its key takes."""
    parsers: dict[str, Callable[[str], object]] = {
        "int": int,
        "float": float,
        "bool": _boolean,
    }
    parser = parsers.get(kind)
    if parser is None:
        return text
    try:
        return parser(text)
    except ValueError:
        raise ConfigError(f"{where}: {text!r} is not a valid {kind}") from None


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ValueError(text)


def _typed(key: str, value: object, where: str, base: Path | None = None) -> object:
    """Return `value` as key `key` takes it; ConfigError when of the wrong type."""
    kind = KEYS[key]
    ok = {
        "str": isinstance(value, str),
        "path": isinstance(value, str),
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
    }[kind]
    if not ok:
        raise ConfigError(f"{where}: expected {_KIND_NAMES[kind]}, got {value!r}")
    if kind == "path":
        path = Path(str(value)).expanduser()
        return base / path if base is not None and not path.is_absolute() else path
    if kind == "float":
        return float(value)  # type: ignore[arg-type]
    return value


_KIND_NAMES = {
    "str": "a string",
    "path": "a path (string)",
    "bool": "true or false",
    "int": "an integer",
    "float": "a number",
}


def _token(token_file: Path | None, environ: Mapping[str, str]) -> str:
    """Return HOMEIQ_TOKEN, else the content of the token file."""
    token = environ.get(TOKEN_ENV, "").strip()
    if token:
        return token
    if token_file is None:
        raise ConfigError(
            f"no access token: set {TOKEN_ENV}, or `token_file` (or "
            f"{TOKEN_FILE_ENV}) to a file holding a long-lived access token of an "
            "admin user"
        )
    try:
        token = token_file.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise ConfigError(
            f"cannot read token file {token_file}: {error.strerror}"
        ) from None
    if not token:
        raise ConfigError(f"token file {token_file} is empty")
    return token


_RANGES: dict[str, tuple[float, float]] = {
    "synthetic_homes": (0, 100_000),
    "synthetic_days": (1, 366),
    "failure_rate": (0.0, 1.0),
    "plan_homes": (0, 100_000),
    "seed": (0, 2**32 - 1),
    "jobs": (1, 256),
    "timeout": (0.1, 3600.0),
    "retry_attempts": (1, 100),
    "retry_delay": (0.0, 3600.0),
    "retry_max_seconds": (0.0, 86_400.0),
    "keep_versions": (0, 100_000),
}


def _check(config: Config) -> None:
    """Raise ConfigError for values out of range or of the wrong form."""
    if not re.fullmatch(r"https?://[^\s/]+(/\S*)?", config.url):
        raise ConfigError(
            f"url: {config.url!r} is not an http:// or https:// URL "
            "(e.g. http://homeassistant.local:8123)"
        )
    if not _SCHEDULE.fullmatch(config.schedule):
        raise ConfigError(
            f"schedule: {config.schedule!r} is not a time of day HH:MM (00:00-23:59)"
        )
    if config.timezone is not None:
        try:
            zoneinfo.ZoneInfo(config.timezone)
        except zoneinfo.ZoneInfoNotFoundError, ValueError:
            raise ConfigError(
                f"timezone: {config.timezone!r} is not a known time zone "
                "(an IANA name such as Europe/Amsterdam)"
            ) from None
    for key, (low, high) in _RANGES.items():
        value = getattr(config, key)
        if not (math.isfinite(value) and low <= value <= high):
            raise ConfigError(f"{key}: {value!r} is outside {low:g}..{high:g}")
