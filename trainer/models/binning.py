"""HistGradientBoosting's weighted binning with one sort per feature, same bits.

Before a HistGradientBoosting model grows a tree, it bins every feature at 254
thresholds. With sample weights (the failure and battery fits weight a subsample
of their rows), scikit-learn 1.9 finds them by asking `_weighted_percentile` for
one percentile at a time, and every call sorts the column and sums its weights
again: measured, 70-80 % of those fits' time (0.06 s per feature and fit at
60 homes). `_weighted_percentile` also takes all percentiles in one call, and
then computes each exactly as a call of its own would (the same sort, the same
cumulative weights, the same arithmetic per percentile), so `shared_sort`
answers the one-at-a-time calls from a single sort per column. That call still
loops over the 254 percentiles in Python (about 10 ms a column); `all_ranks`
does the same arithmetic for all of them at once, element by element (about
0.3 ms). The thresholds, and so the models, are the same to the bit
(`tests/trainer/models/test_binning.py`).

The quantile (battery) models also call it once per leaf of every tree, for
one percentile of the leaf's residuals: mostly the array-API wrappers' overhead
(0.2 ms a call, thousands of calls a fit). `one_rank` is that computation, with
the same sort and arithmetic, for a one-dimensional float64 column.

Only the binning and loss modules' references to the function are swapped, and
only inside `shared_sort`; any call that is not one of those (other
percentiles, unweighted, two-dimensional data, another array namespace) goes to
scikit-learn's function unchanged. A scikit-learn whose binning module or
percentile function differs from the one known here is left alone entirely.
"""

from collections.abc import Callable, Iterator
import contextlib
import inspect
import threading
from types import ModuleType

import numpy as np

_SIGNATURE = ["array", "sample_weight", "percentile_rank", "average", "xp"]


def _private_binning() -> tuple[ModuleType, Callable, ModuleType] | None:
    """Return scikit-learn's binning module, percentile function and loss module.

    Another scikit-learn (module moved, function renamed or with other
    parameters, or the loss module using another function) gets None: then
    `shared_sort` changes nothing and bins as scikit-learn does, only slower.
    """
    try:
        from sklearn._loss import loss  # noqa: PLC0415
        from sklearn.ensemble._hist_gradient_boosting import binning  # noqa: PLC0415

        function = binning._weighted_percentile
        parameters = list(inspect.signature(function).parameters)
        same = loss._weighted_percentile is function
    except ImportError, AttributeError, TypeError, ValueError:
        return None
    return (binning, function, loss) if parameters == _SIGNATURE and same else None


_FOUND = _private_binning()
_ORIGINAL = _FOUND[1] if _FOUND else None  # only called while swapped in
# The percentiles `_find_binning_thresholds` asks for with the default 255 bins.
RANKS = np.linspace(0, 100, num=256)[1:-1]
_local = threading.local()  # each fitting thread bins its own columns
_lock = threading.Lock()
_depth = 0


def _answer(
    array: object,
    sample_weight: object,
    percentile_rank: object = 50,
    average: bool = False,
    xp: object = None,
) -> object:
    """Return what `_weighted_percentile` returns, from one call per column."""
    if xp is not None or not average or np.ndim(percentile_rank) or np.ndim(array) != 1:
        return _ORIGINAL(array, sample_weight, percentile_rank, average, xp)
    rank = float(percentile_rank)  # type: ignore[arg-type]
    index = int(np.searchsorted(RANKS, rank))
    if index == len(RANKS) or RANKS[index] != rank:
        return _ORIGINAL(array, sample_weight, percentile_rank, average, xp)
    memo = getattr(_local, "memo", None)
    # The memo holds the arrays themselves, so identity cannot be a reused id.
    if memo is None or memo[0] is not array or memo[1] is not sample_weight:
        memo = (array, sample_weight, all_ranks(array, sample_weight))
        _local.memo = memo
    return np.asarray(memo[2][index])


