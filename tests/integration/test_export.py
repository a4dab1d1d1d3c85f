"""The dataset export: the `export_dataset` action and `GET /api/homeiq/dataset`,
through HA's real HTTP stack and auth, read back by the trainer's own reader."""

import asyncio
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta
from http import HTTPStatus
import io
import json
import os
from pathlib import Path
import stat
import tarfile
from typing import Any

from aiohttp.test_utils import TestClient
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Context, HomeAssistant
from homeassistant.exceptions import (
    HomeAssistantError,
    ServiceValidationError,
    Unauthorized,
)
from homeassistant.helpers import device_registry as dr
from homeassistant.setup import async_setup_component
import numpy as np
import pytest
from pytest_homeassistant_custom_component.common import (
    CLIENT_ID,
    MockConfigEntry,
    MockUser,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.homeiq import export
from custom_components.homeiq.const import DOMAIN
from custom_components.homeiq.core.aggregator import TelemetryAggregator
from custom_components.homeiq.core.dataset import (
    Area,
    Device,
    DeviceWarning,
    Entity,
    Failure,
    Inventory,
    Labels,
)
from custom_components.homeiq.core.features import home_feature_rows
from custom_components.homeiq.export import (
    ExportError,
    ExportSource,
    Pseudonyms,
    labels_of,
    read_salt,
    room_kinds,
    write_archive,
)
from homeiq_trainer.dataset import Dataset, read_dataset
from homeiq_trainer.models.extract import extract

from .conftest import Home

pytestmark = pytest.mark.usefixtures("export_paths")

URL = "/api/homeiq/dataset"


@pytest.fixture
def config_entry() -> MockConfigEntry:
    """A HomeIQ entry whose user said the home is a townhouse."""
    return MockConfigEntry(
        domain=DOMAIN, title="HomeIQ", data={}, options={"home_type": "townhouse"}
    )


async def live_days(
    hass: HomeAssistant, entry: MockConfigEntry, freezer: FrozenDateTimeFactory
) -> None:
    """Let two and a half days of activity pass, then score (days close)."""
    for hour in range(60):
        freezer.tick(timedelta(hours=1))
        hass.states.async_set("sensor.washer_plug_power", str(hour % 5))
        hass.states.async_set("binary_sensor.kitchen_motion_motion", "on")
        hass.states.async_set("binary_sensor.kitchen_motion_motion", "off")
        hass.states.async_set("sensor.kitchen_motion_battery", str(80 - hour / 10))
        hass.states.async_set("sensor.bedroom_thermometer_temperature", str(hour))
    await entry.runtime_data.coordinator.async_refresh()


async def admin_client(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, user: MockUser
) -> TestClient:
    """Return a client with an admin token made now (frozen time moved on)."""
    refresh = await hass.auth.async_create_refresh_token(user, CLIENT_ID)
    return await hass_client(hass.auth.async_create_access_token(refresh))


async def call(hass: HomeAssistant, service: str, data: dict[str, Any]) -> Any:
    """Call a HomeIQ action and return its response."""
    return await hass.services.async_call(
        DOMAIN, service, data, blocking=True, return_response=True
    )


def same_days(read: Sequence[Any] | None, kept: Sequence[Any]) -> bool:
    """Return True when the days read back hold what HomeIQ keeps, exactly.

    The trainer's reader makes `homeiq_core` objects, HomeIQ keeps
    `custom_components.homeiq.core` ones: the same code, two classes.
    """
    return read is not None and [day.to_json() for day in read] == [
        day.to_json() for day in kept
    ]


def written(answer: dict[str, Any]) -> bytes:
    """Return the bytes of the archive the action says it wrote."""
    return Path(answer["path"]).read_bytes()


def unpack(data: bytes, out: Path) -> Dataset:
    """Extract an archive's bytes into `out` and open the dataset."""
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(out, filter="data")
    return read_dataset(out)


async def test_the_action_writes_an_archive_the_trainer_reads(
    hass: HomeAssistant,
    *,
    home: Home,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    export_paths: Path,
    tmp_path: Path,
) -> None:
    await live_days(hass, loaded_entry, freezer)
    replaced = await call(hass, "mark_battery_replaced", {"device_id": home.motion})
    failed = await call(
        hass, "report_device_failure", {"device_id": home.lock, "kind": "stuck_sensor"}
    )

    answer = await call(hass, "export_dataset", {})

    path = Path(answer["path"])
    assert path.parent == export_paths / "exports"
    assert path.name.startswith("homeiq-dataset-")
    assert path.suffix == ".tar"
    data = written(answer)
    assert answer["bytes"] == len(data)
    assert answer["homes"] == 1
    assert answer["devices"] == 5
    history = loaded_entry.runtime_data.collector.aggregator.history
    assert answer["days"] == len(history) >= 2
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]

    dataset = unpack(data, tmp_path / "data")
    assert dataset.manifest.source_kind == "homeiq-export"
    assert dataset.manifest.format_version == 3
    assert dataset.manifest.options["pseudonymized"] is False
    (read,) = list(dataset)
    assert read.entry.events is None
    assert same_days(read.rollups, history)
    assert read.entry.start == history[0].start
    assert read.entry.end == history[-1].end
    inventory = loaded_entry.runtime_data.collector.home.inventory
    assert read.inventory.to_json() == inventory.to_json()
    assert read.labels is not None
    assert (
        read.labels.to_json()
        == Labels(
            home_type="townhouse",
            failures=(
                Failure(
                    home.lock,
                    "stuck_sensor",
                    failed["time"],
                    failed["time"],
                    provenance="user",
                ),
            ),
            warnings=(
                DeviceWarning(home.motion, "battery_replaced", replaced["time"]),
            ),
            annotated=True,
        ).to_json()
    )


