"""A home without a closed day (an export made the day HomeIQ was installed) has
no row to learn from: `train` and `evaluate` leave it out and say so."""

import argparse
from pathlib import Path

from homeiq_trainer.dataset import DatasetWriter
from homeiq_trainer.models.commands import _rows
from homeiq_trainer.synth.home import generate_home
from homeiq_trainer.synth.options import GeneratorOptions


def _just_installed(root: Path) -> Path:
    home = generate_home(GeneratorOptions(homes=1, days=1, seed=3), 0)
    with DatasetWriter(
        root, source_kind="homeiq-export", producer="test", created=home.start + 3600
    ) as writer:
        writer.write_home(
            home.inventory, None, start=home.start, end=home.start + 3600, rollups=[]
        )
    return root


def test_homes_without_a_closed_day_are_left_out_with_a_note(
    small_dataset: Path, tmp_path: Path, capsys
) -> None:
    args = argparse.Namespace(jobs=1, no_cache=False, quiet=True)
    empty = _just_installed(tmp_path / "installed")

    homes = _rows(args, [small_dataset, empty])

    assert len(homes) == 24  # the small dataset's homes, every one with days
    assert all(len(h.times) for h in homes)
    assert "left out 1 home(s) without a closed day: home" in capsys.readouterr().err
