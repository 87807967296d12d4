"""Payment models (ODD 7.11): what the commissioner owes, and what a provider expects to earn.

Every payment model answers the same questions, so no other module tests a model's name:

- ``due``: what is owed to each provider slot this month, from what the commissioner sees;
- ``per_outcome``: what each outcome reported this month earns (0 where outcomes are not paid);
- ``marginal``: how much one more unit of effort on a case raises its expected payment (the
  incentive in a provider's plan, ``providers.plan``), or None where pay does not depend on effort;
- ``expected``: a case's expected payment per month under a given effort;
- ``parked``: what a case still earns while it is parked;
- ``at_risk``: the share of a provider's income that depends on the measure (its pressure, 7.10);
- ``clawback``: what is recovered for false outcome reports found out (7.12);
- ``price``: the price of an outcome (0 where outcomes are not paid), and ``outcome_value`` what
  reaching it is worth to a provider's plan (with any sustainment payments it brings);
- ``closed``: the cases that can earn no further outcome (paid already, or, where outcomes are
  improvements, meeting the measure when taken on);
- ``discharged``: the cases whose paid period is over, which a programme closes.

``PAYMENT_MODELS`` is the one list of models: the scenario schema takes its allowed names from it,
so a name without a class cannot be given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from scipy.special import ndtr

if TYPE_CHECKING:
    from sim.providers import Terms
    from sim.scenario import PaymentSettings


@dataclass(frozen=True)
class Bill:
    """What the commissioner knows when it works out what is due (one row per active citizen).

    Attributes:
        n_slots: provider slots.
        provider: each citizen's provider slot (-1 while waiting).
        segment: each citizen's segment.
        in_service: each citizen is in service.
        reported: an outcome was reported for the case this month (truthfully or not).
        meets: the case meets the measure on its record now.
        outcome_age: months since the case's outcome was reported (-1: none).
        old_record, new_record: the case record a month ago and now (n, K).
        weights: the measure's weights over domains.
        drift: the expected monthly rise of a need without support.
        capacity: places of each slot's provider (0 for an empty slot).
    """

    n_slots: int
    provider: np.ndarray
    segment: np.ndarray
    in_service: np.ndarray
    reported: np.ndarray
    meets: np.ndarray
    outcome_age: np.ndarray
    old_record: np.ndarray
    new_record: np.ndarray
    weights: np.ndarray
    drift: float
    capacity: np.ndarray


def reach_probability(gap: np.ndarray, monthly_fall: np.ndarray, months: np.ndarray,
                      sigma: float) -> np.ndarray:
    """Chance that a measured need falls by ``gap`` within ``months``, at a mean fall per month."""
    return ndtr((months * monthly_fall - gap) / (sigma * np.sqrt(months)))


def reach_marginal(effect: np.ndarray, value: np.ndarray, gap: np.ndarray, months: np.ndarray,
                   terms: Terms) -> np.ndarray:
    """How much one more unit of effort raises the expected worth of reaching the measure in time,
    per case, approach and domain (n, A, K): ``value`` (n,) times the slope of the chance of
    reaching it, at baseline effort.
    """
    w = terms.measure_weights
    fall0 = (effect * terms.baseline_effort) @ w - terms.drift
    z0 = (months * fall0 - gap) / (terms.sigma * np.sqrt(months))
    density = np.exp(-0.5 * z0**2) / np.sqrt(2 * np.pi)
    slope = (value[:, None] * density / (terms.sigma * np.sqrt(months)))[..., None]
    return slope * effect * w


def reach_expected(effect: np.ndarray, effort: np.ndarray, value: np.ndarray, gap: np.ndarray,
                   months: np.ndarray, terms: Terms) -> np.ndarray:
    """The expected worth of reaching the measure in time, per month (n, A): ``value`` times the
    chance of reaching it under ``effort``, spread over the months.
    """
    fall = (effect * effort) @ terms.measure_weights - terms.drift
    return value[:, None] * reach_probability(gap, fall, months, terms.sigma) / months


class PaymentModel:
    """A way of paying providers; the base class pays nothing for outcomes and claws nothing back.

    Attributes:
        name: the model's name in scenario files (``regime.payment.model``).
        on_measure: whether pay depends on the measure, which puts income at risk.
        settings: the validated ``regime.payment`` section.
    """

    name: ClassVar[str]
    on_measure: ClassVar[bool] = False

    def __init__(self, settings: PaymentSettings, n_segments: int) -> None:
        self.settings = settings
        self.n_segments = n_segments

    def price(self, segment: np.ndarray) -> np.ndarray:
        """The price of an outcome on cases of ``segment``."""
        return np.zeros(len(segment))

    def outcome_value(self, segment: np.ndarray, closed: np.ndarray | None = None) -> np.ndarray:
        """What reaching the outcome is still worth to a provider's plan, per case (0 where
        ``closed``): its price, and any sustainment payments it then brings, expected in full.
        """
        return np.zeros(len(segment))

    def closed(self, paid: np.ndarray, met_at_intake: np.ndarray) -> np.ndarray:
        """Cases that can earn no further outcome: reported already, or, where an outcome is an
        improvement (``outcome_on_improvement``), meeting the measure when they were taken on.
        """
        return paid | met_at_intake if self.settings.outcome_on_improvement else paid

    def discharged(self, outcome_month: np.ndarray, month: int) -> np.ndarray | None:
        """Cases whose paid period is over this month (None: the model closes no case for it)."""
        return None

    def due(self, bill: Bill) -> np.ndarray:
        """What is owed to each slot this month (before attachment fees and shared risk)."""
        raise NotImplementedError

    def per_outcome(self, bill: Bill) -> np.ndarray:
        """What each outcome reported this month earns, in the order of ``bill.reported``'s rows."""
        return np.zeros(np.count_nonzero(bill.reported))

    def marginal(self, effect: np.ndarray, price: np.ndarray, gap: np.ndarray, months: np.ndarray,
                 terms: Terms) -> np.ndarray | None:
        """Expected payment per unit effort, per case, approach and domain (n, A, K); None if none."""
        return None

    def expected(self, effect: np.ndarray, effort: np.ndarray, price: np.ndarray, gap: np.ndarray,
                 months: np.ndarray, terms: Terms) -> np.ndarray:
        """Expected payment per month of each case and approach (n, A), before the budget's scale."""
        return np.zeros(effort.shape[:-1])

    def parked(self) -> float:
        """What a parked case still earns per month, before the budget's scale."""
        return 0.0

    @property
    def at_risk(self) -> float:
        """Share of a provider's income that depends on the measure (net of shared risk)."""
        return (1.0 - self.settings.shared_risk) if self.on_measure else 0.0

    def clawback(self, bill: Bill, detected: np.ndarray, scale: float) -> np.ndarray:
        """What is recovered from each slot for the ``detected`` false reports."""
        return np.zeros(bill.n_slots)


