"""`homeiq-trainer pull`: download the dataset HomeIQ collected, safely.

`GET /api/homeiq/dataset` answers with a tar archive of one dataset directory
(docs/data-format.md, version 3). The archive is downloaded to a temporary file
next to `out` (with a size cap, retried from the start when cut short), unpacked
into a temporary directory with every member checked first (no absolute paths, no
`..`, no links or devices, no member or total beyond the cap), validated with the
dataset reader, and only then put in place of `out`. A pull that fails anywhere
leaves the previous `out` as it was.
"""

import argparse
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
import shutil
import tarfile
import tempfile

from homeiq_core.dataset import DatasetError

from .dataset import MANIFEST, read_manifest, validate_dataset
from .errors import CommandError
from .ha_client import Client, _client, _connection
from .models.extract import CACHE_DIR

DATASET_PATH = "/api/homeiq/dataset"
MAX_ARCHIVE_BYTES = 2 * 1024**3  # a year of a thousand devices is well below
MAX_MEMBERS = 10_000


class PullError(CommandError):
    """The download is not a safe, valid dataset archive; `out` is untouched."""


def pull_dataset(
    client: Client,
    out: Path,
    *,
    pseudonymize: bool = False,
    max_bytes: int = MAX_ARCHIVE_BYTES,
) -> Path:
    """Download HomeIQ's dataset into the directory `out`; return `out`.

    `out` is replaced only by a complete, valid dataset; it may be absent, or a
    dataset from an earlier pull (a non-empty directory holding anything else is
    refused). The trainer's row cache of the previous pull is kept: its keys
    follow the files' contents.
    """
    out = Path(out)
    _check_replaceable(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    path = DATASET_PATH + ("?pseudonymize=1" if pseudonymize else "")
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as work:
        archive = Path(work, "dataset.tar")
        with archive.open("w+b") as file:
            client.get_stream(path, file, max_bytes=max_bytes)
        staged = Path(work, "dataset")
        extract_archive(archive, staged, max_bytes=max_bytes)
        archive.unlink()
        try:
            validate_dataset(staged)
        except DatasetError as error:
            raise PullError(f"the pulled dataset is not valid: {error}") from None
        _replace(out, staged, Path(work, "previous"))
    return out


def _check_replaceable(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise PullError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MANIFEST).is_file():
        raise PullError(
            f"{out}: not empty and holds no dataset ({MANIFEST}); "
            "refusing to replace it"
        )


def _replace(out: Path, staged: Path, previous: Path) -> None:
    """Put `staged` in place of `out`; on failure put the old `out` back."""
    if (out / CACHE_DIR).is_dir():
        shutil.move(out / CACHE_DIR, staged / CACHE_DIR)
    if not out.exists():
        staged.rename(out)
        return
    out.rename(previous)
    try:
        staged.rename(out)
    except OSError:
        previous.rename(out)
        raise


def extract_archive(archive: Path, out: Path, *, max_bytes: int) -> None:
    """Unpack the plain tar `archive` into the new directory `out`, safely.

    Every member is checked before anything is written: regular files and
    directories only, relative names inside `out`, no name twice, each member and
    the total at most `max_bytes`, at most `MAX_MEMBERS` members.
    """
    try:
        with tarfile.open(archive, mode="r:") as tar:
            members = list(_checked_members(tar, max_bytes))
            out.mkdir()
            tar.extractall(out, members=members, filter="data")
    except (tarfile.TarError, EOFError) as error:
        raise PullError(
            f"the download is not a readable tar archive: {error}"
        ) from None


def _checked_members(tar: tarfile.TarFile, max_bytes: int) -> Iterator[tarfile.TarInfo]:
    seen: set[str] = set()
    total = 0
    for count, member in enumerate(tar, start=1):
        if count > MAX_MEMBERS:
            raise PullError(f"the archive holds more than {MAX_MEMBERS:,} members")
        name = _safe_name(member.name)
        if not (member.isfile() or member.isdir()):
            raise PullError(
                f"archive member {member.name!r} is a link or a device; "
                "only files and directories are accepted"
            )
        if name in seen:
            raise PullError(f"archive member {member.name!r} appears twice")
        seen.add(name)
        total += member.size
        if member.size > max_bytes or total > max_bytes:
            raise PullError(
                f"archive member {member.name!r} takes the archive beyond the cap "
                f"of {max_bytes:,} bytes"
            )
        yield member


def _safe_name(name: str) -> str:
    """Return `name` normalised, refusing one that could leave the directory."""
    path = PurePosixPath(name)
    if (
        not name
        or path.is_absolute()
        or ".." in path.parts
        or "\\" in name
        or ":" in name
        or "\0" in name
    ):
        raise PullError(f"archive member {name!r} escapes the dataset directory")
    return path.as_posix()


# --- the command ------------------------------------------------------------------


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `pull`."""
    pull = subparsers.add_parser(
        "pull", help="download the dataset HomeIQ collected into a directory"
    )
    _connection(pull)
    pull.add_argument(
        "--out", type=Path, required=True, help="the dataset directory to (re)place"
    )
    pull.add_argument(
        "--pseudonymize",
        action="store_true",
        help="ask for salted pseudonyms instead of ids and names",
    )
    pull.add_argument(
        "--max-bytes",
        type=int,
        default=MAX_ARCHIVE_BYTES,
        help=f"refuse a larger download (default {MAX_ARCHIVE_BYTES:,})",
    )
    pull.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Pull the dataset and print what it holds."""
    if args.max_bytes < 1:
        raise CommandError("--max-bytes must be positive")
    out = pull_dataset(
        _client(args),
        args.out,
        pseudonymize=args.pseudonymize,
        max_bytes=args.max_bytes,
    )
    print(describe(out))
    return 0


def describe(root: Path) -> str:
    """Return one line on a pulled (valid) dataset."""
    manifest = read_manifest(root)
    size = sum(
        path.stat().st_size
        for path in root.rglob("*")
        if path.is_file() and CACHE_DIR not in path.parts
    )
    days = sum(home.n_days for home in manifest.homes)
    events = sum(home.n_events for home in manifest.homes)
    return (
        f"{root}: {len(manifest.homes)} home(s), {days:,} days of rollups, "
        f"{events:,} events, {size / 1e6:.1f} MB, from {manifest.producer}"
    )
