"""Figures: one run over time, regimes compared with mean lines and 95% bands, sweeps (sensitivity
indices, heatmaps over a grid, lines over one parameter) and the validation checks' figures.

Figures sit on top of the model and the experiments: this module imports neither (only the
statistics it draws), so experiments can hand it their data.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import textwrap  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.measures import MEASURES  # noqa: E402
from sim.scenario import field_label  # noqa: E402
from sim.statistics import CONFIDENCE, band, mean_ci, summary_measure  # noqa: E402

COMPARE_MEASURES = ["mean_wellbeing", "hardest_wellbeing", "commissioner_knowledge",
                    "system_knowledge", "goodhart_gap", "parked_share_hardest"]
RUN_PANELS = {  # panel title: measures on one scale
    "Outcomes": ["mean_wellbeing", "hardest_wellbeing"],
    "Knowledge": ["commissioner_knowledge", "provider_knowledge", "system_knowledge"],
    "Accountability": ["measure_value", "true_outcome", "goodhart_gap"],
    "Citizens": ["waiting", "served", "parked"],
}


def label(measure: str) -> str:
    """A measure's human name (its name if it is not a measure of the model)."""
    known = MEASURES.get(measure)
    return known.label if known else measure


def axis_label(measure: str, width: int = 42) -> str:
    """A y-axis label: the measure's unit, wrapped to ``width`` characters."""
    known = MEASURES.get(measure)
    return textwrap.fill(known.unit if known and known.unit else measure, width)


def summary_label(column: str) -> str:
    """A sweep summary column's label: the measure's label and which statistic of the run."""
    which = {"final_": "final month", "mean_": "average over the run"}
    for prefix, words in which.items():
        if column.startswith(prefix):
            return f"{label(summary_measure(column))} ({words})"
    return column


def _finish(fig, path: str | Path | None, legend_room: float = 0.0):
    """Lay out ``fig`` (leaving ``legend_room`` of its height at the bottom for a figure legend),
    save it to ``path`` if one is given and close it; returns it.
    """
    fig.tight_layout(rect=(0, legend_room, 1, 1))
    if path is not None:
        fig.savefig(path, dpi=120)
        plt.close(fig)
    return fig


def plot_run(results: pd.DataFrame, path: str | Path | None = None, title: str = ""):
    """Outcomes, knowledge, accountability and citizens' states over one run, a panel each, each
    with its unit and the legend of its own lines.
    """
    fig, axes = plt.subplots(2, 2, figsize=(11.5, 7.5), sharex=True)
    for ax, (panel, columns) in zip(axes.flat, RUN_PANELS.items(), strict=True):
        for column in columns:
            ax.plot(results["month"], results[column], label=textwrap.fill(label(column), 40))
        ax.set_title(panel)
        ax.set_ylabel(axis_label(columns[0]), fontsize=8)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("month")
    if title:
        fig.suptitle(title)
    return _finish(fig, path)


def bands(runs: pd.DataFrame, measure: str) -> pd.DataFrame:
    """Per regime and month: the mean over replicates and its 95% band (``statistics.band``:
    inside the measure's range where it has one).
    """
    frames = []
    for regime, rows in runs.groupby("regime", sort=False):
        table = rows.pivot_table(index="month", columns="replicate", values=measure, dropna=False)
        frames.append(band(measure, table).assign(regime=regime))
    return pd.concat(frames, ignore_index=True)


def plot_comparison(runs: pd.DataFrame, path: str | Path | None = None,
                    measures: list[str] | None = None, title: str = ""):
    """Regimes compared over time: mean line and 95% band over replicates, a colour per regime,
    one legend for the figure.
    """
    measures = measures or COMPARE_MEASURES
    ncols = 3
    nrows = -(-len(measures) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.4 * ncols, 3.5 * nrows + 0.9), sharex=True,
                             squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    n_reps = runs.groupby("regime")["replicate"].nunique().min()
    for ax, measure in zip(axes.flat, measures, strict=False):
        for i, (regime, rows) in enumerate(bands(runs, measure).groupby("regime", sort=False)):
            colour = colours[i % len(colours)]
            ax.plot(rows["month"], rows["mean"], color=colour, label=regime)
            ax.fill_between(rows["month"], rows["low"], rows["high"], color=colour, alpha=0.2)
        ax.set_title(textwrap.fill(label(measure), 44), fontsize=9)
        ax.set_ylabel(axis_label(measure, 36), fontsize=8)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(measures):]:
        ax.set_visible(False)
    for ax in axes[-1]:
        ax.set_xlabel("month")
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncols=min(len(names), 4), fontsize=9,
               frameon=False)
    heading = f"Mean and {CONFIDENCE:.0%} confidence band over {n_reps} paired replicates"
    fig.suptitle(f"{title}\n{heading}" if title else heading, fontsize=10)
    return _finish(fig, path, legend_room=0.06)


