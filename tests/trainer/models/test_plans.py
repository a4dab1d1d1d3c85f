"""Home plans: inventories alone, with their home types, reproducible."""

import numpy as np

from homeiq_core.dataset import HOME_TYPES
from homeiq_core.features import HOME_SCHEMA
from homeiq_trainer.models.plans import plan_rows


def test_plan_rows() -> None:
    x, labels = plan_rows(6, seed=3)
    assert x.shape == (6, len(HOME_SCHEMA))
    assert set(labels) <= set(HOME_TYPES)
    assert np.isnan(x[:, HOME_SCHEMA.index("events_per_day")]).all()
    assert (x[:, HOME_SCHEMA.index("devices")] > 0).all()
    again, _ = plan_rows(6, seed=3)
    np.testing.assert_array_equal(x, again)
    assert plan_rows(0, seed=3)[0].shape == (0, len(HOME_SCHEMA))
    other, _ = plan_rows(6, seed=3, held_out=True)  # other homes, same seed
    assert not np.array_equal(np.nan_to_num(x), np.nan_to_num(other))
