"""The dashboard's figures, drawn with matplotlib from the runs' per-month tables.

Each view is a function of the runs' results (and, for the system view, their caseloads) that
returns a ``Figure``; the page shows it and redraws it as the months pass. They need no browser,
so the tests call them directly too.
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


def figure(rows: int, cols: int, height: float = 2.6, sharex: bool = True) -> tuple[Figure, np.ndarray]:
    """A figure of ``rows`` x ``cols`` panels, as a 2-D array of axes.

    Fixed margins rather than a layout engine: laying out takes longer than drawing, and the page
    redraws every figure on every step.
    """
    fig = Figure(figsize=(11.0, height * rows + 0.5), dpi=72)
    fig.subplots_adjust(left=0.07, right=0.99, bottom=0.5 / (height * rows + 0.5) + 0.06,
                        top=1 - 0.35 / (height * rows + 0.5), wspace=0.25, hspace=0.5)
    axes = fig.subplots(rows, cols, sharex=sharex, squeeze=False)
    if sharex:
        for ax in axes[-1]:
            ax.set_xlabel("month")
    return fig, axes


def lines(ax, results: Results, labels: Labels, measure: m.Measure, **style) -> None:
    """One line per regime for one measure, in the regime's colour."""
    for side, df in results.items():
        ax.plot(df["month"], df[measure.name], color=COLOURS[side], label=labels[side], **style)
    ax.set_title(measure.label, fontsize=10)


def difference(results: Results, name: str) -> pd.Series:
    """B minus A, month by month (the runs share their world, so the difference is paired)."""
    return results[1][name] - results[0][name]


def side_by_side(results: Results, labels: Labels) -> Figure:
    """Both regimes on the key measures (top) and B minus A as the months pass (bottom)."""
    pair = len(results) == 2
    fig, axes = figure(2 if pair else 1, len(m.SIDE_BY_SIDE))
    for col, measure in enumerate(m.SIDE_BY_SIDE):
        lines(axes[0, col], results, labels, measure)
        if pair:
            ax, diff, month = axes[1, col], difference(results, measure.name), results[0]["month"]
            ax.axhline(0.0, color="grey", lw=0.8)
            ax.fill_between(month, diff, 0.0, color=COLOURS[1], alpha=0.35, lw=0)
            ax.plot(month, diff, color=COLOURS[1], lw=1.2)
            ax.set_title(f"B minus A: {measure.label}", fontsize=10)
    axes[0, 0].legend(fontsize=8, loc="best")
    return fig


def per_regime(results: Results, labels: Labels, draw) -> Figure:
    """One panel per regime, each drawn by ``draw(ax, df, colour)``, titled with its label."""
    fig, axes = figure(1, len(results), height=3.0)
    for ax, (side, df) in zip(axes[0], results.items(), strict=True):
        draw(ax, df, COLOURS[side])
        ax.set_title(labels[side], fontsize=10, color=COLOURS[side])
        ax.legend(fontsize=8, loc="best")
    return fig


def band(ax, df: pd.DataFrame, upper: m.Measure, lower: m.Measure, colour: str, gap: str) -> None:
    """Two measures as lines with the space between them shaded and named ``gap``."""
    ax.plot(df["month"], df[upper.name], color=colour, lw=1.6, label=upper.label)
    ax.plot(df["month"], df[lower.name], color=colour, lw=1.6, ls="--", label=lower.label)
    ax.fill_between(df["month"], df[upper.name], df[lower.name], color=colour, alpha=0.2, lw=0,
                    label=gap)


def goodhart(results: Results, labels: Labels) -> Figure:
    """The paid-for measure against the same threshold on true wellbeing: the gap is Goodhart's."""
    return per_regime(results, labels, lambda ax, df, colour: band(
        ax, df, m.MEASURE_VALUE, m.TRUE_OUTCOME, colour, "Goodhart gap"))


