"""`homeiq-trainer pull` against a real HTTP server on 127.0.0.1.

The server (the standard library's, in a thread) answers `GET /api/homeiq/dataset`
with whatever each test queues: a good archive, hostile ones, downloads cut short,
errors. What must hold: only a complete, valid, safe dataset replaces `out`; a
failed pull leaves the previous `out` as it was; the token never shows.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import io
import json
from pathlib import Path
import tarfile
import threading

import pytest

from homeiq_core.aggregator import rollups_from_columns
from homeiq_trainer.cli import main
from homeiq_trainer.dataset import DatasetWriter, read_dataset, table_to_events
from homeiq_trainer.errors import CommandError
from homeiq_trainer.ha_client import ApiError, Client, Retry
from homeiq_trainer.models.extract import CACHE_DIR, extract
from homeiq_trainer.pull import PullError, extract_archive, pull_dataset
from homeiq_trainer.synth.home import generate_home
from homeiq_trainer.synth.options import GeneratorOptions

TOKEN = "secret-token-0123456789abcdef"
FAST = Retry(attempts=3, first_delay=0.01, max_total=5.0, timeout=5.0)

pytestmark = pytest.mark.usefixtures("socket_enabled")


@dataclass
class Answer:
    """One queued answer: status, body, and how much of it to actually send."""

    body: bytes
    status: int = 200
    send: int | None = None  # bytes sent before the connection drops
    chunked: bool = False  # no Content-Length: chunked transfer encoding


@dataclass
class Server:
    """A real HTTP server that plays queued answers and records the requests."""

    answers: list[Answer] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def server() -> Iterator[Server]:
    """Serve queued answers on 127.0.0.1; the last answer repeats."""
    state = Server()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.paths.append(self.path)
            state.tokens.append(self.headers.get("Authorization", ""))
            answer = (
                state.answers.pop(0) if len(state.answers) > 1 else state.answers[0]
            )
            self.send_response(answer.status)
            self.send_header("Content-Type", "application/x-tar")
            if answer.chunked:
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                body = answer.body
                chunks = b"".join(
                    b"%x\r\n%s\r\n" % (len(body[i : i + 4096]), body[i : i + 4096])
                    for i in range(0, len(body), 4096)
                )
                self.wfile.write((chunks + b"0\r\n\r\n")[: answer.send])
                return
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body[: answer.send])

        def log_message(self, *args: object) -> None:
            """Keep the test output quiet."""

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-home dataset of rollups, as the integration exports it."""
    home = generate_home(GeneratorOptions(homes=1, days=3, seed=4), 0)
    root = tmp_path_factory.mktemp("export") / "dataset"
    rollups = rollups_from_columns(
        home.inventory, table_to_events(home.events), start=home.start, end=home.end
    )
    with DatasetWriter(
        root, source_kind="homeiq-export", producer="homeiq 0.1.0", created=home.end
    ) as writer:
        writer.write_home(
            home.inventory,
            None,
            start=home.start,
            end=home.end,
            labels=home.labels,
            rollups=rollups,
        )
    return root


def tar_of(root: Path) -> bytes:
    """Return a tar of the dataset directory `root` (manifest first)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        archive.add(root / "manifest.json", "manifest.json")
        for path in sorted((root / "homes").rglob("*")):
            archive.add(path, path.relative_to(root).as_posix(), recursive=False)
    return buffer.getvalue()


def hostile(add: object) -> bytes:
    """Return a tar built by `add(archive)`."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        add(archive)  # type: ignore[operator]
    return buffer.getvalue()


def file_member(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, io.BytesIO]:
    """Return a regular-file member `name` holding `data`."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, io.BytesIO(data)


@pytest.fixture
def previous(tmp_path: Path, dataset_dir: Path) -> Path:
    """An earlier pull in `out`, with a row cache: what a failed pull must keep."""
    out = tmp_path / "pulled"
    extract_archive_bytes(tar_of(dataset_dir), out)
    (out / CACHE_DIR).mkdir()
    (out / CACHE_DIR / "home-x.npz").write_bytes(b"cached rows")
    (out / "marker").write_text("the previous pull")
    return out


def extract_archive_bytes(data: bytes, out: Path) -> None:
    """Unpack an archive's bytes into `out` with the pull's own safe extraction."""
    archive = out.parent / "archive.tar"
    archive.write_bytes(data)
    extract_archive(archive, out, max_bytes=10**8)
    archive.unlink()


def snapshot(root: Path) -> dict[str, bytes]:
    """Return every file under `root` with its bytes."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def client(server: Server, logs: list[str] | None = None) -> Client:
    """A client of `server` that retries quickly."""
    sink = logs if logs is not None else []
    return Client(server.url, TOKEN, FAST, log=sink.append)


