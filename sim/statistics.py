"""Summaries over replicates: means with 95% confidence intervals, levels, paired and unpaired
differences.

A measure that was undefined in a replicate (NaN: nothing to measure) is left out of that
replicate's summary, and every summary says how many replicates had a value (``n``).

Intervals: a level of a measure with bounds (a share, wellbeing, a count) gets a bootstrap
interval (bias-corrected and accelerated, from a fixed seed), which lies inside the range of the
replicates' values and so inside the measure's range; a t interval, which can reach past a bound,
is kept for unbounded measures and for differences. With few replicates the bootstrap interval is
somewhat narrower than a t interval would be.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from sim.measures import MEASURES

CONFIDENCE = 0.95
RESAMPLES = 9999       # bootstrap resamples for a table's interval
BAND_RESAMPLES = 1999  # ... for a figure's band, month by month (enough for a line drawn by eye)
BOOTSTRAP_SEED = 0     # one seed, one result: every interval is the same on every run


def present(values) -> np.ndarray:
    """The values as floats, without the NaNs (replicates where there was nothing to measure)."""
    values = np.asarray(values, dtype=float)
    return values[~np.isnan(values)]


def _sample(values) -> tuple[np.ndarray, float]:
    """The values present, and their mean (NaN with none)."""
    values = present(values)
    return values, float(values.mean()) if len(values) else np.nan


def mean_ci(values, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """Mean of the values present and the t interval of the mean (NaN bounds with fewer than two;
    all NaN with none).
    """
    values, mean = _sample(values)
    n = len(values)
    if n < 2:
        return mean, np.nan, np.nan
    half = stats.t.ppf(0.5 + confidence / 2, n - 1) * values.std(ddof=1) / np.sqrt(n)
    return mean, mean - half, mean + half


def bootstrap_ci(values, confidence: float = CONFIDENCE, resamples: int = RESAMPLES
                 ) -> tuple[float, float, float]:
    """Mean of the values present and its bootstrap interval (BCa), inside the values' range.

    Identical values give a zero-width interval; fewer than two values give NaN bounds.
    """
    values, mean = _sample(values)
    if len(values) < 2:
        return mean, np.nan, np.nan
    if np.ptp(values) == 0:
        return mean, mean, mean
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # BCa's own warnings on near-degenerate samples
        found = stats.bootstrap((values,), np.mean, confidence_level=confidence, n_resamples=resamples,
                                method="BCa", rng=np.random.default_rng(BOOTSTRAP_SEED))
    low, high = found.confidence_interval
    if not (np.isfinite(low) and np.isfinite(high)):  # BCa undefined: the plain percentile interval
        low, high = np.percentile(found.bootstrap_distribution, [50 * (1 - confidence),
                                                                 50 * (1 + confidence)])
    # inside the values' range by construction; this only removes floating-point rounding
    return mean, float(max(low, values.min())), float(min(high, values.max()))


def level_ci(measure: str, values) -> tuple[float, float, float]:
    """A measure's mean over replicates with the interval its bounds call for (see the module)."""
    known = MEASURES.get(measure)
    return bootstrap_ci(values) if known is not None and known.bounded else mean_ci(values)


def band(measure: str, table: pd.DataFrame) -> pd.DataFrame:
    """Month by month, the mean over replicates of ``table`` (month x replicate) and its 95% band,
    computed as ``level_ci`` does (bootstrap for bounded measures, inside their range).
    """
    values = table.to_numpy(dtype=float)
    known = MEASURES.get(measure)
    count = (~np.isnan(values)).sum(axis=1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # months with no value at all
        mean = np.nanmean(values, axis=1)
        if known is not None and known.bounded:
            low, high = _bootstrap_band(values)
        else:
            half = stats.t.ppf(0.5 + CONFIDENCE / 2, np.maximum(count - 1, 1)) \
                * np.nanstd(values, axis=1, ddof=1) / np.sqrt(count)
            low, high = mean - half, mean + half
    return pd.DataFrame({"month": table.index, "mean": mean, "low": low, "high": high,
                         "count": count})


def _bootstrap_band(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap bands, month by month, over the replicates that have a value.

    Months are resampled together (the same resampled replicates), as one vectorised draw; a month
    with fewer than two values has no band.
    """
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    n = values.shape[1]
    pick = rng.integers(0, n, size=(BAND_RESAMPLES, n))
    means = np.nanmean(values[:, pick], axis=2)                 # months x resamples
    tail = 50 * (1 - CONFIDENCE)
    low, high = np.nanpercentile(means, [tail, 100 - tail], axis=1)
    few = (~np.isnan(values)).sum(axis=1) < 2
    low[few] = high[few] = np.nan
    return low, high


SUMMARY_PREFIXES = ("final_", "mean_")  # a run's summary columns: final value, average over months


def summary_measure(column: str) -> str:
    """The measure a run's summary column summarises: ``final_x`` and ``mean_x`` are ``x``."""
    for prefix in SUMMARY_PREFIXES:
        if column.startswith(prefix):
            return column.removeprefix(prefix)
    return column


def final_and_average(runs: pd.DataFrame, measures: list[str], by: list[str]) -> tuple[pd.DataFrame,
                                                                                      pd.DataFrame]:
    """For each run (a group of ``by``): each measure in the last month and averaged over the run.

    The average leaves out month 0 (the starting state, the same for every regime), and months
    where the measure was undefined.

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
    """Each regime's level of each measure: mean and 95% CI over the replicates with a value
    (``n`` of them; long format).
    """
    rows = []
    for (regime, statistic), group in table.groupby(["regime", "statistic"], sort=False):
        for measure in measures:
            values = group[measure].to_numpy(dtype=float)
            mean, low, high = level_ci(measure, values)
            rows.append(dict(regime=regime, measure=measure, statistic=statistic, mean=mean,
                             ci_low=low, ci_high=high, n=len(present(values))))
    return pd.DataFrame(rows)


def paired_differences(table: pd.DataFrame, measures: list[str], baseline: str) -> pd.DataFrame:
    """Each regime minus the baseline, replicate by replicate (same world), with 95% t intervals,
    over the replicates where both had a value (``n``).
    """
    rows = []
    base = table[table["regime"] == baseline].set_index(["statistic", "replicate"])
    for (regime, statistic), group in table.groupby(["regime", "statistic"], sort=False):
        if regime == baseline:
            continue
        group = group.set_index(["statistic", "replicate"])
        for measure in measures:
            diff = (group[measure] - base[measure]).dropna().to_numpy(dtype=float)
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
    values, baseline = present(values), present(baseline)
    if len(values) == 0 or len(baseline) == 0:
        return np.nan, np.nan, np.nan
    difference = float(values.mean() - baseline.mean())
    if len(values) < 2 or len(baseline) < 2:
        return difference, float("nan"), float("nan")
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # identical values: a zero-width interval
        interval = stats.ttest_ind(values, baseline, equal_var=False).confidence_interval(confidence)
    return difference, float(interval.low), float(interval.high)
