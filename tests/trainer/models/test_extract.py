"""Feature extraction at scale: worker processes, the per-home cache, generation."""

import argparse

import numpy as np
import pytest

from homeiq_trainer.errors import CommandError
from homeiq_trainer.models import commands
from homeiq_trainer.models.extract import CACHE_DIR, extract


def test_cache_is_written_then_read_with_the_same_rows(tmp_path) -> None:
    args = argparse.Namespace(
        homes=3, days=3, seed=5, failure_rate=0.2, work=tmp_path, jobs=1, quiet=True
    )
    root = commands._synthetic(args)
    assert commands._synthetic(args) == root  # generated once, then reused
    first = extract([root], jobs=2, progress=False)
    cached = sorted((root / CACHE_DIR).glob("*.npz"))
    assert len(cached) == 3
    again = extract([root], jobs=1, progress=False)
    for a, b in zip(first, again, strict=True):
        assert a.identity == b.identity
        np.testing.assert_array_equal(a.device_x, b.device_x)
        np.testing.assert_array_equal(a.failure.target, b.failure.target)
    cached[0].write_bytes(b"not an npz")  # a damaged cache file is recomputed
    redone = extract([root], jobs=1, progress=False)
    np.testing.assert_array_equal(redone[0].device_x, first[0].device_x)
    uncached = extract([root], jobs=1, progress=False, cache=False)
    assert [h.home_id for h in uncached] == [h.home_id for h in first]
    chosen = extract([root], progress=False, homes={first[1].home_id})
    assert [h.home_id for h in chosen] == [first[1].home_id]


def test_bad_generation_options_are_a_command_error(tmp_path) -> None:
    args = argparse.Namespace(
        homes=0, days=3, seed=5, failure_rate=0.2, work=tmp_path, jobs=1, quiet=True
    )
    with pytest.raises(CommandError):
        commands._synthetic(args)
