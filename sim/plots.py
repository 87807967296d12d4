"""Figures: one run over time, regimes compared with mean lines and 95% bands, sweeps (sensitivity
indices, heatmaps over a grid, lines over one parameter) and the validation checks' figures.

Figures sit on top of the model and the experiments: this module imports neither (only the
statistics it draws), so experiments can hand it their data.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

from sim.statistics import CONFIDENCE  # noqa: E402

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


def summary_label(column: str) -> str:
    """A sweep summary column's label: the measure's label and which statistic of the run."""
    for prefix, which in (("final_", "final month"), ("mean_", "average over the run")):
        if column.startswith(prefix):
            measure = column.removeprefix(prefix)
            return f"{LABELS.get(measure, measure)} ({which})"
    return column


def _panels(n: int, width: float, height: float, ncols: int = 3):
    """A figure of ``n`` panels of ``width`` x ``height`` inches, ``ncols`` a row; the axes, flat."""
    ncols = min(n, ncols)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def _heatmap(ax, table: pd.DataFrame, x: str, y: str, value: str, order: dict[str, list], **style):
    """One grid of ``value`` over ``x`` (across) and ``y`` (up); returns the image and the grid."""
    grid = table.pivot(index=y, columns=x, values=value).reindex(index=order[y], columns=order[x])
    image = ax.imshow(grid.to_numpy(dtype=float), origin="lower", aspect="auto", **style)
    ax.set_xticks(range(len(order[x])), [f"{v:g}" if isinstance(v, float) else str(v) for v in order[x]])
    ax.set_yticks(range(len(order[y])), [f"{v:g}" if isinstance(v, float) else str(v) for v in order[y]])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    return image, grid


def _levels(table: pd.DataFrame, factors: list[str]) -> dict[str, list]:
    return {f: list(pd.unique(table[f])) for f in factors}


def plot_grid_means(cells: pd.DataFrame, factors: list[str], path: str | Path | None = None):
    """Heatmaps of each measure's cell mean over two parameters: a column per measure, a row per regime.

    A measure's panels share one colour scale, so regimes can be compared by eye.
    """
    x, y = factors
    regimes = list(pd.unique(cells["regime"])) if "regime" in cells else [None]
    measures = list(pd.unique(cells["measure"]))
    fig, axes = plt.subplots(len(regimes), len(measures), figsize=(4.6 * len(measures), 3.8 * len(regimes)),
                             squeeze=False)
    order = _levels(cells, factors)
    for col, measure in enumerate(measures):
        of = cells[cells["measure"] == measure]
        for row, regime in enumerate(regimes):
            ax = axes[row, col]
            table = of if regime is None else of[of["regime"] == regime]
            image, grid = _heatmap(ax, table, x, y, "mean", order, cmap="viridis",
                                   vmin=of["mean"].min(), vmax=of["mean"].max())
            for (i, j), v in pd.DataFrame(grid.to_numpy()).stack().items():
                ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=8,
                        color="white" if image.norm(v) < 0.6 else "black")
            fig.colorbar(image, ax=ax, shrink=0.8)
            ax.set_title(summary_label(measure) + (f"\n{regime}" if regime else ""), fontsize=9)
    fig.suptitle(f"Cell means over up to {int(cells['n'].max())} replicates")
    return _finish(fig, path)


def plot_grid_differences(differences: pd.DataFrame, factors: list[str], path: str | Path | None = None):
    """Heatmaps of each regime's difference from the baseline per cell, with its 95% interval.

    Cells whose interval excludes zero are outlined and their text is bold.
    """
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.patches import Rectangle

    x, y = factors
    panels = list(differences.groupby(["regime", "measure"], sort=False))
    fig, axes = _panels(len(panels), 5.0, 4.2)
    order = _levels(differences, factors)
    for ax, ((regime, measure), table) in zip(axes, panels, strict=False):
        reach = float(table["difference"].abs().max()) or 1.0
        image, _ = _heatmap(ax, table, x, y, "difference", order, cmap="RdBu",
                            norm=TwoSlopeNorm(0.0, -reach, reach))
        for _, row in table.iterrows():
            j, i = order[x].index(row[x]), order[y].index(row[y])
            strong = row["ci_excludes_zero"]
            ax.text(j, i, f"{row['difference']:+.3g}\n[{row['ci_low']:.2g}, {row['ci_high']:.2g}]",
                    ha="center", va="center", fontsize=8, fontweight="bold" if strong else "normal",
                    color="white" if abs(image.norm(row["difference"]) - 0.5) > 0.35 else "black")
            if strong:
                ax.add_patch(Rectangle((j - 0.47, i - 0.47), 0.94, 0.94, fill=False, linewidth=2))
        fig.colorbar(image, ax=ax, shrink=0.8)
        ax.set_title(f"{summary_label(measure)}\n{regime} - {table['baseline'].iloc[0]}", fontsize=9)
    n, n_base = int(differences["n"].min()), int(differences["n_baseline"].min())
    if differences["paired"].all():
        how = (f"Mean of paired differences, {CONFIDENCE:.0%} t interval\n"
               f"{n} replicates, common random numbers")
    else:
        how = (f"Difference of cell means, {CONFIDENCE:.0%} Welch interval\n"
               f"{n} and {n_base} runs, unpaired: every run has its own seed")
    fig.suptitle(f"{how}\noutlined: the interval excludes 0", fontsize=9)
    return _finish(fig, path)


def plot_lines(cells: pd.DataFrame, factor: str, path: str | Path | None = None):
    """Each measure's cell mean over one parameter with its 95% band, a line per regime."""
    measures = list(pd.unique(cells["measure"]))
    fig, axes = _panels(len(measures), 4.4, 3.4)
    levels = list(pd.unique(cells[factor]))
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in levels)
    groups = cells.groupby("regime", sort=False) if "regime" in cells else [("", cells)]
    for ax, measure in zip(axes, measures, strict=False):
        for regime, table in groups:
            rows = table[table["measure"] == measure]
            at = rows[factor] if numeric else [levels.index(v) for v in rows[factor]]
            line, = ax.plot(at, rows["mean"], marker="o", label=regime or None)
            ax.fill_between(at, rows["ci_low"], rows["ci_high"], color=line.get_color(), alpha=0.2)
        if not numeric:
            ax.set_xticks(range(len(levels)), [str(v) for v in levels])
        ax.set_xlabel(factor)
        ax.set_title(summary_label(measure), fontsize=9)
        ax.grid(alpha=0.3)
    if "regime" in cells:
        axes[0].legend(fontsize=8)
    fig.suptitle(f"Mean and {CONFIDENCE:.0%} confidence band over up to {int(cells['n'].max())} replicates")
    return _finish(fig, path)


