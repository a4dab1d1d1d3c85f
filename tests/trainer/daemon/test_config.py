"""The daemon's settings: TOML file, environment over it, the token kept secret."""

from dataclasses import fields
from datetime import datetime, time, timedelta
from importlib import resources
from pathlib import Path
import zoneinfo

import pytest

from homeiq_trainer.config import KEYS, Config, ConfigError, load_config, local_zone

FULL = """\
url = "http://homeassistant.local:8123"
token_file = "token"
schedule = "02:15"
timezone = "Europe/Amsterdam"
state_dir = "state"
data_dir = "/srv/homeiq/data"
synthetic_homes = 50
synthetic_days = 14
failure_rate = 0.1
plan_homes = 100
seed = 7
jobs = 1
pseudonymize = true
push = false
timeout = 10
retry_attempts = 3
retry_delay = 0.5
retry_max_seconds = 20.0
"""
SECRET = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.secret-part"


def _write(tmp_path: Path, text: str, token: str | None = SECRET) -> Path:
    if token is not None:
        (tmp_path / "token").write_text(token + "\n")
    path = tmp_path / "trainer.toml"
    path.write_text(text)
    return path


def test_every_key_of_the_file_is_read_and_relative_paths_follow_it(
    tmp_path: Path,
) -> None:
    config = load_config(_write(tmp_path, FULL), environ={})

    assert config.url == "http://homeassistant.local:8123"
    assert config.token == SECRET
    assert config.token_file == tmp_path / "token"
    assert config.run_at == time(2, 15)
    assert config.zone() == zoneinfo.ZoneInfo("Europe/Amsterdam")
    assert config.state_dir == tmp_path / "state"
    assert config.data == Path("/srv/homeiq/data")
    assert config.models == tmp_path / "state" / "registry"
    assert (config.synthetic_homes, config.synthetic_days) == (50, 14)
    assert (config.failure_rate, config.plan_homes, config.seed) == (0.1, 100, 7)
    assert (config.jobs, config.pseudonymize, config.push) == (1, True, False)
    retry = config.retry
    assert (retry.attempts, retry.first_delay, retry.max_total, retry.timeout) == (
        3,
        0.5,
        20.0,
        10.0,
    )
    # Every field but the token is a key of the file.
    assert set(KEYS) == {f.name for f in fields(Config)} - {"token"}


def test_defaults_need_only_a_url_and_a_token(tmp_path: Path) -> None:
    environ = {
        "HOMEIQ_URL": "https://ha.example.org",
        "HOMEIQ_TOKEN": SECRET,
        "STATE_DIRECTORY": str(tmp_path),
    }
    config = load_config(None, environ=environ)

    assert config.schedule == "03:00"
    assert config.timezone is None
    assert config.synthetic_homes == 400
    assert config.synthetic_days == 30
    assert config.push is True
    assert config.data == config.state_dir / "data"
    assert config.registry is None
    assert config.models == config.state_dir / "registry"


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    other = tmp_path / "other-token"
    other.write_text("from-the-env-file")
    environ = {
        "HOMEIQ_URL": "http://10.0.0.2:8123",
        "HOMEIQ_SCHEDULE": "04:30",
        "HOMEIQ_SYNTHETIC_HOMES": "12",
        "HOMEIQ_FAILURE_RATE": "0.2",
        "HOMEIQ_PUSH": "yes",
        "HOMEIQ_PSEUDONYMIZE": "off",
        "HOMEIQ_TOKEN_FILE": str(other),
        "HOMEIQ_REGISTRY": "/srv/registry",
        "HOMEIQ_JOBS": " ",  # blank: not set
    }
    config = load_config(_write(tmp_path, FULL), environ=environ)

    assert config.url == "http://10.0.0.2:8123"
    assert config.schedule == "04:30"
    assert config.synthetic_homes == 12
    assert config.failure_rate == 0.2
    assert config.push is True
    assert config.pseudonymize is False
    assert config.token == "from-the-env-file"
    assert config.models == Path("/srv/registry")
    assert config.jobs == 1

    # HOMEIQ_TOKEN wins over any token file.
    environ["HOMEIQ_TOKEN"] = "direct"
    assert load_config(_write(tmp_path, FULL), environ=environ).token == "direct"


