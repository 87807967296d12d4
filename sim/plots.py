"""Figures: one run over time, and regimes compared with mean lines and 95% bands."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

from sim.experiments.statistics import CONFIDENCE  # noqa: E402

LABELS = {
    "mean_wellbeing": "Mean true wellbeing",
    "hardest_wellbeing": "Wellbeing, hardest to help",
    "equity_gap": "Equity gap (lightest - hardest)",
    "commissioner_knowledge": "Commissioner knowledge",
    "provider_knowledge": "Mean provider knowledge",
    "system_knowledge": "System knowledge",
    "goodhart_gap": "Goodhart gap (measure - truth)",
    "parked_share_hardest": "Hardest to help: share parked",
    "refused_hardest": "Hardest to help refused / month",
    "wellbeing_per_1000": "Wellbeing gained per GBP 1,000",
    "measure_value": "Paid-for measure (reported)",
    "true_outcome": "Same threshold on true wellbeing",
    "gaming_rate": "Share of outcome reports false",
    "waiting": "Waiting", "served": "Served", "parked": "Parked",
    "spend": "Spend per month (GBP)", "mean_trust": "Mean trust",
}
COMPARE_MEASURES = ["mean_wellbeing", "hardest_wellbeing", "commissioner_knowledge",
                    "system_knowledge", "goodhart_gap", "parked_share_hardest"]
RUN_PANELS = {
    "Outcomes": ["mean_wellbeing", "hardest_wellbeing"],
    "Knowledge (decision quality)": ["commissioner_knowledge", "provider_knowledge",
                                     "system_knowledge"],
    "Accountability": ["measure_value", "true_outcome", "goodhart_gap"],
    "Citizens": ["waiting", "served", "parked"],
}


def _finish(fig, path: str | Path | None):
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig


def plot_run(results: pd.DataFrame, path: str | Path | None = None, title: str = ""):
    """Outcomes, knowledge, accountability and citizens' states over one run."""
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    for ax, (panel, columns) in zip(axes.flat, RUN_PANELS.items(), strict=True):
        for column in columns:
            ax.plot(results["month"], results[column], label=LABELS.get(column, column))
        ax.set_title(panel)
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("month")
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def bands(runs: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Per regime and month: the mean over replicates and its 95% confidence band."""
    g = runs.groupby(["regime", "month"], sort=False)[measure]
    out = g.agg(["mean", "std", "count"]).reset_index()
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, (out["count"] - 1).clip(lower=1)) * out["std"].fillna(0) \
        / out["count"] ** 0.5
    return out.assign(low=out["mean"] - half, high=out["mean"] + half)


def plot_comparison(runs: pd.DataFrame, path: str | Path | None = None,
                    measures: list[str] | None = None):
    """Regimes compared over time: mean line and 95% band over replicates, a colour per regime."""
    measures = measures or COMPARE_MEASURES
    ncols = 3
    nrows = -(-len(measures) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.3 * nrows), sharex=True,
                             squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    n_reps = runs.groupby("regime")["replicate"].nunique().min()
    for ax, measure in zip(axes.flat, measures, strict=False):
        for i, (regime, band) in enumerate(bands(runs, measure).groupby("regime", sort=False)):
            colour = colours[i % len(colours)]
            ax.plot(band["month"], band["mean"], color=colour, label=regime)
            ax.fill_between(band["month"], band["low"], band["high"], color=colour, alpha=0.2)
        ax.set_title(LABELS.get(measure, measure), fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(measures):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("month")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"Mean and {CONFIDENCE:.0%} confidence band over {n_reps} paired replicates")
    return _finish(fig, path)