async def test_the_api_streams_the_archive_to_an_admin(
    hass: HomeAssistant,
    *,
    home: Home,
    loaded_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    hass_admin_user: MockUser,
    freezer: FrozenDateTimeFactory,
    export_paths: Path,
    tmp_path: Path,
) -> None:
    await live_days(hass, loaded_entry, freezer)
    client = await admin_client(hass, hass_client, hass_admin_user)

    response = await client.get(URL)
    data = await response.read()

    assert response.status == HTTPStatus.OK
    assert response.headers["Content-Type"] == "application/x-tar"
    assert int(response.headers["Content-Length"]) == len(data)
    assert "attachment; filename=" in response.headers["Content-Disposition"]
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        assert archive.getnames()[0] == "manifest.json"
    dataset = unpack(data, tmp_path / "data")
    (read,) = list(dataset)
    assert read.labels is not None
    assert read.labels.home_type == "townhouse"
    assert read.labels.annotated is False  # no failure reported: unknown
    assert same_days(
        read.rollups, loaded_entry.runtime_data.collector.aggregator.history
    )
    (rows,) = extract([tmp_path / "data"], progress=False)
    assert rows.device_x.shape[:2] == (len(read.rollups), 5)
    assert not np.isnan(rows.device_x).all()
    # The temporary archive had no name and is gone.
    assert list((export_paths / "exports").iterdir()) == []