def plot_sensitivity(table: pd.DataFrame, design: str, path: str | Path | None = None):
    """Sensitivity indices per parameter, a panel per measure (and regime), with SALib's CIs as bars.

    Sobol: S1 and ST side by side; Morris: mu* (with its interval) beside sigma.
    """
    first, second = ("S1", "ST") if design == "sobol" else ("mu_star", "sigma")
    panels = list(table.groupby(["regime", "measure"] if "regime" in table else ["measure"], sort=False))
    fig, axes = _panels(len(panels), 6.5, 1.4 + 0.5 * table["parameter"].nunique(), ncols=2)
    for ax, (key, rows) in zip(axes, panels, strict=False):
        y = range(len(rows))
        for offset, column in ((-0.2, first), (0.2, second)):
            conf = rows.get(f"{column}_conf")
            ax.barh([i + offset for i in y], rows[column], height=0.4, label=column,
                    xerr=None if conf is None else conf, capsize=3)
        ax.set_yticks(list(y), rows["parameter"], fontsize=8)
        ax.invert_yaxis()
        ax.axvline(0, color="black", linewidth=0.6)
        ax.set_title(" / ".join([*key[:-1], summary_label(key[-1])]), fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{'Sobol indices' if design == 'sobol' else 'Morris screening'}; "
                 f"error bars: SALib's {CONFIDENCE:.0%} bootstrap intervals")
    return _finish(fig, path)


