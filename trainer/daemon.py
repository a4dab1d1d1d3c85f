"""`homeiq-trainer run`: the nightly loop that makes HomeIQ's models the home's own.

One run (`run_once`): reach Home Assistant, pull the home's dataset, add the
synthetic mix, train the four models into the registry, score each new candidate
AND the model HomeIQ serves on the same held-out rows, push only the candidates
the promotion gate accepts (`homeiq_trainer.promotion`), confirm HomeIQ serves
them, write a JSON run record and one summary line.

The daemon (`serve`) runs that at the configured local time every day: one
instance per state directory (a lock file), SIGTERM or SIGINT stop it between
stages (a second one stops it at once; registry writes are atomic either way),
logs are JSON lines on stderr, and a run that cannot reach HA waits for the next.
"""

import argparse
from collections.abc import Callable, Iterator, Sequence
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time as clock, timedelta, tzinfo
import fcntl
import hashlib
import json
import logging
import os
from pathlib import Path
import signal
import sys
import threading
import time
from types import FrameType
from typing import IO, Any

from homeiq_core.dataset import DatasetError

from .config import Config, load_config
from .errors import CommandError
from .generate import generate_dataset
from .ha_client import (
    ApiError,
    Candidate,
    Client,
    _check as check_candidate,
    _confirm as confirm_candidates,
    _upload as upload_candidate,
)
from .models.data import split_homes
from .models.extract import extract, with_closed_days
from .models.pipeline import SanityError, train_models
from .models.plans import plan_rows
from .models.registry import RegistryError, prune
from .models.rows import HomeRows
from .promotion import GATES, HeldOut, Verdict, judge, later_days_figures
from .pull import PullError, pull_dataset
from .synth.options import GeneratorOptions

LOGGER = logging.getLogger("homeiq_trainer.daemon")
LOCK_FILE = "lock"
RUNS_DIR = "runs"
LAST_RUN = "last-run.json"
KEEP_RECORDS = 60
WAKE_SECONDS = 60.0  # re-read the clock at least this often while waiting
PULLED = "home"  # the pulled dataset's directory under data_dir


# --- schedule ------------------------------------------------------------------------


def next_run(now: datetime, at: clock, zone: tzinfo) -> datetime:
    """Return the first moment after `now` when the clock in `zone` shows `at`.

    DST-safe: on the night the clocks go back, a time that occurs twice runs at its
    first occurrence only; on the night they jump forward, a time that does not
    exist runs as long after the jump as it would have been after it (02:30 in a
    02:00 -> 03:00 jump runs at 03:30). `now` must be timezone-aware.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    instant = now.astimezone(UTC)
    day = now.astimezone(zone).date()
    for offset in range(3):
        candidate = _wall_time(day + timedelta(days=offset), at, zone)
        if candidate.astimezone(UTC) > instant:
            return candidate
    raise AssertionError("unreachable: a day has a time of day")  # pragma: no cover


def _wall_time(day: date, at: clock, zone: tzinfo) -> datetime:
    """Return `at` on `day` in `zone`, as the instant it happens (fold 0)."""
    naive = datetime.combine(day, at.replace(tzinfo=None, fold=0))
    return naive.replace(tzinfo=zone).astimezone(UTC).astimezone(zone)


# --- single instance -----------------------------------------------------------------


class AlreadyRunning(CommandError):
    """Another daemon holds the state directory's lock."""


@contextlib.contextmanager
def instance_lock(state_dir: Path) -> Iterator[Path]:
    """Hold `state_dir`/lock (flock) while inside; AlreadyRunning when taken."""
    state_dir.mkdir(parents=True, exist_ok=True)
    path = state_dir / LOCK_FILE
    with path.open("a+") as file:
        try:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or "unknown"
            raise AlreadyRunning(
                f"another homeiq-trainer run (pid {holder}) holds {path}; "
                "one instance per state directory"
            ) from None
        file.seek(0)
        file.truncate()
        file.write(f"{os.getpid()}\n")
        file.flush()
        try:
            yield path
        finally:
            fcntl.flock(file.fileno(), fcntl.LOCK_UN)


# --- stopping ------------------------------------------------------------------------


class Stopped(Exception):
    """A stop was asked for; raised between stages."""


