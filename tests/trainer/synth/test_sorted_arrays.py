"""The generator's merges of sorted arrays agree with numpy's general functions."""

from hypothesis import given, strategies as st
import numpy as np

from homeiq_trainer.synth.devices import contains_sorted, merge_sorted, union_sorted

times = st.lists(
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), max_size=40
).map(lambda values: np.sort(np.array(values, dtype=np.float64)))


@given(st.lists(times, min_size=1, max_size=4))
def test_merge_and_union_of_sorted_arrays(arrays: list[np.ndarray]) -> None:
    everything = np.concatenate(arrays)
    np.testing.assert_array_equal(merge_sorted(*arrays), np.sort(everything))
    np.testing.assert_array_equal(union_sorted(*arrays), np.unique(everything))


@given(times, times)
def test_contains_sorted_is_isin(haystack: np.ndarray, needles: np.ndarray) -> None:
    shared = np.r_[needles, haystack[::2]]  # some needles are surely there
    np.testing.assert_array_equal(
        contains_sorted(haystack, shared), np.isin(shared, haystack)
    )
