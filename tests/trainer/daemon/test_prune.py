"""The daemon prunes the registry after a run, never what HomeIQ serves."""

import hashlib
from pathlib import Path

from homeiq_trainer import daemon
from homeiq_trainer.config import load_config
from homeiq_trainer.models import registry


def _run(tmp_path: Path, keep: str) -> daemon._Run:
    config = load_config(
        None,
        environ={
            "HOMEIQ_URL": "http://127.0.0.1:9",
            "HOMEIQ_TOKEN": "secret",
            "HOMEIQ_STATE_DIR": str(tmp_path / "state"),
            "HOMEIQ_KEEP_VERSIONS": keep,
        },
    )
    return daemon._Run(config, progress=False, stop=None)


def _models(run: daemon._Run, count: int) -> list[Path]:
    return [
        registry.register(run.config.models, "device_failure", bytes([i]), {}, {})
        for i in range(count)
    ]


def test_a_run_prunes_old_versions_but_keeps_the_served_one(tmp_path) -> None:
    run = _run(tmp_path, "2")
    versions = _models(run, 5)
    run.served = {hashlib.sha256(bytes([0])).hexdigest()}

    daemon._prune(run)

    left = sorted(p.name for p in versions if p.exists())
    assert left == ["v0001", "v0004", "v0005"]
    assert run.record["pruned"]["versions"] == 2
    assert run.record["pruned"]["bytes"] > 0


def test_keep_versions_zero_keeps_everything(tmp_path) -> None:
    run = _run(tmp_path, "0")
    versions = _models(run, 3)
    daemon._prune(run)
    assert all(p.exists() for p in versions)
    assert "pruned" not in run.record


def test_a_registry_that_cannot_be_pruned_is_noted_not_raised(tmp_path) -> None:
    run = _run(tmp_path, "3")  # nothing registered: no registry directory yet
    daemon._prune(run)
    assert "pruned" not in run.record
    assert any("cannot prune the registry" in note for note in run.notes)
