"""Service: each provider's approach, effort and parking for its cases (ODD 7.5, 7.6).

Every case in service gets, from its provider, an approach (chosen by Thompson sampling at intake
and at each review), effort on each domain (the multitask best response, ``providers.plan``) and
the decision to serve or to park it. The model's month serves every provider's cases at once;
``Provider.serve`` runs the same for one provider's cases.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.arrays import max_last
from sim.providers import effort_cost, parking_value, plan
from sim.world import APPROACH_COST

if TYPE_CHECKING:
    from sim.learning import Outlook
    from sim.model import CommissioningModel


@dataclass(frozen=True)
class Service:
    """What the month's service hands on.

    Attributes:
        costs: each slot's costs this month (GBP): its cases and its overhead.
    """

    costs: np.ndarray


def choice_due(approach: np.ndarray, months_in_service: np.ndarray, review_months: int) -> np.ndarray:
    """Cases whose approach is chosen now: those without one, and those due a review."""
    return (approach < 0) | ((months_in_service > 0) & (months_in_service % review_months == 0))


def choice_regret(value_of: Callable[[np.ndarray], np.ndarray], truth: np.ndarray,
                  chosen: np.ndarray) -> np.ndarray:
    """What each approach choice loses, in the provider's own terms, for not knowing the effects.

    ``value_of(effect)`` values every approach for the chosen cases as the provider would (with
    what it knows of the case and of what the citizen values); the oracle knows the true effects
    ``truth`` (per case, approach and domain). Regret is the oracle's best value minus the true
    value of the approach chosen (GBP per month), the regret of the bandit literature.
    """
    true_value = value_of(truth)
    return true_value.max(axis=1) - true_value[np.arange(len(chosen)), chosen]


def serve(model: CommissioningModel, outlook: Outlook, cases: np.ndarray | None = None) -> Service:
    """Approach choice, effort and parking for ``cases`` (default: every case in service).

    Returns each slot's costs: its ``cases``' costs and its overhead.
    """
    pop, sc, regime = model.population, model.scenario_config, model.regime
    slots = model.market.slots
    everyone = cases is None
    if everyone:
        cases = np.flatnonzero(pop.in_service)
    slot, seg = pop.provider[cases], pop.segment[cases]
    mission = np.array([p.effective_mission if p else 0.0 for p in slots])[slot]
    thrift = np.array([p.thrift if p else 1.0 for p in slots])[slot]
    months = np.minimum(sc.providers.horizon,
                        sc.population.max_service_months - pop.months_in_service[cases])
    closed = regime.payment.closed(pop.paid[cases], pop.met_at_intake[cases])
    price = regime.payment.outcome_value(seg, closed)
    stake = np.where(closed, 0.0, outlook.stakes[slot])
    values = outlook.values[slot, seg]
    need = pop.recorded_need[cases]
    terms = outlook.terms

    choose = choice_due(pop.approach[cases], pop.months_in_service[cases],
                        sc.providers.approach_review_months)
    if choose.any():
        c = choose
        sample = outlook.mean[slot[c], seg[c]] + outlook.sd[slot[c], seg[c]] * model.rng.standard_normal(
            (np.count_nonzero(c), *outlook.mean.shape[2:]))

        def value_of(effect: np.ndarray) -> np.ndarray:
            return plan(effect, need[c], values[c], mission[c], price[c], months[c], terms, thrift[c],
                        stake[c])[0]

        chosen = value_of(sample).argmax(axis=1)
        pop.approach[cases[c]] = chosen
        regret = np.bincount(slot[c], weights=choice_regret(value_of, model.world.truth[seg[c]], chosen),
                             minlength=len(slots))
        for provider in model.market.providers:
            provider.regret += regret[provider.slot]

    approach = pop.approach[cases]
    value, effort = plan(outlook.hypothesis[slot, seg], need, values, mission, price, months, terms,
                         thrift, stake)
    # parking is a decision about the case: no approach is believed worth its cost
    parked = max_last(value) < parking_value(mission, terms, thrift)
    effort = np.where(parked[:, None], 0.0, effort[np.arange(len(cases)), approach])
    pop.parked[cases] = parked
    if everyone:
        pop.effort[:] = 0.0  # nobody waiting gets effort
    pop.effort[cases] = effort

    case_cost = terms.admin_cost + np.where(
        parked, 0.0, APPROACH_COST[approach]
        + effort_cost(effort, terms.baseline_effort, terms.effort_cost, terms.substitution))
    costs = np.bincount(slot, weights=case_cost, minlength=len(slots))
    overhead = np.array([sc.providers.overhead if p else 0.0 for p in slots])
    return Service(costs + overhead)
