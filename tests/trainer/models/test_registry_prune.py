"""Pruning the registry: old versions go, the current and protected ones stay."""

import hashlib
import os
from pathlib import Path

import pytest

from homeiq_trainer import cli
from homeiq_trainer.models import registry


def _register(root: Path, name: str, count: int) -> list[Path]:
    return [
        registry.register(root, name, f"{name}-{i}".encode(), {}, {})
        for i in range(count)
    ]


def _versions(root: Path, name: str) -> list[str]:
    return sorted(p.name for p in (root / name).glob("v[0-9]*"))


def test_prune_keeps_the_newest_the_current_and_the_protected(tmp_path) -> None:
    failure = _register(tmp_path, "device_failure", 5)
    _register(tmp_path, "home_type", 2)
    (tmp_path / "device_failure" / registry.POINTER).write_text("v0001\n")
    served = hashlib.sha256(b"device_failure-1").hexdigest()

    pruned = registry.prune(tmp_path, 2, protect={served})

    assert _versions(tmp_path, "device_failure") == ["v0001", "v0002", "v0004", "v0005"]
    assert _versions(tmp_path, "home_type") == ["v0001", "v0002"]
    assert pruned.paths == [failure[2]]
    assert pruned.bytes == sum(
        f.stat().st_size for f in failure[3].iterdir()
    )  # every version holds the same four small files
    assert registry.current(tmp_path, "device_failure") == failure[0]
    new = registry.register(tmp_path, "device_failure", b"next", {}, {})
    assert new.name == "v0006"  # numbering never reuses a pruned version


def test_prune_clears_leftovers_of_crashes_but_not_a_register_under_way(
    tmp_path,
) -> None:
    _register(tmp_path, "m", 1)
    interrupted = tmp_path / "m" / ".deleting-v0000"
    (interrupted / "x").mkdir(parents=True)
    old = tmp_path / "m" / ".staging-old"
    old.mkdir()
    day_ago = old.stat().st_mtime - registry.STALE_STAGING_SECONDS - 60
    os.utime(old, (day_ago, day_ago))
    fresh = tmp_path / "m" / ".staging-now"
    fresh.mkdir()

    pruned = registry.prune(tmp_path, 1)

    assert set(pruned.paths) == {interrupted, old}
    assert not interrupted.exists()
    assert not old.exists()
    assert fresh.exists()
    assert _versions(tmp_path, "m") == ["v0001"]


def test_prune_refuses_what_it_cannot_do(tmp_path) -> None:
    with pytest.raises(registry.RegistryError, match="at least 1"):
        registry.prune(tmp_path, 0)
    with pytest.raises(registry.RegistryError, match="not a registry"):
        registry.prune(tmp_path / "missing", 3)


def test_models_prune_command(tmp_path, capsys) -> None:
    _register(tmp_path, "device_anomaly", 4)
    assert (
        cli.main(["models", "prune", "--registry", str(tmp_path), "--keep", "1"]) == 0
    )
    out = capsys.readouterr().out
    assert out.count("deleted ") == 3
    assert "3 deleted" in out
    assert _versions(tmp_path, "device_anomaly") == ["v0004"]
    with pytest.raises(SystemExit) as error:
        cli.main(["models", "prune", "--registry", str(tmp_path), "--keep", "0"])
    assert error.value.code == 1
