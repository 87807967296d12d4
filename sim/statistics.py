"""Summaries over replicates: means with 95% confidence intervals, levels, paired and unpaired differences."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

CONFIDENCE = 0.95


def mean_ci(values: np.ndarray, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Mean and the t-based confidence interval of the mean (NaN bounds with one value)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    n = len(values)
    if n < 2:
        return mean, float("nan"), float("nan")
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * values.std(ddof=1) / np.sqrt(n)
    return mean, mean - half, mean + half


def final_and_average(runs: pd.DataFrame, measures: list[str], by: list[str]) -> tuple[pd.DataFrame,
                                                                                      pd.DataFrame]:
    """For each run (a group of ``by``): each measure in the last month and averaged over the run.

    The average leaves out month 0 (the starting state, the same for every regime).

    Args:
        runs: per-month tables with a ``month`` column, stacked.
        measures: the columns to summarise.
        by: the columns that tell one run from another.

    Returns:
        The final values and the averages, each indexed by ``by`` with a column per measure.
    """
    later = runs[runs["month"] > 0]
    groups = later.groupby(by, sort=False)
    final = later.loc[groups["month"].idxmax()].set_index(by)[measures]
    return final, groups[measures].mean()


def per_replicate(runs: pd.DataFrame, measures: list[str]) -> pd.DataFrame:
    """For each regime and replicate: each measure's final value and its average over the run."""
    final, average = final_and_average(runs, measures, ["regime", "replicate"])
    return pd.concat([final.assign(statistic="final"), average.assign(statistic="average")]).reset_index()


def levels(table: pd.DataFrame, measures: list[str]) -> pd.DataFrame:
    """Each regime's level of each measure: mean and 95% CI over replicates (long format)."""
    rows = []
    for (regime, statistic), group in table.groupby(["regime", "statistic"], sort=False):
        for measure in measures:
            mean, low, high = mean_ci(group[measure].to_numpy())
            rows.append(dict(regime=regime, measure=measure, statistic=statistic, mean=mean,
                             ci_low=low, ci_high=high, n=len(group)))
    return pd.DataFrame(rows)


def paired_differences(table: pd.DataFrame, measures: list[str], baseline: str) -> pd.DataFrame:
    """Each regime minus the baseline, replicate by replicate (same world), with 95% CIs."""
    rows = []
    base = table[table["regime"] == baseline].set_index(["statistic", "replicate"])
    for (regime, statistic), group in table.groupby(["regime", "statistic"], sort=False):
        if regime == baseline:
            continue
        group = group.set_index(["statistic", "replicate"])
        for measure in measures:
            diff = (group[measure] - base[measure]).dropna().to_numpy()
            mean, low, high = mean_ci(diff)
            rows.append(dict(regime=regime, baseline=baseline, measure=measure, statistic=statistic,
                             difference=mean, ci_low=low, ci_high=high, n=len(diff)))
    return pd.DataFrame(rows)


def welch_difference(values: np.ndarray, baseline: np.ndarray,
                     confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Difference of two independent samples' means and its Welch confidence interval.

    For groups that share no random numbers (unpaired): unequal variances, Welch-Satterthwaite
    degrees of freedom. NaN bounds when either group has fewer than two values.
    """
    values, baseline = np.asarray(values, dtype=float), np.asarray(baseline, dtype=float)
    difference = float(values.mean() - baseline.mean())
    if len(values) < 2 or len(baseline) < 2:
        return difference, float("nan"), float("nan")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # identical values: a zero-width interval
        interval = stats.ttest_ind(values, baseline, equal_var=False).confidence_interval(confidence)
    return difference, float(interval.low), float(interval.high)