class PaymentByResults(PaymentModel):
    """A price per outcome: a case first meeting the measure (7.11), optionally dearer for harder
    segments; payments for false reports found out are clawed back where ``clawback`` is on.
    """

    name = "outcomes"
    on_measure = True

    def prices(self) -> np.ndarray:
        """Outcome price for each segment: flat, or rising to ``price_ratio_hardest`` times."""
        s = self.settings
        if not s.differential_prices:
            return np.full(self.n_segments, s.outcome_price)
        return s.outcome_price * np.linspace(1.0, s.price_ratio_hardest, self.n_segments)

    def price(self, segment: np.ndarray) -> np.ndarray:
        return self.prices()[segment]

    def outcome_value(self, segment: np.ndarray, closed: np.ndarray | None = None) -> np.ndarray:
        s = self.settings
        value = self.prices()[segment] + s.sustainment_price * s.sustainment_months
        return value if closed is None else np.where(closed, 0.0, value)

    def sustaining(self, bill: Bill) -> np.ndarray:
        """Cases earning a sustainment payment this month: in service, still meeting the measure,
        within ``sustainment_months`` after their outcome.
        """
        months = self.settings.sustainment_months
        return bill.in_service & bill.meets & (bill.outcome_age >= 1) & (bill.outcome_age <= months)

    def due(self, bill: Bill) -> np.ndarray:
        outcomes = np.bincount(bill.provider[bill.reported], weights=self.per_outcome(bill),
                               minlength=bill.n_slots)
        if not self.settings.sustainment_price:
            return outcomes
        sustained = self.sustaining(bill)
        return outcomes + self.settings.sustainment_price * np.bincount(bill.provider[sustained],
                                                                        minlength=bill.n_slots)

    def discharged(self, outcome_month: np.ndarray, month: int) -> np.ndarray | None:
        if not self.settings.discharge_after_payment:
            return None
        return (outcome_month >= 0) & (month - outcome_month >= self.settings.sustainment_months)

    def per_outcome(self, bill: Bill) -> np.ndarray:
        return self.price(bill.segment[bill.reported])

    def marginal(self, effect, price, gap, months, terms):
        return reach_marginal(effect, price, gap, months, terms)

    def expected(self, effect, effort, price, gap, months, terms):
        return reach_expected(effect, effort, price, gap, months, terms)

    def clawback(self, bill: Bill, detected: np.ndarray, scale: float) -> np.ndarray:
        if not self.settings.clawback:
            return np.zeros(bill.n_slots)
        return np.bincount(bill.provider[detected], weights=scale * self.price(bill.segment[detected]),
                           minlength=bill.n_slots)


