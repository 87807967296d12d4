"""Global sensitivity of a sweep's results with SALib: Sobol indices (Saltelli) or Morris screening.

The indices are computed against the very sample the sweep ran (``sweep.salib_problem`` and
``sweep.design_sample``), design point by design point. With replicates, each design point's
runs are averaged first, so the indices describe the replicate mean. Every number, intervals
included, follows from the spec's seed (``bootstrap_seed``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from sim.experiments.output import markdown_table
from sim.experiments.sweep import (
    MORRIS_LEVELS,
    SOBOL_SECOND_ORDER,
    SweepSpec,
    design_sample,
    expand,
    salib_problem,
)
from sim.scenario import ScenarioError
from sim.statistics import CONFIDENCE

DESIGNS = ("sobol", "morris")
RESAMPLES = 1000  # bootstrap resamples behind SALib's confidence intervals
COLUMNS = {"sobol": ["S1", "S1_conf", "ST", "ST_conf"], "morris": ["mu_star", "mu_star_conf", "sigma", "mu"]}
INTERVALS = {"sobol": ["S1_conf", "ST_conf"], "morris": ["mu_star_conf"]}
TOO_WIDE = 0.25
"""The rule for a sample too small for the indices to mean anything, fixed before looking at any
result: a measure's indices are too uncertain when any of their 95% half-widths is more than a
quarter of the indices' range, for then an interval spans over half the range and cannot tell a
small index from a large one. The range is [0, 1] for Sobol's S1 and ST; Morris's mu* has no
fixed scale, so its range is [0, the measure's largest mu*]."""


def check_design(spec: SweepSpec, source: str | Path) -> None:
    """Refuse a spec whose design has no sensitivity analysis here (one line naming the design)."""
    if spec.sweep.design not in DESIGNS:
        raise ScenarioError(f"{source}: sweep.design = {spec.sweep.design!r}: sensitivity needs a sampled "
                            f"design; allowed: one of {', '.join(DESIGNS)}")


def point_means(spec: SweepSpec, summary: pd.DataFrame, measures: list[str]) -> pd.DataFrame:
    """Each design point's measures averaged over its replicates, indexed by (regime, point).

    Raises:
        ScenarioError: runs are missing or failed; the indices need every point of the sample.
    """
    expected = len(expand(spec))
    missing = sorted(set(range(expected)) - set(summary["run"]))
    if missing:
        raise ScenarioError(f"the store has {expected - len(missing)} of {expected} runs (missing runs "
                            f"{_some(missing)}); run the sensitivity command again to complete it")
    failed = summary[summary["status"] != "ok"]
    if len(failed):
        first = failed.iloc[0]
        raise ScenarioError(f"{len(failed)} of {expected} runs failed (runs {_some(failed['run'].tolist())}; "
                            f"run {first['run']}: {first['error']}); Sobol and Morris indices need every "
                            "point of the sample: remove the cause and sweep into a new --out")
    return summary.sort_values("run").groupby(["regime", "point"], sort=False)[measures].mean()


def _some(runs: list[int], shown: int = 10) -> str:
    text = ", ".join(str(r) for r in runs[:shown])
    return text + (f" and {len(runs) - shown} more" if len(runs) > shown else "")


def bootstrap_seed(spec: SweepSpec) -> np.random.SeedSequence:
    """The seed of SALib's bootstrap: ``SeedSequence(spec.sweep.seed)``, whatever the seed's value.

    SALib 1.6's ``sobol.analyze`` seeds its resampling only ``if seed:``, so the seed 0 would leave
    it unseeded and the intervals would change from one run to the next; a SeedSequence is never
    falsy. ``sobol.analyze`` and ``morris.analyze`` both make a fresh generator from it
    (``numpy.random.default_rng``), so every measure is resampled alike, in any order. It is the
    parent of the runs' seed sequences (``run_seed`` spawns its children), never one of them.
    """
    return np.random.SeedSequence(spec.sweep.seed)


def indices(spec: SweepSpec, summary: pd.DataFrame, measures: list[str]) -> pd.DataFrame:
    """The sensitivity indices of each measure to each parameter, per regime (tidy).

    Sobol: first-order ``S1`` and total ``ST`` with ``S1_conf`` and ``ST_conf``; Morris: ``mu_star``
    with ``mu_star_conf``, ``sigma`` and ``mu``. A ``_conf`` is the half-width of SALib's 95%
    bootstrap confidence interval. A measure that never varies has NaN indices.
    """
    from SALib.analyze import morris, sobol

    check_design(spec, "sweep spec")
    problem, sample = salib_problem(spec), design_sample(spec)
    means = point_means(spec, summary, measures)
    rows = []
    for regime, table in means.groupby(level="regime", sort=False):
        # complete and sorted by point, and expand() numbers each regime's points in the sample's
        # order: row i is the sample's row i
        for measure in measures:
            y = table[measure].to_numpy(dtype=float)
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)  # a constant measure: NaN indices
                if spec.sweep.design == "sobol":
                    found = sobol.analyze(problem, y, calc_second_order=SOBOL_SECOND_ORDER,
                                          num_resamples=RESAMPLES, conf_level=CONFIDENCE,
                                          seed=bootstrap_seed(spec))
                else:
                    found = morris.analyze(problem, sample, y, num_resamples=RESAMPLES,
                                           conf_level=CONFIDENCE, num_levels=MORRIS_LEVELS,
                                           seed=bootstrap_seed(spec))
            for i, name in enumerate(problem["names"]):
                rows.append({"regime": regime, "measure": measure, "parameter": name,
                             **{c: float(found[c][i]) for c in COLUMNS[spec.sweep.design]}})
    table = pd.DataFrame(rows)
    return table if spec.sweep.regimes else table.drop(columns="regime")


