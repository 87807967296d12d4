"""Every table and figure reads without the code: units, the right statistic, bounds, names."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.cli import app, setting_title
from sim.experiments.report import interval, number, statistic_of
from sim.measures import MEASURES
from sim.presets import load
from sim.statistics import band, bootstrap_ci, level_ci, mean_ci

TINY = ["--set", "n_citizens=80", "--set", "n_providers=3", "--set", "capacity=15", "--steps", "8"]


@pytest.mark.parametrize(("value", "text"), [
    (92_683.2, "92,700"), (0.9621, "0.962"), (0.99961, "1.00"), (12.345, "12.3"), (0.001534, "0.00153"),
    (-0.1263, "-0.126"), (0.0, "0"), (float("nan"), "n/a"), (1_234_567, "1,230,000")])
def test_numbers_are_for_people(value, text):
    assert number(value) == text


def test_intervals_show_signs_for_differences():
    assert interval(0.05, -0.01, 0.11, signed=True) == "+0.05 [-0.01, +0.11]"


def test_running_totals_are_read_at_the_end_and_levels_as_averages():
    assert statistic_of("provider_exits_total") == "final"
    assert statistic_of("wellbeing_per_1000") == "final"
    assert statistic_of("mean_wellbeing") == "average" and statistic_of("spend") == "average"


def test_every_measure_says_what_it_is():
    for m in MEASURES.values():
        assert m.label and (m.unit or m.kind == "label"), m.name
        if m.low is not None and m.high is not None:
            assert m.low < m.high


@pytest.mark.parametrize("seed", range(5))
def test_bounded_levels_have_intervals_inside_the_bounds(seed):
    rng = np.random.default_rng(seed)
    shares = np.clip(rng.normal(0.97, 0.08, size=4), 0, 1)   # near the upper bound
    exits = rng.poisson(0.3, size=10).astype(float)          # a count, mostly zero
    t_low, t_high = mean_ci(exits)[1:]
    for measure, values in (("parked_share_hardest", shares), ("provider_exits_total", exits)):
        mean, low, high = level_ci(measure, values)
        m = MEASURES[measure]
        assert m.low <= low <= mean <= high <= (m.high if m.high is not None else np.inf)
    if t_low < 0:  # where the t interval crosses the bound, the measure's interval does not
        assert level_ci("provider_exits_total", exits)[1] >= 0


def test_unbounded_measures_keep_the_t_interval():
    values = np.array([1.0, 2.0, 4.0, 3.0])
    assert level_ci("spend", values) == mean_ci(values)


def test_undefined_replicates_are_left_out_and_counted():
    mean, low, high = bootstrap_ci([0.2, np.nan, 0.4, 0.3])
    assert mean == pytest.approx(0.3) and 0.2 <= low <= high <= 0.4
    assert np.isnan(mean_ci([np.nan, np.nan])[0])


def test_bands_of_bounded_measures_stay_inside_the_bounds():
    rng = np.random.default_rng(1)
    table = pd.DataFrame(np.clip(rng.normal(0.95, 0.1, size=(30, 5)), 0, 1))
    out = band("parked_share", table)
    assert (out["low"] >= 0).all() and (out["high"] <= 1).all()
    assert (out["low"] <= out["mean"] + 1e-12).all() and (out["mean"] <= out["high"] + 1e-12).all()


def test_the_same_table_twice_gives_the_same_intervals():
    values = np.random.default_rng(3).uniform(size=10)
    assert bootstrap_ci(values) == bootstrap_ci(values)


def test_titles_name_the_context_and_every_override():
    scenario = load("target_driven", overrides=["uncertainty=0.8"])
    title = setting_title(["target_driven"], scenario, ["uncertainty = 0.8"], "seed 3")
    assert title == "target_driven in the moderate context, with uncertainty=0.8 (seed 3)"


def test_the_comparison_table_names_every_regime_in_full_and_gives_units(tmp_path):
    out = tmp_path / "cmp"
    result = CliRunner().invoke(app, ["compare", "target_driven", "learning_oriented",
                                      "hybrid_outcomes_learning", "--reps", "2", *TINY, "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "A = target_driven; B = learning_oriented; C = hybrid_outcomes_learning" in text
    assert "…" not in text and "..." not in text  # nothing cut
    assert "month 8" in text and "months 1-8" in text
    assert "net spend: its own activities and payments, less clawbacks [GBP a month]" in (
        out / "summary.md").read_text()
    levels = pd.read_csv(out / "levels.csv")
    shares = levels[levels.measure.isin([m.name for m in MEASURES.values() if m.unit == "share"])]
    assert (shares.ci_low.dropna() >= 0).all() and (shares.ci_high.dropna() <= 1).all()


def test_run_says_which_month_it_prints(tmp_path):
    result = CliRunner().invoke(app, ["run", "target_driven", *TINY, "--out", str(tmp_path / "r")])
    assert result.exit_code == 0 and "At month 8" in result.output
    assert "GBP a month" in result.output


def test_equal_spend_matches_within_two_percent_and_says_by_how_much(tmp_path):
    out = tmp_path / "eq"
    result = CliRunner().invoke(app, ["compare", "learning_oriented", "target_driven", "--reps", "2",
                                      *TINY, "--equal-spend", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "Equal spend: target_driven's money x" in result.output
    runs = pd.read_parquet(out / "runs.parquet")
    spend = runs[runs.month > 0].groupby("regime")["spend"].mean()
    assert abs(spend["target_driven"] / spend["learning_oriented"] - 1) <= 0.02
