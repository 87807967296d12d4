"""The dashboard's figures, drawn with matplotlib from the runs.

A view says how many panels it needs and paints the runs into them. Its figure is made once
(a ``Canvas``) and repainted after every step: making a figure and its axes anew costs more than
drawing it, and the page redraws the open view every month. ``draw`` paints a view on a new
figure, for use outside the page (the tests call it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from sim.dashboard import measures as m
from sim.dashboard.pair import Pair

COLOURS = ("#d95f02", "#1b6fb0")
"""Regime A orange, regime B blue, in every view."""

SEGMENT_SHADES = colormaps["YlGnBu"]
"""Segments from light (lightest need) to dark (hardest to help)."""

Results = Mapping[int, pd.DataFrame]
Labels = Mapping[int, str]


@dataclass(frozen=True)
class View:
    """One tab of the page.

    Attributes:
        title: the tab's name.
        what: what the view shows and how to read it, in a sentence or two.
        panels: the grid of panels (rows, columns) for one or two regimes.
        paint: draws the runs of a pair into those panels.
        numbers: the measures whose latest values the view lists under its figure.
        by_month: the panels share a month axis.
        height: of a row of panels, in inches.
        top: room above the panels for their titles (and a key), in inches.
    """

    title: str
    what: str
    panels: Callable[[int], tuple[int, int]]
    paint: Callable[[np.ndarray, Pair], None]
    numbers: tuple[m.Measure, ...]
    by_month: bool = True
    height: float = 2.6
    top: float = 0.35


class Canvas:
    """A view's figure, made once and repainted as the months pass.

    Args:
        view: what to draw.
        regimes: how many regimes run (1 or 2).
    """

    def __init__(self, view: View, regimes: int) -> None:
        self.view = view
        rows, cols = view.panels(regimes)
        inches = view.height * rows + view.top + 0.15
        self.figure = Figure(figsize=(11.0, inches), dpi=72)
        # fixed margins rather than a layout engine: laying out takes longer than drawing
        self.figure.subplots_adjust(left=0.07, right=0.99, bottom=0.5 / inches + 0.06,
                                    top=1 - view.top / inches, wspace=0.25, hspace=0.5)
        self.axes = self.figure.subplots(rows, cols, sharex=view.by_month, squeeze=False)
        for ax in self.axes.flat:
            ax.locator_params(nbins=4)  # small panels: fewer ticks read better and draw faster
        if view.by_month:
            for ax in self.axes[-1]:
                ax.set_xlabel("month")

    def paint(self, pair: Pair) -> Figure:
        """The figure with the pair's runs as they are now."""
        for legend in list(self.figure.legends):
            legend.remove()
        for ax in self.axes.flat:
            clear(ax)
        self.view.paint(self.axes, pair)
        if self.view.by_month:  # at least a year, so that the first months do not fill the width
            self.axes[0, 0].set_xlim(0, max(pair.month, 12))
        return self.figure


def clear(ax) -> None:
    """Remove what a panel plots, keeping the panel (its axes, ticks and labels)."""
    for container in list(ax.containers):
        container.remove()
    for artist in [*ax.lines, *ax.collections, *ax.patches, *ax.texts, *ax.images]:
        artist.remove()
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    ax.relim()  # forget the old data's extent


def draw(view: View, pair: Pair) -> Figure:
    """A view of a pair's runs on a figure of its own."""
    return Canvas(view, len(pair.runs)).paint(pair)


# --- views over the months -------------------------------------------------------------------------

def lines(ax, results: Results, labels: Labels, measure: m.Measure, **style) -> None:
    """One line per regime for one measure, in the regime's colour."""
    for side, df in results.items():
        ax.plot(df[m.MONTH], df[measure.name], color=COLOURS[side], label=labels[side], **style)
    ax.set_title(measure.label, fontsize=10)


def difference(results: Results, name: str) -> pd.Series:
    """B minus A, month by month (the runs share their world, so the difference is paired)."""
    return results[1][name] - results[0][name]


