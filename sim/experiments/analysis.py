"""The standard tables of a full-factorial sweep store: cell means and regime differences.

A cell is one combination of the varied parameters (and one regime). Its runs are its replicates;
each cell's mean comes with a 95% confidence interval over them. Where the spec has regimes, each
regime is compared with the first, cell by cell. By default the sweep gives every run its own seed
(``SeedSequence(seed, spawn_key=(run,))``), so two regimes' runs in a cell do not share worlds:
the difference is of independent means, with a Welch interval. With ``common_random_numbers``
replicate ``r`` of both regimes faces the same world, and the difference is paired by replicate,
as in ``compare``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from sim.experiments.sweep import SweepSpec
from sim.scenario import ScenarioError
from sim.statistics import level_ci, mean_ci, summary_measure, welch_difference


@dataclass
class GridAnalysis:
    """What ``analyse`` finds in a store.

    Attributes:
        factors: the varied parameters (one or two), in the spec's order.
        regimes: the regimes, the first being the baseline of the differences (empty without).
        cells: tidy: [regime,] factors, measure, mean, ci_low, ci_high, n.
        differences: tidy, each regime minus the baseline per cell (None without two regimes).
        failed: failed runs, left out.
    """

    factors: list[str]
    regimes: list[str]
    cells: pd.DataFrame
    differences: pd.DataFrame | None
    failed: int


def grid_factors(spec: SweepSpec) -> list[str]:
    """The parameters a full-factorial spec varies (more than one level), in its order.

    Raises:
        ScenarioError: the design is sampled, or it varies neither one nor two parameters.
    """
    design = spec.sweep.design
    if design != "full_factorial":
        raise ScenarioError(f"sweep.design = {design!r}: analyse draws the grids of a full_factorial "
                            f"design; for {design} use commsim sensitivity")
    factors = [name for name, par in spec.parameters.items() if len(par.levels or []) > 1]
    if len(factors) not in (1, 2):
        raise ScenarioError(f"the store varies {len(factors)} parameters ({', '.join(factors) or 'none'}); "
                            "analyse draws one (lines) or two (heatmaps); read the store with pandas or "
                            "DuckDB for the others")
    return factors


def cell_means(runs: pd.DataFrame, measures: list[str], by: list[str]) -> pd.DataFrame:
    """Each cell's mean of each summary column with its 95% interval over the cell's runs that have
    a value (``statistics.level_ci``: inside the measure's range where it has one).
    """
    rows = []
    for key, group in runs.groupby(by, sort=False):
        for measure in measures:
            values = group[measure].dropna().to_numpy()
            mean, low, high = level_ci(summary_measure(measure), values)
            rows.append({**dict(zip(by, key, strict=True)), "measure": measure, "mean": mean,
                         "ci_low": low, "ci_high": high, "n": len(values)})
    return pd.DataFrame(rows)


def regime_differences(runs: pd.DataFrame, measures: list[str], factors: list[str],
                       regimes: list[str], paired: bool = False) -> pd.DataFrame:
    """Each regime minus the first, cell by cell, with a 95% CI.

    Paired: the mean of the per-replicate differences (replicates both regimes completed) and its
    t interval. Unpaired: the difference of means and its Welch interval.
    """
    baseline = regimes[0]
    rows = []
    for key, group in runs.groupby(factors, sort=False):
        cell = dict(zip(factors, key, strict=True))
        base = group[group["regime"] == baseline]
        for regime in regimes[1:]:
            other = group[group["regime"] == regime]
            for measure in measures:
                mine, theirs = other[measure].dropna(), base[measure].dropna()
                if paired:
                    by_replicate = group.pivot(index="replicate", columns="regime", values=measure)
                    both = (by_replicate[regime] - by_replicate[baseline]).dropna()
                    difference, low, high = mean_ci(both.to_numpy())
                    n = n_baseline = len(both)
                else:
                    difference, low, high = welch_difference(mine, theirs)
                    n, n_baseline = len(mine), len(theirs)
                rows.append({"regime": regime, "baseline": baseline, **cell, "measure": measure,
                             "difference": difference, "ci_low": low, "ci_high": high,
                             "n": n, "n_baseline": n_baseline, "paired": paired,
                             "ci_excludes_zero": bool(low > 0 or high < 0)})
    return pd.DataFrame(rows)


def analyse(spec: SweepSpec, summary: pd.DataFrame, measures: list[str]) -> GridAnalysis:
    """Cell means over the grid and, with two or more regimes, each regime's difference from the first.

    Failed runs are left out (and counted).
    """
    factors = grid_factors(spec)
    ok = summary[summary["status"] == "ok"].sort_values("run")
    if ok.empty:
        raise ScenarioError(f"all {len(summary)} runs in the store failed; nothing to analyse")
    regimes = list(spec.sweep.regimes)
    by = ["regime", *factors] if regimes else factors
    differences = (regime_differences(ok, measures, factors, regimes, spec.sweep.common_random_numbers)
                   if len(regimes) > 1 else None)
    return GridAnalysis(factors=factors, regimes=regimes, cells=cell_means(ok, measures, by),
                        differences=differences, failed=len(summary) - len(ok))
