"""Export what HomeIQ collected as a dataset archive (docs/data-format.md, v3).

The archive is a tar of one dataset directory: `manifest.json` at the top, then
the home's inventory (as HomeIQ watches it now), its closed daily rollups (what the
integration keeps; it keeps no events) and its labels (failures and battery
replacements users reported through the actions, the home type from the options).
Nothing leaves the house unless a user calls the action or an admin's token calls
the API.

The loop only takes references (the closed days are immutable, the labels are
copied); the archive is built in the executor into an unnamed temporary file,
one day's JSON in memory at a time. With `pseudonymize`, ids and names are replaced
by salted hashes: stable across exports (the salt is kept per installation), so
the trainer sees the same device under the same pseudonym every night, and
useless without the salt. Domains, device classes, units and room kinds stay:
the features read them.

One archive is built at a time (a second request waits), and the action keeps the
newest `KEEP_EXPORTS` archives in `homeiq/exports/`, deleting older ones.
"""

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
import hashlib
import hmac
import io
import json
import os
from pathlib import Path
import re
import secrets
import tarfile
import tempfile
import time
from typing import IO, Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.loader import async_get_integration
from homeassistant.util.hass_dict import HassKey

from .const import (
    CONF_HOME_TYPE,
    CONF_RETENTION_DAYS,
    DEFAULT_RETENTION_DAYS,
    DOMAIN,
)
from .coordinator import HomeIQConfigEntry
from .core.dataset import (
    HOME_TYPES,
    Area,
    DatasetError,
    Device,
    DeviceWarning,
    Entity,
    Failure,
    Floor,
    HomeEntry,
    Inventory,
    Labels,
    Manifest,
    check_rollups,
    write_rollups_json,
)
from .core.features import AREA_KINDS
from .core.rollups import DayRollup
from .storage import Labels as StoredLabels

EXPORT_DIR = "homeiq/exports"
SALT_PATH = "homeiq/pseudonym.salt"
SOURCE_KIND = "homeiq-export"
HOMES_DIR = "homes"
CHUNK_BYTES = 1 << 20
KEEP_EXPORTS = 3  # archives the action keeps in EXPORT_DIR, newest first
STALE_TEMPORARY_SECONDS = 24 * 3600  # a half-written archive this old was a crash's
EXPORT_LOCK: HassKey[asyncio.Lock] = HassKey(f"{DOMAIN}_export_lock")
# Endings of entity ids that the features read (buttons, Zigbee link quality).
KEPT_ENDINGS = ("_action", "_click", "_linkquality", "_lqi")
_WORDS = re.compile(r"[a-z0-9]+")


class ExportError(Exception):
    """The dataset could not be exported; the message says why."""


@dataclass(frozen=True, slots=True)
class ExportSource:
    """What an export needs, taken from the loaded entry on the event loop."""

    inventory: Inventory
    rollups: tuple[DayRollup, ...]
    labels: Labels
    producer: str
    retention_days: int
    created: float


@dataclass(frozen=True, slots=True)
class Exported:
    """What an export wrote: its size and what it holds."""

    bytes: int
    homes: int
    devices: int
    days: int

    def to_json(self, path: Path) -> dict[str, Any]:
        """Return the action's response for an archive written to `path`."""
        return {
            "path": str(path),
            "bytes": self.bytes,
            "homes": self.homes,
            "devices": self.devices,
            "days": self.days,
        }


# --- on the event loop -----------------------------------------------------------


async def async_export_source(
    hass: HomeAssistant, entry: HomeIQConfigEntry
) -> ExportSource:
    """Return references to what the loaded `entry` holds now (cheap, on the loop)."""
    integration = await async_get_integration(hass, entry.domain)
    return _export_source(entry, f"homeiq {integration.version}")


@callback
def _export_source(entry: HomeIQConfigEntry, producer: str) -> ExportSource:
    runtime = entry.runtime_data
    now = time.time()
    runtime.collector.async_advance(now)  # close the days that ended since scoring
    inventory = runtime.collector.home.inventory
    home_type = entry.options.get(CONF_HOME_TYPE)
    return ExportSource(
        inventory=inventory,
        rollups=runtime.collector.aggregator.history,
        labels=labels_of(
            runtime.state["labels"],
            home_type if home_type in HOME_TYPES else None,
            {device.device_id for device in inventory.devices},
        ),
        producer=producer,
        retention_days=entry.options.get(CONF_RETENTION_DAYS, DEFAULT_RETENTION_DAYS),
        created=now,
    )


