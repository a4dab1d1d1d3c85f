"""A small synthetic dataset shared by the model tests (generated once)."""

import pytest

from homeiq_trainer import cli


@pytest.fixture(scope="session")
def small_dataset(tmp_path_factory):
    """Twenty-four homes over twenty days, a high failure rate, Parquet."""
    out = tmp_path_factory.mktemp("models") / "data"
    code = cli.main(
        [
            "generate",
            "--homes",
            "24",
            "--days",
            "20",
            "--seed",
            "3",
            "--failure-rate",
            "0.15",
            "--out",
            str(out),
            "--jobs",
            "2",
            "--quiet",
        ]
    )
    assert code == 0
    return out
