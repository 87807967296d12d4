"""How much pooling helps depends on how noisy observations are: the model beside the textbook.

The pooled-learning check measures pooled providers' regret against isolated ones' at 120 months
and compares it with the range 1/M to 1/sqrt(M). This script asks how that ratio moves with the
noise of one observation, in the model (the check's two arms at several values of the scenario
field `world.measurement_sd`, the default being 0.04) and in the textbook setting of
`pooled_bandit_reference.py` (noise against the spread of the true arm means). It prints both
tables and draws docs/validation/pooled_noise.png. Hollow markers in the model's panel: regret
does not grow about logarithmically at that level (the check's second finding: R-squared on
log(month) above 0.9 and above that on month, in both arms); the textbook's growth is not measured.

Usage: .venv/bin/python docs/pooled_noise.py   (about three minutes on two cores)
"""

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pooled_bandit_reference as textbook

from sim.experiments.statistics import mean_ci
from sim.experiments.validation import POOL_SIZE, pooling_by_noise

MODEL_NOISE = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32]
TEXTBOOK_NOISE = [0.1, 0.2, 0.3, 0.5, 1.0, 3.0, 10.0, 30.0]
REPS, SEED = 10, 0
FIGURE = Path(__file__).parent / "validation" / "pooled_noise.png"


def model_table():
    rows = []
    for sd, level in pooling_by_noise(MODEL_NOISE, REPS, SEED).groupby("measurement_sd"):
        mean, low, high = mean_ci(level["ratio"])
        log, linear = level["log_r2"].iloc[0], level["linear_r2"].iloc[0]
        rows.append((sd, mean, low, high, not log > max(0.9, linear)))
        print(f"measurement_sd {sd:<5}: pooled / isolated {mean:.3f} [{low:.3f}, {high:.3f}]; "
              f"worse arm's R-squared {log:.3f} on log(month), {linear:.3f} on month")
    return rows


def textbook_table():
    rows = []
    for sigma in TEXTBOOK_NOISE:
        mean, low, high = textbook.ratio_ci(textbook.regret(True, sigma), textbook.regret(False, sigma))
        rows.append((sigma, mean, low, high, False))  # growth not measured
        print(f"sigma / tau {sigma:<5}: pooled / isolated {mean:.3f} [{low:.3f}, {high:.3f}]")
    return rows


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
    print(f"Textbook: Gaussian Thompson sampling, {textbook.K} arms, {textbook.N} choices a month, "
          f"{textbook.REPLICATES} replicates")
    reference = textbook_table()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.3))
    draw(left, model, "measurement noise, world.measurement_sd (log scale)",
         "Model (hollow: regret does not grow as log n)")
    left.axvline(0.04, color="k", ls=":", lw=0.8, label="default (the check)")
    draw(right, reference, "noise of one observation / spread of true means (log scale)",
         "Textbook Gaussian Thompson sampling")
    for ax in (left, right):
        ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(FIGURE, dpi=110)
    print(f"wrote {FIGURE}")


if __name__ == "__main__":
    main()