def test_a_pull_replaces_out_with_the_dataset_and_keeps_the_cache(
    server: Server, dataset_dir: Path, previous: Path
) -> None:
    server.answers = [Answer(tar_of(dataset_dir))]

    out = pull_dataset(client(server), previous)

    assert out == previous
    assert snapshot(dataset_dir).items() <= snapshot(out).items()
    assert not (out / "marker").exists()
    assert (out / CACHE_DIR / "home-x.npz").read_bytes() == b"cached rows"
    assert server.paths == ["/api/homeiq/dataset"]
    assert server.tokens == [f"Bearer {TOKEN}"]
    assert [p.name for p in out.parent.iterdir()] == ["pulled"]  # no leftovers
    (rows,) = extract([out], progress=False)
    assert rows.device_x.shape[0] == 3


def test_a_pull_into_a_new_directory_with_pseudonyms(
    server: Server, dataset_dir: Path, tmp_path: Path
) -> None:
    server.answers = [Answer(tar_of(dataset_dir))]

    out = pull_dataset(client(server), tmp_path / "a" / "new", pseudonymize=True)

    assert server.paths == ["/api/homeiq/dataset?pseudonymize=1"]
    assert len(read_dataset(out)) == 1


def test_a_download_cut_short_is_retried_from_the_start(
    server: Server, dataset_dir: Path, previous: Path
) -> None:
    data = tar_of(dataset_dir)
    server.answers = [Answer(data, send=len(data) // 2), Answer(data)]
    logs: list[str] = []

    pull_dataset(client(server, logs), previous)

    assert len(server.paths) == 2
    assert "retrying" in logs[0]
    assert snapshot(dataset_dir).items() <= snapshot(previous).items()


def test_a_download_always_cut_short_leaves_out_intact(
    server: Server, dataset_dir: Path, previous: Path
) -> None:
    data = tar_of(dataset_dir)
    server.answers = [Answer(data, send=len(data) - 100)]
    before = snapshot(previous)
    logs: list[str] = []

    with pytest.raises(CommandError, match="failed after 3 attempt"):
        pull_dataset(client(server, logs), previous)

    assert snapshot(previous) == before
    assert [p.name for p in previous.parent.iterdir()] == ["pulled"]
    assert all(TOKEN not in line for line in logs)


def _traversal(archive: tarfile.TarFile) -> None:
    archive.addfile(*file_member("manifest.json", b"{}"))
    archive.addfile(*file_member("../../escaped.txt", b"owned"))


def _absolute(archive: tarfile.TarFile) -> None:
    archive.addfile(*file_member("/tmp/absolute.txt"))


def _symlink(archive: tarfile.TarFile) -> None:
    link = tarfile.TarInfo("homes/home/inventory.json")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/passwd"
    archive.addfile(link)


def _hardlink(archive: tarfile.TarFile) -> None:
    link = tarfile.TarInfo("manifest.json")
    link.type = tarfile.LNKTYPE
    link.linkname = "/etc/passwd"
    archive.addfile(link)


def _device(archive: tarfile.TarFile) -> None:
    device = tarfile.TarInfo("null")
    device.type = tarfile.CHRTYPE
    device.devmajor, device.devminor = 1, 3
    archive.addfile(device)


def _twice(archive: tarfile.TarFile) -> None:
    archive.addfile(*file_member("manifest.json"))
    archive.addfile(*file_member("./manifest.json"))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (_traversal, r"'\.\./\.\./escaped\.txt' escapes the dataset directory"),
        (_absolute, r"'/tmp/absolute\.txt' escapes the dataset directory"),
        (_symlink, "is a link or a device"),
        (_hardlink, "is a link or a device"),
        (_device, "is a link or a device"),
        (_twice, "appears twice"),
    ],
)
def test_hostile_archives_are_refused_and_out_kept(
    server: Server, previous: Path, tmp_path: Path, build: object, message: str
) -> None:
    server.answers = [Answer(hostile(build))]
    before = snapshot(previous)

    with pytest.raises(PullError, match=message):
        pull_dataset(client(server), previous, max_bytes=40_000)

    assert snapshot(previous) == before
    assert not (tmp_path / "escaped.txt").exists()
    assert not any(tmp_path.parent.glob("escaped.txt"))
    assert [p.name for p in previous.parent.iterdir()] == ["pulled"]
    assert len(server.paths) == 1  # refused, not retried


def test_a_member_beyond_the_cap_is_refused(tmp_path: Path) -> None:
    # Within a download cap, a sparse member may still claim far more on disk.
    archive = tmp_path / "big.tar"
    archive.write_bytes(
        hostile(lambda a: a.addfile(*file_member("manifest.json", b"x" * 5000)))
    )

    with pytest.raises(PullError, match="beyond the cap of 4,000 bytes"):
        extract_archive(archive, tmp_path / "out", max_bytes=4000)
    assert not (tmp_path / "out").exists()