def test_the_token_never_shows(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, FULL), environ={})

    assert SECRET not in repr(config)
    assert SECRET not in str(config)
    assert SECRET not in str(config.public())
    assert config.public()["token"] == "set"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (FULL + "shedule = '03:00'\n", "unknown key(s) shedule; known: "),
        (FULL + 'token = "abc"\n', "`token` does not belong in the config file"),
        (FULL.replace('"02:15"', '"3:00"'), "schedule: '3:00' is not a time of day"),
        (FULL.replace('"02:15"', '"24:00"'), "is not a time of day HH:MM"),
        (FULL.replace("= 50", '= "50"'), "synthetic_homes: expected an integer"),
        (FULL.replace("= 50", "= 5.5"), "synthetic_homes: expected an integer"),
        (FULL.replace("jobs = 1", "jobs = true"), "jobs: expected an integer"),
        (FULL.replace("= true", "= 1"), "pseudonymize: expected true or false"),
        (FULL.replace("= 0.1", "= 1.5"), "failure_rate: 1.5 is outside 0..1"),
        (FULL.replace("jobs = 1", "jobs = 0"), "jobs: 0 is outside 1..256"),
        (FULL.replace("Europe/Amsterdam", "Mars/Olympus"), "not a known time zone"),
        (FULL.replace("http://", "ftp://"), "is not an http:// or https:// URL"),
        (FULL.replace("url = ", "# url = "), "no Home Assistant URL"),
        (FULL.replace("url = ", "url == "), "not valid TOML"),
        (FULL.replace("state_dir = ", "state_dir = 3 #"), "expected a path"),
    ],
)
def test_bad_settings_are_refused_clearly(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(
        ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        load_config(_write(tmp_path, text), environ={})


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"HOMEIQ_JOBS": "two"}, "HOMEIQ_JOBS: 'two' is not a valid int"),
        ({"HOMEIQ_PUSH": "maybe"}, "HOMEIQ_PUSH: 'maybe' is not a valid bool"),
        ({"HOMEIQ_TIMEOUT": "soon"}, "HOMEIQ_TIMEOUT: 'soon' is not a valid float"),
    ],
)
def test_bad_environment_values_are_refused_clearly(
    tmp_path: Path, environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_write(tmp_path, FULL), environ=environ)


def test_a_missing_or_empty_token_is_refused(tmp_path: Path) -> None:
    without = FULL.replace('token_file = "token"\n', "")
    with pytest.raises(ConfigError, match="no access token: set HOMEIQ_TOKEN"):
        load_config(_write(tmp_path, without), environ={})
    with pytest.raises(ConfigError, match="is empty"):
        load_config(_write(tmp_path, FULL, token="  "), environ={})
    (tmp_path / "token").unlink()
    with pytest.raises(ConfigError, match="cannot read token file"):
        load_config(_write(tmp_path, FULL, token=None), environ={})
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(tmp_path / "absent.toml", environ={})


def test_the_local_zone_comes_from_tz_then_etc_localtime(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TZ", "America/New_York")
    assert local_zone() == zoneinfo.ZoneInfo("America/New_York")
    monkeypatch.setenv("TZ", "Not/AZone")
    localtime = tmp_path / "localtime"
    tokyo = resources.files("tzdata.zoneinfo").joinpath("Asia", "Tokyo")
    localtime.write_bytes(tokyo.read_bytes())
    winter = datetime(2026, 1, 1, 12)
    assert local_zone(localtime).utcoffset(winter) == timedelta(hours=9)
    assert local_zone(tmp_path / "absent") == zoneinfo.ZoneInfo("UTC")
    monkeypatch.setenv("TZ", ":Europe/Amsterdam")
    assert local_zone() == zoneinfo.ZoneInfo("Europe/Amsterdam")
