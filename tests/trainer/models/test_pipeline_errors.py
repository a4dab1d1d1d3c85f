"""The training stages refuse data they cannot learn from, with a clear message."""

from dataclasses import replace

import numpy as np
import pytest

from homeiq_trainer.models.data import split_homes
from homeiq_trainer.models.extract import extract
from homeiq_trainer.models.pipeline import (
    SanityError,
    train_battery,
    train_failure,
    train_home_type,
)


@pytest.fixture(scope="module")
def groups(small_dataset):
    return split_homes(extract([small_dataset], progress=False), 2)


def _each(groups, change):
    return {name: [change(h) for h in homes] for name, homes in groups.items()}


def test_no_failing_rows(groups) -> None:
    def healthy(home):
        target = np.where(home.failure.target == 1, 0, home.failure.target)
        return replace(home, failure=replace(home.failure, target=target))

    with pytest.raises(SanityError, match="failing rows to train on"):
        train_failure(_each(groups, healthy), seed=0)


def test_no_battery_rows(groups) -> None:
    def unknown(home):
        return replace(home, battery_days=np.full_like(home.battery_days, np.nan))

    with pytest.raises(SanityError, match="battery_days_left: 0 rows"):
        train_battery(_each(groups, unknown), [], seed=0)


def test_one_home_type(groups) -> None:
    def same(home):
        return replace(home, home_type="studio")

    with pytest.raises(SanityError, match="fewer than two"):
        train_home_type(_each(groups, same), seed=0)
