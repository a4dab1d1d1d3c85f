"""`homeiq-trainer validate --stats`: per-kind statistics a health model reads."""

from pathlib import Path

import pytest

from homeiq_trainer.cli import main
from homeiq_trainer.dataset import read_dataset
from homeiq_trainer.generate import generate_dataset
from homeiq_trainer.synth.options import GeneratorOptions
from homeiq_trainer.validate import STAT_FEATURES, WARM_UP_DAYS, kind_statistics


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stats") / "ds"
    generate_dataset(GeneratorOptions(homes=2, days=WARM_UP_DAYS + 2, seed=4), out)
    return out


def test_statistics_per_kind(dataset: Path) -> None:
    stats = kind_statistics(read_dataset(dataset))
    assert stats
    for features in stats.values():
        assert tuple(features) == STAT_FEATURES
        for s in features.values():
            assert s.rows > 0
            assert 0 <= s.missing <= 1
            if s.missing < 1:
                assert s.p10 <= s.p50 <= s.p90
    some = next(iter(stats.values()))
    assert some["silence_h"].missing < 1


def test_the_command_prints_them(
    dataset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(dataset), "--stats", "--homes", "1"]) == 0
    out = capsys.readouterr().out
    assert "valid HomeIQ dataset" in out
    assert "Per device kind" in out
    assert "silence_ratio_p95" in out


def test_short_windows_give_no_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generate_dataset(GeneratorOptions(homes=1, days=2, seed=4), tmp_path / "short")
    assert main(["validate", str(tmp_path / "short"), "--stats"]) == 0
    assert "No device rows" in capsys.readouterr().out


def test_homes_must_be_positive(
    dataset: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["validate", str(dataset), "--stats", "--homes", "0"])
    assert "must be at least 1" in capsys.readouterr().err