def labels_of(stored: StoredLabels, home_type: str | None, devices: set[str]) -> Labels:
    """Return the dataset labels of what users reported, for watched `devices`.

    Reported failures are labelled by the user at their time (onset and failure
    time alike); battery replacements become `battery_replaced` warnings. Failures
    are annotated only when the user reported some: without any report, a device
    with no listed failure is unknown, not healthy.
    """
    failures = tuple(
        Failure(
            device_id=item["device_id"],
            kind=item["kind"],
            onset=float(item["time"]),
            failure_time=float(item["time"]),
            provenance="user",
        )
        for item in sorted(stored["failures"], key=lambda item: item["time"])
        if item["device_id"] in devices
    )
    warnings = tuple(
        DeviceWarning(device_id, "battery_replaced", float(moment))
        for device_id, moment in sorted(
            stored["battery_replaced"].items(), key=lambda item: item[1]
        )
        if device_id in devices
    )
    return Labels(
        home_type=home_type,
        failures=failures,
        warnings=warnings,
        annotated=bool(failures),
    )


# --- pseudonyms -------------------------------------------------------------------


def read_salt(path: Path) -> bytes:
    """Return this installation's salt, creating it (readable by HA only) once."""
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        pass
    except ValueError as error:
        raise ExportError(f"{path}: not a salt written by HomeIQ ({error})") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    salt = secrets.token_bytes(32)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(salt.hex() + "\n")
    return salt


@dataclass(frozen=True, slots=True)
class Pseudonyms:
    """Salted, stable pseudonyms for ids and names (HMAC-SHA-256)."""

    salt: bytes

    def _hash(self, kind: str, value: str) -> str:
        message = f"{kind}\0{value}".encode()
        return hmac.new(self.salt, message, hashlib.sha256).hexdigest()[:16]

    def device_id(self, device_id: str) -> str:
        """Return a device's pseudonymous id."""
        return f"dev_{self._hash('device', device_id)}"

    def entity_id(self, entity_id: str) -> str:
        """Return `domain.e_<hash>`, keeping an ending the features read."""
        domain, _, object_id = entity_id.partition(".")
        ending = next((e for e in KEPT_ENDINGS if object_id.endswith(e)), "")
        return f"{domain}.e_{self._hash('entity', entity_id)}{ending}"

    def floor_id(self, floor_id: str | None) -> str | None:
        """Return a floor's pseudonymous id (None stays None)."""
        return None if floor_id is None else f"floor_{self._hash('floor', floor_id)}"

    def area_id(self, area_id: str | None) -> str | None:
        """Return an area's pseudonymous id (None stays None)."""
        return None if area_id is None else f"area_{self._hash('area', area_id)}"

    def floor(self, floor: Floor) -> Floor:
        """Return `floor` with its id and name hidden; its level stays."""
        floor_id = f"floor_{self._hash('floor', floor.floor_id)}"
        return Floor(floor_id, floor_id.replace("_", " "), floor.level)

    def area(self, area: Area) -> Area:
        """Return `area` with id and name hidden, keeping the room kinds it names."""
        area_id = f"area_{self._hash('area', area.area_id)}"
        name = " ".join([*room_kinds(area), area_id.replace("_", " ")])
        return Area(area_id, name, self.floor_id(area.floor_id))

    def device(self, device: Device) -> Device:
        """Return `device` with ids and name hidden; make, model and kind stay."""
        device_id = self.device_id(device.device_id)
        hub = device.via_device
        return replace(
            device,
            device_id=device_id,
            name=None if device.name is None else device_id,
            area_id=self.area_id(device.area_id),
            entities=tuple(self.entity(entity) for entity in device.entities),
            via_device=None if hub is None else self.device_id(hub),
        )

    def entity(self, entity: Entity) -> Entity:
        """Return `entity` under its pseudonymous id."""
        return replace(entity, entity_id=self.entity_id(entity.entity_id))

    def inventory(self, inventory: Inventory) -> Inventory:
        """Return `inventory` with every id and name hidden."""
        return Inventory(
            home_id=inventory.home_id,
            time_zone=inventory.time_zone,
            floors=tuple(self.floor(floor) for floor in inventory.floors),
            areas=tuple(self.area(area) for area in inventory.areas),
            devices=tuple(self.device(device) for device in inventory.devices),
            entities=tuple(self.entity(entity) for entity in inventory.entities),
        )

    def labels(self, labels: Labels) -> Labels:
        """Return `labels` naming devices by their pseudonyms."""
        return replace(
            labels,
            failures=tuple(
                replace(f, device_id=self.device_id(f.device_id))
                for f in labels.failures
            ),
            warnings=tuple(
                replace(w, device_id=self.device_id(w.device_id))
                for w in labels.warnings
            ),
        )

    def rollup(self, rollup: DayRollup) -> DayRollup:
        """Return `rollup` naming devices by their pseudonyms."""
        return replace(
            rollup, device_ids=tuple(self.device_id(d) for d in rollup.device_ids)
        )


