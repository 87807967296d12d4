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
from typing import TYPE_CHECKING

import mesa
import numpy as np

from sim.arrays import sum_last
from sim.payment import PaymentModel, reach_expected, reach_marginal
from sim.world import APPROACH_COST

if TYPE_CHECKING:
    from sim.learning import Outlook
    from sim.market import Intake
    from sim.regime import Regime
    from sim.scenario import Scenario

NEED_HELPED = 0.05  # below this a need is met: effort on it changes nothing a provider can see
MAX_SLACK = 4.0     # surplus cash beyond four times the reserve adds no further weight to wellbeing
MIN_THRIFT = 1e-3   # a pound is worth at least this much, even with every deficit covered


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


def next_mission(mission: float, founding: float, shared_purpose: float, trust: float,
                 punitive: float, rate: float) -> float:
    """One month of mission: pulled up towards 1 by a shared purpose (as far as trust allows), and
    down under punitive management towards half the provider's founding mission (crowding out
    weakens intrinsic motivation but does not erase it).
    """
    pull_up = shared_purpose * trust * (1.0 - mission)
    pull_down = punitive * max(mission - founding / 2, 0.0)
    return min(max(mission + rate * (pull_up - pull_down), 0.0), 1.0)  # np.clip, without its overhead


@dataclass(frozen=True)
class Terms:
    """What a provider weighs for every case this month: the payment terms and its costs."""

    payment: PaymentModel
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
        return cls(regime.payment, regime.measure_weights, regime.settings.measure_threshold,
                   scenario.population.need_drift,
                   sigma, p.horizon, p.wellbeing_value, p.effort_cost, p.substitution,
                   p.baseline_effort, p.max_effort, p.admin_cost, payment_scale)


def plan(effect: np.ndarray, need: np.ndarray, values: np.ndarray, mission: np.ndarray,
         outcome_price: np.ndarray, months_left: np.ndarray, terms: Terms,
         thrift: np.ndarray | None = None, stake: np.ndarray | None = None
         ) -> tuple[np.ndarray, np.ndarray]:
    """Value and best effort of every approach for every case.

    Args:
        effect: believed (or sampled) effect per case, approach and domain (n, A, K).
        need: recorded needs (n, K).
        values: what the provider believes each case values (n, K).
        mission: the provider's mission for each case (n,).
        outcome_price: price still to be earned on the measure for each case (n,), 0 if none.
        months_left: months the provider looks ahead for each case (n,).
        terms: payment terms and costs.
        thrift: what a pound is worth to the provider, for each case (n,) (``Provider.thrift``):
            1/slack, less any share of a deficit the commissioner covers; the less a pound is
            worth, the more wellbeing weighs.
        stake: what the case reaching the measure is worth to the provider's standing (n,): its
            contract and public rank (``market.standing_stakes``), whatever the payment model.

    Returns:
        value (n, A) in GBP per month (money valued at ``thrift``), and effort (n, A, K).
    """
    w = terms.measure_weights
    thrift = 1.0 if thrift is None else thrift[:, None]  # what a pound is worth to it
    m = mission[:, None, None]
    months = np.maximum(months_left, 1)[:, None]
    effect = effect * (need > NEED_HELPED)[:, None, :]  # a need already met cannot fall further
    gain_per_effort = terms.wellbeing_value * values[:, None, :] * effect
    gap = (need @ w - terms.threshold)[:, None]
    pay_per_effort = terms.payment.marginal(effect, outcome_price, gap, months, terms)
    money = thrift if np.isscalar(thrift) else thrift[..., None]
    benefit = m * gain_per_effort
    if pay_per_effort is not None:
        benefit += money * (1 - m) * (terms.payment_scale * pay_per_effort)
    staked = stake is not None and bool(stake.any())
    if staked:  # the measure also matters to its standing: the contract and the public ranking
        benefit += money * (1 - m) * reach_marginal(effect, stake, gap, months, terms)
    effort = effort_response(benefit, terms.baseline_effort, money * terms.effort_cost,
                             terms.substitution, terms.max_effort)
    wellbeing_part = sum_last(gain_per_effort * effort)
    payment = terms.payment.expected(effect, effort, outcome_price, gap, months, terms)
    payment = terms.payment_scale * payment
    if staked:
        payment = payment + reach_expected(effect, effort, stake, gap, months, terms)
    money_part = ((1 - m[:, :, 0]) * payment - APPROACH_COST - terms.admin_cost
                  - effort_cost(effort, terms.baseline_effort, terms.effort_cost, terms.substitution))
    return m[:, :, 0] * wellbeing_part + thrift * money_part, effort


def parking_value(mission: np.ndarray, terms: Terms, thrift: np.ndarray | None = None) -> np.ndarray:
    """Value of keeping a case on the books with no real service (GBP per month, as in ``plan``).

    A fee still comes in; nothing else does.
    """
    payment = terms.payment.parked()
    thrift = 1.0 if thrift is None else thrift
    return thrift * ((1 - mission) * terms.payment_scale * payment - terms.admin_cost)


