"""Comparison tables for people: each measure in its unit, the statistic that fits it, and
regimes named by letter with a legend, so no name is ever cut.

A running total (``Measure.kind == "total"``) is read at the last month; every other measure as its
average over months 1 to T. Numbers keep three significant figures, with thousands separated.
"""

from __future__ import annotations

import math

import pandas as pd

from sim.experiments.compare import SpendMatch
from sim.measures import MEASURES

# The measures a comparison reports first, in this order (every numeric measure is in its CSV
# tables); those a comparison without a no-service arm does not have are left out.
KEY_MEASURES = [
    "mean_wellbeing", "hardest_wellbeing", "gain_wellbeing", "gain_hardest_wellbeing", "spend",
    "gain_per_1000", "cost_per_wellbeing_gained", "equity_gap", "cohort_hardest_wellbeing_24",
    "in_service_wellbeing", "parked_share_hardest", "refused_hardest", "goodhart_gap", "gaming_rate",
    "commissioner_knowledge", "commissioner_knowledge_effects", "commissioner_knowledge_values",
    "commissioner_knowledge_gain", "system_knowledge", "system_knowledge_effects",
    "system_knowledge_values", "system_knowledge_gain", "commissioning_cost", "unspent_budget",
    "cost_per_outcome", "deadweight_share", "provider_replaced_total", "provider_exits_total",
    "mean_trust",
]


def number(value: float, signed: bool = False) -> str:
    """``value`` with three significant figures and thousands separators ("n/a" if undefined)."""
    if value is None or not math.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    digits = 3 - int(math.floor(math.log10(abs(value)))) - 1
    rounded = round(value, digits)
    if rounded and abs(rounded) >= 10 ** (3 - digits):  # rounding up gained a digit: 0.9996 -> 1.00
        digits -= 1
        rounded = round(value, digits)
    text = f"{rounded:,.{max(digits, 0)}f}" if abs(rounded) >= 1 else f"{rounded:.3g}"
    return f"+{text}" if signed and rounded > 0 else text


def interval(mean: float, low: float, high: float, signed: bool = False) -> str:
    """A mean and its interval: ``0.962 [0.95, 0.971]``."""
    return f"{number(mean, signed)} [{number(low, signed)}, {number(high, signed)}]"


def statistic_of(measure: str) -> str:
    """Which summary of a run a table shows for ``measure``: "final" for running totals, else
    "average".
    """
    known = MEASURES.get(measure)
    return "final" if known is not None and known.kind == "total" else "average"


def letters(regimes: list[str]) -> dict[str, str]:
    """A letter for each regime (A, B, ...), for column headings that never need cutting."""
    return {regime: chr(ord("A") + i) for i, regime in enumerate(regimes)}


def legend(regimes: list[str]) -> str:
    return "; ".join(f"{letter} = {regime}" for regime, letter in letters(regimes).items())


def comparison_rows(levels: pd.DataFrame, differences: pd.DataFrame, measures: list[str],
                    regimes: list[str], steps: int, reps: int) -> tuple[list[str], list[list[str]]]:
    """The comparison as table cells: a row per measure (its label, unit and which month or months
    it covers), each regime's level, then each regime's paired difference from the first.

    A cell from fewer replicates than were run (the measure was undefined in the others) says how
    many it has.
    """
    code = letters(regimes)
    lv = levels.set_index(["regime", "measure", "statistic"])
    df = differences.set_index(["regime", "measure", "statistic"])
    head = ["measure [unit]", "over", *code.values(),
            *[f"{code[r]} - {code[regimes[0]]}" for r in regimes[1:]]]
    rows = []
    for measure in measures:
        known = MEASURES.get(measure)
        statistic = statistic_of(measure)
        row = [f"{known.label} [{known.unit}]" if known and known.unit else measure,
               f"month {steps}" if statistic == "final" else f"months 1-{steps}"]
        for regime in regimes:
            r = lv.loc[(regime, measure, statistic)]
            row.append(interval(r["mean"], r.ci_low, r.ci_high) + _short(r["n"], reps))
        for regime in regimes[1:]:
            d = df.loc[(regime, measure, statistic)]
            row.append(interval(d.difference, d.ci_low, d.ci_high, signed=True) + _short(d["n"], reps))
        rows.append(row)
    return head, rows


def _short(n: float, reps: int) -> str:
    """How many replicates a cell has, when not all of them had a value (and some did)."""
    return "" if n in (0, reps) else f" (n = {int(n)})"


def how_read(reps: int, steps: int, seed: int) -> str:
    """What the comparison table's numbers are, in one sentence."""
    return (f"Mean [95% CI] over {reps} paired replicates (base seed {seed}; replicate i of every "
            f"regime faces the same world): averages of months 1-{steps}, running totals at month "
            f"{steps}. Intervals of levels that have bounds are bootstrap intervals (inside the "
            f"measure's range); differences are paired, with t intervals. Knowledge is decision "
            f"quality: the share of the oracle's gain that acting on the beliefs achieves (below "
            f"0: worse than its zero).")


def spend_matching(matches: list[SpendMatch]) -> list[str]:
    """One line per regime whose money was scaled to equal spend, saying by how much."""
    return [f"Equal spend: {m.regime}'s money x {m.scale:.3g} (mean spend GBP {number(m.spend)} a "
            f"month against GBP {number(m.target)}, {100 * (m.spend / m.target - 1):+.1f}%)"
            for m in matches]


def markdown_summary(levels: pd.DataFrame, differences: pd.DataFrame, measures: list[str],
                     regimes: list[str], reps: int, steps: int, seed: int,
                     matches: list[SpendMatch] | None = None) -> str:
    """The comparison as a Markdown report."""
    from sim.experiments.output import markdown_table

    head, rows = comparison_rows(levels, differences, measures, regimes, steps, reps)
    lines = [f"# Comparison: {', '.join(regimes)}", "", how_read(reps, steps, seed), "",
             f"Regimes: {legend(regimes)}.", "", *(f"{line}." for line in spend_matching(matches or [])),
             "", *markdown_table(head, rows)]
    return "\n".join(lines) + "\n"
