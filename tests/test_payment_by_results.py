"""Payment by results as programmes pay it: on improvement, sustained, discharged, and mandatory
referral beside selection."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run, small

from sim.measures import MEASURES


def pbr(**fields):
    return small("target_driven", **fields)


def test_outcomes_are_improvements_so_no_payment_is_deadweight():
    """By default an outcome is a case that did not meet the measure when taken on."""
    improving = run(pbr(), seed=3, months=30)
    assert improving.commissioner.outcome_payments > 0
    assert improving.measures["deadweight_share"] == 0.0
    anyone = run(pbr(outcome_on_improvement=False), seed=3, months=30)
    assert anyone.measures["deadweight_share"] > 0  # cases met at intake are paid for too


def test_reported_cases_never_met_the_measure_at_intake():
    model = run(pbr(), seed=4, months=12)
    pop = model.population
    assert not (pop.paid & pop.met_at_intake).any()


def test_sustainment_pays_for_months_the_outcome_is_kept():
    plain = run(pbr(discharge_after_payment=False), seed=5, months=24)
    kept = run(pbr(discharge_after_payment=False, sustainment_price=100.0, sustainment_months=6),
               seed=5, months=24)
    # the same world and the same first outcomes; sustainment adds payments for months kept
    assert kept.commissioner.outcome_payments > 0
    extra = kept.results()["spend"].sum() - plain.results()["spend"].sum()
    assert extra != 0


def test_cases_are_discharged_after_their_paid_period():
    model = run(pbr(sustainment_months=3), seed=6, months=30)
    assert model.measures["discharged_total"] > 0
    pop = model.population
    open_paid = pop.in_service & (pop.outcome_month >= 0)
    assert (model.time - pop.outcome_month[open_paid] < 3).all()  # none kept past its period
    kept = run(pbr(discharge_after_payment=False), seed=6, months=30)
    assert kept.measures["discharged_total"] == 0
    fees = run(small("learning_oriented"), seed=6, months=30)
    assert fees.measures["discharged_total"] == 0  # only payment by results closes cases for it


def test_mandatory_referral_refuses_nobody_so_creaming_is_by_parking():
    model = run(pbr(selection_allowed=False), seed=7, months=24)
    results = model.results()
    assert (results["refused"] == 0).all() and results["refused_share_hardest"].fillna(0).eq(0).all()
    selecting = run(pbr(selection_allowed=True), seed=7, months=24).results()
    assert selecting["refused"].sum() > 0


def test_refusals_are_also_counted_per_citizen():
    model = run(pbr(selection_allowed=True), seed=8, months=24)
    pop, m = model.population, model.measures
    hardest = pop.segment == model.world.n_segments - 1
    followed = pop.followed(24, model.scenario_config.population.followup_months)
    expected = (pop.refusals[followed & hardest] > 0).mean()
    assert m["refused_share_hardest"] == pytest.approx(expected)
    assert MEASURES["refused_share_hardest"].high == 1.0 and 0 <= expected <= 1


def test_a_false_report_found_out_is_no_outcome():
    """A false report found out is off the books (not paid, no outcome month): a case carries an
    outcome month exactly when its outcome stands."""
    model = run(pbr(gaming_propensity=1.0, audit_rate=0.9, mission_mean=0.0, mission_spread=0.0,
                    discharge_after_payment=False), seed=9, months=8)
    pop = model.population
    assert model.results()["detected_gaming"].sum() > 0
    cases = pop.in_service
    np.testing.assert_array_equal(pop.paid[cases], pop.outcome_month[cases] >= 0)
