"""Reporting and settlement: outcome reports and gaming, payment, audits and clawback, cash and
failure (ODD 7.10-7.13), in that order, as one phase of the month (``settle``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim import gaming, learning
from sim.citizens import meets_measure
from sim.payment import Bill

if TYPE_CHECKING:
    from sim.learning import Outlook
    from sim.model import CommissioningModel, Month


@dataclass(frozen=True)
class Settlement:
    """What the month's reporting and settlement did (counts and GBP).

    Attributes:
        reports: outcome reports made (true and false).
        unmet: cases that could have been reported falsely (in service, missing the measure, still
            able to be an outcome).
        false_reports: reports of outcomes that did not happen.
        detected: false reports found out this month.
        clawback: money recovered for them (GBP).
        commissioning: what the commissioner's own activities cost, paid this month (GBP).
        spend: the commissioner's net spend this month: its activities and its payments to
            providers, less clawbacks (GBP).
    """

    reports: float
    unmet: float
    false_reports: float
    detected: float
    clawback: float
    commissioning: float
    spend: float

    @classmethod
    def none(cls) -> Settlement:
        """Before the first month: nothing reported or paid."""
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


def false_reports(model: CommissioningModel, rows: np.ndarray, outlook: Outlook
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Which of the cases ``rows`` (in service, missing the measure, still able to be an outcome)
    their providers report falsely this month, and how each falsified record was changed.

    A case's record is open to falsification with ``providers.gaming_propensity`` a month (one
    draw each); its provider then falsifies the cheapest domains (``gaming.falsification``) if
    what the report brings, risked against the chance of being found out (``gaming.detection_
    chance``, which providers know), outweighs its integrity (``gaming.falsifies``).

    Returns:
        Whether each of ``rows`` is falsely reported (len(rows),) and its records' change (len, K).
    """
    pop, regime = model.population, model.regime
    settings, p = regime.settings, model.scenario_config.providers
    slots = model.market.slots
    change = np.zeros((len(rows), pop.n_domains))
    chosen = np.zeros(len(rows), bool)
    open_to_it = np.flatnonzero(model.rng.random(len(rows)) < p.gaming_propensity)
    if not len(open_to_it):
        return chosen, change
    candidates = rows[open_to_it]
    needed, feasible = gaming.falsification(pop.recorded_need[candidates], regime.measure_weights,
                                            settings.measure_threshold)
    detection = gaming.detection_chance(needed, settings.payment.audit_rate, settings.voice_check,
                                        settings.citizen_voice, settings.payment.audit_resolution)
    slot = pop.provider[candidates]
    price = outlook.terms.payment_scale * regime.payment.price(pop.segment[candidates])
    # a sanction costs it the share of trust it loses (trust_loss), and trust is its relationship
    # with the commissioner: valued here as that share of what its contract is worth to it
    gain = gaming.false_report_gain(price, outlook.stakes[slot], detection,
                                    settings.payment.clawback and regime.payment.on_measure,
                                    p.trust_loss * p.contract_value)
    mission = np.array([q.mission if q else 1.0 for q in slots])[slot]
    thrift = np.array([q.thrift if q else 1.0 for q in slots])[slot]
    decide = feasible & gaming.falsifies(gain, mission, thrift, p.integrity_cost)
    chosen[open_to_it[decide]] = True
    change[open_to_it[decide]] = needed[decide]
    return chosen, change


def settle(model: CommissioningModel, number: int, month: Month) -> Settlement:
    """Report outcomes (some falsely), pay what is due, audit and claw back, and settle cash.

    1. Cases in service that can still be an outcome and meet the measure on the record are
       reported; providers falsify the records of some that do not (``false_reports``, 7.10), and
       the falsified records flow into what they report and share (``learning.spread_falsification``).
    2. The commissioner pays its own activities' costs, then what the payment model says is due,
       plus attachment fees and its share of each provider's deficit, within what its budget leaves
       (7.11, 7.17).
    3. It audits this month's reports, domain by domain; what it finds is taken off the league
       table, clawed back where the payment model does, and sanctioned (7.12). It tallies what it
       paid for outcomes and the deadweight among them (cases that met the measure when taken on).
    4. Providers settle their cash; any left below zero fails (7.13).
    """
    pop, regime, com, market = model.population, model.regime, model.commissioner, model.market
    intake, service, living = month.intake, month.service, month.living
    settings = regime.settings
    slots = market.slots
    n_slots = len(slots)
    active = np.array([p is not None for p in slots])
    cases = pop.in_service
    meets = meets_measure(pop.recorded_need, regime.measure_weights, settings.measure_threshold)
    met = cases & meets
    open_cases = cases & ~regime.payment.closed(pop.paid, pop.met_at_intake)  # can still be an outcome
    truthful = open_cases & met
    candidates = np.flatnonzero(open_cases & ~met)
    falsified, change = false_reports(model, candidates, month.outlook)
    gamed = np.zeros(len(pop), bool)
    gamed[candidates[falsified]] = True
    changes = np.zeros_like(pop.recorded_need)
    changes[candidates] = change
    learning.spread_falsification(model.evidence, com, regime, month.observed, changes,
                                  model.world.obs_sd)
    reported = truthful | gamed
    pop.paid |= reported
    pop.gamed |= gamed
    pop.outcome_month[reported] = number
    per_slot = np.bincount(pop.provider[reported], minlength=n_slots)
    for provider in market.providers:
        provider.contract_outcomes += int(per_slot[provider.slot])

    outcome_age = np.where(pop.outcome_month >= 0, number - pop.outcome_month, -1)
    bill = Bill(n_slots, pop.provider, pop.segment, cases, reported, meets, outcome_age, living.old_record,
                pop.recorded_need, regime.measure_weights, model.world.need_drift,
                np.array([p.capacity if p else 0 for p in slots]))
    due = intake.attachment_due + regime.payment.due(bill)
    due += settings.payment.shared_risk * np.clip(service.costs - due, 0.0, None) * active
    paid = com.pay(due)

    rows = np.flatnonzero(reported)
    found = com.audit(rows, changes[rows])
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
    return Settlement(reports=float(reported.sum()), unmet=float(len(candidates)),
                      false_reports=float(gamed.sum()),
                      detected=float(detected.sum()), clawback=float(clawback.sum()),
                      commissioning=com.costs_this_month,
                      spend=float(paid.sum() - clawback.sum()) + com.costs_this_month)