def room_kinds(area: Area) -> list[str]:
    """Return the room kinds (`AREA_KINDS`) an area's name or id speaks of."""
    words = _WORDS.findall(f"{area.name} {area.area_id}".lower())
    return [
        kind
        for kind, keys in AREA_KINDS.items()
        if any(word.startswith(keys) for word in words)
    ]


# --- in the executor -----------------------------------------------------------------


def watched_days(
    rollups: Iterable[DayRollup], devices: set[str]
) -> Iterable[DayRollup]:
    """Yield the rollups without rows of devices no longer watched.

    A device removed from the home (or from HomeIQ's selection) keeps its rows in
    the days before; the dataset's inventory lists the devices watched now.
    """
    for rollup in rollups:
        ids = rollup.device_ids
        keep = [i for i, device_id in enumerate(ids) if device_id in devices]
        if len(keep) == len(ids):
            yield rollup
            continue
        yield replace(
            rollup,
            device_ids=tuple(ids[i] for i in keep),
            values=rollup.values[keep],
            hours=rollup.hours[keep],
        )


def write_archive(
    source: ExportSource, out: IO[bytes], *, salt: bytes | None = None
) -> Exported:
    """Write the dataset archive of `source` to `out`; pseudonymise with `salt`.

    Everything is checked by the dataset format's own validators first, so the
    archive never holds what the trainer's reader refuses.
    """
    inventory = source.inventory
    devices = {device.device_id for device in inventory.devices}
    rollups: Sequence[DayRollup] = tuple(watched_days(source.rollups, devices))
    labels = source.labels
    if salt is not None:
        names = Pseudonyms(salt)
        inventory = names.inventory(inventory)
        labels = names.labels(labels)
        rollups = tuple(names.rollup(rollup) for rollup in rollups)
    start = rollups[0].start if rollups else source.created
    end = rollups[-1].end if rollups else source.created
    home = f"{HOMES_DIR}/{inventory.home_id}"
    entry = HomeEntry(
        home_id=inventory.home_id,
        inventory=f"{home}/inventory.json",
        events=None,
        n_events=0,
        start=start,
        end=end,
        labels=f"{home}/labels.json",
        rollups=f"{home}/rollups.json",
        n_days=len(rollups),
    )
    manifest = Manifest(
        created=source.created,
        source_kind=SOURCE_KIND,
        producer=source.producer,
        homes=(entry,),
        options={
            "pseudonymized": salt is not None,
            "retention_days": source.retention_days,
        },
    )
    try:
        _check(manifest, inventory, labels, rollups, start=start, end=end)
    except DatasetError as error:
        raise ExportError(f"the collected data is not exportable: {error}") from None
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as archive:
        moment = int(source.created)
        _add_json(archive, "manifest.json", manifest.to_json(), moment)
        _add_json(archive, entry.inventory, inventory.to_json(), moment)
        _add_json(archive, f"{home}/labels.json", labels.to_json(), moment)
        _add_rollups(archive, f"{home}/rollups.json", rollups, moment)
    return Exported(
        bytes=out.tell(), homes=1, devices=len(inventory.devices), days=len(rollups)
    )


def _check(
    manifest: Manifest,
    inventory: Inventory,
    labels: Labels,
    rollups: Sequence[DayRollup],
    *,
    start: float,
    end: float,
) -> None:
    """Run the reader's checks on what is about to be written."""
    Manifest.from_json(manifest.to_json())
    checked = Inventory.from_json(inventory.to_json())
    Labels.from_json(labels.to_json()).check_devices(checked)
    check_rollups(rollups, checked, start=start, end=end)