async def test_pseudonyms_hide_ids_and_names_and_stay_stable(
    hass: HomeAssistant,
    *,
    home: Home,
    loaded_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    hass_admin_user: MockUser,
    freezer: FrozenDateTimeFactory,
    export_paths: Path,
    tmp_path: Path,
) -> None:
    await live_days(hass, loaded_entry, freezer)
    await call(hass, "report_device_failure", {"device_id": home.plug})
    client = await admin_client(hass, hass_client, hass_admin_user)

    first = await (await client.get(URL, params={"pseudonymize": "1"})).read()
    second = await (await client.get(URL, params={"pseudonymize": "true"})).read()
    answer = await call(hass, "export_dataset", {"pseudonymize": True})

    real = loaded_entry.runtime_data.collector.home.inventory
    # (The test home names its hub "Coordinator", which is also its model: kept.)
    hidden = [(d.device_id, d.name) for d in real.devices if d.name != d.model]
    hidden += [(e.entity_id, None) for e in real.all_entities()]
    # Kinds of room stay (the features count them): "kitchen" is one.
    hidden += [(a.name, None) for a in real.areas]
    hidden += [(f.floor_id, f.name) for f in real.floors]
    for identifier, name in hidden:
        assert identifier.encode() not in first
        assert name is None or name.encode() not in first
    homes = [
        next(iter(unpack(data, tmp_path / str(i))))
        for i, data in enumerate((first, second, written(answer)))
    ]
    assert (
        homes[0].inventory.to_json()
        == homes[1].inventory.to_json()
        == homes[2].inventory.to_json()
    )
    pseudonymous = homes[0].inventory
    assert {d.device_id for d in pseudonymous.devices}.isdisjoint(
        d.device_id for d in real.devices
    )
    assert all(a.area_id.startswith("area_") for a in pseudonymous.areas)
    assert sorted(a.name.split()[0] for a in pseudonymous.areas) == [
        "bedroom",
        "kitchen",
    ]
    assert homes[0].labels is not None
    (failure,) = homes[0].labels.failures
    plug = real.devices.index(next(d for d in real.devices if d.device_id == home.plug))
    assert failure.device_id == pseudonymous.devices[plug].device_id
    # What the features read stays: domains, classes, units, kinds of room, levels.
    for mine, theirs in zip(real.devices, pseudonymous.devices, strict=True):
        assert [(e.domain, e.device_class, e.unit) for e in mine.entities] == [
            (e.domain, e.device_class, e.unit) for e in theirs.entities
        ]
        assert (mine.manufacturer, mine.model, mine.protocol) == (
            theirs.manufacturer,
            theirs.model,
            theirs.protocol,
        )
    assert homes[0].rollups is not None
    np.testing.assert_array_equal(
        home_feature_rows(real, loaded_entry.runtime_data.collector.aggregator.history),
        home_feature_rows(pseudonymous, homes[0].rollups),
    )
    assert homes[0].rollups[0].device_ids[0].startswith("dev_")
    salt = export_paths / "pseudonym.salt"
    assert stat.S_IMODE(salt.stat().st_mode) == 0o600


async def test_non_admins_bad_flags_and_an_unloaded_homeiq_are_refused(
    hass: HomeAssistant,
    *,
    home: Home,
    loaded_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    hass_read_only_access_token: str,
) -> None:
    admin = await hass_client()
    reader = await hass_client(hass_read_only_access_token)

    assert (await reader.get(URL)).status == HTTPStatus.UNAUTHORIZED
    response = await admin.get(URL, params={"pseudonymize": "maybe"})
    assert response.status == HTTPStatus.BAD_REQUEST
    assert "pseudonymize must be one of" in (await response.json())["message"]

    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    response = await admin.get(URL)
    assert response.status == HTTPStatus.SERVICE_UNAVAILABLE
    assert (await response.json())["message"] == "HomeIQ is not loaded"
    with pytest.raises(ServiceValidationError) as error:
        await call(hass, "export_dataset", {})
    assert error.value.translation_key == "not_loaded"


async def test_the_action_is_for_admins_only(
    hass: HomeAssistant, loaded_entry: MockConfigEntry, hass_read_only_user: MockUser
) -> None:
    with pytest.raises(Unauthorized):
        await hass.services.async_call(
            DOMAIN,
            "export_dataset",
            {},
            blocking=True,
            return_response=True,
            context=Context(user_id=hass_read_only_user.id),
        )


async def test_the_action_needs_a_loaded_entry(hass: HomeAssistant) -> None:
    assert await async_setup_component(hass, DOMAIN, {})
    with pytest.raises(ServiceValidationError):
        await call(hass, "export_dataset", {})


