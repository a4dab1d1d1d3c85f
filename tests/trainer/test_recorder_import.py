"""`homeiq-trainer import-recorder` on databases written by a real Home Assistant.

Each database is written by HA's own recorder (pytest-homeassistant-custom-component's
`async_test_recorder`) into a SQLite file, from states set through
`hass.states.async_set` with the clock moved by `freezer`. Home Assistant is stopped
and started again in between (two `hass` instances on the same file), so the
recorder's runs hold a real downtime. The registries (floors, areas, config
entries, devices, entities) are created through HA's registry APIs and saved to
`<config>/.storage` by HA itself when it stops (phcc's registry stores write
without loading).
"""

from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
import sqlite3
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    area_registry as ar,
    device_registry as dr,
    entity_registry as er,
    floor_registry as fr,
    frame,
)
import numpy as np
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_test_home_assistant,
)
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from homeiq_core.aggregator import rollups_from_columns
from homeiq_core.dataset import DatasetError
from homeiq_trainer import cli
from homeiq_trainer.dataset import read_dataset, validate_dataset
from homeiq_trainer.recorder_import import (
    ImportOptions,
    downtime,
    import_recorder,
    open_recorder,
    registry_inventory,
)

T0 = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday, midnight UTC
HOUR = timedelta(hours=1)
DOWN = (T0 + 50 * HOUR, T0 + 62 * HOUR)  # HA stopped for 12 hours
MOTION = "binary_sensor.kitchen_motion"
BATTERY = "sensor.kitchen_motion_battery"
TEMPERATURE = "sensor.living_temperature"
PERSON = "person.alice"
WEATHER = "weather.home"  # on a service device: not watched, left out

type Recorder = Callable[..., Any]


def _build_registries(hass: HomeAssistant) -> None:
    """Create a floor, an area, a ZHA hub with a battery motion sensor, a Hue lamp."""
    floor = fr.async_get(hass).async_create("Ground floor", level=0)
    kitchen = ar.async_get(hass).async_create("Kitchen", floor_id=floor.floor_id)
    zha = MockConfigEntry(domain="zha", title="ZHA")
    zha.add_to_hass(hass)
    devices = dr.async_get(hass)
    hub = devices.async_get_or_create(
        config_entry_id=zha.entry_id,
        identifiers={("zha", "coordinator")},
        manufacturer="Nabu Casa",
        model="SkyConnect",
        name="Zigbee coordinator",
    )
    sensor = devices.async_get_or_create(
        config_entry_id=zha.entry_id,
        identifiers={("zha", "00:15:8d:00:01:02:03:04")},
        connections={(dr.CONNECTION_ZIGBEE, "00:15:8d:00:01:02:03:04")},
        manufacturer="Aqara",
        model="RTCGQ11LM",
        name="Kitchen motion",
        via_device_id=hub.id,
    )
    devices.async_update_device(sensor.id, area_id=kitchen.id)
    met = MockConfigEntry(domain="met", title="Forecast")
    met.add_to_hass(hass)
    forecast = devices.async_get_or_create(
        config_entry_id=met.entry_id,
        identifiers={("met", "home")},
        entry_type=dr.DeviceEntryType.SERVICE,
        name="Forecast",
    )
    entities = er.async_get(hass)
    entities.async_get_or_create(
        "weather", "met", "home", device_id=forecast.id, suggested_object_id="home"
    )
    entities.async_get_or_create(
        "sensor", "zha", "coordinator-1", device_id=hub.id, suggested_object_id="hub"
    )
    entities.async_get_or_create(
        "sensor",
        "zha",
        "lqi-1",
        device_id=sensor.id,
        suggested_object_id="kitchen_motion_lqi",
        disabled_by=er.RegistryEntryDisabler.INTEGRATION,
    )
    entities.async_get_or_create(
        "binary_sensor",
        "zha",
        "motion-1",
        device_id=sensor.id,
        suggested_object_id="kitchen_motion",
        original_device_class="motion",
    )
    entities.async_get_or_create(
        "sensor",
        "zha",
        "battery-1",
        device_id=sensor.id,
        suggested_object_id="kitchen_motion_battery",
        original_device_class="battery",
        unit_of_measurement="%",
    )