class DistanceTravelled(PaymentModel):
    """A linear price on value added: the measured fall of the weighted need against its expected
    drift, signed case by case so that noise nets out; a provider's month is never charged.
    """

    name = "distance_travelled"
    on_measure = True

    def due(self, bill: Bill) -> np.ndarray:
        cases = bill.in_service
        month_drop = np.where(cases[:, None], bill.old_record - bill.new_record, 0.0)
        drop = month_drop @ bill.weights + bill.drift
        return np.clip(np.bincount(bill.provider[cases],
                                   weights=self.settings.improvement_price * drop[cases],
                                   minlength=bill.n_slots), 0.0, None)

    def marginal(self, effect, price, gap, months, terms):
        return self.settings.improvement_price * effect * terms.measure_weights

    def expected(self, effect, effort, price, gap, months, terms):
        return self.settings.improvement_price * (effect * effort) @ terms.measure_weights


class FeeForService(PaymentModel):
    """A fee per case-month, parked cases included."""

    name = "fee_for_service"

    def due(self, bill: Bill) -> np.ndarray:
        return self.settings.fee_per_month * np.bincount(bill.provider[bill.in_service],
                                                         minlength=bill.n_slots)

    def expected(self, effect, effort, price, gap, months, terms):
        return np.full(effort.shape[:-1], self.settings.fee_per_month)

    def parked(self) -> float:
        return self.settings.fee_per_month


class BlockGrant(PaymentModel):
    """A grant per caseload place per month, whoever fills the places."""

    name = "block_grant"

    def due(self, bill: Bill) -> np.ndarray:
        return self.settings.grant_per_place * bill.capacity


PAYMENT_MODELS: dict[str, type[PaymentModel]] = {
    cls.name: cls for cls in (PaymentByResults, DistanceTravelled, FeeForService, BlockGrant)}
"""Every payment model by its name in scenario files: the schema's allowed values."""


def payment_model(settings: PaymentSettings, n_segments: int) -> PaymentModel:
    """The payment model a validated ``regime.payment`` section names."""
    return PAYMENT_MODELS[settings.model](settings, n_segments)