async def test_a_failed_export_says_why(
    hass: HomeAssistant,
    *,
    home: Home,
    loaded_entry: MockConfigEntry,
    hass_client: ClientSessionGenerator,
    export_paths: Path,
) -> None:
    (export_paths / "exports").write_text("a file where the folder should be")

    with pytest.raises(HomeAssistantError) as error:
        await call(hass, "export_dataset", {})
    assert error.value.translation_key == "export_failed"

    response = await (await hass_client()).get(URL)
    assert response.status == HTTPStatus.INTERNAL_SERVER_ERROR
    assert (await response.json())["message"].startswith("export failed: ")


async def test_a_removed_device_leaves_its_days_out_of_the_export(
    hass: HomeAssistant,
    *,
    home: Home,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    tmp_path: Path,
) -> None:
    await live_days(hass, loaded_entry, freezer)
    await call(hass, "report_device_failure", {"device_id": home.plug})
    dr.async_get(hass).async_remove_device(home.plug)
    collector = loaded_entry.runtime_data.collector
    assert collector.async_rebuild()
    assert home.plug in collector.aggregator.history[0].device_ids

    answer = await call(hass, "export_dataset", {})

    (read,) = list(unpack(written(answer), tmp_path / "data"))
    assert answer["devices"] == 4
    assert read.rollups is not None
    assert all(home.plug not in day.device_ids for day in read.rollups)
    assert read.labels is not None
    assert read.labels.failures == ()  # of a device no longer watched
    assert read.labels.annotated is False


def test_an_export_without_closed_days_is_valid(tmp_path: Path) -> None:
    source = ExportSource(
        inventory=Inventory("home", "UTC"),
        rollups=(),
        labels=Labels(),
        producer="test",
        retention_days=28,
        created=1_767_571_200.0,
    )
    with (tmp_path / "a.tar").open("wb") as file:
        exported = write_archive(source, file)

    assert (exported.homes, exported.devices, exported.days) == (1, 0, 0)
    dataset = unpack((tmp_path / "a.tar").read_bytes(), tmp_path / "data")
    (read,) = list(dataset)
    assert read.rollups == ()
    assert read.entry.start == read.entry.end == source.created


def test_the_action_keeps_the_newest_archives_and_no_crash_leftovers(
    tmp_path: Path,
) -> None:
    directory = tmp_path / "exports"
    directory.mkdir()
    (directory / "mine.tar").write_bytes(b"a user's file")
    stale = directory / ".crashed.tmp"
    stale.write_bytes(b"half")
    day_ago = 1_767_571_200.0 - export.STALE_TEMPORARY_SECONDS - 1
    os.utime(stale, (day_ago, day_ago))
    fresh = directory / ".writing.tmp"  # another export may be writing it right now
    fresh.write_bytes(b"half")
    os.utime(fresh, (1_767_571_200.0, 1_767_571_200.0))
    written = []
    for hour in range(5):
        source = ExportSource(
            Inventory("home", "UTC"),
            (),
            Labels(),
            "test",
            28,
            1_767_571_200.0 + 3600 * hour,
        )
        path, _ = export.export_to_file(
            source, directory, salt=b"s" * 32 if hour else None
        )
        written.append(path.name)

    left = sorted(p.name for p in directory.iterdir())
    assert left == sorted(
        [".writing.tmp", "mine.tar", *written[-export.KEEP_EXPORTS :]]
    )


async def test_a_second_export_waits_for_the_first(
    hass: HomeAssistant, loaded_entry: MockConfigEntry
) -> None:
    lock = export._one_at_a_time(hass)
    await lock.acquire()  # an export under way
    task = hass.async_create_task(call(hass, "export_dataset", {}))
    for _ in range(20):
        await asyncio.sleep(0)
    assert not task.done()
    lock.release()
    answer = await task
    assert answer["bytes"] == len(written(answer))
    assert not lock.locked()