def equity(results: Results, labels: Labels) -> Figure:
    """Everyone's wellbeing against that of the hardest to help."""
    return per_regime(results, labels, lambda ax, df, colour: band(
        ax, df, m.MEAN_WELLBEING, m.HARDEST_WELLBEING, colour, "left behind"))


def knowledge(results: Results, labels: Labels) -> Figure:
    """What the commissioner, the providers and the system know (0 = random choice, 1 = oracle)."""
    def draw(ax, df, colour):
        for measure, style in zip(m.KNOWLEDGE, ("-", "--", ":"), strict=True):
            ax.plot(df["month"], df[measure.name], color=colour, ls=style, lw=1.6, label=measure.label)
    return per_regime(results, labels, draw)


def cost_per_wellbeing(df: pd.DataFrame) -> pd.Series:
    """Spend so far over wellbeing gained so far (undefined until some wellbeing is gained)."""
    gained = df[m.WELLBEING_GAINED_TOTAL.name]
    return (df[m.SPEND_TOTAL.name] / gained).where(gained > 0)


def money(results: Results, labels: Labels) -> Figure:
    """Spend each month, and what a unit of wellbeing gained has cost so far."""
    fig, axes = figure(1, 2)
    lines(axes[0, 0], results, labels, m.SPEND)
    for side, df in results.items():
        axes[0, 1].plot(df["month"], cost_per_wellbeing(df), color=COLOURS[side], label=labels[side])
    axes[0, 1].set_title(m.COST_PER_WELLBEING, fontsize=10)
    axes[0, 0].legend(fontsize=8, loc="best")
    return fig


def undetected(df: pd.DataFrame) -> pd.Series:
    """False outcome reports made this month that no audit or citizen exposed."""
    return df[m.FALSE_REPORTS.name] - df[m.DETECTED_GAMING.name]


def market(results: Results, labels: Labels) -> Figure:
    """Providers and their turnover, their trust, and gaming detected and undetected."""
    fig, axes = figure(1, 3)
    lines(axes[0, 0], results, labels, m.PROVIDERS)
    for side, df in results.items():
        turnover = df[m.REPLACED_TOTAL.name] + df[m.EXITS_TOTAL.name]
        axes[0, 0].plot(df["month"], turnover, color=COLOURS[side], ls="--")
        axes[0, 2].plot(df["month"], undetected(df), color=COLOURS[side])
        axes[0, 2].plot(df["month"], df[m.DETECTED_GAMING.name], color=COLOURS[side], ls="--")
    axes[0, 0].set_title("providers (solid) and turnover so far (dashed)", fontsize=10)
    lines(axes[0, 1], results, labels, m.MEAN_TRUST)
    axes[0, 2].set_title("false reports: undetected (solid), detected (dashed)", fontsize=10)
    axes[0, 1].legend(fontsize=8, loc="best")
    return fig


