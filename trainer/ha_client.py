"""`homeiq-trainer status` and `push`: talk to HomeIQ's HTTP API in Home Assistant.

The client also streams large answers to a file (`Client.get_stream`, used by
`homeiq-trainer pull`), with the same retries: a download cut short is started
again from the beginning.

Standard library only (urllib), so the trainer stays light. The access token comes
from `--token-file` or the environment variable HOMEIQ_TOKEN and is never printed or
logged. Requests that fail because HA is unreachable, restarting (5xx) or drops the
connection are retried with exponential back-off, bounded in attempts and total time;
4xx answers are final and their JSON message is shown.
"""

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
import hashlib
import http.client
import json
import os
from pathlib import Path
import sys
import time
from typing import IO, Any
import urllib.error
import urllib.request

from homeiq_core.inference import FEATURE_SCHEMA, ModelError
from homeiq_core.inference.onnx_proto import decode_model

from .errors import CommandError
from .models.registry import RegistryError, current

TOKEN_ENV = "HOMEIQ_TOKEN"
SHA256_HEADER = "X-HomeIQ-SHA256"
STATUS_PATH = "/api/homeiq/status"
UPLOAD_PATH = "/api/homeiq/models/{name}"
# What the integration accepts; the quantile files q10/q90 are stored but only the
# median is used: `status` lists them under "files" (push confirms them there).
UPLOAD_NAMES = (
    "home_type",
    "device_failure",
    "device_anomaly",
    "battery_days_left_q10",
    "battery_days_left_q50",
    "battery_days_left_q90",
)
STREAM_CHUNK_BYTES = 1 << 20
DEFAULT_PUSH = (
    "home_type",
    "device_failure",
    "device_anomaly",
    "battery_days_left_q50",
)


class ApiError(CommandError):
    """A final answer from HA that is not a success (4xx), with its message."""

    def __init__(self, status: int, message: str) -> None:
        """Keep the HTTP status for the caller."""
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


@dataclass(frozen=True, slots=True)
class Retry:
    """How hard to try: attempts, first delay (doubling), total time, per request."""

    attempts: int = 5
    first_delay: float = 1.0
    max_total: float = 60.0
    timeout: float = 30.0


def _stderr(line: str) -> None:
    print(line, file=sys.stderr)


