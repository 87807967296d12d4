"""Reporting and settlement: outcome reports and gaming, payment, audits and clawback, cash and
failure (ODD 7.10-7.13), in that order, as one phase of the month (``settle``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.citizens import meets_measure
from sim.payment import Bill
from sim.providers import detection_probability

if TYPE_CHECKING:
    from sim.citizens import Living
    from sim.market import Intake
    from sim.model import CommissioningModel
    from sim.service import Service


@dataclass(frozen=True)
class Settlement:
    """What the month's reporting and settlement did (counts and GBP).

    Attributes:
        reports: outcome reports made (true and false).
        false_reports: reports of outcomes that did not happen.
        detected: false reports found out this month.
        clawback: money recovered for them (GBP).
        commissioning: what the commissioner's own activities cost, paid this month (GBP).
        spend: the commissioner's net spend this month: its activities and its payments to
            providers, less clawbacks (GBP).
    """

    reports: float
    false_reports: float
    detected: float
    clawback: float
    commissioning: float
    spend: float

    @classmethod
    def none(cls) -> Settlement:
        """Before the first month: nothing reported or paid."""
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def settle(model: CommissioningModel, month: int, intake: Intake, service: Service,
           living: Living) -> Settlement:
    """Report outcomes (some falsely), pay what is due, audit and claw back, and settle cash.

    1. Cases in service that meet the measure on the record and have not been paid for are
       reported; each provider reports some that do not, at its ``false_report_chance`` (7.10).
    2. The commissioner pays its own activities' costs, then what the payment model says is due,
       plus attachment fees and its share of each provider's deficit, within what its budget leaves
       (7.11, 7.17).
    3. It audits this month's reports; what it finds is taken off the league table, clawed back
       where the payment model does, and sanctioned (7.12). It tallies what it paid for outcomes
       and the deadweight among them (cases that met the measure when they were taken on).
    4. Providers settle their cash; any left below zero fails (7.13).
    """
    pop, regime, com, market = model.population, model.regime, model.commissioner, model.market
    settings = regime.settings
    slots = market.slots
    n_slots = len(slots)
    active = np.array([p is not None for p in slots])
    cases = pop.in_service
    meets = meets_measure(pop.recorded_need, regime.measure_weights, settings.measure_threshold)
    met = cases & meets
    open_cases = cases & ~regime.payment.closed(pop.paid, pop.met_at_intake)  # can still be an outcome
    truthful = open_cases & met
    detection = detection_probability(settings.payment.audit_rate, settings.voice_check,
                                      settings.citizen_voice)
    chance = np.array([p.false_report_chance(regime, detection) if p else 0.0 for p in slots])
    candidates = np.flatnonzero(open_cases & ~met)  # one draw each: could be reported falsely
    gamed = np.zeros(len(pop), bool)
    gamed[candidates] = model.rng.random(len(candidates)) < chance[pop.provider[candidates]]
    reported = truthful | gamed
    pop.paid |= reported
    pop.gamed |= gamed
    pop.outcome_month[reported] = month
    per_slot = np.bincount(pop.provider[reported], minlength=n_slots)
    for provider in market.providers:
        provider.contract_outcomes += int(per_slot[provider.slot])

    outcome_age = np.where(pop.outcome_month >= 0, month - pop.outcome_month, -1)
    bill = Bill(n_slots, pop.provider, pop.segment, cases, reported, meets, outcome_age, living.old_record,
                pop.recorded_need, regime.measure_weights, model.world.need_drift,
                np.array([p.capacity if p else 0 for p in slots]))
    due = intake.attachment_due + regime.payment.due(bill)
    due += settings.payment.shared_risk * np.clip(service.costs - due, 0.0, None) * active
    paid = com.pay(due)

    rows = np.flatnonzero(reported)
    found = com.audit(rows, gamed[rows])
    detected = np.zeros(len(pop), bool)
    detected[rows[found]] = True
    pop.paid[detected] = pop.gamed[detected] = False
    pop.outcome_month[detected] = -1
    clawback = regime.payment.clawback(bill, detected, com.payment_scale)
    com.claw_back(float(clawback.sum()))
    caught = np.bincount(pop.provider[detected], minlength=n_slots)
    kept = ~found  # reports that stand: what outcome payments (and their deadweight) were for
    earned = com.payment_scale * regime.payment.per_outcome(bill)[kept]
    com.record_outcomes(int(kept.sum()), float(earned.sum()),
                        float(earned[pop.met_at_intake[rows[kept]]].sum()))

    market.received += float(paid.sum() - clawback.sum())
    for provider in market.providers:
        provider.contract_outcomes -= int(caught[provider.slot])  # found false: off the table
        provider.settle(float(paid[provider.slot] - clawback[provider.slot]),
                        float(service.costs[provider.slot]))
        if caught[provider.slot]:
            market.sanction(provider)
    for provider in market.providers:
        if provider.cash < 0:
            market.fail(provider)
    return Settlement(reports=float(reported.sum()), false_reports=float(gamed.sum()),
                      detected=float(detected.sum()), clawback=float(clawback.sum()),
                      commissioning=com.costs_this_month,
                      spend=float(paid.sum() - clawback.sum()) + com.costs_this_month)