def side_by_side(axes: np.ndarray, pair: Pair) -> None:
    """Both regimes on the key measures (top) and B minus A as the months pass (bottom)."""
    results, labels = pair.results(), pair.labels()
    for col, measure in enumerate(m.SIDE_BY_SIDE):
        lines(axes[0, col], results, labels, measure)
        if len(results) == 2:
            ax, diff, month = axes[1, col], difference(results, measure.name), results[0][m.MONTH]
            ax.axhline(0.0, color="grey", lw=0.8)
            ax.fill_between(month, diff, 0.0, color=COLOURS[1], alpha=0.35, lw=0)
            ax.plot(month, diff, color=COLOURS[1], lw=1.2)
            ax.set_title(f"B − A: {measure.label}", fontsize=10)
    axes[0, 0].legend(fontsize=8, loc="upper left")


def per_regime(draw_one: Callable) -> Callable[[np.ndarray, Pair], None]:
    """A painter of one panel per regime, each drawn by ``draw_one(ax, df, colour)``."""
    def paint(axes: np.ndarray, pair: Pair) -> None:
        labels = pair.labels()
        for ax, (side, df) in zip(axes[0], pair.results().items(), strict=True):
            draw_one(ax, df, COLOURS[side])
            ax.set_title(labels[side], fontsize=10, color=COLOURS[side])
            ax.legend(fontsize=8, loc="upper left")
    return paint


def band(upper: m.Measure, lower: m.Measure, gap: str) -> Callable:
    """Draws two measures as lines with the space between them shaded and named ``gap``."""
    def draw_one(ax, df: pd.DataFrame, colour: str) -> None:
        ax.plot(df[m.MONTH], df[upper.name], color=colour, lw=1.6, label=upper.label)
        ax.plot(df[m.MONTH], df[lower.name], color=colour, lw=1.6, ls="--", label=lower.label)
        ax.fill_between(df[m.MONTH], df[upper.name], df[lower.name], color=colour, alpha=0.2, lw=0,
                        label=gap)
    return draw_one


def knowledge(ax, df: pd.DataFrame, colour: str) -> None:
    """The commissioner's, the providers' and the system's knowledge, one line style each."""
    for measure, style in zip(m.KNOWLEDGE, ("-", "--", ":"), strict=True):
        ax.plot(df[m.MONTH], df[measure.name], color=colour, ls=style, lw=1.6, label=measure.label)


def cost_per_wellbeing(df: pd.DataFrame) -> pd.Series:
    """Spend so far over wellbeing gained so far (undefined until some wellbeing is gained)."""
    gained = df[m.WELLBEING_GAINED_TOTAL.name]
    return (df[m.SPEND_TOTAL.name] / gained).where(gained > 0)


def money(axes: np.ndarray, pair: Pair) -> None:
    """Spend each month, and what a unit of wellbeing gained has cost so far."""
    results, labels = pair.results(), pair.labels()
    lines(axes[0, 0], results, labels, m.SPEND)
    for side, df in results.items():
        axes[0, 1].plot(df[m.MONTH], cost_per_wellbeing(df), color=COLOURS[side], label=labels[side])
    axes[0, 1].set_title(m.COST_PER_WELLBEING, fontsize=10)
    axes[0, 0].legend(fontsize=8, loc="upper left")


def undetected(df: pd.DataFrame) -> pd.Series:
    """False outcome reports made this month that no audit or citizen exposed."""
    return df[m.FALSE_REPORTS.name] - df[m.DETECTED_GAMING.name]


def market(axes: np.ndarray, pair: Pair) -> None:
    """Providers and their turnover, their trust, and gaming detected and undetected."""
    results, labels = pair.results(), pair.labels()
    lines(axes[0, 0], results, labels, m.PROVIDERS)
    for side, df in results.items():
        turnover = df[m.REPLACED_TOTAL.name] + df[m.EXITS_TOTAL.name]
        axes[0, 0].plot(df[m.MONTH], turnover, color=COLOURS[side], ls="--")
        axes[0, 2].plot(df[m.MONTH], undetected(df), color=COLOURS[side])
        axes[0, 2].plot(df[m.MONTH], df[m.DETECTED_GAMING.name], color=COLOURS[side], ls="--")
    axes[0, 0].set_title("providers (solid) and\nturnover so far (dashed)", fontsize=10)
    lines(axes[0, 1], results, labels, m.MEAN_TRUST)
    axes[0, 2].set_title("false reports this month:\nundetected (solid), detected (dashed)", fontsize=10)
    axes[0, 1].legend(fontsize=8, loc="upper left")