async def test_collected_days_that_do_not_fit_are_not_exported(
    hass: HomeAssistant,
    *,
    home: Home,
    loaded_entry: MockConfigEntry,
    freezer: FrozenDateTimeFactory,
    tmp_path: Path,
) -> None:
    await live_days(hass, loaded_entry, freezer)
    history = loaded_entry.runtime_data.collector.aggregator.history
    source = await export.async_export_source(hass, loaded_entry)
    twice = replace(source, rollups=(history[0], history[0]))

    with (
        (tmp_path / "a.tar").open("wb") as file,
        pytest.raises(ExportError, match=r"not exportable: .*days out of order"),
    ):
        write_archive(twice, file)


def test_labels_keep_watched_devices_and_mark_annotation() -> None:
    stored: Any = {
        "battery_replaced": {"d1": 20.0, "gone": 5.0, "d2": 10.0},
        "failures": [
            {"device_id": "d2", "kind": "flapping", "time": 30.0},
            {"device_id": "gone", "kind": "sudden_death", "time": 1.0},
        ],
    }

    labels = labels_of(stored, None, {"d1", "d2"})

    assert labels.warnings == (
        DeviceWarning("d2", "battery_replaced", 10.0),
        DeviceWarning("d1", "battery_replaced", 20.0),
    )
    assert labels.failures == (Failure("d2", "flapping", 30.0, 30.0, None, "user"),)
    assert labels.annotated is True
    assert labels_of(stored, "studio", {"d1"}).annotated is False


def test_pseudonyms_keep_what_the_features_read() -> None:
    names = Pseudonyms(b"salt")
    other = Pseudonyms(b"pepper")

    assert names.entity_id("sensor.hall_button_action").endswith("_action")
    assert names.entity_id("sensor.hub_linkquality").endswith("_linkquality")
    assert names.entity_id("sensor.hall").startswith("sensor.e_")
    assert names.device_id("abc") == names.device_id("abc") != other.device_id("abc")
    area = names.area(Area("living_room", "Living room / Kitchen", "ground"))
    assert room_kinds(area) == ["kitchen", "living"]
    assert "Living" not in area.name
    assert area.floor_id == names.floor_id("ground")
    assert names.area_id(None) is None


def test_a_damaged_salt_is_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "pseudonym.salt"
    salt = read_salt(path)
    assert read_salt(path) == salt
    assert len(salt) == 32

    path.write_text("not hex")
    with pytest.raises(ExportError, match="not a salt written by HomeIQ"):
        read_salt(path)
    assert path.read_text() == "not hex"


def test_the_archive_members_are_plain_files(tmp_path: Path) -> None:
    source = ExportSource(Inventory("home", "UTC"), (), Labels(), "test", 28, 0.0)
    with (tmp_path / "a.tar").open("wb") as file:
        write_archive(source, file)

    with tarfile.open(tmp_path / "a.tar") as archive:
        members = archive.getmembers()
        manifest = archive.extractfile("manifest.json")
        assert manifest is not None
        assert json.loads(manifest.read())["homes"][0]["n_days"] == 0
    assert [m.name for m in members] == [
        "manifest.json",
        "homes/home/inventory.json",
        "homes/home/labels.json",
        "homes/home/rollups.json",
    ]
    assert all(m.isfile() and m.mode == 0o644 for m in members)


def test_a_failed_export_leaves_no_file_behind(tmp_path: Path) -> None:
    device = Device(
        "nobody",
        None,
        None,
        None,
        "zigbee",
        "battery",
        None,
        (Entity("sensor.x", "sensor"),),
    )
    inventory = Inventory("home", "UTC", devices=(device,))
    aggregator = TelemetryAggregator(inventory, start=0.0, history_days=None)
    aggregator.advance_to(2 * 86400.0)
    day = aggregator.history[0]
    source = ExportSource(inventory, (day, day), Labels(), "test", 28, 0.0)

    with pytest.raises(ExportError, match="days out of order"):
        export.export_to_file(source, tmp_path / "exports", salt=None)
    with pytest.raises(ExportError, match="days out of order"):
        export.export_to_temporary(source, tmp_path / "exports", salt=None)
    assert list((tmp_path / "exports").iterdir()) == []
