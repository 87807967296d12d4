"""The whole model: determinism, common random numbers, invariants on every step, results, Mesa."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mesa
import numpy as np
import pandas as pd
import pytest
from conftest import SMALL, check_month, run, small
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.citizens import Citizen
from sim.commissioner import Commissioner
from sim.measures import MEASURES
from sim.model import CommissioningModel
from sim.presets import load
from sim.providers import Provider
from sim.scenario import Scenario

PRESETS = [("target_driven",), ("learning_oriented",), ("context_led",),
           ("learning_oriented", "complex_uncontrollable"), ("target_driven", "stable_controllable"),
           ("hybrid_outcomes_learning",), ("hybrid_targets_with_forums",)]

CARD_COLUMNS = [
    "mean_wellbeing", "hardest_wellbeing", "equity_gap", "in_service", "waiting", "refused", "parked",
    "measure_value", "goodhart_gap", "gaming_rate", "detected_gaming", "commissioner_knowledge",
    "provider_knowledge", "system_knowledge", "commissioner_belief_error", "provider_belief_error",
    "spend", "wellbeing_per_1000", "provider_exits_total", "provider_replaced_total", "mean_trust",
]


# --- determinism ---------------------------------------------------------------------------------

@pytest.mark.parametrize("names", PRESETS, ids="+".join)
def test_same_seed_same_results(names):
    scenario = small(*names)
    first = run(scenario, seed=5, months=30).results()
    second = run(scenario, seed=5, months=30).results()
    pd.testing.assert_frame_equal(first, second)
    other = run(scenario, seed=6, months=30).results()
    assert not first.equals(other)
    assert not np.allclose(first["mean_wellbeing"], other["mean_wellbeing"])


RUN_AND_HASH = """
import hashlib
from sim.model import CommissioningModel
from sim.presets import load
sc = load("target_driven").with_overrides({"n_citizens": 200, "n_providers": 4, "capacity": 30})
model = CommissioningModel(scenario=sc, rng=5)
model.run_for(24)
print(hashlib.sha256(model.results().to_csv().encode()).hexdigest())
"""


def test_same_seed_same_results_across_processes():
    """Nothing depends on Python's per-process hash seed (set or dict order of objects)."""
    root = Path(__file__).resolve().parent.parent
    digests = set()
    for hash_seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run([sys.executable, "-c", RUN_AND_HASH], cwd=root, env=env,
                             capture_output=True, text=True, check=True)
        digests.add(out.stdout.strip())
    assert len(digests) == 1


def test_run_for_equals_stepping():
    scenario = small("target_driven")
    stepped = run(scenario, seed=3, months=15)
    ran = CommissioningModel(scenario=scenario, rng=3)
    ran.run_for(15)
    pd.testing.assert_frame_equal(stepped.results(), ran.results())
    assert ran.time == 15


def test_preset_name_and_keyword_overrides_equal_a_loaded_scenario():
    by_name = CommissioningModel(scenario="target_driven", rng=4, **SMALL)
    by_object = CommissioningModel(scenario=small("target_driven"), rng=4)
    assert by_name.scenario_config == by_object.scenario_config
    by_name.run_for(10)
    by_object.run_for(10)
    pd.testing.assert_frame_equal(by_name.results(), by_object.results())


def test_inspecting_citizens_does_not_change_the_run():
    scenario = small("target_driven")
    plain, watched = (CommissioningModel(scenario=scenario, rng=8) for _ in range(2))
    for month in range(20):
        plain.step()
        watched.step()
        if month % 3 == 0:
            assert len(watched.citizens) == len(watched.population)
    pd.testing.assert_frame_equal(plain.results(), watched.results())


# --- common random numbers -----------------------------------------------------------------------

@pytest.mark.parametrize("context", [(), ("complex_uncontrollable",)], ids=["moderate", "complex"])
def test_regimes_with_one_seed_face_one_world(context):
    regimes = ["target_driven", "learning_oriented", "context_led", "hybrid_outcomes_learning"]
    models = [CommissioningModel(scenario=small(r, *context), rng=21) for r in regimes]
    first = models[0]
    for m in models[1:]:
        for name in ("id", "segment", "need", "values", "recorded_need"):
            np.testing.assert_array_equal(getattr(m.population, name), getattr(first.population, name))
    start = first.world.truth.copy()
    for _ in range(12):
        for m in models:
            m.step()
        for m in models[1:]:
            np.testing.assert_array_equal(m.world.truth, first.world.truth)
    assert not np.allclose(first.world.truth, start)  # the truth did drift: the check is not empty
    for m in models[1:]:
        np.testing.assert_array_equal(m.results()["arrived_total"], first.results()["arrived_total"])
        assert not np.allclose(m.results()["mean_wellbeing"], first.results()["mean_wellbeing"])
    assert first.results()["arrived_total"].diff().iloc[1:].gt(0).any()