# --- the system now ------------------------------------------------------------------------------

def caseloads(picture: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``caseload_picture()`` split: the providers' rows (slot x segment) and the queue's."""
    queue = picture[m.CASELOAD_SLOT] == m.QUEUE_SLOT
    return picture[~queue], picture[queue]


def system(axes: np.ndarray, pair: Pair) -> None:
    """Who is where this month, per regime: each provider's caseload by segment, served (solid)
    or parked (hatched); and, by segment, who was refused this month and who waits.
    """
    labels = pair.labels()
    for row, (side, run) in zip(axes, pair.runs.items(), strict=True):
        segments = np.arange(run.world.n_segments)
        shades = SEGMENT_SHADES(np.linspace(0.25, 1.0, len(segments)))
        slots, queue = caseloads(run.caseload_picture())
        provider_bars(row[0], slots, segments, shades)
        turned_away(row[1], slots, queue, segments)
        letter = labels[side].split(":")[0]
        row[0].set_title(f"{letter}: caseload of each provider, by segment", fontsize=10,
                         color=COLOURS[side])
        row[1].set_title(f"{letter}: refused this month and waiting, by segment", fontsize=10,
                         color=COLOURS[side])
    axes[0, 1].legend(fontsize=8, loc="upper left")
    key = [Patch(color=shade, label=f"segment {s}") for s, shade in zip(segments, shades, strict=True)]
    key.append(Patch(facecolor="white", edgecolor="black", hatch="///", label="parked"))
    axes[0, 0].figure.legend(handles=key, loc="upper center", ncols=len(key), fontsize=8,
                             frameon=False, bbox_to_anchor=(0.5, 1.0))


def provider_bars(ax, slots: pd.DataFrame, segments: np.ndarray, shades: np.ndarray) -> None:
    """One horizontal bar per provider: its served then parked cases, segment by segment."""
    served = slots.pivot(index=m.CASELOAD_SLOT, columns=m.CASELOAD_SEGMENT, values=m.SERVED.name)
    parked = slots.pivot(index=m.CASELOAD_SLOT, columns=m.CASELOAD_SEGMENT, values=m.PARKED.name)
    rows = np.arange(len(served))
    left = np.zeros(len(served))
    for segment, shade in zip(segments, shades, strict=True):
        for counts, hatch in ((served[segment], None), (parked[segment], "///")):
            ax.barh(rows, counts, left=left, color=shade, hatch=hatch, edgecolor="white", lw=0.3)
            left += counts.to_numpy()
    ax.set_yticks(rows, [f"provider {slot + 1}" for slot in served.index], fontsize=7)
    ax.yaxis.set_inverted(True)  # provider 1 at the top
    ax.set_xlabel("cases", fontsize=8)


def turned_away(ax, slots: pd.DataFrame, queue: pd.DataFrame, segments: np.ndarray) -> None:
    """By segment: referrals refused this month (all providers) and citizens waiting."""
    refused = slots.groupby(m.CASELOAD_SEGMENT)[m.REFUSED.name].sum()
    waiting = queue.set_index(m.CASELOAD_SEGMENT)[m.WAITING.name]
    ax.bar(segments - 0.2, refused.reindex(segments, fill_value=0), width=0.4, color="#c0392b",
           label=m.REFUSED.label)
    ax.bar(segments + 0.2, waiting.reindex(segments, fill_value=0), width=0.4, color="#999999",
           label=m.WAITING.label)
    ax.set_xticks(segments, [str(s) for s in segments], fontsize=8)
    ax.set_xlabel("segment (0 = lightest need, last = hardest to help)", fontsize=8)


# --- the views, and their latest numbers ---------------------------------------------------------

def one_row(regimes: int) -> tuple[int, int]:
    """A panel per regime, side by side."""
    return 1, regimes


VIEWS = (
    View("Side by side",
         "The two regimes on the same citizens, shocks and true effects (common random numbers), "
         "month by month: wellbeing, the hardest to help, what the commissioner knows and the "
         "Goodhart gap (top), and B minus A (bottom), so any difference is the regimes' doing.",
         lambda regimes: (regimes, len(m.SIDE_BY_SIDE)), side_by_side, m.SIDE_BY_SIDE),
    View("Measure and truth",
         "Of everyone referred (whether still served or not), the share with an outcome on the "
         "books, as providers report it (solid), against the share whose true wellbeing meets the "
         "same threshold (dashed). The shaded space between them is the Goodhart gap: what the "
         "measure claims and citizens do not get.",
         one_row, per_regime(band(m.MEASURE_VALUE, m.TRUE_OUTCOME, "Goodhart gap")),
         (m.MEASURE_VALUE, m.TRUE_OUTCOME, m.GOODHART_GAP), height=3.0),
    View("Knowledge",
         "How well each actor knows what works for whom, as decision quality: 0 = no better than "
         "choosing at random, 1 = as good as knowing the truth. The system knows what its "
         "best-informed actor knows.",
         one_row, per_regime(knowledge), m.KNOWLEDGE, height=3.0),
    View("Equity",
         "Everyone's mean wellbeing (solid) against that of the hardest-to-help segment (dashed); "
         "the shaded space is how far the hardest to help are left behind.",
         one_row, per_regime(band(m.MEAN_WELLBEING, m.HARDEST_WELLBEING, "left behind")),
         (m.MEAN_WELLBEING, m.HARDEST_WELLBEING, m.EQUITY_GAP), height=3.0),
    View("Money",
         "What the commissioner pays each month, and what each unit of wellbeing gained has cost "
         "so far (spend so far over wellbeing gained so far).",
         lambda regimes: (1, 2), money, (m.SPEND, m.SPEND_TOTAL, m.WELLBEING_GAINED_TOTAL)),
    View("Market",
         "Providers holding contracts and their turnover (replaced at re-tendering or failed), "
         "their trust in the commissioner, and false outcome reports, detected and not.",
         lambda regimes: (1, 3), market, (m.PROVIDERS, m.REPLACED_TOTAL, m.EXITS_TOTAL, m.MEAN_TRUST,
                                          m.FALSE_REPORTS, m.DETECTED_GAMING), top=0.55),
    View("The system now",
         "Who is where this month: each provider's caseload by segment, served or parked (on the "
         "books but not served), and, by segment, who was refused and who waits. Creaming shows as "
         "the light segments served while the hardest to help are parked, refused or left waiting.",
         lambda regimes: (regimes, 2), system, (m.SERVED, m.PARKED, m.REFUSED, m.WAITING),
         by_month=False, height=2.8, top=0.6),
)
"""The page's views, in the order of its tabs (the About panel follows them)."""


def latest(results: Results, labels: Labels,
           numbers: tuple[m.Measure, ...]) -> tuple[list[str], list[list[str]]]:
    """The current month's values of ``numbers``: a row per measure, a column per regime and,
    with two regimes, B minus A.
    """
    head = ["", *labels.values()] + (["B − A"] if len(results) == 2 else [])
    rows = []
    for measure in numbers:
        values = [df[measure.name].iloc[-1] for df in results.values()]
        cells = [number(v) for v in values]
        if len(values) == 2:
            cells.append(number(values[1] - values[0], signed=True))
        rows.append([measure.label, *cells])
    return head, rows


def number(value: float, signed: bool = False) -> str:
    """A value as the page writes it: counts and pounds whole, with separators; shares to 3 places;
    a dash where the model has nothing to measure (NaN: a mean over nobody, a share of nothing).
    """
    if not np.isfinite(value):
        return "–"
    whole = abs(value) >= 100 or float(value).is_integer()
    text = f"{value:+,.0f}" if whole else f"{value:+.3f}"
    return text if signed else text.removeprefix("+")