@contextlib.contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[threading.Event]:
    """Set `stop` on SIGTERM or SIGINT; a second signal interrupts at once."""

    def handle(number: int, _frame: FrameType | None) -> None:
        name = signal.Signals(number).name
        if stop.is_set():
            LOGGER.warning("second %s: stopping now", name, extra={"signal": name})
            raise KeyboardInterrupt
        stop.set()  # first: a signal arriving while this logs is then the second
        LOGGER.info(
            "%s: stopping after the current stage", name, extra={"signal": name}
        )

    previous = {
        number: signal.signal(number, handle)
        for number in (signal.SIGTERM, signal.SIGINT)
    }
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


# --- one run -------------------------------------------------------------------------


@dataclass
class RunSummary:
    """What a run did: the models pushed, those kept and why, one summary line."""

    pushed: list[str] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)
    line: str = ""
    ok: bool = True  # False: the run failed (HA, data, sanity) or was stopped
    stopped: bool = False  # a stop was asked for (a signal) before the run ended
    record: Path | None = None


class _Run:
    """The state of one run, stage by stage; `record` is what the JSON file holds."""

    def __init__(
        self, config: Config, progress: bool, stop: threading.Event | None
    ) -> None:
        self.config = config
        self.progress = progress
        self.stop = stop or threading.Event()
        self.client = Client(config.url, config.token, config.retry, log=_log_retry)
        self.started = time.time()
        self.record: dict[str, Any] = {
            "started": _iso(self.started),
            "config": config.public(),
            "stages": [],  # [stage, seconds since the start], in order
        }
        self.summary = RunSummary()
        self.notes: list[str] = []
        self.data = ""  # what the models learned from, for the summary line
        self.served: set[str] = set()  # SHA-256 of the model files HomeIQ serves
        self.pulled: set[str] = set()  # identities of the pulled homes: always train

    def stage(self, name: str) -> None:
        """Start stage `name`, unless a stop was asked for."""
        if self.stop.is_set():
            raise Stopped(name)
        self.record["stages"].append([name, round(time.time() - self.started, 3)])
        LOGGER.info("stage %s", name, extra={"stage": name})

    def note(self, text: str) -> None:
        """Remember (and log) a fact worth the summary line."""
        self.notes.append(text)
        LOGGER.info(text)


def run_once(
    config: Config, *, progress: bool = False, stop: threading.Event | None = None
) -> RunSummary:
    """Do one whole cycle (see the module docstring); never raises for HA or data.

    A run that cannot reach HA, has no usable data or fails its sanity checks
    returns a summary with `ok` False; `stop` (set by a signal) ends the run at the
    next stage boundary. The record goes to `state_dir`/runs/ and last-run.json.
    """
    run = _Run(config, progress, stop)
    try:
        _cycle(run)
    except Stopped as stage:
        run.summary.ok = False
        run.summary.stopped = True
        run.record["stopped_before"] = str(stage)
        run.note(f"stopped before {stage}")
    except (CommandError, SanityError, RegistryError, DatasetError, ValueError) as e:
        run.summary.ok = False
        run.record["error"] = str(e)
        run.note(f"failed: {e}")
    _finish(run)
    return run.summary


def _cycle(run: _Run) -> None:
    run.stage("connect")
    status = run.client.status()
    run.record["deployed_version"] = status.get("model_version")
    run.stage("pull")
    pulled = _pull(run)
    run.stage("synthetic")
    synthetic = _synthetic(run)
    run.stage("features")
    homes = _rows(run, pulled, synthetic)
    run.stage("train")
    candidates = _train(run, homes)
    run.stage("evaluate")
    verdicts = _evaluate(run, homes, candidates)
    run.stage("push")
    _push(run, verdicts, candidates)
    _prune(run)


def _pull(run: _Run) -> Path | None:
    """Pull the home's dataset; None (and a note) when HA has none to give."""
    out = run.config.data / PULLED
    try:
        path = pull_dataset(run.client, out, pseudonymize=run.config.pseudonymize)
    except ApiError as error:
        if error.status != 404:
            raise
        run.note(
            f"no dataset from HomeIQ ({error}): the integration is too old or "
            "not set up; training on synthetic homes only"
        )
        return None
    except (PullError, DatasetError) as error:
        run.note(f"HomeIQ's dataset cannot be used ({error}); synthetic homes only")
        return None
    run.record["pulled"] = str(path)
    return path