def test_other_seed_other_world():
    a = CommissioningModel(scenario=small("target_driven"), rng=1)
    b = CommissioningModel(scenario=small("target_driven"), rng=2)
    assert not np.allclose(a.world.truth, b.world.truth)


def test_no_uncertainty_means_the_published_evidence_is_the_truth():
    model = run(small("target_driven", uncertainty=0.0), seed=1, months=5)
    np.testing.assert_allclose(model.world.truth, model.world.prior_mean)


# --- invariants on every step, for random valid scenarios ------------------------------------------

OVERRIDES = st.fixed_dictionaries({
    "uncertainty": st.floats(0.0, 1.0),
    "control": st.floats(0.05, 1.0),
    "model": st.sampled_from(["outcomes", "distance_travelled", "fee_for_service", "block_grant"]),
    "measure": st.sampled_from(["threshold", "composite"]),
    "measure_threshold": st.floats(0.0, 0.8),
    "selection_allowed": st.booleans(),
    "differential_prices": st.booleans(),
    "forum_interval": st.integers(0, 12),
    "open_data": st.booleans(),
    "citizen_voice": st.booleans(),
    "context_led": st.booleans(),
    "retender_rule": st.sampled_from(["none", "replace_bottom", "keep_learners"]),
    "allow_overspend": st.booleans(),
    "n_providers": st.integers(1, 6),
    "n_citizens": st.integers(20, 300),
    "capacity": st.integers(5, 60),
    "budget_per_month": st.floats(500.0, 300_000.0),
    "shared_risk": st.floats(0.0, 1.0),
    "review_interval": st.integers(0, 12),
    "contract_months": st.integers(3, 24),
    "gaming_propensity": st.floats(0.0, 1.0),
    "start_cash": st.just(0.0) | st.floats(0.01, 200_000.0),  # money: none, or a penny
    "league_tables": st.booleans(),
    "data_coverage": st.sampled_from(["metric_counts", "metric_domain", "all_domains"]),
    "forum_citizens": st.booleans(),
    "arrival_rate": st.floats(0.0, 0.3),
    "attachment_fee": st.just(0.0) | st.floats(0.01, 2000.0),
})
BASES = st.sampled_from([(), ("target_driven",), ("learning_oriented",), ("context_led",)])

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(base=BASES, fields=OVERRIDES, seed=st.integers(0, 2**32 - 1))
def test_invariants_hold_every_month(base, fields, seed):
    scenario = (load(*base) if base else Scenario()).with_overrides(fields)
    model = CommissioningModel(scenario=scenario, rng=seed)
    budget, overspend = fields["budget_per_month"], fields["allow_overspend"]
    check_month(model, budget, overspend)
    for _ in range(36):
        model.step()
        check_month(model, budget, overspend)
    df = model.results()
    assert len(df) == 37
    pd.testing.assert_series_equal(
        df["arrived_total"],
        df["citizens"] + df["resolved_total"] + df["timed_out_total"] + df["discharged_total"]
        + df["unserved_total"],
        check_names=False)
    assert df["arrived_total"].is_monotonic_increasing and df["spend_total"].is_monotonic_increasing


def test_a_noise_free_world_gives_finite_measures():
    model = CommissioningModel(scenario=small("learning_oriented", control=1.0, measurement_sd=0.0),
                               rng=0)
    with np.errstate(all="ignore"):
        model.run_for(3)
    numeric = model.results().select_dtypes("number").drop(columns="month")
    always = [name for name in numeric if not MEASURES[name].undefined_when]
    assert np.isfinite(numeric[always].to_numpy()).all()
    assert np.isfinite(model.population.need).all()


