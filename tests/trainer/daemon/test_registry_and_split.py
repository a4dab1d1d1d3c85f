"""The daemon prunes the registry after a run, never what HomeIQ serves, and
always trains on the homes it pulled."""

from dataclasses import replace
import hashlib
import logging
from pathlib import Path

from homeiq_trainer import cli, daemon
from homeiq_trainer.config import load_config
from homeiq_trainer.models import registry
from homeiq_trainer.models.data import group_of, split_homes
from homeiq_trainer.models.rows import HomeRows

from .conftest import Trained


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


def test_the_pulled_homes_always_train(tmp_path) -> None:
    """The run remembers the pulled homes; its split puts every one in train."""
    pulled = tmp_path / "pulled"
    args = ["generate", "--homes", "12", "--days", "3", "--out", str(pulled)]
    assert cli.main([*args, "--seed", "4", "--jobs", "1", "--quiet"]) == 0
    run = _run(tmp_path, "10")

    homes = daemon._rows(run, pulled, None)

    assert run.pulled == {h.identity for h in homes}
    assert len(homes) == 12
    seed = run.config.seed
    # By their ids alone, some would only be judged on.
    assert any(group_of(h.home_id, seed) == "test" for h in homes)
    others = [replace(h, home_id=f"synthetic-{i}", key="") for i, h in enumerate(homes)]
    split = split_homes(homes + others, seed, train_only=run.pulled)
    assert all(h in split["train"] for h in homes)
    assert split["test"]  # the others keep their groups


def test_the_pulled_homes_later_days_are_recorded(
    tmp_path, long_homes: list[HomeRows], trained: Trained, caplog
) -> None:
    """Figures on the days the pulled homes kept unseen, beside the verdicts."""
    run = _run(tmp_path, "10")
    homes = trained.homes + long_homes
    deployed: dict[str, bytes | None] = dict.fromkeys(trained.models)

    daemon._judge_later_days(run, homes, trained.models, deployed)
    assert "pulled_later_days" not in run.record  # nothing pulled

    run.pulled = {h.identity for h in long_homes}
    daemon.LOGGER.addHandler(caplog.handler)  # other tests may stop propagation
    try:
        with caplog.at_level(logging.INFO, logger=daemon.LOGGER.name):
            daemon._judge_later_days(run, homes, trained.models, deployed)
    finally:
        daemon.LOGGER.removeHandler(caplog.handler)

    figures = run.record["pulled_later_days"]
    assert figures["battery_days_left"]["rows"] > 0
    assert isinstance(figures["battery_days_left"]["candidate"], float)
    assert figures["battery_days_left"]["deployed"] is None  # HomeIQ on its rules
    assert figures["device_failure"]["rows"] > 0
    assert "on the pulled homes' unseen later days: device_failure PR-AUC" in (
        caplog.text
    )
    assert "(deployed n/a, " in caplog.text
