"""Providers: the Provider agent and the vectorised decisions it makes for its cases.

A provider's utility for a case-month is

    U = mission * wellbeing_value * expected wellbeing gain
        + (1 / slack) * [(1 - mission) * expected payment - approach cost - effort cost - admin],

where slack >= 1 is its cash beyond its starting reserve (money is worth less to a provider
holding a surplus); a provider short of cash acts with its mission scaled down instead
(``Provider.effective_mission``).

Effort across domains follows Holmstrom and Milgrom's multitask model: the cost of
effort e around the baseline t is (c/2)(e - t)' Q (e - t) with Q = (1 - d) I + d 11'
(d = substitution), so the best response to marginal benefits b is
e = t + Q^-1 b / c, clipped to [0, max_effort]. A paid-for measure on one domain
raises b there only, and through d pulls effort from the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import mesa
import numpy as np
from scipy.special import ndtr

from sim.regime import Regime
from sim.scenario import Scenario
from sim.world import APPROACH_COST

NEED_HELPED = 0.05  # below this a need is met: effort on it changes nothing a provider can see
MAX_SLACK = 4.0     # surplus cash beyond four times the reserve adds no further weight to wellbeing


def sum_last(x: np.ndarray, keepdims: bool = False) -> np.ndarray:
    """``x.sum(axis=-1)`` for a short last axis, summed left to right as numpy's reduction does.

    numpy reduces a short contiguous axis one row at a time, slowly; adding the columns is about
    three times faster and gives the same bits (in order: ((x0 + x1) + x2) + ...).
    """
    total = x[..., 0].copy() if x.shape[-1] == 1 else x[..., 0] + x[..., 1]
    for k in range(2, x.shape[-1]):
        total += x[..., k]
    return total[..., None] if keepdims else total


def max_last(x: np.ndarray) -> np.ndarray:
    """``x.max(axis=-1)`` (for arrays without NaN), column by column: faster on a short last axis."""
    best = x[..., 0].copy()
    for k in range(1, x.shape[-1]):
        np.maximum(best, x[..., k], out=best)
    return best


def effort_response(benefit: np.ndarray, baseline: float, cost: float, substitution: float,
                    max_effort: float) -> np.ndarray:
    """Best effort per domain for marginal benefits ``benefit`` (..., K), in closed form.

    Uses Q^-1 = (I - d/(1 - d + K d) 11') / (1 - d) for Q = (1 - d) I + d 11'.
    """
    k, d = benefit.shape[-1], substitution
    total = sum_last(benefit, keepdims=True)
    raw = baseline + (benefit - d / (1.0 - d + k * d) * total) / (cost * (1.0 - d))
    return np.clip(raw, 0.0, max_effort)


def effort_cost(effort: np.ndarray, baseline: float, cost: float, substitution: float) -> np.ndarray:
    """(c/2)(e - t)' Q (e - t) for every case, summing over the last axis."""
    x = effort - baseline
    d = substitution
    return 0.5 * cost * ((1.0 - d) * sum_last(x * x) + d * sum_last(x) ** 2)


def reach_probability(gap: np.ndarray, monthly_fall: np.ndarray, months: np.ndarray,
                      sigma: float) -> np.ndarray:
    """Chance that a measured need falls by ``gap`` within ``months``, at a mean fall per month."""
    return ndtr((months * monthly_fall - gap) / (sigma * np.sqrt(months)))


def gaming_probability(propensity: float, pressure: np.ndarray, mission: np.ndarray,
                       detection: float) -> np.ndarray:
    """Monthly chance of reporting a false outcome: more under pressure, less with mission, and
    deterred by the chance that a false report is found out.
    """
    return propensity * pressure * (1.0 - mission) * (1.0 - detection)


def detection_probability(audit_rate: float, voice_check: float, citizen_voice: bool) -> float:
    """Chance that a false outcome report is found: by an audit, or by citizens' own reports."""
    return 1.0 - (1.0 - audit_rate) * (1.0 - (voice_check if citizen_voice else 0.0))


def next_mission(mission: float, founding: float, shared_purpose: float, trust: float,
                 punitive: float, rate: float) -> float:
    """One month of mission: pulled up towards 1 by a shared purpose (as far as trust allows), and
    down under punitive management towards half the provider's founding mission (crowding out
    weakens intrinsic motivation but does not erase it).
    """
    pull_up = shared_purpose * trust * (1.0 - mission)
    pull_down = punitive * max(mission - founding / 2, 0.0)
    return min(max(mission + rate * (pull_up - pull_down), 0.0), 1.0)  # np.clip, without its overhead


def pressure(payment_at_risk: float, league_tables: bool, cash_stress: np.ndarray) -> np.ndarray:
    """Pressure on each provider in [0, 1]: the share of income at risk, amplified by public
    rankings and by a cash reserve below half its starting level (each adds a third).
    """
    return payment_at_risk * (1.0 + float(league_tables) + cash_stress) / 3.0


@dataclass(frozen=True)
class Terms:
    """What a provider weighs for every case this month: the payment terms and its costs."""

    payment_model: str
    fee: float
    improvement_price: float
    measure_weights: np.ndarray
    threshold: float
    drift: float
    sigma: float
    horizon: int
    wellbeing_value: float
    effort_cost: float
    substitution: float
    baseline_effort: float
    max_effort: float
    admin_cost: float
    payment_scale: float

    @classmethod
    def now(cls, scenario: Scenario, regime: Regime, sigma: float, payment_scale: float) -> Terms:
        """The terms for this month.

        ``payment_scale`` is the share of what was due that was paid last month (below one when
        the budget binds); providers expect it to continue.
        """
        p = scenario.providers
        return cls(regime.model, regime.fee_per_month, regime.improvement_price,
                   regime.measure_weights, regime.measure_threshold, scenario.population.need_drift,
                   sigma, p.horizon, p.wellbeing_value, p.effort_cost, p.substitution,
                   p.baseline_effort, p.max_effort, p.admin_cost, payment_scale)


def plan(effect: np.ndarray, need: np.ndarray, values: np.ndarray, mission: np.ndarray,
         outcome_price: np.ndarray, months_left: np.ndarray, terms: Terms,
         slack: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Value and best effort of every approach for every case.

    Args:
        effect: believed (or sampled) effect per case, approach and domain (n, A, K).
        need: recorded needs (n, K).
        values: what the provider believes each case values (n, K).
        mission: the provider's mission for each case (n,).
        outcome_price: price still to be earned on the measure for each case (n,), 0 if none.
        months_left: months the provider looks ahead for each case (n,).
        terms: payment terms and costs.
        slack: how much cash the provider holds beyond its reserve, for each case (n,), at least 1
            (see ``Provider.slack``); money is worth 1/slack to it, so wellbeing weighs more.

    Returns:
        value (n, A) in GBP per month (money discounted by 1/slack), and effort (n, A, K).
    """
    w = terms.measure_weights
    thrift = 1.0 if slack is None else (1.0 / slack)[:, None]  # what a pound is worth to it
    m = mission[:, None, None]
    months = np.maximum(months_left, 1)[:, None]
    effect = effect * (need > NEED_HELPED)[:, None, :]  # a need already met cannot fall further
    gain_per_effort = terms.wellbeing_value * values[:, None, :] * effect
    gap = (need @ w - terms.threshold)[:, None]
    if terms.payment_model == "outcomes":
        fall0 = (effect * terms.baseline_effort) @ w - terms.drift
        z0 = (months * fall0 - gap) / (terms.sigma * np.sqrt(months))
        density = np.exp(-0.5 * z0**2) / np.sqrt(2 * np.pi)
        pay_slope = (outcome_price[:, None] * density / (terms.sigma * np.sqrt(months)))[..., None]
        pay_per_effort = pay_slope * effect * w
    elif terms.payment_model == "distance_travelled":
        pay_per_effort = terms.improvement_price * effect * w
    else:
        pay_per_effort = None  # nothing paid per unit of effort
    money = thrift if np.isscalar(thrift) else thrift[..., None]
    benefit = m * gain_per_effort
    if pay_per_effort is not None:
        benefit += money * (1 - m) * (terms.payment_scale * pay_per_effort)
    effort = effort_response(benefit, terms.baseline_effort, money * terms.effort_cost,
                             terms.substitution, terms.max_effort)
    wellbeing_part = sum_last(gain_per_effort * effort)
    if terms.payment_model == "outcomes":
        fall = (effect * effort) @ w - terms.drift
        payment = outcome_price[:, None] * reach_probability(gap, fall, months, terms.sigma) / months
    elif terms.payment_model == "distance_travelled":
        payment = terms.improvement_price * (effect * effort) @ w
    elif terms.payment_model == "fee_for_service":
        payment = np.full(wellbeing_part.shape, terms.fee)
    else:
        payment = np.zeros_like(wellbeing_part)
    payment = terms.payment_scale * payment
    money_part = ((1 - m[:, :, 0]) * payment - APPROACH_COST - terms.admin_cost
                  - effort_cost(effort, terms.baseline_effort, terms.effort_cost, terms.substitution))
    return m[:, :, 0] * wellbeing_part + thrift * money_part, effort


def parking_value(mission: np.ndarray, terms: Terms, slack: np.ndarray | None = None) -> np.ndarray:
    """Value of keeping a case on the books with no real service (GBP per month, as in ``plan``).

    A fee still comes in; nothing else does.
    """
    payment = terms.fee if terms.payment_model == "fee_for_service" else 0.0
    thrift = 1.0 if slack is None else 1.0 / slack
    return thrift * ((1 - mission) * terms.payment_scale * payment - terms.admin_cost)


class Provider(mesa.Agent):
    """A charity or firm holding a contract to support citizens.

    Attributes:
        slot: the provider's row in the model's belief arrays (reused by an entrant that replaces it).
        mission: weight on citizens' wellbeing against payment, in [0, 1].
        trust: trust between this provider and the commissioner, in [0, 1].
        cash: cash reserve (GBP); below zero the provider fails and leaves.
        capacity: caseload places.
        shared: whether it shared what it learnt at the last forum.
        contract_outcomes, contract_cases: reported outcomes and cases taken in this contract.
    """

    def __init__(self, model: mesa.Model, slot: int, mission: float, scenario: Scenario) -> None:
        super().__init__(model)
        p = scenario.providers
        self.slot = slot
        self.mission = mission
        self.founding_mission = mission
        self.trust = p.initial_trust
        self.cash = p.start_cash
        self.capacity = p.capacity
        self.shared = False
        self.sanctioned = False
        self.ever_shared = False
        self.contract_outcomes = 0
        self.contract_cases = 0
        self.income = 0.0
        self.costs = 0.0

    @property
    def effective_mission(self) -> float:
        """Mission as it shows in decisions: a provider running out of cash acts commercially.

        Scaled by the cash reserve relative to the starting reserve (capped at one), so a provider
        near failure cuts effort and parks cases rather than spend its way out of business.
        """
        reserve = self.model.scenario_config.providers.start_cash
        solvency = 1.0 if reserve <= 0 else min(max(self.cash / reserve, 0.0), 1.0)
        return self.mission * solvency

    @property
    def slack(self) -> float:
        """Cash beyond the reserve the provider started with, as a ratio (1 to MAX_SLACK).

        An organisation holding more than it needs spends it on its purpose: money is worth less to
        it, so wellbeing weighs more against cost. The mirror of ``effective_mission``.
        """
        reserve = self.model.scenario_config.providers.start_cash
        return 1.0 if reserve <= 0 else min(max(self.cash / reserve, 1.0), MAX_SLACK)

    @property
    def caseload(self) -> int:
        return int(self.model.caseloads()[self.slot])

    @property
    def knowledge(self) -> float:
        return float(self.model.knowledge_of_providers[self.slot])

    def intake(self) -> None:
        """Take cases from the queue: in order, or (where selection is allowed) the most valuable.

        The model's monthly step runs every provider's intake at once (``model.intake``, in Mesa's
        random order); this runs one provider's on its own.
        """
        self.model.intake([self])

    def will_share(self) -> bool:
        """Share at a forum when trust makes it worth it."""
        return self.trust >= self.model.regime.share_threshold

    def settle(self, income: float, costs: float) -> None:
        self.income, self.costs = income, costs
        self.cash += income - costs