def test_the_budget_binds_unless_overspend_is_allowed():
    tight = {"model": "block_grant", "grant_per_place": 1000.0, "budget_per_month": 50_000.0,
             "shared_risk": 0.0, "start_cash": 1e8}
    due = 1000.0 * SMALL["capacity"] * SMALL["n_providers"]  # 120k due against a 50k budget
    capped = CommissioningModel(scenario=small(**tight), rng=1)
    loose = CommissioningModel(scenario=small(**tight, allow_overspend=True), rng=1)
    for _ in range(6):
        capped.step()
        loose.step()
        com = capped.commissioner  # its own activities (audits) are paid first, from the budget
        assert com.paid_this_month + com.costs_this_month == pytest.approx(50_000.0)
        assert loose.commissioner.paid_this_month == pytest.approx(due)


def test_block_grant_pays_every_place():
    model = run(small(model="block_grant", grant_per_place=500.0, shared_risk=0.0, start_cash=1e8,
                      retender_rule="none"), seed=2, months=8)
    results = model.results().iloc[1:]
    np.testing.assert_allclose(results["spend"] - results["commissioning_cost"],
                               500.0 * SMALL["capacity"] * SMALL["n_providers"])


def test_the_commissioner_pays_for_what_it_does():
    """Procurement at each re-tender, audits, case data, voice and forums are charged to its
    budget, each at its scenario price; switching an activity off removes its cost."""
    free = {"procurement_cost": 0.0, "audit_cost": 0.0, "case_data_cost": 0.0, "voice_cost": 0.0,
            "forum_cost": 0.0}
    base = small("learning_oriented", contract_months=6, retender_rule="replace_bottom")
    nothing = run(base.with_overrides(free), seed=4, months=12).results()
    assert (nothing["commissioning_cost"] == 0).all()
    for field, price in [("procurement_cost", 8000.0), ("audit_cost", 250.0), ("case_data_cost", 5.0),
                         ("voice_cost", 15.0), ("forum_cost", 400.0)]:
        model = run(base.with_overrides({**free, field: price}), seed=4, months=12)
        paid = model.results()["commissioning_cost"].sum()
        assert paid > 0 and paid % price == pytest.approx(0.0, abs=1e-6), field
        assert model.commissioner.costs_total == pytest.approx(paid)
    procurement = run(base.with_overrides({**free, "procurement_cost": 1000.0}), seed=4,
                      months=12).results().set_index("month")["commissioning_cost"]
    assert procurement[6] == procurement[12] == 1000.0 * SMALL["n_providers"]  # every contract competed


def test_no_service_serves_nobody_and_follows_the_same_people():
    served = run(small("target_driven"), seed=6, months=15)
    none = run(small("target_driven", n_providers=0), seed=6, months=15)
    r = none.results()
    assert (r["in_service"] == 0).all()
    assert (r.iloc[1:]["spend"] - r.iloc[1:]["commissioning_cost"] == 0).all()
    np.testing.assert_array_equal(none.results()["arrived_total"], served.results()["arrived_total"])
    both = np.intersect1d(served.population.id, none.population.id)
    assert len(both) > 100  # the same citizens, with the same values, under the same shocks
    rows_a, rows_b = np.searchsorted(served.population.id, both), np.searchsorted(none.population.id, both)
    np.testing.assert_array_equal(served.population.values[rows_a], none.population.values[rows_b])
    np.testing.assert_array_equal(served.population.referred[rows_a], none.population.referred[rows_b])
    assert np.isnan(r["provider_knowledge"].iloc[-1]) and r["providers"].eq(0).all()


def test_intent_to_treat_follows_everyone_referred_for_the_window():
    model = run(small("target_driven", followup_months=6), seed=3, months=20)
    pop = model.population
    age = model.time - pop.referred
    assert (age[~pop.active] <= 6).all()  # those who left are followed until the window ends ...
    assert (~pop.active).any()           # ... and some are
    r = model.results()
    followed = model.population.followed(20, 6)
    assert r["mean_wellbeing"].iloc[-1] == pytest.approx(pop.wellbeing[followed].mean())
    assert r["in_service_wellbeing"].iloc[-1] == pytest.approx(pop.wellbeing[pop.in_service].mean())


def test_cohorts_are_measured_k_months_after_referral():
    model = run(small("learning_oriented"), seed=5, months=14)
    r = model.results().set_index("month")
    assert np.isnan(r.loc[6, "cohort_wellbeing_6"]) and not np.isnan(r.loc[7, "cohort_wellbeing_6"])
    assert r.loc[14, "cohort_wellbeing_12"] == pytest.approx(
        model.population.wellbeing[model.population.referred == 2].mean())


