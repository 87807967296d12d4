"""Competition that can select, and practices that spread (ODD 7.23): each pure function alone,
then the market's use of them.
"""

from __future__ import annotations

import numpy as np
import pytest
from conftest import run, small

from sim import competition
from sim.citizens import next_need
from sim.providers import Traits, plan
from sim.world import APPROACH_COST, SHOCK

OFF = competition.AT_THE_NORM


def test_mean_one_has_mean_one_and_the_log_spread_asked_for():
    z = np.random.default_rng(0).standard_normal(400_000)
    factors = competition.mean_one(z, 0.3)
    assert factors.mean() == pytest.approx(1.0, abs=0.003)
    assert np.log(factors).std() == pytest.approx(0.3, rel=0.01)
    assert np.array_equal(competition.mean_one(z, 0.0), np.ones_like(z))


def test_a_bidder_is_the_same_however_many_bid_and_differs_by_slot_and_entry():
    few = competition.candidates(7, slot=2, entry=1, bidders=2, n_approaches=5, n_domains=4,
                                 capability_spread=0.2, cost_spread=0.15)
    many = competition.candidates(7, slot=2, entry=1, bidders=6, n_approaches=5, n_domains=4,
                                  capability_spread=0.2, cost_spread=0.15)
    assert np.array_equal(few.skill, many.skill[:2]) and np.array_equal(few.cost, many.cost[:2])
    assert np.array_equal(few.variation, many.variation[:2])
    assert many.skill.shape == (6, 5) and many.cost.shape == (6,) and many.variation.shape == (6, 9)
    other_slot = competition.candidates(7, 3, 1, 2, 5, 4, 0.2, 0.15)
    next_entry = competition.candidates(7, 2, 2, 2, 5, 4, 0.2, 0.15)
    assert not np.array_equal(few.skill, other_slot.skill)
    assert not np.array_equal(few.skill, next_entry.skill)


def test_the_lowest_bid_wins_ties_to_the_first():
    assert competition.lowest_bid(np.array([1.2, 0.9, 1.0])) == 1
    assert competition.lowest_bid(np.array([0.9, 0.9])) == 0


def test_an_entrant_copies_as_far_as_its_mission_lets_it():
    model, variation = np.array([1.0, -2.0, 0.5]), np.array([0.1, 0.0, -0.1])
    assert np.allclose(competition.adopt(model, variation, 0.0), model + variation)
    assert np.allclose(competition.adopt(model, variation, 1.0), variation)
    assert np.allclose(competition.adopt(model, variation, 0.25), 0.75 * model + variation)
    assert np.array_equal(competition.adopt(None, variation, 0.3), variation)


def test_an_incumbent_moves_part_of_the_way_to_what_its_mission_allows():
    practice, model = np.array([0.0, 1.0]), np.array([2.0, -1.0])
    assert np.array_equal(competition.imitate(practice, model, 0.0, 0.5), practice)
    assert np.allclose(competition.imitate(practice, model, 1.0, 0.5), 0.5 * model)
    assert np.allclose(competition.imitate(practice, model, 0.1, 0.0), practice + 0.1 * (model - practice))
    # repeated, it settles at the mission-bounded copy, not at the model
    for _ in range(500):
        practice = competition.imitate(practice, model, 0.1, 0.4)
    assert np.allclose(practice, 0.6 * model)


def test_focus_is_a_share_and_emphasis_averages_one():
    practice = np.array([[0.0, 0.0, 0.0, 0.0, 0.3, -0.2], [np.log(3.0), 0.0, 0.0, 0.0, 0.0, 0.0]])
    focus = competition.focus(practice, 4)
    assert np.allclose(focus.sum(axis=1), 1.0)
    assert np.allclose(focus[0], 0.25) and focus[1, 0] == pytest.approx(0.5)
    assert np.allclose(competition.emphasis(practice, 4).mean(axis=1), 1.0)
    assert np.array_equal(competition.favour(practice, 4), practice[:, 4:])


def _plan_inputs(n: int = 3):
    rng = np.random.default_rng(4)
    effect = rng.uniform(0.0, 0.05, (n, len(APPROACH_COST), 4))
    need = rng.uniform(0.3, 1.0, (n, 4))
    values = np.full((n, 4), 0.25)
    terms = run(small("target_driven"), seed=1, months=1).month.outlook.terms
    return effect, need, values, np.full(n, 0.5), np.full(n, 3000.0), np.full(n, 6.0), terms