def all_ranks(array: object, sample_weight: object) -> np.ndarray:
    """Return `_weighted_percentile(array, sample_weight, RANKS, average=True)`.

    The same sort, cumulative weights and per-percentile arithmetic as
    scikit-learn's loop, vectorised over the percentiles (each element is
    computed by the same IEEE operations, so the bits agree). Anything but a
    float64 column with float64-compatible weights, not all zero, goes to
    scikit-learn.
    """
    values = np.asarray(array)
    weights = np.asarray(sample_weight)
    plain = values.dtype == np.float64 and weights.shape == values.shape
    if not plain or weights.dtype.kind not in "fiu" or not np.any(weights != 0):
        return np.asarray(_ORIGINAL(array, sample_weight, RANKS, True))
    weights = weights.astype(np.float64)
    column = values.reshape(-1, 1)
    order = np.argsort(column, axis=0)[:, 0]  # scikit-learn's unstable sort
    sorted_weights = weights[order]
    nan = np.isnan(column[order, 0])
    if nan[-1]:  # NaN sorts last; its weight does not count
        sorted_weights[nan] = 0
    cdf = np.cumsum(sorted_weights.reshape(1, -1), axis=1)[0]
    wanted = RANKS / 100 * cdf[-1]
    zero = wanted == 0  # leading zero weights are skipped at rank 0
    wanted[zero] = np.nextafter(wanted[zero], wanted[zero] + 1)
    last = len(cdf) - 1
    at = np.clip(np.searchsorted(cdf, wanted), 0, last)
    above = (cdf[at] - wanted) > np.finfo(np.float64).eps
    after = np.clip(at + 1, 0, last)
    for k in np.flatnonzero(weights[order[after]] == 0):
        beyond = int(np.searchsorted(cdf, cdf[at[k]], side="right"))
        after[k] = beyond if beyond <= last else at[k]
    low, high = column[order[at], 0], column[order[after], 0]
    return np.where(above, low, (low + high) / 2)


def one_rank(
    array: object,
    sample_weight: object,
    percentile_rank: object = 50,
    average: bool = False,
    xp: object = None,
) -> object:
    """Return what `_weighted_percentile` returns, for a leaf's one percentile.

    A one-dimensional float64 column, float64 weights (not all zero), one
    percentile, not averaged: scikit-learn's sort, cumulative weights and
    arithmetic without its per-call overhead. Anything else goes to it.
    """
    values = np.asarray(array)
    weights = np.asarray(sample_weight)
    plain = (
        xp is None
        and not average
        and np.ndim(percentile_rank) == 0
        and values.ndim == 1
        and values.dtype == np.float64
        and weights.dtype == np.float64
        and weights.shape == values.shape
    )
    if not plain or not np.any(weights != 0):
        return _ORIGINAL(array, sample_weight, percentile_rank, average, xp)
    column = values.reshape(-1, 1)
    order = np.argsort(column, axis=0)[:, 0]  # scikit-learn's unstable sort
    sorted_weights = weights[order]
    nan = np.isnan(column[order, 0])
    if nan[-1]:
        sorted_weights[nan] = 0
    cdf = np.cumsum(sorted_weights.reshape(1, -1), axis=1)[0]
    rank = np.asarray(percentile_rank, dtype=np.float64).reshape(1)
    wanted = rank / 100 * cdf[-1:]
    if wanted[0] == 0:
        wanted = np.nextafter(wanted, wanted + 1)
    at = min(int(np.searchsorted(cdf, wanted)[0]), len(cdf) - 1)
    result = np.empty((1, 1))
    result[0, 0] = column[order[at], 0]
    return result[..., 0][0, ...]


@contextlib.contextmanager
def shared_sort() -> Iterator[None]:
    """Bin weighted features with one sort each while inside (thread-safe)."""
    global _depth  # noqa: PLW0603 - one swap shared by every thread inside
    if _FOUND is None:
        yield
        return
    binning, _, loss = _FOUND
    with _lock:
        if _depth == 0:
            binning._weighted_percentile = _answer
            loss._weighted_percentile = one_rank
        _depth += 1
    try:
        yield
    finally:
        _local.memo = None
        with _lock:
            _depth -= 1
            if _depth == 0:
                binning._weighted_percentile = _ORIGINAL
                loss._weighted_percentile = _ORIGINAL