def test_forums_happen_on_the_months_model_time_says():
    """Trust rises only at forums (every 4 months here): the step reads the month from model.time."""
    model = run(small(forum_interval=4, share_threshold=0.0, retender_rule="none",
                      model="block_grant", league_tables=False, start_cash=1e8), seed=2, months=13)
    trust = model.results().set_index("month")["mean_trust"]
    rises = trust.diff().iloc[1:] > 1e-12
    assert rises[rises].index.tolist() == [4, 8, 12]
    assert model.time == 13


# --- results ---------------------------------------------------------------------------------------

def test_results_has_one_row_per_month_and_the_card_columns():
    model = run(small("learning_oriented"), seed=1, months=12)
    df = model.results()
    assert isinstance(df, pd.DataFrame)
    assert len(df) == 13
    assert df["month"].tolist() == list(range(13))
    missing = [c for c in CARD_COLUMNS if c not in df.columns]
    assert not missing
    for column in CARD_COLUMNS:
        assert pd.api.types.is_numeric_dtype(df[column]), column
    assert df.iloc[-1]["mean_wellbeing"] == model.measures["mean_wellbeing"]
    assert df.iloc[-1]["in_service"] == np.count_nonzero(model.population.in_service)
    assert df.iloc[0]["spend"] == 0 and df["spend"].iloc[1:].gt(0).all()


def test_results_grow_with_each_step():
    model = CommissioningModel(scenario=small(), rng=1)
    assert len(model.results()) == 1
    model.step()
    model.step()
    assert model.results()["month"].tolist() == [0, 1, 2]


# --- Mesa ------------------------------------------------------------------------------------------

def test_agents_are_mesa_agents():
    for cls in (Citizen, Provider, Commissioner):
        assert issubclass(cls, mesa.Agent)
    assert issubclass(CommissioningModel, mesa.Model)


def test_model_holds_its_providers_and_commissioner(learning_run):
    providers = learning_run.agents_by_type[Provider]
    assert len(providers) == SMALL["n_providers"]
    assert {p.slot for p in providers} == set(range(SMALL["n_providers"]))
    assert list(learning_run.agents_by_type[Commissioner]) == [learning_run.commissioner]


def test_citizens_are_an_agentset_matching_the_arrays():
    model = CommissioningModel(scenario=small("learning_oriented"), rng=4)
    for _ in range(3):
        model.run_for(5)
        citizens = model.citizens
        assert isinstance(citizens, mesa.agentset.AbstractAgentSet)
        assert len(citizens) == len(model.population)
        assert all(isinstance(c, Citizen) for c in citizens)
        pop = model.population
        ids = np.array([c.citizen_id for c in citizens])
        assert sorted(ids.tolist()) == pop.id.tolist()
        rows = np.searchsorted(pop.id, ids)
        np.testing.assert_allclose(citizens.get("wellbeing"), pop.wellbeing[rows])
        np.testing.assert_array_equal(citizens.get("segment"), pop.segment[rows])
        in_service = np.array([c.status == "in service" for c in citizens])
        np.testing.assert_array_equal(in_service, pop.in_service[rows])
    # exited citizens leave the model's agents
    assert len(model.agents_by_type[Citizen]) == len(model.population)


def test_citizens_is_a_public_agentset_not_the_registry():
    model = CommissioningModel(scenario=small(), rng=1)
    citizens = model.citizens
    assert isinstance(citizens, mesa.agentset.AgentSet)
    assert citizens is not model.agents_by_type[Citizen]


def test_model_time_counts_months():
    model = CommissioningModel(scenario=small(), rng=1)
    assert model.time == 0
    model.step()
    assert model.time == 1
    model.run_for(4)
    assert model.time == 5 and model.results()["month"].iloc[-1] == 5