def _synthetic(run: _Run) -> Path | None:
    """Generate the synthetic mix (reused when generated before); None for none."""
    config = run.config
    if config.synthetic_homes == 0:
        return None
    name = (
        f"synthetic-{config.synthetic_homes}x{config.synthetic_days}"
        f"-seed{config.seed}-f{config.failure_rate}"
    )
    out = config.data / name
    if not (out / "manifest.json").exists():
        options = GeneratorOptions(
            homes=config.synthetic_homes,
            days=config.synthetic_days,
            seed=config.seed,
            failure_rate=config.failure_rate,
        )
        generate_dataset(
            options, out, jobs=config.jobs, overwrite=True, progress=run.progress
        )
    run.record["synthetic"] = {"path": str(out), "homes": config.synthetic_homes}
    return out


def _rows(run: _Run, pulled: Path | None, synthetic: Path | None) -> list[HomeRows]:
    """Return the feature rows of every home; a pulled home that fails is noted."""
    homes: list[HomeRows] = []
    if pulled is not None:
        try:
            homes += _extract(run, pulled)
        except DatasetError as error:
            run.note(f"the pulled dataset cannot be used ({error}); synthetic only")
        homes, empty = with_closed_days(homes)
        if empty:
            run.note(f"{len(empty)} pulled home(s) without a closed day: left out")
    real = len(homes)
    run.pulled = {h.identity for h in homes}
    days = sum(len(h.times) for h in homes)
    if synthetic is not None:
        homes += _extract(run, synthetic)
    run.record["homes"] = {"pulled": real, "pulled_days": days, "all": len(homes)}
    run.data = f"{real} pulled home(s) ({days} days) + {len(homes) - real} synthetic"
    if not homes:
        raise DatasetError("no homes to train on: no pulled data and synthetic_homes 0")
    return homes


def _extract(run: _Run, root: Path) -> list[HomeRows]:
    return extract([root], jobs=run.config.jobs, progress=run.progress)


def _train(run: _Run, homes: Sequence[HomeRows]) -> dict[str, bytes]:
    """Train and register the candidates; return each model file's bytes."""
    config = run.config
    plans = plan_rows(config.plan_homes, seed=config.seed, progress=run.progress)
    began = time.perf_counter()
    outcome = train_models(
        homes, config.models, seed=config.seed, plans=plans, train_only=run.pulled
    )
    run.record["training"] = {
        "seconds": round(time.perf_counter() - began, 1),
        "split": outcome.metrics.get("split"),
        "registered": {n: str(p) for n, p in outcome.registered.items()},
        "summary": outcome.summary,
    }
    for line in outcome.summary:
        LOGGER.info("candidate %s", line)
    return {
        name: (path / "model.onnx").read_bytes()
        for name, path in outcome.registered.items()
    }


def _evaluate(
    run: _Run, homes: Sequence[HomeRows], candidates: dict[str, bytes]
) -> dict[str, Verdict]:
    """Judge each candidate against the deployed model on this run's test homes."""
    test = split_homes(homes, run.config.seed, train_only=run.pulled)["test"]
    held = HeldOut.of(test)
    deployed = _deployed(run)
    run.served = {hashlib.sha256(d).hexdigest() for d in deployed.values() if d}
    verdicts = {
        model: judge(model, candidates, deployed, held, seed=run.config.seed)
        for model in GATES
    }
    run.record["held_out_homes"] = len(test)
    run.record["verdicts"] = {m: v.to_json() for m, v in verdicts.items()}
    _judge_later_days(run, homes, candidates, deployed)
    for model, verdict in verdicts.items():
        LOGGER.info(
            "%s: %s (%s)",
            model,
            "promote" if verdict.promote else "keep deployed",
            verdict.reason,
            extra={"model": model, "promote": verdict.promote},
        )
    return verdicts


def _judge_later_days(
    run: _Run,
    homes: Sequence[HomeRows],
    candidates: dict[str, bytes],
    deployed: dict[str, bytes | None],
) -> None:
    """Record the failure and battery figures on the pulled homes' unseen days."""
    pulled = [h for h in homes if h.identity in run.pulled]
    if not pulled:
        return
    figures = later_days_figures(candidates, deployed, HeldOut.later_days(pulled))
    run.record["pulled_later_days"] = figures
    LOGGER.info("on the pulled homes' unseen later days: %s", _figures(figures))