def test_plan_at_the_norm_is_plan_without_traits():
    args = _plan_inputs()
    norm = Traits(np.ones(3), np.ones((3, 4)), np.zeros((3, len(APPROACH_COST))))
    value, effort = plan(*args)
    value_norm, effort_norm = plan(*args, traits=norm)
    assert np.array_equal(value, value_norm) and np.array_equal(effort, effort_norm)


def test_emphasis_moves_effort_to_the_domain_and_cost_and_favour_move_value():
    args = _plan_inputs()
    base = Traits(np.ones(3), np.ones((3, 4)), np.zeros((3, len(APPROACH_COST))))
    measured = Traits(np.ones(3), competition.emphasis(np.tile([1.0, 0, 0, 0], (3, 1)), 4),
                      base.favour)
    _, effort = plan(*args, traits=base)
    _, focused = plan(*args, traits=measured)
    assert (focused[..., 0] >= effort[..., 0]).all() and (focused[..., 0] > effort[..., 0]).any()
    value, _ = plan(*args, traits=base)
    dearer, _ = plan(*args, traits=Traits(np.full(3, 1.3), base.emphasis, base.favour))
    assert (dearer < value).all()
    favoured = base.favour.copy()
    favoured[:, 1] = 0.5
    value_f, _ = plan(*args, traits=Traits(base.cost, base.emphasis, favoured))
    assert np.allclose(value_f[:, [0, 2, 3, 4]], value[:, [0, 2, 3, 4]])
    assert np.allclose(value_f[:, 1] - value[:, 1], APPROACH_COST[1] * (1 - np.exp(-0.5)))


# --- the market -----------------------------------------------------------------------------------

def test_switched_off_every_provider_works_at_the_norm_through_re_tendering():
    model = run(small("target_driven", contract_months=6, **OFF), seed=3, months=14)
    assert model.market.replaced > 0
    for provider in model.market.providers:
        assert np.array_equal(provider.skill, np.ones(len(APPROACH_COST)))
        assert provider.cost_factor == 1.0 and not provider.practice.any()


def test_re_tendering_records_whom_it_competed_and_replaces_the_lowest_scores():
    model = run(small("target_driven", contract_months=6), seed=3, months=13)
    tendered = model.market.tendered
    assert {r["month"] for r in tendered} == {6.0, 12.0}
    for month in (6.0, 12.0):
        rows = [r for r in tendered if r["month"] == month]
        assert len(rows) == 4 and sum(r["replaced"] for r in rows) == 1
        lost = next(r for r in rows if r["replaced"])
        assert lost["score"] == min(r["score"] for r in rows)


def test_entrants_draw_the_same_capability_in_every_regime():
    """Common random numbers: the n-th entrant bidding in a slot is the same bidder whatever the
    regime, so a difference in the entrants' capability is the regime's doing.
    """
    a = run(small("target_driven"), seed=5, months=1).market.providers
    b = run(small("learning_oriented"), seed=5, months=1).market.providers
    for p, q in zip(a, b, strict=True):
        assert np.array_equal(p.skill, q.skill) and p.cost_factor == q.cost_factor


def test_skill_scales_the_true_effect_a_case_receives():
    """A provider twice as skilled moves its served cases' needs twice as far (before drift and
    shocks), with the same effort.
    """
    model = run(small("learning_oriented", **OFF), seed=2, months=2)
    pop, world = model.population, model.world
    before = pop.need.copy()
    skill = np.ones((len(model.market.slots), len(APPROACH_COST)))
    skill[0] = 2.0
    served = pop.in_service & ~pop.parked & (pop.provider == 0)
    assert served.any()
    effect = world.truth.reshape(-1, world.n_domains)[pop.segment * world.truth.shape[1]
                                                       + np.where(served, pop.approach, 0)]
    effect *= pop.effort
    shock = world.shock_sd * world.noise(pop.id, 3, SHOCK)
    pop.live(world, 3, skill)
    expected = next_need(before, world.need_drift, shock, 2.0 * effect)
    assert np.allclose(pop.need[served], expected[served])


def test_switched_off_the_number_of_bidders_and_the_imitation_rate_change_nothing():
    base = run(small("target_driven", contract_months=6, **OFF), seed=4, months=14).results()
    other = run(small("target_driven", contract_months=6, bidders=7, imitation_rate=0.9, **OFF),
                seed=4, months=14).results()
    assert base.equals(other)