def test_too_many_members_are_refused(
    server: Server, previous: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("homeiq_trainer.pull.MAX_MEMBERS", 2)
    server.answers = [
        Answer(hostile(lambda a: [a.addfile(*file_member(f"f{i}")) for i in range(3)]))
    ]

    with pytest.raises(PullError, match="more than 2 members"):
        pull_dataset(client(server), previous)


def test_a_download_over_the_cap_is_refused_by_its_length(
    server: Server, dataset_dir: Path, previous: Path
) -> None:
    server.answers = [Answer(tar_of(dataset_dir))]

    with pytest.raises(CommandError, match="larger than the cap of 1,000 bytes"):
        pull_dataset(client(server), previous, max_bytes=1000)
    assert len(server.paths) == 1


def test_not_a_tar_and_not_a_dataset_are_refused(
    server: Server, previous: Path
) -> None:
    before = snapshot(previous)
    server.answers = [Answer(b"<html>a proxy's error page</html>")]
    with pytest.raises(PullError, match="not a readable tar archive"):
        pull_dataset(client(server), previous)

    server.answers = [
        Answer(hostile(lambda a: a.addfile(*file_member("manifest.json", b"{}"))))
    ]
    with pytest.raises(PullError, match=r"the pulled dataset is not valid: .*format"):
        pull_dataset(client(server), previous)
    assert snapshot(previous) == before


def test_a_directory_that_is_no_dataset_is_not_replaced(
    server: Server, dataset_dir: Path, tmp_path: Path
) -> None:
    server.answers = [Answer(tar_of(dataset_dir))]
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "notes.txt").write_text("mine")
    (tmp_path / "file").write_text("not a directory")

    with pytest.raises(PullError, match="holds no dataset"):
        pull_dataset(client(server), tmp_path / "home")
    with pytest.raises(PullError, match="is not a directory"):
        pull_dataset(client(server), tmp_path / "file")
    assert server.paths == []


def test_a_failed_swap_puts_the_previous_out_back(
    server: Server,
    dataset_dir: Path,
    previous: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server.answers = [Answer(tar_of(dataset_dir))]
    before = snapshot(previous)
    real_rename = Path.rename

    def rename(self: Path, target: Path) -> Path:
        if self.name == "dataset" and Path(target) == previous:
            raise OSError("disk gone")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)

    with pytest.raises(OSError, match="disk gone"):
        pull_dataset(client(server), previous)
    monkeypatch.undo()
    after = snapshot(previous)
    assert {k: v for k, v in after.items() if CACHE_DIR not in k} == {
        k: v for k, v in before.items() if CACHE_DIR not in k
    }


def test_a_chunked_download_is_capped_and_retried_when_cut(
    server: Server, dataset_dir: Path, previous: Path
) -> None:
    data = tar_of(dataset_dir)
    server.answers = [Answer(data, chunked=True, send=5000), Answer(data, chunked=True)]
    logs: list[str] = []

    pull_dataset(client(server, logs), previous)

    assert "IncompleteRead" in logs[0]
    assert snapshot(dataset_dir).items() <= snapshot(previous).items()
    server.answers = [Answer(data, chunked=True)]
    with pytest.raises(CommandError, match="larger than the cap of 20,000 bytes"):
        pull_dataset(client(server), previous, max_bytes=20_000)


def test_an_unreachable_home_assistant_is_retried_then_reported(
    previous: Path,
) -> None:
    logs: list[str] = []
    unreachable = Client("http://127.0.0.1:9", TOKEN, FAST, log=logs.append)

    with pytest.raises(CommandError, match="failed after 3 attempt"):
        pull_dataset(unreachable, previous)
    assert "ConnectionRefusedError" in logs[0]


def test_an_error_answer_is_final_with_its_message(
    server: Server, previous: Path
) -> None:
    server.answers = [
        Answer(json.dumps({"message": "HomeIQ is not loaded"}).encode(), 404)
    ]

    with pytest.raises(ApiError, match="HTTP 404: HomeIQ is not loaded"):
        pull_dataset(client(server), previous)
    assert len(server.paths) == 1


def test_the_command_pulls_and_never_prints_the_token(
    server: Server,
    dataset_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = tar_of(dataset_dir)
    server.answers = [Answer(data, send=10), Answer(data)]
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    out = tmp_path / "pulled"
    argv = ["pull", "--url", server.url, "--token-file", str(token_file)]
    argv += ["--out", str(out), "--retry-delay", "0.01", "--pseudonymize"]

    assert main(argv) == 0

    printed = "".join(capsys.readouterr())
    assert "1 home(s), 3 days of rollups, 0 events" in printed
    assert "from homeiq 0.1.0" in printed
    assert "retrying" in printed
    assert TOKEN not in printed
    assert TOKEN[:16] not in printed
    with pytest.raises(SystemExit):
        main([*argv, "--max-bytes", "0"])
    assert "--max-bytes must be positive" in capsys.readouterr().err
