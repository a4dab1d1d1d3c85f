"""Home type: the ceiling of an untuned model on inventory features, by training size.

Run: .venv/bin/python benchmarks/home_type_ceiling.py [--sizes 300,1000,4000]
     [--test 2000] [--seed 1]

The issue measured the home-type ceiling this way: an untuned HistGradientBoosting
classifier on inventory (composition) features, macro-F1 on held-out homes, as
the number of training homes grows. Home plans are cheap (no events are
simulated): each home's `HomePlan.inventory()` goes through the core's
`home_features` with no rollups, so the activity features are missing. The
trained `home_type` model (docs/models.md) is compared with the point of this curve
at its own number of training homes.
"""

import argparse
import time

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import f1_score
from threadpoolctl import threadpool_limits

from homeiq_core.features import home_features
from homeiq_trainer.synth.home import draw_plan, draw_type
from homeiq_trainer.synth.options import GeneratorOptions


def homes(options: GeneratorOptions, first: int, count: int):
    x, y = [], []
    for index in range(first, first + count):
        x.append(home_features(draw_plan(options, index).inventory(), []))
        y.append(draw_type(options, index)[1])
    return np.array(x, dtype=np.float32), np.array(y)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="300,1000,4000")
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    options = GeneratorOptions(homes=max(sizes) + args.test, seed=args.seed)
    began = time.perf_counter()
    x_test, y_test = homes(options, 0, args.test)
    x_all, y_all = homes(options, args.test, max(sizes))
    print(f"{args.test + max(sizes)} home plans in {time.perf_counter() - began:.0f} s")
    known = ~np.isnan(x_all).all(axis=0)  # activity features: all missing here
    x_all, x_test = x_all[:, known], x_test[:, known]
    with threadpool_limits(1):
        for size in sizes:
            model = HistGradientBoostingClassifier(random_state=args.seed)
            model.fit(x_all[:size], y_all[:size])
            f1 = f1_score(y_test, model.predict(x_test), average="macro")
            print(f"train homes {size:6d}: macro-F1 {f1:.3f} ({args.test} test homes)")


if __name__ == "__main__":
    main()
