"""`homeiq-trainer generate` and `validate`: same seed, same bytes; clear errors."""

from pathlib import Path

import pytest

from homeiq_trainer.cli import main
from homeiq_trainer.dataset import read_dataset
from homeiq_trainer.generate import generate_dataset
from homeiq_trainer.models.rows import replay
from homeiq_trainer.synth.options import GeneratorOptions, parse_mix


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def _generate(out: Path, *extra: str) -> int:
    return main(
        ["generate", "--homes", "3", "--days", "2", "--seed", "5", "--out", str(out),
         "--quiet", *extra]
    )  # fmt: skip


@pytest.fixture(scope="module")
def serial(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "serial"
    assert _generate(out, "--jobs", "1") == 0
    return out


def test_same_seed_same_bytes_any_jobs(serial: Path, tmp_path: Path) -> None:
    assert _generate(tmp_path / "parallel", "--jobs", "2") == 0
    assert _files(tmp_path / "parallel") == _files(serial)
    assert _generate(tmp_path / "other", "--jobs", "1", "--seed", "6") == 0
    assert _files(tmp_path / "other") != _files(serial)


def test_output_is_a_valid_dataset(
    serial: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate", str(serial)]) == 0
    out = capsys.readouterr().out
    assert "valid HomeIQ dataset" in out
    assert "3 homes" in out
    dataset = read_dataset(serial)
    manifest = dataset.manifest
    assert manifest.source_kind == "synthetic"
    assert manifest.options["seed"] == 5
    # `created` is the end of the simulated window, so the bytes never vary.
    assert manifest.created == max(home.end for home in manifest.homes)
    assert [h.home_id for h in manifest.homes] == [
        "home-0000",
        "home-0001",
        "home-0002",
    ]


def test_a_home_depends_only_on_seed_and_index(serial: Path, tmp_path: Path) -> None:
    options = GeneratorOptions(homes=1, days=2, seed=5)
    generate_dataset(options, tmp_path / "one")
    first = "homes/home-0000"
    one = {k: v for k, v in _files(tmp_path / "one").items() if k.startswith(first)}
    assert one == {k: v for k, v in _files(serial).items() if k.startswith(first)}


@pytest.mark.parametrize("fmt", ["jsonl", "jsonl.gz"])
def test_formats(tmp_path: Path, fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "ds"
    assert _generate(out, "--format", fmt, "--jobs", "1") == 0
    assert (out / f"homes/home-0000/events.{fmt}").is_file()
    assert (out / f"homes/home-0000/external.{fmt}").is_file()
    assert "3 homes" in capsys.readouterr().out
    assert main(["validate", str(out)]) == 0


def test_options_reach_the_homes(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    options = ["--mix", "cottage=1", "--start", "2026-07-01", "--failure-rate", "0"]
    assert _generate(out, *options, "--label-noise", "1", "--jobs", "1") == 0
    for home in read_dataset(out):
        assert home.labels.true_home_type == "cottage"
        assert home.labels.home_type != "cottage"
        assert home.labels.failures == ()
        assert home.entry.start == 1_782_864_000.0  # 2026-07-01T00:00:00Z


def test_progress_bar_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generate_dataset(GeneratorOptions(homes=2, days=1), tmp_path / "ds", progress=True)
    err = capsys.readouterr().err
    assert "2/2" in err
    assert "events/s" in err


def test_refuses_a_non_empty_directory(
    serial: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ds"
    assert _generate(out, "--jobs", "1") == 0
    with pytest.raises(SystemExit) as exit_info:
        _generate(out)
    assert exit_info.value.code == 1
    assert "not empty" in capsys.readouterr().err
    assert _generate(out, "--overwrite", "--jobs", "1") == 0
    assert _files(out) == _files(serial)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--mix", "castle=1"], "unknown home type 'castle'"),
        (["--mix", "studio=x"], "weight of studio must be a number"),
        (["--mix", "studio=-1"], "finite number ≥ 0"),
        (["--mix", "studio=0"], "at least one home type"),
        (["--start", "yesterday"], "--start 'yesterday' is not a date"),
        (["--failure-rate", "1.5"], "failure rate must be between 0 and 1"),
        (["--label-noise", "-0.1"], "label noise must be between 0 and 1"),
        (["--days", "0"], "days must be between 1 and 366"),
        (["--homes", "0"], "homes must be at least 1"),
        (["--seed", "-1"], "seed must be a non-negative integer"),
        (["--jobs", "0"], "--jobs must be at least 1"),
    ],
)
def test_bad_options(
    tmp_path: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _generate(tmp_path / "ds", *args)
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("homeiq-trainer: error: ")
    assert message in err
    assert not (tmp_path / "ds").exists()


def test_mix_defaults_to_one_and_keeps_the_type_order() -> None:
    assert parse_mix(" ranch_house , studio=2") == (
        ("studio", 2.0),
        ("ranch_house", 1.0),
    )


def test_validate_reports_a_bad_dataset(
    serial: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for name, data in _files(serial).items():
        (broken / name).parent.mkdir(parents=True, exist_ok=True)
        (broken / name).write_bytes(data)
    (broken / "homes/home-0001/events.parquet").write_bytes(b"PAR1 nonsense")
    with pytest.raises(SystemExit) as exit_info:
        main(["validate", str(broken)])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "home-0001/events.parquet: not a readable Parquet file" in err
    assert len(err.strip().splitlines()) == 1


def test_writes_what_format_v2_carries(tmp_path: Path) -> None:
    """Re-reports, gaps, recoveries, warnings, integrations: written, same bytes."""
    args = ["generate", "--homes", "12", "--days", "10", "--seed", "3",
            "--failure-rate", "0.2", "--quiet"]  # fmt: skip
    assert main([*args, "--out", str(tmp_path / "a"), "--jobs", "1"]) == 0
    assert main([*args, "--out", str(tmp_path / "b"), "--jobs", "2"]) == 0
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    dataset = read_dataset(tmp_path / "a")
    assert dataset.manifest.source_kind == "synthetic"
    assert dataset.manifest.format_version == 3
    homes = list(dataset)
    with_reports = [h for h in homes if h.reports is not None]
    assert 0 < len(with_reports) < len(homes)
    assert any(len(h.reports.time) for h in with_reports)
    assert any(h.gaps for h in homes)
    failures = [f for h in homes for f in h.labels.failures]
    assert any(f.recovered is not None for f in failures)
    assert {f.provenance for f in failures} == {"ground_truth"}
    assert any(h.labels.warnings for h in homes)
    devices = [d for h in homes for d in h.inventory.devices]
    assert all(d.integration for d in devices)
    assert any(d.via_device for d in devices)


def test_homes_carry_the_rollups_of_their_events(tmp_path: Path) -> None:
    """The generator's rollups are, to the bit, those of replaying its files."""
    options = GeneratorOptions(homes=12, days=4, seed=3, failure_rate=0.2)
    generate_dataset(options, tmp_path / "ds", jobs=2)
    dataset = read_dataset(tmp_path / "ds")
    homes = list(dataset)
    assert any(h.reports is not None for h in homes)
    assert any(h.gaps for h in homes)
    for home in homes:
        assert home.entry.events is not None
        assert home.entry.n_days == 4
        assert home.rollups is not None
        assert list(home.rollups) == replay(home)


def test_no_rollups_writes_events_only(tmp_path: Path) -> None:
    assert _generate(tmp_path / "ds", "--no-rollups") == 0
    entries = read_dataset(tmp_path / "ds").manifest.homes
    assert all(e.rollups is None and e.events is not None for e in entries)
    assert not list((tmp_path / "ds").rglob("rollups.json"))
