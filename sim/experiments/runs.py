"""Running the model: one run, and replicates with seeds spawned from one base seed."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from sim.model import CommissioningModel
from sim.scenario import Scenario


def replicate_seeds(base_seed: int, n: int) -> list[np.random.SeedSequence]:
    """Independent seeds for ``n`` replicates, spawned from one base seed.

    Replicate i gets the same seed in every regime, so the regimes face the same world in
    replicate i (common random numbers) and their differences can be paired.
    """
    return np.random.SeedSequence(base_seed).spawn(n)


def run(scenario: Scenario, steps: int, seed: int | np.random.SeedSequence,
        on_step: Callable[[], None] | None = None) -> pd.DataFrame:
    """One run of ``steps`` months; returns the per-month measures (``CommissioningModel.results``)."""
    model = CommissioningModel(scenario=scenario, rng=seed)
    for _ in range(steps):
        model.step()
        if on_step:
            on_step()
    return model.results()


def replicates(scenario: Scenario, reps: int, steps: int, base_seed: int,
               on_step: Callable[[], None] | None = None) -> pd.DataFrame:
    """``reps`` runs of one scenario, stacked with a ``replicate`` column."""
    frames = [run(scenario, steps, seed, on_step).assign(replicate=i)
              for i, seed in enumerate(replicate_seeds(base_seed, reps))]
    return pd.concat(frames, ignore_index=True)