@pytest.mark.parametrize("preset", ["target_driven", "learning_oriented"])
def test_intake_at_once_equals_intake_one_provider_after_another(preset):
    """Market.intake values every offer in one pass; the same order, one provider at a time (each
    Provider.intake alone), must give the same assignments, refusals and fees."""
    import copy

    from sim import learning
    from sim.market import Intake

    model = CommissioningModel(scenario=preset, rng=4, n_citizens=3000, n_providers=6, capacity=60)
    model.run_for(7)
    pop = model.population
    leaving = np.flatnonzero(pop.in_service)[::5]  # free some places
    pop.status[leaving], pop.provider[leaving] = 0, -1
    model.market._caseloads = None  # changed by hand: count again
    outlook = learning.outlook(model.evidence, model.world, model.regime, model.scenario_config,
                               model.commissioner.payment_scale, model.market.outcome_stakes(int(model.time)),
                               model.rng)
    other = copy.deepcopy(model)
    together = Intake.open(len(pop), len(model.market.slots), model.world.n_segments)
    alone = copy.deepcopy(together)
    model.market.intake(model.providers, outlook, together)
    for provider in other.providers:
        provider.intake(outlook, alone)
    for name in ("status", "provider", "refusals", "approach"):
        np.testing.assert_array_equal(getattr(model.population, name), getattr(other.population, name))
    np.testing.assert_array_equal(together.attachment_due, alone.attachment_due)
    np.testing.assert_array_equal(together.refused_by_slot, alone.refused_by_slot)
    assert [p.contract_cases for p in model.providers] == [p.contract_cases for p in other.providers]
    assert together.refused > 0 or preset != "target_driven"


def test_a_providers_own_service_equals_its_part_of_the_months_service():
    """Provider.serve decides for its own cases exactly as the month's service does for them."""
    import copy

    from sim import learning, service

    model = CommissioningModel(scenario="target_driven", rng=3, n_citizens=600, n_providers=4,
                               capacity=50)
    model.run_for(5)
    outlook = learning.outlook(model.evidence, model.world, model.regime, model.scenario_config,
                               model.commissioner.payment_scale, model.market.outcome_stakes(int(model.time)),
                               model.rng)
    cases = model.population.in_service
    model.population.approach[cases] = 2  # no approach is due a Thompson draw: both serve alike
    model.population.months_in_service[cases] = 1
    other = copy.deepcopy(model)
    every = service.serve(model, outlook)
    provider = other.providers[1]
    own = provider.serve(outlook)
    rows = provider.cases()
    assert len(rows) > 0
    for name in ("parked", "effort", "approach"):
        np.testing.assert_array_equal(getattr(model.population, name)[rows],
                                      getattr(other.population, name)[rows])
    assert own == pytest.approx(every.costs[provider.slot], rel=1e-12)


# --- exploring providers -------------------------------------------------------------------------

def regret_per_doubling(explore: bool) -> float:
    """Regret accrued in months 61-120 over that in months 31-60 (isolated learners, 5 replicates):
    1 for logarithmic growth, sqrt(2) for sqrt(n), 2 for linear.
    """
    from sim.experiments.compare import compare
    from sim.experiments.validation import pooled_scenario

    arm = pooled_scenario(False).with_overrides({"explore": explore})
    runs = compare({"isolated": arm}, reps=5, steps=120, seed=0, progress=False).runs
    regret = runs.pivot(index="month", columns="replicate", values="provider_regret").sum(axis=1)
    return float((regret[120] - regret[60]) / (regret[60] - regret[30]))


def test_exploring_providers_escape_incomplete_learning():
    """Effort planned on the posterior mean can freeze a wrong belief (no effort, no data), so
    regret keeps growing fast; planned on a monthly posterior draw, it grows like log(n)."""
    assert regret_per_doubling(explore=True) < 1.2
    assert regret_per_doubling(explore=False) > np.sqrt(2)


def test_exploring_effort_follows_the_months_draw():
    scenario = small("learning_oriented").with_overrides({"explore": True})
    model = run(scenario, seed=2, months=3)
    assert not np.allclose(model.month.outlook.hypothesis, model.month.outlook.mean)
    assert (model.population.effort > 0).any()
    calm = run(scenario.with_overrides({"explore": False}), seed=2, months=3)
    assert calm.month.outlook.hypothesis is calm.month.outlook.mean


def test_caseload_picture_counts_every_active_citizen_and_this_months_refusals():
    model = run(small("target_driven"), seed=2, months=4)
    picture = model.caseload_picture()
    pop = model.population
    assert picture[["served", "parked", "waiting"]].to_numpy().sum() == np.count_nonzero(pop.active)
    by_slot = picture[picture.slot >= 0].groupby("slot")[["served", "parked"]].sum().sum(axis=1)
    assert by_slot.to_dict() == {s: int((pop.provider[pop.in_service] == s).sum()) for s in by_slot.index}
    assert picture["refused"].sum() == model.measures["refused"]
    hardest = picture[picture.segment == model.world.n_segments - 1]["refused"].sum()
    assert hardest == model.measures["refused_hardest"]