async def _first_run(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Record 50 hours: motion, a declining battery, a temperature, a person."""
    for hour in range(50):
        freezer.move_to(T0 + hour * HOUR)
        hass.states.async_set(
            MOTION, "on" if hour % 3 == 0 else "off", {"device_class": "motion"}
        )
        hass.states.async_set(
            BATTERY,
            str(100 - hour // 10),
            {"device_class": "battery", "unit_of_measurement": "%"},
        )
        hass.states.async_set(
            TEMPERATURE,
            str(20 + hour % 4 / 2),
            {"device_class": "temperature", "unit_of_measurement": "°C"},
        )
        if hour % 12 == 0:
            hass.states.async_set(WEATHER, "sunny" if hour % 24 else "cloudy")
            hass.states.async_set(
                PERSON, "home" if hour % 24 == 0 else "not_home", {"source": "gps"}
            )
        await async_wait_recording_done(hass)
    freezer.move_to(DOWN[0] - timedelta(minutes=10))
    # The battery re-reports its unchanged value: HA moves last_reported only.
    hass.states.async_set(
        BATTERY, "96", {"device_class": "battery", "unit_of_measurement": "%"}
    )
    await async_wait_recording_done(hass)


async def _second_run(hass: HomeAssistant, freezer: FrozenDateTimeFactory) -> None:
    """Record hours 62 to 120 after the restart."""
    for hour in range(62, 121):
        freezer.move_to(T0 + hour * HOUR + timedelta(minutes=1))
        hass.states.async_set(
            MOTION, "on" if hour % 2 else "off", {"device_class": "motion"}
        )
        hass.states.async_set(
            TEMPERATURE,
            str(21 + hour % 3 / 2),
            {"device_class": "temperature", "unit_of_measurement": "°C"},
        )
        if hour % 10 == 0:
            hass.states.async_set(
                BATTERY,
                str(95 - (hour - 62) // 20),
                {"device_class": "battery", "unit_of_measurement": "%"},
            )
        await async_wait_recording_done(hass)


@pytest.fixture
async def recorded_home(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    async_test_recorder: Recorder,
    freezer: FrozenDateTimeFactory,
) -> tuple[Path, Path]:
    """Return (database, config dir) written by a real HA over two runs.

    Parametrised indirectly with True, the first run ends as after a crash: its
    end is left unwritten, and the second start closes it (`closed_incorrect`).
    """
    db = tmp_path / "home-assistant_v2.db"
    recorder_config = {"db_url": f"sqlite:///{db}", "commit_interval": 0}
    freezer.move_to(T0 - timedelta(minutes=5))
    async with async_test_home_assistant(config_dir=str(tmp_path)) as hass:
        frame.async_setup(hass)  # as phcc's `hass` fixture does
        async with async_test_recorder(hass, recorder_config):
            _build_registries(hass)
            await _first_run(hass, freezer)
            # MockConfigEntry bypasses the manager's store: ask it to save.
            hass.config_entries._async_schedule_save()
            freezer.move_to(DOWN[0])
            await hass.async_stop()
    if getattr(request, "param", False):
        with closing(sqlite3.connect(db)) as connection, connection:
            connection.execute('UPDATE recorder_runs SET "end" = NULL')
    freezer.move_to(DOWN[1])
    async with (
        async_test_home_assistant(config_dir=str(tmp_path)) as hass,
        async_test_recorder(hass, recorder_config),
    ):
        await _second_run(hass, freezer)
        freezer.move_to(T0 + 121 * HOUR)
        await hass.async_stop()
    return db, tmp_path


async def test_a_real_recorder_database_becomes_a_valid_dataset(
    recorded_home: tuple[Path, Path], tmp_path: Path
) -> None:
    """Events, the last re-reports, the downtime and the registries are imported."""
    db, config_dir = recorded_home
    out = tmp_path / "dataset"
    stats = import_recorder(
        ImportOptions(db=db, out=out, config_dir=config_dir, reports="last")
    )
    assert len(validate_dataset(out).manifest.homes) == 1
    (home,) = read_dataset(out)
    assert stats.rows_read == home.entry.n_events
    assert home.labels is not None
    assert not home.labels.annotated
    assert not home.labels.failures
    # Downtime: HA stopped at DOWN[0] and started at DOWN[1].
    assert home.gaps == ((DOWN[0].timestamp(), DOWN[1].timestamp()),)
    events = home.events
    motion = events.entity_id == MOTION
    # Run 1: on every third hour, off otherwise (an off after an off is a
    # re-report, no row): 17 on and 17 off rows; run 2: 59 alternating rows.
    assert motion.sum() == 34 + 59
    assert set(events.state[motion]) == {"on", "off"}
    assert np.all(np.diff(events.last_updated) >= 0)
    # The battery re-reported 100 % every hour until 99 % came at hour 10: the
    # recorder kept the last re-report (hour 9) on the 100 % row.
    assert home.reports is not None
    reported = set(zip(home.reports.entity_id, home.reports.time, strict=True))
    assert (BATTERY, (T0 + 9 * HOUR).timestamp()) in reported
    # A re-report after an entity's latest change is never written (the recorder
    # writes last_reported when the next change comes; HA stopped first).
    assert (BATTERY, (DOWN[0] - timedelta(minutes=10)).timestamp()) not in reported
    inventory = home.inventory
    (floor,) = inventory.floors
    (area,) = inventory.areas
    assert (floor.name, floor.level, area.name, area.floor_id) == (
        "Ground floor",
        0,
        "Kitchen",
        floor.floor_id,
    )
    by_name = {device.name: device for device in inventory.devices}
    sensor, hub = by_name["Kitchen motion"], by_name["Zigbee coordinator"]
    assert sensor.integration == hub.integration == "zha"
    assert sensor.via_device == hub.device_id
    assert (sensor.protocol, sensor.power_source, sensor.area_id) == (
        "zigbee",
        "battery",
        area.area_id,
    )
    assert {e.entity_id: e.device_class for e in sensor.entities} == {
        MOTION: "motion",
        BATTERY: "battery",
    }
    assert set(by_name) == {"Kitchen motion", "Zigbee coordinator"}
    loose = {e.entity_id: e for e in inventory.entities}
    assert set(loose) == {TEMPERATURE, PERSON}
    assert loose[TEMPERATURE].unit == "°C"
    # The core replays it: four whole days closed in the window.
    rollups = rollups_from_columns(
        inventory,
        events,
        start=home.entry.start,
        end=home.entry.end,
        reports=home.reports,
        gaps=home.gaps,
    )
    assert len(rollups) >= 4


@pytest.mark.parametrize("recorded_home", [True], indirect=True)
async def test_after_a_crash_the_gap_starts_at_the_last_recorded_row(
    recorded_home: tuple[Path, Path], tmp_path: Path
) -> None:
    """HA closed the crashed run at its next start; the gap begins after hour 49."""
    db, _ = recorded_home
    with closing(sqlite3.connect(db)) as connection:
        runs = connection.execute(
            "SELECT closed_incorrect FROM recorder_runs ORDER BY start"
        ).fetchall()
    assert runs == [(1,), (0,)]
    import_recorder(ImportOptions(db=db, out=tmp_path / "crash"))
    (home,) = read_dataset(tmp_path / "crash")
    last_row = (T0 + 49 * HOUR).timestamp()
    assert home.gaps == ((last_row + 1e-6, DOWN[1].timestamp()),)
    assert home.events.last_updated[home.events.last_updated < DOWN[1].timestamp()][
        -1
    ] == pytest.approx(last_row)


async def test_without_registries_the_command_keeps_entities_and_says_what_is_lost(
    recorded_home: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """No --config-dir: device-less entities described by their attributes."""
    db, _ = recorded_home
    out = tmp_path / "loose"
    args = ["import-recorder", "--db", str(db), "--out", str(out), "--quiet"]
    assert cli.main([*args, "--home-id", "mine"]) == 0
    line = capsys.readouterr().out
    assert "no --config-dir: no devices, areas" in line
    assert "rows/s" in line
    (home,) = read_dataset(out)
    assert home.entry.home_id == "mine"
    assert home.reports is None  # not recorded: the heartbeat is not visible
    assert not home.inventory.devices
    assert not home.inventory.areas
    described = {e.entity_id: (e.device_class, e.unit) for e in home.inventory.entities}
    assert described == {
        MOTION: ("motion", None),
        BATTERY: ("battery", "%"),
        TEMPERATURE: ("temperature", "°C"),
        PERSON: (None, None),
        WEATHER: (None, None),
    }
    # Attributes the inventory carries are not repeated in the events.
    assert set(home.events.attributes[home.events.entity_id == PERSON]) == {
        '{"source":"gps"}'
    }
    assert set(home.events.attributes[home.events.entity_id == MOTION]) == {None}
    # --days: only the last day, from the end backwards; an existing dataset
    # is replaced only with --overwrite.
    with pytest.raises(SystemExit, match="1"):
        cli.main([*args, "--days", "1"])
    assert "directory is not empty" in capsys.readouterr().err
    assert cli.main([*args, "--days", "1", "--overwrite"]) == 0
    (day,) = read_dataset(out)
    assert day.entry.end - day.entry.start == pytest.approx(86_400)
    assert day.gaps == ()
    assert np.all(day.events.last_updated >= day.entry.start)


def _refusal(path: Path, out: Path) -> str:
    """Return the one-line refusal to import `path`; check nothing was written."""
    with pytest.raises(DatasetError) as error:
        import_recorder(ImportOptions(db=path, out=out))
    assert not out.exists()
    assert "\n" not in str(error.value)
    return str(error.value)


def test_refusals_of_files_that_are_no_recorder_database(tmp_path: Path) -> None:
    """Missing, not SQLite, not HA's, or a recorder schema older than HA 2024.3."""
    out = tmp_path / "never"
    assert "no such file" in _refusal(tmp_path / "missing.db", out)
    text = tmp_path / "notes.db"
    text.write_text("not a database, just words " * 100)
    assert "not a readable SQLite database" in _refusal(text, out)
    foreign = tmp_path / "foreign.db"
    with closing(sqlite3.connect(foreign)) as connection, connection:
        connection.execute("CREATE TABLE recipes (name TEXT)")
    assert "not a Home Assistant recorder database" in _refusal(foreign, out)
    old = tmp_path / "old.db"
    with closing(sqlite3.connect(old)) as connection, connection:
        connection.execute("CREATE TABLE states (state_id INTEGER, state TEXT)")
        connection.execute("CREATE TABLE schema_changes (schema_version INTEGER)")
        connection.execute("INSERT INTO schema_changes VALUES (30)")
    message = _refusal(old, out)
    assert "recorder schema 30 is too old" in message
    assert "states.last_reported_ts" in message


async def test_refusals_of_damaged_recorder_databases(
    recorded_home: tuple[Path, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Empty, corrupt or locked: one line naming the file and the problem."""
    db, _ = recorded_home
    out = tmp_path / "never"

    def refusal(path: Path) -> str:
        return _refusal(path, out)

    empty = tmp_path / "empty.db"
    empty.write_bytes(db.read_bytes())
    with closing(sqlite3.connect(empty)) as connection, connection:
        connection.execute("DELETE FROM states")
    assert "holds no states" in refusal(empty)
    # The schema is readable, the pages of the states table's index are not:
    # SQLite finds it out while the rows are read.
    corrupt = tmp_path / "corrupt.db"
    with closing(sqlite3.connect(db)) as connection, connection:
        (page,) = connection.execute(
            "SELECT rootpage FROM sqlite_master "
            "WHERE name = 'ix_states_last_updated_ts'"
        ).fetchone()
        (size,) = connection.execute("PRAGMA page_size").fetchone()
    data = bytearray(db.read_bytes())
    data[(page - 1) * size : page * size] = b"\xff" * size
    corrupt.write_bytes(bytes(data))
    assert "corrupt" in refusal(corrupt)
    # A writer holding an exclusive lock (rollback journal): "locked".
    locked = tmp_path / "locked.db"
    locked.write_bytes(db.read_bytes())
    with closing(sqlite3.connect(locked)) as connection, connection:
        connection.execute("PRAGMA journal_mode=DELETE")
    monkeypatch.setattr("homeiq_trainer.recorder_import.BUSY_TIMEOUT", 0.05)
    writer = sqlite3.connect(locked, isolation_level=None)
    try:
        writer.execute("BEGIN EXCLUSIVE")
        assert "locked" in refusal(locked)
    finally:
        writer.close()
    # Unreadable attributes are dropped; the row keeps its state.
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(db.read_bytes())
    with closing(sqlite3.connect(damaged)) as connection, connection:
        connection.execute("UPDATE state_attributes SET shared_attrs = '{oops'")
    import_recorder(ImportOptions(db=damaged, out=tmp_path / "damaged"))
    (home,) = read_dataset(tmp_path / "damaged")
    with closing(sqlite3.connect(db)) as connection:
        (recorded,) = connection.execute(
            "SELECT COUNT(*) FROM states WHERE state != ''"
        ).fetchone()
    assert home.entry.n_events == recorded
    assert set(home.events.attributes) == {None}
    # The database itself is never written: opened read-only.
    before = db.read_bytes()
    open_recorder(db).close()
    assert db.read_bytes() == before


def test_a_crashed_run_ends_at_its_last_row() -> None:
    """HA closes a run it did not end at the next start; the gap starts earlier."""
    runs = [(0.0, 100.0, True), (200.0, 300.0, False), (400.0, None, False)]
    observed = np.array([5, 40, 150, 250, 450], dtype=np.int64) * 1_000_000
    gaps = downtime(runs, observed, 0, 500_000_000)
    # Run 1 crashed after its last row at 40 s (closed at 100 s by the restart);
    # the row at 150 s (written while stopping) pushes the first gap past it.
    assert gaps == [(150_000_001, 200_000_000), (300_000_000, 400_000_000)]
    # A crashed run without rows: the gap starts at the run's start; clipped.
    assert downtime(
        [(10.0, 20.0, True), (30.0, None, False)], observed[:0], 0, 25_000_000
    ) == [(10_000_000, 25_000_000)]


def test_registry_files_that_are_not_ha_s(tmp_path: Path) -> None:
    """A config dir without registries, or with broken ones, is refused clearly."""
    storage = tmp_path / ".storage"
    storage.mkdir()

    def refusal() -> str:
        with pytest.raises(DatasetError) as error:
            registry_inventory(tmp_path, "home", [], {}, None)
        return str(error.value)

    assert "missing (is" in refusal()
    (storage / "core.device_registry").write_text("{not json")
    assert "unreadable" in refusal()
    (storage / "core.device_registry").write_text('{"version": 1, "data": []}')
    assert "not an HA storage file" in refusal()


def test_days_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    """--days 0 is a usage error."""
    with pytest.raises(SystemExit, match="2"):
        cli.main(["import-recorder", "--db", "x", "--out", "y", "--days", "0"])
    assert "must be more than 0" in capsys.readouterr().err