def too_uncertain(table: pd.DataFrame, design: str) -> str | None:
    """A one-line warning naming the measures whose indices the sample is too small to tell apart
    (the rule: ``TOO_WIDE``), or None if there are none.
    """
    keys = [k for k in ("regime", "measure") if k in table]
    wide, widest = [], 0.0
    for key, rows in table.groupby(keys, sort=False):
        scale = 1.0 if design == "sobol" else rows["mu_star"].max()
        share = rows[INTERVALS[design]].max().max() / scale if scale > 0 else 0.0  # NaN: constant
        if share > TOO_WIDE:
            wide.append(" / ".join(str(k) for k in (key if isinstance(key, tuple) else (key,))))
            widest = max(widest, share)
    if not wide:
        return None
    scale = "their range [0, 1]" if design == "sobol" else "the measure's largest mu*"
    return (f"the sample is too small for the indices of {', '.join(wide)} to mean much: their 95% "
            f"half-widths reach {widest:.2g} of {scale} (more than {TOO_WIDE}); more samples narrow them")


def markdown(table: pd.DataFrame, spec: SweepSpec, n_runs: int) -> str:
    """The indices as a Markdown report: what was run, how to read it, one table."""
    design = spec.sweep.design
    how = ("Sobol first-order (S1) and total (ST) indices, Saltelli's estimator" if design == "sobol"
           else "Morris elementary effects, each the change in the measure over a parameter's whole "
                "range: mu* (their mean absolute value), sigma (their spread: interactions or "
                "non-linearity) and mu (their signed mean)")
    lines = [f"# Sensitivity: {design}", "",
             f"{how}, from {n_runs} runs ({spec.sweep.samples} base samples, {spec.sweep.replicates} "
             f"replicate(s) per point averaged before the analysis, {spec.sweep.steps} months, seed "
             f"{spec.sweep.seed}). A value's +- is the half-width of SALib's {CONFIDENCE:.0%} bootstrap "
             f"confidence interval ({RESAMPLES} resamples).", ""]
    warning = too_uncertain(table, design)
    lines += [f"**Warning**: {warning}.", ""] if warning else []
    head = [c for c in table.columns if not c.endswith("_conf")]
    lines += markdown_table(head, [[cell(row, c) for c in head] for _, row in table.iterrows()])
    return "\n".join(lines) + "\n"


def cell(row: pd.Series, column: str) -> str:
    """One cell of the indices table: a value with its +- half-width where SALib gives one."""
    value = row[column]
    if isinstance(value, str):
        return value
    conf = row.get(f"{column}_conf")
    return f"{value:.3g}" if conf is None else f"{value:.3g} +- {conf:.2g}"