def _figures(figures: dict[str, dict[str, object]]) -> str:
    """Return the later-days figures as one line of text."""
    return "; ".join(
        f"{model} {f['metric']} {_number(f['candidate'])} "
        f"(deployed {_number(f['deployed'])}, {f['rows']} rows)"
        for model, f in figures.items()
    )


def _number(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else "n/a"


def _deployed(run: _Run) -> dict[str, bytes | None]:
    """Download every model file HomeIQ serves; None where it has none."""
    out: dict[str, bytes | None] = {}
    for gate in GATES.values():
        for name in gate.files:
            try:
                out[name] = run.client.download_model(name)
            except ApiError as error:
                if error.status != 404:
                    raise
                out[name] = None
    return out


def _push(
    run: _Run, verdicts: dict[str, Verdict], candidates: dict[str, bytes]
) -> None:
    """Upload the promoted models' files and confirm HomeIQ serves them."""
    summary = run.summary
    for model, verdict in verdicts.items():
        if not verdict.promote:
            summary.kept[model] = verdict.reason
    promoted = [m for m, v in verdicts.items() if v.promote]
    if not run.config.push:
        for model in promoted:
            summary.kept[model] = "push = false: promoted, not pushed"
        return
    files = {
        model: [
            Candidate(name, run.config.models / name, candidates[name])
            for name in GATES[model].files
        ]
        for model in promoted
    }
    everything = [c for group in files.values() for c in group]
    status = run.client.status()
    for candidate in everything:
        check_candidate(candidate, status)
        if not candidate.outcome:
            upload_candidate(run.client, candidate)
    if any(c.uploaded for c in everything):
        confirm_candidates(everything, run.client.status())
    run.record["push"] = {
        c.name: {"outcome": c.outcome, "sha256": c.sha256} for c in everything
    }
    for model, group in files.items():
        failed = [c for c in group if c.failed]
        if failed:
            summary.ok = False
            summary.kept[model] = "push failed: " + "; ".join(
                f"{c.name}: {c.outcome}" for c in failed
            )
        elif all(c.uploaded is None for c in group):
            summary.kept[model] = "the deployed model is this very candidate"
        else:
            summary.pushed.append(model)


def _prune(run: _Run) -> None:
    """Delete registry versions beyond `keep_versions` (never current or served)."""
    keep = run.config.keep_versions
    if not keep:
        return
    try:
        pruned = prune(run.config.models, keep, protect=run.served)
    except (RegistryError, OSError) as error:
        run.note(f"cannot prune the registry: {error}")
        return
    run.record["pruned"] = {"versions": len(pruned.paths), "bytes": pruned.bytes}


def _finish(run: _Run) -> None:
    """Write the run record and log the summary line."""
    summary = run.summary
    seconds = time.time() - run.started
    summary.line = _line(run, seconds)
    run.record.update(
        finished=_iso(time.time()),
        seconds=round(seconds, 1),
        ok=summary.ok,
        pushed=summary.pushed,
        kept=summary.kept,
        notes=run.notes,
        line=summary.line,
    )
    try:
        summary.record = write_record(run.config.state_dir, run.record)
    except OSError as error:
        LOGGER.error("cannot write the run record: %s", error)
    LOGGER.info(summary.line, extra={"summary": True, "ok": summary.ok})


def _line(run: _Run, seconds: float) -> str:
    summary = run.summary
    parts = [f"run {'ok' if summary.ok else 'FAILED'} in {seconds:.0f} s"]
    if run.data:
        parts.append(run.data)
    if summary.pushed:
        parts.append("pushed " + ", ".join(summary.pushed))
    if summary.kept:
        parts.append(
            "kept " + ", ".join(f"{m} ({why})" for m, why in summary.kept.items())
        )
    parts += run.notes
    return "; ".join(parts)


def write_record(state_dir: Path, record: dict[str, Any]) -> Path:
    """Write `record` to runs/<time>.json and last-run.json; keep the newest ones."""
    runs = state_dir / RUNS_DIR
    runs.mkdir(parents=True, exist_ok=True)
    stamp = record["started"].replace(":", "").replace("-", "")
    path = runs / f"{stamp}.json"
    text = json.dumps(record, indent=1, sort_keys=True, default=str) + "\n"
    for target in (path, state_dir / LAST_RUN):
        staged = target.with_name(f".{target.name}.part")
        staged.write_text(text, encoding="utf-8")
        os.replace(staged, target)
    for old in sorted(runs.glob("*.json"))[:-KEEP_RECORDS]:
        old.unlink(missing_ok=True)
    return path


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")


def _log_retry(text: str) -> None:
    LOGGER.warning(text, extra={"retry": True})


# --- the daemon ----------------------------------------------------------------------


def serve(
    config: Config,
    *,
    once: bool = False,
    progress: bool = False,
    stop: threading.Event | None = None,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> int:
    """Run once (`once`) or every day at the schedule until stopped; exit code.

    Holds the instance lock throughout. A run that fails (HA unreachable, no
    data, a crash) is logged and the next one waits for the schedule.
    """
    stop = stop or threading.Event()
    with instance_lock(config.state_dir):
        LOGGER.info("started", extra={"config": config.public(), "once": once})
        if once:
            summary = run_once(config, progress=progress, stop=stop)
            print(summary.line, flush=True)
            return 0 if summary.ok or summary.stopped else 1
        zone = config.zone()
        while not stop.is_set():
            when = next_run(now(), config.run_at, zone)
            LOGGER.info("next run at %s", when.isoformat(), extra={"next": str(when)})
            if not _wait_until(when, stop, now):
                break
            try:
                print(run_once(config, progress=progress, stop=stop).line, flush=True)
            except Exception:
                LOGGER.exception("the run crashed; the next one is at the schedule")
        LOGGER.info("stopped")
    return 0


def _wait_until(
    when: datetime, stop: threading.Event, now: Callable[[], datetime]
) -> bool:
    """Wait until `when` (re-reading the clock); False when stopped first."""
    while not stop.is_set():
        remaining = (when - now()).total_seconds()
        if remaining <= 0:
            return True
        stop.wait(min(remaining, WAKE_SECONDS))
    return False


# --- logs ----------------------------------------------------------------------------

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the extras."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a JSON line."""
        out: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class Redact(logging.Filter):
    """Replace a secret (the token) wherever a record's text would carry it."""

    def __init__(self, secret: str) -> None:
        """Remember the secret."""
        super().__init__()
        self.secret = secret

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the message when the secret is in it; keep every record."""
        if self.secret and self.secret in record.getMessage():
            record.msg = record.getMessage().replace(self.secret, "***")
            record.args = None
        return True


def configure_logging(
    fmt: str, secret: str = "", stream: IO[str] | None = None
) -> logging.Handler:
    """Send the trainer's logs to `stream` (stderr) as JSON lines or text."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    handler.addFilter(Redact(secret))
    logger = logging.getLogger("homeiq_trainer")
    for old in list(logger.handlers):
        logger.removeHandler(old)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return handler


# --- command line --------------------------------------------------------------------


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `run`."""
    parser = subparsers.add_parser(
        "run",
        help="the nightly daemon: pull, train, compare, push the better models",
        description=(
            "Every day at `schedule` (or once with --once): pull the home's dataset "
            "from HomeIQ, train on it and the synthetic mix, compare each new model "
            "with the one HomeIQ serves on the same held-out rows, push those the "
            "promotion gate accepts. Settings: --config FILE (TOML) and HOMEIQ_* "
            "environment variables; see docs/trainer-daemon.md."
        ),
    )
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument("--once", action="store_true", help="one run now, then exit")
    parser.add_argument(
        "--log-format",
        choices=("json", "text"),
        default="json",
        help="stderr log lines (default: json)",
    )
    parser.add_argument(
        "--progress", action="store_true", help="progress bars on stderr"
    )
    parser.set_defaults(func=run_command)


def run_command(args: argparse.Namespace) -> int:
    """Load the settings, then run once or serve until stopped."""
    config = load_config(args.config)
    configure_logging(args.log_format, config.token)
    with stop_on_signals(threading.Event()) as stop:
        try:
            code = serve(config, once=args.once, progress=args.progress, stop=stop)
        except KeyboardInterrupt:
            LOGGER.warning("interrupted")
            return 130
    return code
