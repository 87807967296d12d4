"""Every figure draws from data shaped as its caller makes it (synthetic data, quick)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim import plots
from sim.experiments.validation import (
    POOL_SIZES,
    doubling_ratios,
    log_log_slopes,
    paired_grid,
    regret_ratio,
)


def runs_of(arms: list[str], measures: list[str], months: int = 24, reps: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = [dict(regime=arm, replicate=r, month=m, **{x: rng.uniform() for x in measures})
            for arm in arms for r in range(reps) for m in range(months + 1)]
    return pd.DataFrame(rows)


def test_arm_panels_and_comparison(tmp_path):
    runs = runs_of(["a", "b"], ["goodhart_gap", "gaming_rate", "mean_wellbeing"])
    plots.save_figure(plots.plot_arm_panels([(runs, "goodhart_gap"), (runs, "gaming_rate")]),
                      tmp_path / "arms.png")
    plots.plot_comparison(runs, tmp_path / "cmp.png", ["mean_wellbeing", "gaming_rate"], title="t")
    assert (tmp_path / "arms.png").stat().st_size > 5000 and (tmp_path / "cmp.png").stat().st_size > 5000


def test_pooled_learning_figure(tmp_path):
    runs = runs_of(["pooled", "isolated"], ["provider_regret"])
    runs["provider_regret"] = runs.groupby(["regime", "replicate"])["provider_regret"].cumsum()
    by_size = pd.DataFrame({m: regret_ratio(runs, 24, since=12) / m for m in POOL_SIZES})
    figure = plots.plot_pooled(runs, 8, doubling_ratios(runs, 24), by_size, log_log_slopes(by_size),
                               (0.1, 0.08, 0.12), 1.5)
    plots.save_figure(figure, tmp_path / "pooled.png")
    assert (tmp_path / "pooled.png").stat().st_size > 5000


def test_multitask_figure(tmp_path):
    a = np.linspace(0, 10, 20)
    table = pd.DataFrame({"substitution": np.repeat([0.0, 0.5], 10), "a": a, "measured": a,
                          "unmeasured": -a, "hm_measured": a, "hm_unmeasured": -a})
    plots.save_figure(plots.plot_multitask(table), tmp_path / "mt.png")
    assert (tmp_path / "mt.png").stat().st_size > 5000


@pytest.mark.parametrize("cells", [[(0.1, 0.9), (0.9, 0.25)],
                                   [(u, c) for u in (0.1, 0.5) for c in (0.25, 0.9)]])
def test_contingency_grid_figure(tmp_path, cells):
    rng = np.random.default_rng(1)
    grid = pd.DataFrame([dict(uncertainty=u, control=c, replicate=r, target=rng.uniform(),
                              learning=rng.uniform()) for u, c in cells for r in range(4)])
    plots.save_figure(plots.plot_grid_differences(paired_grid(grid), ["uncertainty", "control"]),
                      tmp_path / "grid.png")
    assert (tmp_path / "grid.png").stat().st_size > 5000


def test_run_figure(tmp_path):
    columns = [c for panel in plots.RUN_PANELS.values() for c in panel]
    results = runs_of(["x"], columns).drop(columns=["regime", "replicate"]).drop_duplicates("month")
    plots.plot_run(results, tmp_path / "run.png", title="a title")
    assert (tmp_path / "run.png").stat().st_size > 5000
