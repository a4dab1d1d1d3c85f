"""Permutation importances: columns a model never splits on are not scored again."""

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from homeiq_trainer.models.pipeline import importances, split_columns


def test_unread_columns_drop_nothing_and_the_ranking_is_unchanged() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 6)).astype(np.float32)
    x[rng.random(3000) < 0.2, 1] = np.nan
    x[:, 4:] = 0.0  # constant: never split on
    y = (x[:, 0] + np.nan_to_num(x[:, 1]) + rng.normal(size=3000) > 1).astype(int)
    model = HistGradientBoostingClassifier(max_iter=10, max_depth=2, random_state=0)
    model.fit(x, y)
    x[:, 5] = np.nan  # all missing when scored: skipped entirely
    read = split_columns(model)
    assert read is not None
    assert {0, 1} <= read
    assert 4 not in read
    assert 5 not in read
    names = [f"f{j}" for j in range(6)]

    def auc(truth: np.ndarray, p: np.ndarray) -> float:
        return float(roc_auc_score(truth, p[:, 1]))

    scored = []

    def score(rows: np.ndarray) -> np.ndarray:
        scored.append(len(rows))
        return model.predict_proba(rows)

    every = importances(score, x, y, names, auc, seed=1)
    calls = len(scored)
    fast = importances(score, x, y, names, auc, seed=1, read=read)
    assert fast == every
    assert list(fast) == list(every)
    assert fast["f4"] == 0.0
    assert "f5" not in fast
    assert len(scored) - calls == 1 + len(read)  # the base and each read column
    assert split_columns(object()) is None
