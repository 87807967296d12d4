"""Comparing regimes: replicates of each on the same worlds, levels and paired differences."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from sim.experiments.runs import replicates
from sim.scenario import Scenario
from sim.statistics import levels, paired_differences, per_replicate


@dataclass
class Comparison:
    """Replicated runs of several regimes, paired by replicate.

    Attributes:
        runs: every run's per-month measures, with ``regime`` and ``replicate`` columns.
        baseline: the regime the others are compared with (the first one given).
    """

    runs: pd.DataFrame
    baseline: str

    @property
    def measures(self) -> list[str]:
        skip = {"month", "replicate"}
        return [c for c in self.runs.select_dtypes("number").columns if c not in skip]

    def table(self) -> pd.DataFrame:
        return per_replicate(self.runs, self.measures)

    def levels(self) -> pd.DataFrame:
        """Mean and 95% CI of each measure, final and time-averaged, for each regime."""
        return levels(self.table(), self.measures)

    def differences(self) -> pd.DataFrame:
        """Each regime minus the baseline, paired by replicate, with 95% CIs."""
        return paired_differences(self.table(), self.measures, self.baseline)

    def plot(self, path: str | Path | None = None, measures: list[str] | None = None):
        from sim.plots import plot_comparison

        return plot_comparison(self.runs, path, measures)


def compare(scenarios: dict[str, Scenario], reps: int = 10, steps: int = 120, seed: int = 0,
            progress: bool = True) -> Comparison:
    """Run ``reps`` replicates of each scenario; replicate i of every scenario shares a world.

    Args:
        scenarios: regime name -> scenario; the first is the baseline for paired differences.
        reps: replicates per scenario.
        steps: months per run.
        seed: the base seed the replicates' seeds are spawned from.
        progress: show a progress bar (it appears only if the work takes over a second).
    """
    with tqdm(total=len(scenarios) * reps * steps, desc="compare", unit="month", delay=1.0,
              disable=not progress, leave=False) as bar:
        frames = [replicates(sc, reps, steps, seed, on_step=lambda: bar.update()).assign(regime=name)
                  for name, sc in scenarios.items()]
    runs = pd.concat(frames, ignore_index=True)
    return Comparison(runs=runs, baseline=next(iter(scenarios)))