class Client:
    """HomeIQ's API at `url`, authenticated with `token`."""

    def __init__(
        self,
        url: str,
        token: str,
        retry: Retry = Retry(),
        log: Callable[[str], None] = _stderr,
    ) -> None:
        """Remember where and how to connect."""
        self.url = url.rstrip("/")
        self._token = token
        self.retry = retry
        self.log = log

    def __repr__(self) -> str:
        """Describe the client without its token."""
        return f"Client({self.url!r})"

    def status(self) -> dict[str, Any]:
        """Return `GET /api/homeiq/status`."""
        return self._request("GET", STATUS_PATH)

    def download_model(self, name: str) -> bytes:
        """Return the ONNX bytes serving as model file `name` (checksum checked).

        Raises ApiError 404 when the integration has none (it scores with rules).
        """
        path = UPLOAD_PATH.format(name=name)
        data, expected = self._retrying("GET", path, lambda: self._download_once(path))
        digest = hashlib.sha256(data).hexdigest()
        if digest != expected.strip().lower():
            raise CommandError(
                f"GET {path}: the body's SHA-256 is {digest}, the header says "
                f"{expected or 'nothing'}"
            )
        return data

    def upload(self, name: str, data: bytes) -> dict[str, Any]:
        """Upload a model; return the integration's `{name, version, sha256}`."""
        digest = hashlib.sha256(data).hexdigest()
        headers = {SHA256_HEADER: digest, "Content-Type": "application/octet-stream"}
        return self._request("POST", UPLOAD_PATH.format(name=name), data, headers)

    def get_stream(self, path: str, out: IO[bytes], *, max_bytes: int) -> int:
        """GET `path` into `out` in chunks; return the number of bytes written.

        `out` is rewound and truncated before each attempt, so a transfer cut
        short (HA restarting, the network dropping) is retried from the start. An
        answer larger than `max_bytes` is refused (a `CommandError`, not retried).
        """
        return self._retrying(
            "GET", path, lambda: self._stream_once(path, out, max_bytes)
        )

    def _request(
        self,
        method: str,
        path: str,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Send one request, retrying what a restart or a bad network explains."""
        return self._retrying(
            method, path, lambda: self._once(method, path, data, headers or {})
        )

    def _retrying[T](self, method: str, path: str, attempt_once: Callable[[], T]) -> T:
        """Run `attempt_once` until it succeeds, backing off on transient failures."""
        started = time.monotonic()
        delay = self.retry.first_delay
        for attempt in range(1, self.retry.attempts + 1):
            try:
                return attempt_once()
            except _Transient as error:
                spent = time.monotonic() - started
                last = attempt == self.retry.attempts
                if last or spent + delay > self.retry.max_total:
                    raise CommandError(
                        f"{method} {self.url}{path} failed after {attempt} "
                        f"attempt(s) in {spent:.1f} s: {error}"
                    ) from None
                self.log(
                    f"{method} {path}: {error}; retrying in {delay:.1f} s "
                    f"(attempt {attempt + 1}/{self.retry.attempts})"
                )
                time.sleep(delay)
                delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    def _open(
        self,
        method: str,
        path: str,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Open a request; map failures to `_Transient` or a final `ApiError`."""
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={**(headers or {}), "Authorization": f"Bearer {self._token}"},
        )
        try:
            return urllib.request.urlopen(request, timeout=self.retry.timeout)
        except urllib.error.HTTPError as error:
            body = error.read()
            message = _message(body)
            if error.code >= 500:
                raise _Transient(f"HTTP {error.code}: {message}") from None
            # No such route (HA's plain 404, not a view's JSON): while HA starts,
            # it answers before its integrations have registered their routes.
            if error.code == 404 and not body.startswith(b"{") and self._starting():
                message = f"HTTP 404 while Home Assistant starts: {message}"
                raise _Transient(message) from None
            raise ApiError(error.code, _explain(error.code, message)) from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
            raise _transient(error) from None

    def _once(
        self, method: str, path: str, data: bytes | None, headers: dict[str, str]
    ) -> dict[str, Any]:
        try:
            with self._open(method, path, data, headers) as answer:
                body = answer.read()
        except (OSError, http.client.HTTPException) as error:
            raise _transient(error) from None
        try:
            return json.loads(body)  # type: ignore[no-any-return]
        except ValueError:
            raise CommandError(f"{path}: the answer is not JSON") from None

    def _starting(self) -> bool:
        """Return True when HA answers but is not running (starting, stopping)."""
        request = urllib.request.Request(
            self.url + "/api/config",
            headers={"Authorization": f"Bearer {self._token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.retry.timeout) as answer:
                return bool(json.loads(answer.read()).get("state") != "RUNNING")
        except OSError, ValueError, AttributeError, http.client.HTTPException:
            return False

    def _download_once(self, path: str) -> tuple[bytes, str]:
        """Return the body and its X-HomeIQ-SHA256 header."""
        try:
            with self._open("GET", path) as answer:
                return answer.read(), answer.headers.get(SHA256_HEADER, "")
        except (OSError, http.client.HTTPException) as error:
            raise _transient(error) from None

    def _stream_once(self, path: str, out: IO[bytes], max_bytes: int) -> int:
        out.seek(0)
        out.truncate()
        with self._open("GET", path) as answer:
            length = answer.headers.get("Content-Length")
            expected = int(length) if length is not None else None
            if expected is not None and expected > max_bytes:
                raise CommandError(_too_large(path, max_bytes, f"{expected:,} bytes"))
            size = 0
            try:
                while chunk := answer.read(STREAM_CHUNK_BYTES):
                    size += len(chunk)
                    if size > max_bytes:
                        raise CommandError(_too_large(path, max_bytes, "more"))
                    out.write(chunk)
            except (OSError, http.client.HTTPException) as error:
                raise _transient(error, f"after {size:,} bytes") from None
        if expected is not None and size != expected:
            raise _Transient(f"cut short: {size:,} of {expected:,} bytes")
        out.flush()
        return size


class _Transient(Exception):
    """A failure worth retrying: no answer, a dropped connection, a 5xx."""


def _transient(error: BaseException, when: str = "") -> _Transient:
    reason = getattr(error, "reason", None) or error
    suffix = f" ({when})" if when else ""
    return _Transient(f"{type(reason).__name__}: {reason}{suffix}")


def _too_large(path: str, max_bytes: int, size: str) -> str:
    return f"{path}: the answer is larger than the cap of {max_bytes:,} bytes ({size})"


def _message(body: bytes) -> str:
    """Return the `message` of a JSON error body, else the body as text."""
    text = body.decode(errors="replace").strip()
    try:
        return str(json.loads(text)["message"])
    except ValueError, KeyError, TypeError:
        return text or "(no message)"


def _explain(status: int, message: str) -> str:
    if status == 401:
        return f"{message} (is the token valid and an admin user's?)"
    if status == 404 and "unknown model" not in message:
        return f"{message} (is HomeIQ installed and set up?)"
    return message


def read_token(token_file: Path | None) -> str:
    """Return the access token from `token_file`, else from HOMEIQ_TOKEN."""
    if token_file is not None:
        try:
            token = token_file.read_text().strip()
        except OSError as error:
            raise CommandError(
                f"cannot read token file {token_file}: {error.strerror}"
            ) from None
        if not token:
            raise CommandError(f"token file {token_file} is empty")
        return token
    token = os.environ.get(TOKEN_ENV, "").strip()
    if not token:
        raise CommandError(
            f"no access token: pass --token-file FILE or set {TOKEN_ENV} "
            "(a long-lived access token of an admin user)"
        )
    return token


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `status` and `push`."""
    status = subparsers.add_parser(
        "status", help="show the models and counts HomeIQ reports"
    )
    _connection(status)
    status.set_defaults(func=run_status)

    push = subparsers.add_parser(
        "push", help="upload the registry's current models to HomeIQ"
    )
    _connection(push)
    push.add_argument(
        "--registry", type=Path, default=Path("registry"), help="default: registry"
    )
    push.add_argument(
        "--model",
        action="append",
        choices=UPLOAD_NAMES,
        help="a model to push (repeatable; default: the four models HomeIQ uses)",
    )
    push.add_argument(
        "--file",
        action="append",
        type=Path,
        help="push this ONNX file instead, named by its stem (repeatable)",
    )
    push.add_argument(
        "--dry-run", action="store_true", help="check and report, upload nothing"
    )
    push.set_defaults(func=run_push)


def _connection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", required=True, help="Home Assistant's URL")
    parser.add_argument(
        "--token-file",
        type=Path,
        help=f"file holding the access token (default: ${TOKEN_ENV})",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, help="seconds per request (30)"
    )
    parser.add_argument("--attempts", type=int, default=5, help="tries per request (5)")
    parser.add_argument(
        "--retry-delay",
        type=float,
        default=1.0,
        help="first back-off in seconds, doubling (1)",
    )
    parser.add_argument(
        "--max-retry-time",
        type=float,
        default=60.0,
        help="give up retrying after this many seconds (60)",
    )


def _client(args: argparse.Namespace) -> Client:
    if args.attempts < 1:
        raise CommandError("--attempts must be at least 1")
    retry = Retry(args.attempts, args.retry_delay, args.max_retry_time, args.timeout)
    return Client(args.url, read_token(args.token_file), retry)


def run_status(args: argparse.Namespace) -> int:
    """Print the integration's model versions and counts."""
    status = _client(args).status()
    print(f"model version: {status.get('model_version')}")
    for name, model in status.get("models", {}).items():
        print(f"{name}: {_describe(model)}")
    print(f"devices monitored: {status.get('devices_monitored')}")
    backfill = status.get("backfill") or {}
    print(f"back-fill done: {backfill.get('done')}")
    print(f"last scoring: {status.get('last_scoring')}")
    for name, why in (status.get("rolled_back") or {}).items():
        print(f"rolled back: {name}: {why}")
    return 0


def _describe(model: dict[str, Any] | None) -> str:
    if model is None:
        return "none (rule-based fallback)"
    if model.get("source") == "uploaded":
        sha = str(model.get("sha256"))[:12]
        where = f"uploaded {model.get('file')} v{model.get('version')} sha256 {sha}"
    else:
        where = "shipped"
    return f"{where}, created {model.get('created')}"


@dataclass(slots=True)
class Candidate:
    """A model to push and what became of it."""

    name: str
    source: Path
    data: bytes
    outcome: str = ""
    failed: bool = False
    uploaded: str | None = None  # the sha256 the integration acknowledged

    @property
    def sha256(self) -> str:
        """Return the SHA-256 of the model's bytes."""
        return hashlib.sha256(self.data).hexdigest()


def run_push(args: argparse.Namespace) -> int:
    """Upload models, skip those served already, confirm the new ones are served."""
    candidates = _candidates(args.file, args.model, args.registry)
    client = _client(args)
    status = client.status()
    for candidate in candidates:
        _check(candidate, status)
        if candidate.outcome or args.dry_run:
            continue
        _upload(client, candidate)
    if any(c.uploaded for c in candidates):
        _confirm(candidates, client.status())
    for candidate in candidates:
        outcome = candidate.outcome or "would upload (dry run)"
        print(f"{candidate.name}: {outcome} [{candidate.sha256[:12]}]")
    return 1 if any(c.failed for c in candidates) else 0


def _candidates(
    files: Sequence[Path] | None, names: Sequence[str] | None, registry: Path
) -> list[Candidate]:
    """Read the models to push, from files or the registry's current versions."""
    if files:
        if names:
            raise CommandError("give either --file or --model, not both")
        return [_from_file(path) for path in files]
    out = []
    for name in dict.fromkeys(names or DEFAULT_PUSH):
        try:
            path = current(registry, name) / "model.onnx"
        except RegistryError as error:
            raise CommandError(str(error)) from None
        out.append(Candidate(name, path, path.read_bytes()))
    return out


def _from_file(path: Path) -> Candidate:
    if path.stem not in UPLOAD_NAMES:
        raise CommandError(
            f"{path}: the file's name must be one of {', '.join(UPLOAD_NAMES)}"
        )
    try:
        return Candidate(path.stem, path, path.read_bytes())
    except OSError as error:
        raise CommandError(f"cannot read {path}: {error.strerror}") from None


def _slot(name: str) -> str:
    """Return the status key of a model file (the quantiles share one)."""
    return "battery_days_left" if name.startswith("battery_days_left") else name


def _check(candidate: Candidate, status: dict[str, Any]) -> None:
    """Refuse a model of the wrong schema; skip one the integration serves."""
    slot = _slot(candidate.name)
    expected = (status.get("schemas") or {}).get(slot)
    try:
        schema = decode_model(candidate.data).metadata.get(FEATURE_SCHEMA)
    except ModelError as error:
        candidate.failed = True
        candidate.outcome = f"FAILED: not a valid ONNX model: {error}"
        return
    if expected is None or schema != expected:
        candidate.failed = True
        candidate.outcome = (
            f"FAILED: refused locally: its {FEATURE_SCHEMA} is {schema!r}, "
            f"the integration expects {expected!r} (retrain with this trainer version)"
        )
        return
    if _served(status, candidate.name) == candidate.sha256:
        candidate.outcome = "skipped: already served"


def _served(status: dict[str, Any], name: str) -> str | None:
    """Return the sha256 served for the model file `name`, if status tells it."""
    model = (status.get("models") or {}).get(_slot(name))
    if not model or model.get("file") != name:
        return None
    sha = model.get("sha256")
    return str(sha) if sha else None


def _stored(status: dict[str, Any], name: str) -> str | None:
    """Return the sha256 stored for file `name` (None: not told, older versions)."""
    stored = (status.get("files") or {}).get(name) or {}
    sha = stored.get("sha256")
    return str(sha) if sha else None


def _upload(client: Client, candidate: Candidate) -> None:
    try:
        answer = client.upload(candidate.name, candidate.data)
    except CommandError as error:
        candidate.failed = True
        candidate.outcome = f"FAILED: {error}"
        return
    if answer.get("sha256") != candidate.sha256:
        candidate.failed = True
        stored = answer.get("sha256")
        candidate.outcome = f"FAILED: the integration stored sha256 {stored}"
        return
    candidate.uploaded = candidate.sha256
    candidate.outcome = f"uploaded as version {answer.get('version')}"


def _confirm(candidates: Sequence[Candidate], status: dict[str, Any]) -> None:
    """Check that each upload is what the integration now serves."""
    for candidate in candidates:
        if candidate.uploaded is None:
            continue
        if candidate.name not in DEFAULT_PUSH:
            stored = _stored(status, candidate.name)
            if stored not in (None, candidate.uploaded):
                candidate.failed = True
                candidate.outcome = (
                    f"FAILED: {candidate.outcome}, but the integration stores {stored}"
                )
            else:
                candidate.outcome += (
                    ", stored (not used for scoring; only the median is)"
                )
            continue
        served = _served(status, candidate.name)
        if served == candidate.uploaded:
            candidate.outcome += ", served"
        else:
            candidate.failed = True
            candidate.outcome = (
                f"FAILED: {candidate.outcome}, but the integration serves "
                f"{served or 'another model'}"
            )