def _member(name: str, size: int, moment: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = moment
    info.mode = 0o644
    return info


def _add_json(archive: tarfile.TarFile, name: str, obj: object, moment: int) -> None:
    data = (json.dumps(obj, indent=1, ensure_ascii=False) + "\n").encode()
    archive.addfile(_member(name, len(data), moment), io.BytesIO(data))


def _add_rollups(
    archive: tarfile.TarFile, name: str, rollups: Sequence[DayRollup], moment: int
) -> None:
    """Add the rollups' JSON, spooled through a temporary file a day at a time."""
    with tempfile.TemporaryFile() as spool:
        for chunk in write_rollups_json(rollups):
            spool.write(chunk.encode())
        size = spool.tell()
        spool.seek(0)
        archive.addfile(_member(name, size, moment), spool)


def archive_name(created: float, *, pseudonymize: bool) -> str:
    """Return the file name of an archive made at `created`."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(created))
    return f"homeiq-dataset-{stamp}{'-pseudonymized' if pseudonymize else ''}.tar"


def export_to_file(
    source: ExportSource, directory: Path, *, salt: bytes | None
) -> tuple[Path, Exported]:
    """Write the archive into `directory` (atomically, via a temporary name)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / archive_name(source.created, pseudonymize=salt is not None)
    descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as file:
            exported = write_archive(source, file, salt=salt)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    remove_old_exports(directory, keep=KEEP_EXPORTS, now=source.created)
    return path, exported


def remove_old_exports(directory: Path, *, keep: int, now: float) -> list[Path]:
    """Delete all but the newest `keep` archives, and stale half-written ones.

    Archives are named by their UTC time, so the names sort by age. Only HomeIQ's
    own file names are touched; files a user put there stay.
    """
    archives = sorted(directory.glob("homeiq-dataset-*.tar"), reverse=True)
    stale = [
        p
        for p in directory.glob(".*.tmp")
        if p.stat().st_mtime < now - STALE_TEMPORARY_SECONDS
    ]
    doomed = archives[keep:] + stale
    for path in doomed:
        path.unlink(missing_ok=True)
    return doomed


def export_to_temporary(
    source: ExportSource, directory: Path, *, salt: bytes | None
) -> tuple[IO[bytes], Exported]:
    """Write the archive to an unnamed temporary file; return it rewound.

    The file has no name: it is gone once closed, even if HA stops mid-download.
    """
    directory.mkdir(parents=True, exist_ok=True)
    file = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 - the caller closes it
    try:
        exported = write_archive(source, file, salt=salt)
        file.seek(0)
    except BaseException:
        file.close()
        raise
    return file, exported


# --- the two ways out: the action and the API -----------------------------------------


def _one_at_a_time(hass: HomeAssistant) -> asyncio.Lock:
    """Return the lock that lets one archive be built at a time (CPU, disk)."""
    return hass.data.setdefault(EXPORT_LOCK, asyncio.Lock())


async def async_export_file(
    hass: HomeAssistant, entry: HomeIQConfigEntry, *, pseudonymize: bool
) -> tuple[Path, Exported]:
    """Export to `<config>/homeiq/exports/`; return the path and what it holds."""
    async with _one_at_a_time(hass):
        source = await async_export_source(hass, entry)
        return await hass.async_add_executor_job(
            _export_file, hass.config.path(), source, pseudonymize
        )


def _export_file(
    config: str, source: ExportSource, pseudonymize: bool
) -> tuple[Path, Exported]:
    salt = read_salt(Path(config, SALT_PATH)) if pseudonymize else None
    return export_to_file(source, Path(config, EXPORT_DIR), salt=salt)


async def async_export_stream(
    hass: HomeAssistant, entry: HomeIQConfigEntry, *, pseudonymize: bool
) -> tuple[IO[bytes], Exported]:
    """Export to a temporary file for the API to stream; the caller closes it."""
    async with _one_at_a_time(hass):
        source = await async_export_source(hass, entry)
        return await hass.async_add_executor_job(
            _export_stream, hass.config.path(), source, pseudonymize
        )


def _export_stream(
    config: str, source: ExportSource, pseudonymize: bool
) -> tuple[IO[bytes], Exported]:
    salt = read_salt(Path(config, SALT_PATH)) if pseudonymize else None
    return export_to_temporary(source, Path(config, EXPORT_DIR), salt=salt)