def _panels(n: int, width: float, height: float, ncols: int = 3):
    """A figure of ``n`` panels of ``width`` x ``height`` inches, ``ncols`` a row; the axes, flat."""
    ncols = min(n, ncols)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(width * ncols, height * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, axes.flat


def _tick(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _heatmap(ax, table: pd.DataFrame, x: str, y: str, value: str, order: dict[str, list], **style):
    """One grid of ``value`` over ``x`` (across) and ``y`` (up); returns the image and the grid."""
    grid = table.pivot(index=y, columns=x, values=value).reindex(index=order[y], columns=order[x])
    image = ax.imshow(grid.to_numpy(dtype=float), origin="lower", aspect="auto", **style)
    ax.set_xticks(range(len(order[x])), [_tick(v) for v in order[x]])
    ax.set_yticks(range(len(order[y])), [_tick(v) for v in order[y]])
    ax.set_xlabel(textwrap.fill(field_label(x), 40), fontsize=8)
    ax.set_ylabel(textwrap.fill(field_label(y), 30), fontsize=8)
    return image, grid


def _levels(table: pd.DataFrame, factors: list[str]) -> dict[str, list]:
    return {f: list(pd.unique(table[f])) for f in factors}


def _better(column: str) -> str | None:
    known = MEASURES.get(summary_measure(column))
    return known.better if known else None


def _cell_font(grid_cells: int) -> float:
    """A cell's font size that keeps its text inside the cell, for grids of ``grid_cells``."""
    return max(5.0, min(8.0, 40.0 / max(grid_cells, 1) ** 0.5))


def plot_grid_means(cells: pd.DataFrame, factors: list[str], path: str | Path | None = None):
    """Heatmaps of each measure's cell mean over two parameters: a column per measure, a row per regime.

    A measure's panels share one colour scale, so regimes can be compared by eye; the scale runs
    from worse (dark) to better (bright) for measures where higher or lower is better.
    """
    x, y = factors
    regimes = list(pd.unique(cells["regime"])) if "regime" in cells else [None]
    measures = list(pd.unique(cells["measure"]))
    fig, axes = plt.subplots(len(regimes), len(measures), figsize=(4.8 * len(measures), 4.0 * len(regimes)),
                             squeeze=False)
    order = _levels(cells, factors)
    font = _cell_font(len(order[x]) * len(order[y]))
    for col, measure in enumerate(measures):
        of = cells[cells["measure"] == measure]
        cmap = "viridis_r" if _better(measure) == "lower" else "viridis"
        for row, regime in enumerate(regimes):
            ax = axes[row, col]
            table = of if regime is None else of[of["regime"] == regime]
            image, grid = _heatmap(ax, table, x, y, "mean", order, cmap=cmap,
                                   vmin=of["mean"].min(), vmax=of["mean"].max())
            for (i, j), v in pd.DataFrame(grid.to_numpy()).stack().items():
                shade = image.norm(v) if cmap == "viridis" else 1 - image.norm(v)
                ax.text(j, i, f"{v:.3g}", ha="center", va="center", fontsize=font,
                        color="white" if shade < 0.6 else "black")
            bar = fig.colorbar(image, ax=ax, shrink=0.8)
            bar.set_label(_scale_label(measure), fontsize=7)
            ax.set_title(textwrap.fill(summary_label(measure), 46) + (f"\n{regime}" if regime else ""),
                         fontsize=8)
    fig.suptitle(f"Cell means over up to {int(cells['n'].max())} replicates")
    return _finish(fig, path)


def _scale_label(column: str) -> str:
    better = _better(column)
    text = axis_label(summary_measure(column), 30)
    return f"{text}\n({better} is better)" if better else text


def plot_grid_differences(differences: pd.DataFrame, factors: list[str], path: str | Path | None = None):
    """Heatmaps of each regime's difference from the baseline per cell, with its 95% interval.

    Blue means the regime does better than the baseline and red worse, whichever way is better for
    the measure (for a measure where neither is, blue is higher); cells whose interval excludes zero
    are outlined and their text is bold.
    """
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.patches import Rectangle

    x, y = factors
    panels = list(differences.groupby(["regime", "measure"], sort=False))
    order = _levels(differences, factors)
    cells = len(order[x]) * len(order[y])
    font = _cell_font(cells)
    width = max(5.0, 1.45 * len(order[x]) + 1.8)
    fig, axes = _panels(len(panels), width, max(4.2, 1.1 * len(order[y]) + 1.8))
    for ax, ((regime, measure), table) in zip(axes, panels, strict=False):
        reach = float(table["difference"].abs().max()) or 1.0
        cmap = "RdBu_r" if _better(measure) == "lower" else "RdBu"
        image, _ = _heatmap(ax, table, x, y, "difference", order, cmap=cmap,
                            norm=TwoSlopeNorm(0.0, -reach, reach))
        for _, row in table.iterrows():
            j, i = order[x].index(row[x]), order[y].index(row[y])
            strong = row["ci_excludes_zero"]
            ax.text(j, i, f"{row['difference']:+.2g}\n[{row['ci_low']:.2g}, {row['ci_high']:.2g}]",
                    ha="center", va="center", fontsize=font, fontweight="bold" if strong else "normal",
                    color="white" if abs(image.norm(row["difference"]) - 0.5) > 0.35 else "black")
            if strong:
                ax.add_patch(Rectangle((j - 0.47, i - 0.47), 0.94, 0.94, fill=False, linewidth=2))
        bar = fig.colorbar(image, ax=ax, shrink=0.8)
        bar.set_label(_scale_label(measure), fontsize=7)
        ax.set_title(f"{textwrap.fill(summary_label(measure), 46)}\n{regime} - {table['baseline'].iloc[0]}",
                     fontsize=8)
    n, n_base = int(differences["n"].min()), int(differences["n_baseline"].min())
    if differences["paired"].all():
        how = (f"Mean of paired differences, {CONFIDENCE:.0%} t interval\n"
               f"{n} replicates, common random numbers")
    else:
        how = (f"Difference of cell means, {CONFIDENCE:.0%} Welch interval\n"
               f"{n} and {n_base} runs, unpaired: every run has its own seed")
    fig.suptitle(f"{how}\nblue: better than the baseline; outlined: the interval excludes 0", fontsize=9)
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
        ax.set_xlabel(textwrap.fill(field_label(factor), 40), fontsize=8)
        ax.set_ylabel(axis_label(summary_measure(measure), 36), fontsize=8)
        ax.set_title(textwrap.fill(summary_label(measure), 46), fontsize=8)
        ax.grid(alpha=0.3)
    if "regime" in cells:
        handles, names = axes[0].get_legend_handles_labels()
        fig.legend(handles, names, loc="lower center", ncols=min(len(names), 4), fontsize=8,
                   frameon=False)
    fig.suptitle(f"Mean and {CONFIDENCE:.0%} confidence band over up to {int(cells['n'].max())} replicates")
    return _finish(fig, path, legend_room=0.07 if "regime" in cells else 0.0)


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
        ax.set_yticks(list(y), [textwrap.fill(field_label(p), 34) for p in rows["parameter"]], fontsize=7)
        ax.set_xlabel("index: share of the measure's variance" if design == "sobol"
                      else f"elementary effect ({axis_label(summary_measure(key[-1]), 40)})", fontsize=8)
        ax.invert_yaxis()
        ax.axvline(0, color="black", linewidth=0.6)
        ax.set_title(textwrap.fill(" / ".join([*key[:-1], summary_label(key[-1])]), 60), fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="upper right", fontsize=8)
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
        for arm, rows in bands(frame, measure).groupby("regime", sort=False):
            ax.plot(rows["month"], rows["mean"], label=arm)
            ax.fill_between(rows["month"], rows["low"], rows["high"], alpha=0.2)
        ax.set_title(textwrap.fill(label(measure), 48), fontsize=9)
        ax.set_ylabel(axis_label(measure), fontsize=8)
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


def plot_pooled(runs: pd.DataFrame, pool_size: int, doublings: pd.DataFrame, by_size: pd.DataFrame,
                slopes: pd.Series, reference: tuple[float, float, float], agreement: float):
    """What the pooled-learning check reads, a panel per rule.

    Args:
        runs: the pooled and the isolated arm at M = ``pool_size``, every replicate and month.
        pool_size: M of ``runs``.
        doublings: pooled / isolated regret per replicate over each doubling of time (replicate x
            the window's last month); the last column is finding (a)'s.
        by_size: the last doubling's ratio per replicate at each pool size (replicate x M).
        slopes: per replicate, the slope of log(ratio) on log(M) (finding (b)).
        reference: the matched textbook's ratio of months 2..T with its 95% interval (finding (c)).
        agreement: the factor within which finding (c) asks the model to agree with it.
    """
    runs = runs[runs["month"] >= 1]
    after = runs.assign(regret=runs["provider_regret"] - runs.groupby(
        ["regime", "replicate"])["provider_regret"].transform("first"))
    fig, ((ax, ax_doubling), (ax_size, ax_ratio)) = plt.subplots(2, 2, figsize=(11, 8.6))
    for arm, rows in bands(after, "regret").groupby("regime", sort=False):
        ax.plot(rows["month"], rows["mean"], label=arm)
        ax.fill_between(rows["month"], rows["low"], rows["high"], alpha=0.2)
    ax.set_xscale("log")
    ax.set_xlabel("month (log scale)")
    ax.set_ylabel("cumulative regret per provider after month 1 (GBP)")
    ax.set_title(f"(a) Regret, M = {pool_size} (95% bands): log n is a straight line", fontsize=10)
    ax.legend(fontsize=8)

    _pool_range(ax_doubling, pool_size)
    ends = doublings.columns.to_numpy()
    centres = np.sqrt(ends * (ends // 2))  # the middle of each window on the log scale
    _mean_bars(ax_doubling, centres, doublings, "mean over replicates (95% CI)")
    last = doublings[ends[-1]]
    ax_doubling.plot(np.full(len(last), centres[-1]), last, "k.", alpha=0.4,
                     label="replicates, last doubling (the finding)")
    ax_doubling.set_xscale("log")
    ax_doubling.set_xticks(centres, [f"{end // 2 + 1}-{end}" for end in ends], fontsize=7)
    ax_doubling.minorticks_off()
    ax_doubling.set_xlabel("months (each window a doubling of time)")
    ax_doubling.set_ylabel("pooled / isolated regret accrued in the window")
    ax_doubling.set_title("(a) Regret accrued per doubling of time, pooled / isolated", fontsize=10)
    ax_doubling.legend(fontsize=7)

    sizes = by_size.columns.to_numpy(dtype=float)
    ax_size.fill_between(sizes, 1 / sizes, sizes ** -0.5, color="grey", alpha=0.15,
                         label="1/M (slope -1) to 1/sqrt(M) (slope -1/2)")
    _mean_bars(ax_size, sizes, by_size, "mean over replicates (95% CI)")
    # the two slopes through the middle of the data, to read the slope apart from the level
    centre_x, centre_y = np.log(sizes).mean(), np.log(by_size.mean().to_numpy()).mean()
    for slope, style in ((-1.0, "--"), (-0.5, ":")):
        ax_size.plot(sizes, np.exp(centre_y + slope * (np.log(sizes) - centre_x)), "k" + style,
                     lw=0.8, label=f"slope {slope:g}")
    ax_size.set_xscale("log")
    ax_size.set_yscale("log")
    ax_size.set_xticks(sizes, [f"{m:g}" for m in sizes])
    ax_size.minorticks_off()
    ax_size.set_xlabel("M, providers pooling (log scale)")
    ax_size.set_ylabel("pooled / isolated regret, last doubling (log scale)")
    slope = "{:.2f} [{:.2f}, {:.2f}]".format(*mean_ci(slopes))
    ax_size.set_title(f"(b) Against M: slope of log ratio on log M {slope}", fontsize=10)
    ax_size.legend(fontsize=7)

    per_replicate = after[after["month"] >= 2].pivot(index=["month", "replicate"],
                                                      columns="regime", values="regret")
    ratio = (per_replicate["pooled"] / per_replicate["isolated"]).rename("ratio").reset_index()
    rows = bands(ratio.assign(regime="pooled / isolated"), "ratio")
    ax_ratio.plot(rows["month"], rows["mean"], label="model, mean over replicates (95% band)")
    ax_ratio.fill_between(rows["month"], rows["low"], rows["high"], alpha=0.2)
    _pool_range(ax_ratio, pool_size)
    horizon = rows["month"].max()
    value, low, high = reference
    ax_ratio.errorbar([horizon], [value], [[value - low], [high - value]], fmt="s", color="C3",
                      capsize=3, label="matched textbook Thompson sampling (95% CI)")
    ax_ratio.fill_between([horizon * 0.7, horizon], value / agreement, value * agreement,
                          color="C3", alpha=0.15, label=f"within a factor {agreement:g} of it")
    ax_ratio.set_xscale("log")
    ax_ratio.set_xlabel("month (log scale)")
    ax_ratio.set_ylabel("pooled / isolated cumulative regret after month 1")
    ax_ratio.set_title("(c) Cumulative ratio against the matched textbook", fontsize=10)
    ax_ratio.legend(fontsize=7)
    return fig


def _pool_range(ax, pool_size: int) -> None:
    """The range 1/M to 1/sqrt(M) as a grey band across ``ax``."""
    ax.axhspan(1 / pool_size, 1 / np.sqrt(pool_size), color="grey", alpha=0.15,
               label=f"1/M to 1/sqrt(M), M = {pool_size}")


def _mean_bars(ax, x: np.ndarray, table: pd.DataFrame, label: str) -> None:
    """Each column's mean over the rows with its 95% t interval (``mean_ci``), at ``x``."""
    mean, low, high = np.array([mean_ci(table[column]) for column in table.columns]).T
    ax.errorbar(x, mean, [mean - low, high - mean], fmt="o-", capsize=3, label=label)
