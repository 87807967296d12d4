"""How much pooling helps depends on how noisy observations are: the model beside the textbook.

The pooled-learning check measures pooled providers' regret against isolated ones' at 120 months
and compares it with the range 1/M to 1/sqrt(M). This script asks how that ratio moves with the
noise of one observation, in the model (the check's two arms at several values of the scenario
field `world.measurement_sd`, the default being 0.04) and in the textbook setting of
`sim/experiments/bandit_reference.py` (noise against the spread of the true arm means). It prints both
tables and draws docs/validation/pooled_noise.png. Hollow markers: regret does not grow about
logarithmically at that level (the check's second finding: R-squared on log(month) above 0.9 and
above that on month, in both arms, months 2-120).

Then it matches the two settings seed by seed. The noise of the model's observations cannot be
put on the textbook's scale directly (they are monthly changes of several needs, weighted by
effort, and each choice is observed for months), so the match is on behaviour: the textbook noise
at which lone learners accrue the same share of their regret (months 2-120) by month 12 as the
model's isolated providers do. The textbook's pooled / isolated ratio at that noise is what
collaborative Thompson sampling gives for learners who learn as fast; the model's ratio is set
beside it (docs/validation/pooled_matched.png), and the match is repeated at months 6 and 24.

Usage: .venv/bin/python docs/pooled_noise.py   (about four minutes)
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sim.experiments import bandit_reference as textbook
from sim.experiments.validation import (
    MONTHS,
    POOL_SIZE,
    grows_logarithmically,
    mean_curve,
    pooled_runs,
    pooling_by_noise,
    regret_growth,
    regret_ratio,
)
from sim.statistics import mean_ci

MODEL_NOISE = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32]
TEXTBOOK_NOISE = [0.1, 0.2, 0.3, 0.5, 1.0, 3.0, 10.0, 30.0]
REPS, SEED = 10, 0
SEEDS = [0, 1, 2, 3, 4]
MATCH_BY = [textbook.MATCH_BY, 6, 24]  # months by which the isolated share is matched; first is shown
FIGURE = Path(__file__).parent / "validation" / "pooled_noise.png"
MATCHED_FIGURE = Path(__file__).parent / "validation" / "pooled_matched.png"


def model_table():
    rows = []
    for sd, level in pooling_by_noise(MODEL_NOISE, REPS, SEED).groupby("measurement_sd"):
        mean, low, high = mean_ci(level["ratio"])
        log_growth = bool(level["log_growth"].iloc[0])
        rows.append((sd, mean, low, high, not log_growth))
        print(f"measurement_sd {sd:<5}: pooled / isolated {mean:.3f} [{low:.3f}, {high:.3f}]; "
              f"regret grows as log(month): {'yes' if log_growth else 'no'} (R-squared on "
              f"log(month) {level['log_r2'].iloc[0]:.3f} in the worse arm)")
    return rows


def textbook_table():
    rows = []
    for sigma in TEXTBOOK_NOISE:
        monthly = {arm: textbook.monthly_regret(arm == "pooled", sigma) for arm in ("pooled", "isolated")}
        mean, low, high = textbook.ratio_ci(*(textbook.totals(m) for m in monthly.values()))
        log_growth = grows_logarithmically(regret_growth(as_runs(monthly)))
        rows.append((sigma, mean, low, high, not log_growth))
        print(f"sigma / tau {sigma:<5}: pooled / isolated {mean:.3f} [{low:.3f}, {high:.3f}]; "
              f"regret grows as log(month): {'yes' if log_growth else 'no'}")
    return rows


def as_runs(monthly: dict[str, np.ndarray]) -> pd.DataFrame:
    """The textbook's mean cumulative regret per arm and month, shaped like the model's runs."""
    return pd.concat([pd.DataFrame({"regime": arm, "month": np.arange(textbook.MONTHS + 1),
                                    "provider_regret": textbook.cumulative(m)})
                      for arm, m in monthly.items()], ignore_index=True)


def matched_table():
    rows = []
    for seed in SEEDS:
        runs = pooled_runs(REPS, seed, MONTHS)
        model = mean_ci(regret_ratio(runs, MONTHS))
        matched = [textbook.matched_reference(mean_curve(runs, "isolated"), seed, by)
                   for by in MATCH_BY]
        rows.append((seed, model, matched))
        first = matched[0]
        others = "; ".join(f"matched by month {m.by}: {m.ratio:.3f}" for m in matched[1:])
        print(f"seed {seed}: model {model[0]:.3f} [{model[1]:.3f}, {model[2]:.3f}]; isolated share "
              f"by month {first.by} {first.share:.3f} -> textbook noise {first.noise:.2f}: "
              f"{first.ratio:.3f} [{first.low:.3f}, {first.high:.3f}] ({others})")
    return rows


def draw_matched(rows) -> None:
    fig, ax = plt.subplots(figsize=(6.5, 4.3))
    seeds = np.array([seed for seed, _, _ in rows])
    for offset, label, values in (
            (-0.1, "model (t 95% CI over replicates)", [model for _, model, _ in rows]),
            (0.1, f"textbook at the matched noise (bootstrap 95% CI, {textbook.REPLICATES} "
                  "replicates)", [(m[0].ratio, m[0].low, m[0].high) for _, _, m in rows])):
        mean, low, high = (np.array(c) for c in zip(*values, strict=True))
        ax.errorbar(seeds + offset, mean, [mean - low, high - mean], fmt="o", capsize=3, label=label)
    ax.axhspan(1 / POOL_SIZE, 1 / np.sqrt(POOL_SIZE), color="grey", alpha=0.15,
               label=f"1/M to 1/sqrt(M), M = {POOL_SIZE}")
    ax.set_xticks(seeds)
    ax.set_xlabel("base seed (a different world)")
    ax.set_ylabel("pooled / isolated regret at month 120")
    ax.set_title(f"Model against textbook Thompson sampling whose lone learners learn as fast\n"
                 f"(same share of regret by month {MATCH_BY[0]})", fontsize=10)
    ax.set_ylim(0, 0.4)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(MATCHED_FIGURE, dpi=110)
    plt.close(fig)
    print(f"wrote {MATCHED_FIGURE}")


def draw(ax, rows, xlabel: str, title: str) -> None:
    x, mean, low, high, hollow = (np.array(c) for c in zip(*rows, strict=True))
    ax.errorbar(x, mean, [mean - low, high - mean], color="C0", lw=1, capsize=3)
    ax.scatter(x[~hollow], mean[~hollow], color="C0", zorder=3)
    ax.scatter(x[hollow], mean[hollow], facecolor="white", edgecolor="C0", zorder=3)
    ax.axhspan(1 / POOL_SIZE, 1 / np.sqrt(POOL_SIZE), color="grey", alpha=0.15,
               label=f"1/M to 1/sqrt(M), M = {POOL_SIZE}")
    ax.set_xscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("pooled / isolated regret at month 120")
    ax.set_title(title, fontsize=10)
    ax.set_ylim(0, 0.6)


def main() -> None:
    print(f"Model: the pooled check's arms, {REPS} paired replicates, base seed {SEED}")
    model = model_table()
    print(f"Textbook: Gaussian Thompson sampling, {textbook.ARMS} arms, {textbook.CHOICES} choices a month, "
          f"{textbook.REPLICATES} replicates")
    reference = textbook_table()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.3))
    draw(left, model, "measurement noise, world.measurement_sd (log scale)",
         "Model (hollow: regret does not grow as log n)")
    left.axvline(0.04, color="k", ls=":", lw=0.8, label="default (the check)")
    draw(right, reference, "noise of one observation / spread of true means (log scale)",
         "Textbook Gaussian Thompson sampling (hollow: idem)")
    for ax in (left, right):
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(FIGURE, dpi=110)
    plt.close(fig)
    print(f"wrote {FIGURE}")
    print(f"Matched, seed by seed ({REPS} paired replicates of the model; textbook noise matched on "
          f"the lone learners' share of regret by month {MATCH_BY[0]})")
    draw_matched(matched_table())


if __name__ == "__main__":
    main()
