"""Gaming as falsified records (ODD 7.10): the least change, detection per domain, the decision,
and falsified records flowing into what others learn."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run, small
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import gaming, load
from sim.citizens import meets_measure
from sim.market import expected_cases, standing_stakes

THRESHOLD = np.array([1.0, 0.0, 0.0, 0.0])
COMPOSITE = np.array([0.2, 0.3, 0.25, 0.25])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0.0, 1.0), min_size=4, max_size=4), st.floats(0.05, 0.4),
       st.sampled_from(["threshold", "composite"]))
def test_the_falsified_record_meets_the_measure_whenever_it_can(need, tau, which):
    weights = THRESHOLD if which == "threshold" else COMPOSITE
    record = np.array([need])
    change, feasible = gaming.falsification(record, weights, tau)
    assert (change >= 0).all() and (record - change >= -1e-12).all()  # lowered, not below 0
    if feasible[0]:
        assert meets_measure(record - change, weights, tau + 1e-9)[0]
    else:  # every domain lowered to 0 still misses
        assert (np.maximum(record, 0) @ weights) > tau


def test_a_threshold_is_met_by_one_change_of_the_gap_a_composite_by_a_larger_one():
    record = np.array([[0.5, 0.5, 0.5, 0.5]])
    one, _ = gaming.falsification(record, THRESHOLD, 0.4)
    np.testing.assert_allclose(one, [[0.1, 0, 0, 0]])
    several, _ = gaming.falsification(record, COMPOSITE, 0.4)
    assert np.count_nonzero(several) == 1 and several[0, 1] == pytest.approx(0.1 / 0.3)  # heaviest
    assert several.sum() > one.sum()  # the composite needs more: harder to falsify unseen
    deep, _ = gaming.falsification(np.array([[0.9, 0.1, 0.9, 0.9]]), COMPOSITE, 0.25)
    assert np.count_nonzero(deep) > 1  # the heaviest domain has too little room: the next ones too


def test_detection_rises_with_the_change_and_with_audits_and_voice():
    changes = np.array([[0.05, 0, 0, 0], [0.2, 0, 0, 0], [0.6, 0, 0, 0], [0.3, 0.3, 0, 0]])
    p = gaming.detection_chance(changes, 0.2, 0.3, False, 0.2)
    assert np.all(np.diff(p[:3]) > 0) and p[3] > p[1]  # larger or more changes: found more often
    assert p[2] <= 0.2  # an audit is needed to find it (no voice)
    assert np.all(gaming.detection_chance(changes, 0.5, 0.3, False, 0.2) > p)
    assert np.all(gaming.detection_chance(changes, 0.2, 0.3, True, 0.2) > p)
    assert gaming.domain_detection(np.array(0.2), 0.2) == pytest.approx(1 - np.exp(-1))


def test_the_decision_weighs_gain_against_integrity_and_risk():
    gain = gaming.false_report_gain(np.array([4000.0]), np.array([0.0]), np.array([0.1]), True, 10000.0)
    assert gain[0] == pytest.approx(0.9 * 4000 - 0.1 * 10000)
    assert gaming.falsifies(gain, np.array([0.0]), np.array([1.0]), 3000.0)[0]   # no mission: it does
    assert not gaming.falsifies(gain, np.array([0.9]), np.array([1.0]), 3000.0)[0]  # a mission: not
    kept = gaming.false_report_gain(np.array([4000.0]), np.array([0.0]), np.array([0.1]), False, 0.0)
    assert kept[0] == 4000.0  # no clawback: the payment stays even if found


def test_an_outcome_early_in_a_contract_counts_among_all_the_cases_still_to_come():
    """At a contract's start no case has been taken, yet the score judged at its end will hold
    every referral of the months left: an outcome then is worth about what one late on is."""
    assert expected_cases(np.array([0.0, 90.0]), 7.5, 36).tolist() == [270.0, 360.0]
    def stakes(cases_by_the_end):  # eight providers level on the score, all at risk
        return standing_stakes(np.zeros(8), cases_by_the_end, np.ones(8, bool), 0.25, 100_000.0,
                               False, 0.0)

    start = stakes(expected_cases(np.zeros(8), 7.5, 36))
    late = stakes(expected_cases(np.full(8, 270.0), 7.5, 1))
    assert np.allclose(start, late, rtol=0.05) and start.max() < 100_000.0 / 10


def test_a_provider_does_not_spend_its_way_out_of_business_at_re_tendering():
    """Every contract starts afresh at month 36; no learning-oriented provider fails there (at the
    default size, where before ``expected_cases`` every one did)."""
    model = run(load("learning_oriented"), seed=0, months=40)
    assert model.results()["provider_exits_total"].iloc[-1] == 0


def test_stakes_are_largest_near_the_cut_off_and_zero_without_re_tendering():
    scores = np.array([0.05, 0.10, 0.12, 0.30, 0.31, 0.32, 0.33, 0.34])
    cases = np.full(8, 50)
    at_risk = np.ones(8, bool)
    stakes = standing_stakes(scores, cases, at_risk, 0.25, 100_000.0, False, 0.0)
    assert stakes.argmax() in (1, 2) and (stakes > 0).all()
    assert (standing_stakes(scores, cases, np.zeros(8, bool), 0.25, 100_000.0, False, 0.0) == 0).all()
    public = standing_stakes(scores, cases, np.zeros(8, bool), 0.25, 100_000.0, True, 50_000.0)
    assert (public > 0).all()  # a public ranking is a stake of its own


def test_gaming_happens_wherever_a_score_matters():
    """Under fees with league tables and re-tendering on the score, records are falsified too."""
    fees = run(small("target_driven", model="fee_for_service", gaming_propensity=0.5), seed=2, months=24)
    assert fees.results()["false_reports"].sum() > 0
    none = run(small("target_driven", model="fee_for_service", gaming_propensity=0.5,
                     retender_rule="none", league_tables=False), seed=2, months=24)
    assert none.results()["false_reports"].sum() == 0  # nothing hangs on the score: no gaming


def test_falsified_records_corrupt_what_the_commissioner_receives_not_what_the_provider_knows():
    honest = run(small("hybrid_targets_with_forums", gaming_propensity=0.0), seed=3, months=18)
    gamed = run(small("hybrid_targets_with_forums", gaming_propensity=1.0, mission_mean=0.0,
                      mission_spread=0.0, integrity_cost=0.0), seed=3, months=18)
    assert gamed.results()["false_reports"].sum() > 0
    assert np.abs(gamed.evidence.falsified).sum() > 0 and np.abs(honest.evidence.falsified).sum() == 0
    # what it reported carries the falsification; what it saw itself does not
    assert (gamed.evidence.falsified[..., 0] == 0).all()  # information only: no false precision
    assert gamed.measures["commissioner_belief_error"] != honest.measures["commissioner_belief_error"]