class Provider(mesa.Agent):
    """A charity or firm holding a contract to support citizens.

    Its decisions are its own methods, each vectorised over its cases (the model's month runs
    every provider's at once, through the same functions): ``value_referrals`` and ``intake``
    (whom to take, 7.7), ``serve`` (approach, effort, parking, 7.5-7.6), ``false_reports``
    (gaming, 7.10), ``will_share`` (7.15) and ``update_mission`` (7.16).

    Attributes:
        slot: the provider's row in the model's belief arrays (reused by an entrant that replaces it).
        mission: weight on citizens' wellbeing against payment, in [0, 1].
        founding_mission: its mission when it entered.
        trust: trust between this provider and the commissioner, in [0, 1].
        cash: cash reserve (GBP); below zero the provider fails and leaves.
        reserve: the cash it started its contract with (GBP).
        capacity: caseload places.
        regret: cumulative regret of its approach choices since it entered (7.6).
        in_deficit: its costs exceeded its income last month.
        shared: whether it shared what it learnt at the last exchange.
        ever_shared: whether it shared during this contract.
        sanctioned: whether it was sanctioned this month.
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
        self.reserve = p.start_cash
        self.capacity = p.capacity
        self.regret = 0.0
        self.in_deficit = False
        self.shared = False
        self.sanctioned = False
        self.ever_shared = False
        self.contract_outcomes = 0
        self.contract_cases = 0

    @property
    def effective_mission(self) -> float:
        """Mission as it shows in decisions: a provider running out of cash acts commercially.

        Scaled by the cash reserve relative to the starting reserve (capped at one), so a provider
        near failure cuts effort and parks cases rather than spend its way out of business.
        """
        solvency = 1.0 if self.reserve <= 0 else min(max(self.cash / self.reserve, 0.0), 1.0)
        return self.mission * solvency

    @property
    def slack(self) -> float:
        """Cash beyond the reserve the provider started with, as a ratio (1 to MAX_SLACK).

        An organisation holding more than it needs spends it on its purpose: money is worth less to
        it, so wellbeing weighs more against cost. The mirror of ``effective_mission``.
        """
        return 1.0 if self.reserve <= 0 else min(max(self.cash / self.reserve, 1.0), MAX_SLACK)

    @property
    def thrift(self) -> float:
        """What a pound is worth to it in its decisions: ``1 / slack``, less the share of a deficit
        the commissioner covers (``payment.shared_risk``) when it ran a deficit last month: a pound
        lost then costs it only the part not covered, so money weighs less against wellbeing.
        """
        covered = self.model.regime.settings.payment.shared_risk if self.in_deficit else 0.0
        return max(1.0 - covered, MIN_THRIFT) / self.slack

    @property
    def caseload(self) -> int:
        return int(self.model.market.caseloads()[self.slot])

    @property
    def knowledge(self) -> float:
        """Decision quality of its beliefs at the last measurement (7.21)."""
        return float(self.model.knowledge_by_slot[self.slot])

    def cases(self) -> np.ndarray:
        """Rows of the population that are its cases in service."""
        pop = self.model.population
        return np.flatnonzero(pop.in_service & (pop.provider == self.slot))

    def value_referrals(self, rows: np.ndarray, outlook: Outlook) -> np.ndarray:
        """What taking each referred citizen in ``rows`` is worth to it over its horizon (GBP)."""
        n = len(rows)
        return self.model.market.referral_value(rows, np.full(n, self.slot),
                                                np.full(n, self.effective_mission),
                                                np.full(n, self.thrift), outlook)

    def intake(self, outlook: Outlook, intake: Intake) -> None:
        """Take cases from the queue on its own: in order, or (where selection is allowed) the most
        valuable. The model's month runs every provider's turn at once (``Market.intake``).
        """
        self.model.market.intake([self], outlook, intake)

    def serve(self, outlook: Outlook) -> float:
        """Approach, effort and parking for its own cases; returns its costs this month (GBP)."""
        from sim.service import serve  # service builds on the provider's decision functions

        return float(serve(self.model, outlook, self.cases()).costs[self.slot])

    def false_reports(self, rows: np.ndarray, outlook: Outlook) -> tuple[np.ndarray, np.ndarray]:
        """Which of its cases ``rows`` that miss the measure it reports falsely this month, and how
        it changes their records (``reporting.false_reports``, 7.10).
        """
        from sim.reporting import false_reports  # reporting builds on the provider's decisions

        return false_reports(self.model, rows, outlook)

    def will_share(self) -> bool:
        """Share at a forum when trust makes it worth it."""
        return self.trust >= self.model.regime.settings.share_threshold

    def settle(self, income: float, costs: float) -> None:
        """The month's payment in, its costs out (7.13)."""
        self.cash += income - costs
        self.in_deficit = income < costs

    def update_mission(self, regime: Regime, rate: float) -> None:
        """Mission rises with trust under a shared purpose and falls under punitive management."""
        punitive = min(1.0, float(regime.settings.league_tables) + float(self.sanctioned))
        self.mission = next_mission(self.mission, self.founding_mission, regime.settings.shared_purpose,
                                    self.trust, punitive, rate)
