"""Lever 6 in runs: what a context-led commissioner estimates, and how often it switches strategy.

Runs the ``context_led`` preset for 120 months on each context named (default: the complex,
uncontrollable one, uncertainty 0.9, control 0.25; the stable, controllable one, 0.1 and 0.9; and
the moderate default, 0.4 and 0.6), seeds 0 to ``--seeds`` - 1, and prints for each context: the
quantiles (5, 25, 50, 75, 95%) of the estimates of uncertainty and control made at the
assessments from month 24 on (after a burn-in of one assessment), the share of those on the true
side of the 0.5 boundary, and the strategy switches after the first adoption (and how many went
back at the next assessment to the strategy just left). ODD 7.19 quotes its output.

Usage (from the repository root):

    .venv/bin/python docs/context_estimates.py                     # about a minute on two cores
    .venv/bin/python docs/context_estimates.py --margin 0          # without hysteresis
    .venv/bin/python docs/context_estimates.py moderate --seeds 40
"""

from __future__ import annotations

import argparse
import sys
from itertools import pairwise
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sim import CommissioningModel, load  # noqa: E402

MONTHS = 120
BURN_IN = 24  # the first assessment (month 12) rests on a year's data: left out


def assessments(context: str, seed: int, overrides: dict) -> list[tuple[int, float, float, str]]:
    """(month, estimated uncertainty, estimated control, strategy after it) at each assessment."""
    model = CommissioningModel(scenario=load("context_led", context), rng=seed, **overrides)
    rows = []
    for month in range(1, MONTHS + 1):
        model.step()
        if model.regime.assessment_due(month):
            com = model.commissioner
            rows.append((month, com.estimated_uncertainty, com.estimated_control,
                         model.regime.strategy))
    return rows


def switches(strategies: list[str]) -> tuple[int, int]:
    """Switches between consecutive assessments, and those back to the strategy just left."""
    changed = sum(a != b for a, b in pairwise(strategies))
    back = sum(a == c != b for a, b, c in zip(strategies, strategies[1:], strategies[2:], strict=False))
    return changed, back


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("contexts", nargs="*",
                        default=["complex_uncontrollable", "stable_controllable", "moderate"])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--margin", type=float, help="context_margin (default: the schema's)")
    args = parser.parse_args()
    overrides = {} if args.margin is None else {"context_margin": args.margin}
    for context in args.contexts:
        truth = load("context_led", context).context
        estimates, counts = [], []
        for seed in range(args.seeds):
            rows = assessments(context, seed, overrides)
            estimates += [(u, c) for month, u, c, _ in rows if month >= BURN_IN]
            counts.append(switches([strategy for *_, strategy in rows]))
        u, c = (np.array([e[i] for e in estimates], dtype=float) for i in (0, 1))
        print(f"{context} (uncertainty {truth.uncertainty}, control {truth.control}), "
              f"{args.seeds} seeds, {len(u)} assessments from month {BURN_IN}:")
        for name, values, true in (("uncertainty", u, truth.uncertainty), ("control", c, truth.control)):
            known = values[~np.isnan(values)]
            right = np.mean((known >= 0.5) == (true >= 0.5))
            print(f"  {name:11s} quantiles {np.round(np.quantile(known, [.05, .25, .5, .75, .95]), 2)}"
                  f"  on the true side of 0.5: {right:.0%}  (missing: {np.isnan(values).sum()})")
        changed, back = sum(n for n, _ in counts), sum(n for _, n in counts)
        print(f"  switches after the first adoption: {changed} in all "
              f"(per run {[n for n, _ in counts]}), {back} of them back to the strategy just left")


if __name__ == "__main__":
    main()