def caseloads(picture: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``caseload_picture()`` split: the providers' rows (slot x segment) and the queue's."""
    queue = picture[m.CASELOAD_SLOT] == m.QUEUE_SLOT
    return picture[~queue], picture[queue]


def system(pictures: Mapping[int, pd.DataFrame], labels: Labels) -> Figure:
    """Who is where this month, per regime: each provider's caseload by segment, served (solid) or
    parked (on the books, not served: hatched); and, by segment, who was refused this month and
    who waits. Creaming shows as light segments served while the hardest are parked or refused.
    """
    fig, axes = figure(len(pictures), 2, height=2.8, sharex=False)
    segments = None
    for row, (side, picture) in zip(axes, pictures.items(), strict=True):
        slots, queue = caseloads(picture)
        segments = np.sort(slots[m.CASELOAD_SEGMENT].unique())
        shades = SEGMENT_SHADES(np.linspace(0.25, 1.0, len(segments)))
        provider_bars(row[0], slots, segments, shades)
        turned_away(row[1], slots, queue, segments)
        letter = labels[side].split(":")[0]
        row[0].set_title(f"{letter}: caseload of each provider, by segment", fontsize=10,
                         color=COLOURS[side])
        row[1].set_title(f"{letter}: refused this month and waiting, by segment", fontsize=10,
                         color=COLOURS[side])
    axes[0, 1].legend(fontsize=8, loc="upper left")
    fig.legend(handles=[Patch(color=shade, label=f"segment {s}") for s, shade in zip(
        segments, SEGMENT_SHADES(np.linspace(0.25, 1.0, len(segments))), strict=True)]
        + [Patch(facecolor="white", edgecolor="black", hatch="///", label="parked")],
        loc="upper center", ncols=len(segments) + 1, fontsize=8, frameon=False,
        bbox_to_anchor=(0.3, 1.0))
    return fig


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
    ax.invert_yaxis()
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


@dataclass(frozen=True)
class View:
    """One tab of the page.

    Attributes:
        title: the tab's name.
        what: what the view shows and how to read it, in a sentence or two.
        draw: the figure, from the pair of runs.
        numbers: the measures whose latest values the view lists under its figure.
    """

    title: str
    what: str
    draw: Callable[[Pair], Figure]
    numbers: tuple[m.Measure, ...]


def of_results(view: Callable[[Results, Labels], Figure]) -> Callable[[Pair], Figure]:
    """A view drawn from the runs' per-month tables."""
    return lambda pair: view(pair.results(), pair.labels())


def of_caseloads(pair: Pair) -> Figure:
    """The system view, drawn from the runs' caseloads now."""
    return system({side: run.caseload_picture() for side, run in pair.runs.items()}, pair.labels())


VIEWS = (
    View("Side by side",
         "The two regimes on the same citizens, shocks and true effects (common random numbers), "
         "month by month: wellbeing, the hardest to help, what the commissioner knows and the "
         "Goodhart gap (top), and B minus A (bottom), so any difference is the regimes' doing.",
         of_results(side_by_side), m.SIDE_BY_SIDE),
    View("Measure and truth",
         "The share of cases meeting the paid-for measure as providers report it (solid), against "
         "the same threshold applied to true wellbeing (dashed). The shaded space between them is "
         "the Goodhart gap: what the measure claims and citizens do not get.",
         of_results(goodhart), (m.MEASURE_VALUE, m.TRUE_OUTCOME, m.GOODHART_GAP)),
    View("Knowledge",
         "How well each actor knows what works for whom, as decision quality: 0 = no better than "
         "choosing at random, 1 = as good as knowing the truth. The system knows what its "
         "best-informed actor knows.",
         of_results(knowledge), m.KNOWLEDGE),
    View("Equity",
         "Everyone's mean wellbeing (solid) against that of the hardest-to-help segment (dashed); "
         "the shaded space is how far the hardest to help are left behind.",
         of_results(equity), (m.MEAN_WELLBEING, m.HARDEST_WELLBEING, m.EQUITY_GAP)),
    View("Money",
         "What the commissioner pays each month, and what each unit of wellbeing gained has cost "
         "so far (spend so far over wellbeing gained so far).",
         of_results(money), (m.SPEND, m.SPEND_TOTAL, m.WELLBEING_GAINED_TOTAL)),
    View("Market",
         "Providers holding contracts and their turnover (replaced at re-tendering or failed), "
         "their trust in the commissioner, and false outcome reports, detected and not.",
         of_results(market), (m.PROVIDERS, m.REPLACED_TOTAL, m.EXITS_TOTAL, m.MEAN_TRUST,
                              m.FALSE_REPORTS, m.DETECTED_GAMING)),
    View("The system now",
         "Who is where this month: each provider's caseload by segment, served or parked (on the "
         "books but not served), and, by segment, who was refused and who waits. Creaming shows as "
         "the light segments served while the hardest to help are parked, refused or left waiting.",
         of_caseloads, (m.SERVED, m.PARKED, m.REFUSED, m.WAITING)),
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
    """A value as the page writes it: whole pounds and counts with separators, shares to 3 places."""
    text = f"{value:+,.0f}" if abs(value) >= 100 else f"{value:+.3f}"
    return text if signed else text.removeprefix("+")
