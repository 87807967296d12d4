"""Fair comparisons: the same people (intent to treat), the same world, the same money, and
knowledge that says what it is about."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import run, small

from sim import CommissioningModel
from sim.experiments.compare import NO_SERVICE, compare, match_spend, mean_spend, no_service, scale_money
from sim.experiments.runs import replicates
from sim.measures import MEASURES
from sim.presets import load
from sim.scenario import ScenarioError
from sim.statistics import mean_ci


def test_the_model_measures_exactly_the_registry_model_measures():
    model = CommissioningModel(scenario=small("target_driven"), rng=1)
    assert set(model.measures) == {m.name for m in MEASURES.values() if m.source == "model"}


def test_refused_citizens_stay_in_the_intent_to_treat_outcomes():
    """Turning people away does not remove them from the headline outcomes: the in-service average
    of the hardest to help can rise while their intent-to-treat wellbeing does not."""
    model = run(small("target_driven"), seed=3, months=30)
    pop = model.population
    refused_once = (pop.refusals > 0) & pop.followed(30, model.scenario_config.population.followup_months)
    assert refused_once.any()
    hardest = pop.segment == model.world.n_segments - 1
    followed = pop.followed(30, model.scenario_config.population.followup_months)
    assert model.measures["hardest_wellbeing"] == pytest.approx(pop.wellbeing[followed & hardest].mean())


def test_no_service_arm_shares_the_world_and_gains_are_paired_differences():
    scenarios = {"target": small("target_driven"), "learning": small("learning_oriented")}
    result = compare(scenarios, reps=2, steps=12, seed=4, progress=False, baseline=True)
    runs = result.runs
    assert set(runs.regime) == {"target", "learning", NO_SERVICE}
    none = runs[runs.regime == NO_SERVICE].set_index(["replicate", "month"])
    for name in scenarios:
        arm = runs[runs.regime == name].set_index(["replicate", "month"])
        np.testing.assert_array_equal(arm["arrived_total"], none["arrived_total"])  # same people
        np.testing.assert_array_equal(arm["followed"], none["followed"])
        np.testing.assert_allclose(arm["gain_wellbeing"], arm["mean_wellbeing"] - none["mean_wellbeing"])
    assert (runs[runs.regime == NO_SERVICE]["in_service"] == 0).all()
    gained = runs[runs.regime == "learning"].groupby("replicate")["wellbeing_gained_vs_none"].last()
    assert np.isfinite(gained).all()


def test_scale_money_scales_every_payment_term_and_nothing_else():
    sc = load("hybrid_outcomes_learning")
    half = scale_money(sc, 0.5)
    for name in ("outcome_price", "improvement_price", "attachment_fee", "fee_per_month", "grant_per_place"):
        assert getattr(half.regime.payment, name) == pytest.approx(0.5 * getattr(sc.regime.payment, name))
    assert half.regime.payment.budget_per_month == sc.regime.payment.budget_per_month
    assert half.costs == sc.costs


def test_equal_spend_search_finds_a_scale_within_two_percent():
    target_runs = replicates(small("target_driven"), 2, 12, 0)
    target = mean_spend(target_runs)
    match, runs = match_spend("learning", small("learning_oriented"), target,
                              lambda sc: replicates(sc, 2, 12, 0))
    assert abs(match.spend / target - 1) <= 0.02 and match.spend == pytest.approx(mean_spend(runs))
    assert 0 < match.scale < 1  # the learning regime spends its whole grant: scaled down


def test_equal_spend_says_when_a_budget_cannot_be_reached():
    with pytest.raises(ScenarioError, match="cannot be matched"):
        match_spend("capped", small("target_driven", budget_per_month=1000.0), 1e7,
                    lambda sc: replicates(sc, 2, 6, 0))


def test_equal_spend_matches_the_others_to_a_regime_that_cannot_spend_as_little():
    """Learning's own forums and voice cost more than target-driven spends in all: target-driven's
    money is scaled up to learning's spend instead of learning's down, and ``matches`` says so."""
    costly = small("learning_oriented", forum_cost=50_000.0)
    result = compare({"target": small("target_driven"), "learning": costly}, reps=2, steps=12,
                     progress=False, equal_spend=True)
    (match,) = result.matches
    assert match.regime == "target" and match.scale > 1
    spend = result.runs[result.runs.month > 0].groupby("regime")["spend"].mean()
    assert abs(spend["target"] / spend["learning"] - 1) <= 0.02


def test_no_service_is_a_scenario_with_no_provider():
    sc = no_service(load("learning_oriented", "complex_uncontrollable"))
    assert sc.providers.n_providers == 0 and sc.regime.name == NO_SERVICE
    assert sc.context.name == "complex_uncontrollable"


# --- knowledge in parts --------------------------------------------------------------------------

def knowledge_runs(regime: str, seeds: range, months: int) -> pd.DataFrame:
    frames = []
    for seed in seeds:
        model = CommissioningModel(scenario=small(regime, uncertainty=0.0, control=1.0), rng=seed)
        model.run_for(months)
        frames.append(model.results().assign(replicate=seed))
    return pd.concat(frames)


def test_with_the_evidence_exactly_right_effects_knowledge_starts_at_the_oracle_and_no_regime_gains():
    """Uncertainty 0 and full control: the published evidence is the truth, so every actor's
    knowledge about effects starts at the oracle's, and no regime can rise above another on it
    (learning about values can still differ)."""
    seeds = range(6)
    target = knowledge_runs("target_driven", seeds, 36)
    learning = knowledge_runs("learning_oriented", seeds, 36)
    for runs in (target, learning):
        start = runs[runs.month == 0]
        for who in ("commissioner", "provider", "system"):
            assert (start[f"{who}_knowledge_effects"] == 1.0).all()
            assert (runs[f"{who}_knowledge_effects"] <= 1.0 + 1e-12).all()
    later = lambda runs, m: runs[runs.month > 0].groupby("replicate")[m].mean()  # noqa: E731
    for who in ("commissioner", "system"):
        mean, low, high = mean_ci(later(learning, f"{who}_knowledge_effects")
                                  - later(target, f"{who}_knowledge_effects"))
        assert high <= 1e-9 or low <= 0 <= high, (who, mean, low, high)  # learning is not above
    # ... while knowledge about values does rise where voice is heard
    values = later(learning, "commissioner_knowledge_values") - later(target, "commissioner_knowledge_values")
    assert mean_ci(values)[1] > 0