# --- validation figures ---------------------------------------------------------------------------

def save_figure(fig, path: str | Path, dpi: int = 120) -> None:
    """Lay out ``fig``, write it to ``path`` and close it."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    plt.close(fig)


def plot_arm_panels(panels: list[tuple[pd.DataFrame, str]]):
    """A panel per (runs, measure): each arm's mean over replicates with its 95% band, over time."""
    fig, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 4.2), squeeze=False)
    for ax, (frame, measure) in zip(axes[0], panels, strict=True):
        for arm, band in bands(frame, measure).groupby("regime", sort=False):
            ax.plot(band["month"], band["mean"], label=arm)
            ax.fill_between(band["month"], band["low"], band["high"], alpha=0.2)
        ax.set_title(measure)
        ax.set_xlabel("month")
        ax.legend(fontsize=7)
    return fig


def plot_multitask(table: pd.DataFrame):
    """Each served case's effort on the measured and an unmeasured domain against its payment
    weight ``a``, with the Holmstrom-Milgrom closed form as black lines.
    """
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for d, group in table.groupby("substitution"):
        group = group.sort_values("a")
        ax.scatter(group["a"], group["measured"], s=6, label=f"model, measured (d={d:g})")
        ax.scatter(group["a"], group["unmeasured"], s=6, label=f"model, unmeasured (d={d:g})")
        ax.plot(group["a"], group["hm_measured"], "k-", lw=0.8)
        ax.plot(group["a"], group["hm_unmeasured"], "k--", lw=0.8)
    ax.set_xlabel("payment per unit effort on the measured domain, a (GBP)")
    ax.set_ylabel("effort per case-month")
    ax.set_title("Effort against the closed form (black lines)")
    ax.legend(fontsize=7)
    return fig


def plot_pooled(runs: pd.DataFrame, pool_size: int):
    """Pooled against isolated learners: cumulative regret after month 1 with 95% bands, and the
    ratio of the two per replicate against the range 1/M to 1/sqrt(M).
    """
    runs = runs[runs["month"] >= 1]
    after = runs.assign(regret=runs["provider_regret"] - runs.groupby(
        ["regime", "replicate"])["provider_regret"].transform("first"))
    fig, (ax, ax_ratio) = plt.subplots(1, 2, figsize=(11, 4.5))
    for arm, band in bands(after, "regret").groupby("regime", sort=False):
        ax.plot(band["month"], band["mean"], label=arm)
        ax.fill_between(band["month"], band["low"], band["high"], alpha=0.2)
    ax.set_xscale("log")
    ax.set_xlabel("month (log scale)")
    ax.set_ylabel("cumulative regret per provider after month 1 (GBP)")
    ax.set_title("Regret, pooled against isolated learners (95% bands)")
    ax.legend()
    per_replicate = after[after["month"] >= 2].pivot(index=["month", "replicate"],
                                                      columns="regime", values="regret")
    ratio = (per_replicate["pooled"] / per_replicate["isolated"]).rename("ratio").reset_index()
    band = bands(ratio.assign(regime="pooled / isolated"), "ratio")
    ax_ratio.plot(band["month"], band["mean"], label="pooled / isolated")
    ax_ratio.fill_between(band["month"], band["low"], band["high"], alpha=0.2)
    ax_ratio.axhspan(1 / pool_size, 1 / np.sqrt(pool_size), color="grey", alpha=0.15,
                     label=f"1/M to 1/sqrt(M), M = {pool_size}")
    ax_ratio.set_xscale("log")
    ax_ratio.set_xlabel("month (log scale)")
    ax_ratio.set_ylabel("ratio of cumulative regret")
    ax_ratio.set_title("Pooled over isolated regret, per replicate (95% band)")
    ax_ratio.legend(fontsize=8)
    return fig
