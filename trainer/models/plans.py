"""Home plans: thousands of synthetic inventories for the home-type model, cheaply.

A home's type shows in its inventory (areas, floors, devices, entities), which the
integration reads from Home Assistant's registries on day one. The generator draws
an inventory in about 3 ms without simulating any event, so the home-type model can
learn from thousands of homes (the issue measured macro-F1 levelling off near 0.75
with 16,000) while the device models learn from the few hundred homes whose events
were generated. Plans use their own seed, so they are other homes than the
dataset's; evaluation stays on the dataset's held-out homes.
"""

import numpy as np

from homeiq_core.features import HOME_SCHEMA, home_features
from homeiq_trainer.synth.home import draw_plan, draw_type
from homeiq_trainer.synth.options import GeneratorOptions

from .extract import Bar

PLAN_SEED_OFFSET = 1_000_003  # plans never share a seed with a generated dataset
HELD_OUT_SEED_OFFSET = 2_000_029  # held-out plans: other homes than training plans


def plan_rows(
    count: int, *, seed: int, progress: bool = False, held_out: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Return `count` plans' home features (no activity: NaN) and type labels.

    `held_out` plans come from another seed: homes no model trained on, for
    checking the calibration of a model that reads composition only on thousands
    of homes (the dataset's test homes are too few to show an ECE below 0.05).
    """
    offset = HELD_OUT_SEED_OFFSET if held_out else PLAN_SEED_OFFSET
    options = GeneratorOptions(homes=max(count, 1), seed=seed + offset)
    x = np.empty((count, len(HOME_SCHEMA)), dtype=np.float32)
    labels = []
    with Bar(
        total=count,
        desc="held-out plans" if held_out else "home plans",
        unit="home",
        disable=not progress,
    ) as bar:
        for index in range(count):
            x[index] = home_features(draw_plan(options, index).inventory(), [])
            labels.append(draw_type(options, index)[1])
            bar.update()
    return x, np.array(labels, dtype=object)
