"""What is measured every month (ODD 4.11, 7.21): outcomes, accountability, knowledge, money and
the market, as one flat dict (``measure``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim import beliefs
from sim.citizens import meets_measure

if TYPE_CHECKING:
    from sim.model import CommissioningModel
    from sim.world import World


def knowledge(world: World, mean: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Decision quality and belief error of beliefs ``mean`` (..., S, A, K) with ``values``."""
    quality = beliefs.decision_quality(mean, values, world.truth, world.value_pattern,
                                       world.need_pattern, world.segment_mix)
    return quality, beliefs.belief_error(mean, world.truth)


def turned_away(refused: float, parked: int, in_service: int) -> float:
    """Of the hardest to help who met a provider this month, the share refused or parked."""
    met = refused + in_service
    return (refused + parked) / met if met else 0.0


def mean(x: np.ndarray) -> float:
    """``x.mean()`` of a 1-D float array (the same sum and division), 0 when empty, without the
    overhead of ``ndarray.mean``.
    """
    return float(x.sum() / len(x)) if len(x) else 0.0


def share(of: np.ndarray, having: np.ndarray) -> float:
    """The share of ``of`` that is ``having`` (0 when ``of`` is empty)."""
    n = np.count_nonzero(of)
    return float(np.count_nonzero(of & having) / n) if n else 0.0


def measure(model: CommissioningModel) -> tuple[dict[str, float], np.ndarray]:
    """Every per-month measure of the model card, and each slot's knowledge (decision quality).

    Citizen measures are over the active citizens after exits; the month's flows (refusals,
    reports, spend) come from ``model.month``.
    """
    pop, regime, com, market = model.population, model.regime, model.commissioner, model.market
    world, month = model.world, model.month
    providers = market.providers
    active = [p.slot for p in providers]
    mean_, sd = model.evidence.posterior(world, regime.settings.prior_weight)
    p_quality, p_error = knowledge(world, mean_, model.evidence.values(world))
    c_mean, c_sd = com.beliefs()
    c_quality, c_error = knowledge(world, c_mean, com.believed_values())
    # the system knows what its best-informed actor (least posterior variance) knows
    spread = np.append((sd[active] ** 2).mean(axis=(1, 2, 3)), (c_sd**2).mean())
    best = int(np.argmin(spread))
    system_quality = np.append(p_quality[active], c_quality)[best]
    system_error = np.append(p_error[active], c_error)[best]
    wellbeing = pop.wellbeing
    hardest = pop.segment == world.n_segments - 1
    lightest = pop.segment == 0
    cases = pop.in_service
    served = cases & ~pop.parked
    tau = regime.settings.measure_threshold
    met = meets_measure(pop.recorded_need, regime.measure_weights, tau)
    measure_value = share(cases, met | pop.gamed)
    true_value = share(cases, wellbeing >= 1.0 - tau)
    spent = com.spent
    intake, settlement = month.intake, month.settlement
    out = {
        "mean_wellbeing": mean(wellbeing),
        "hardest_wellbeing": mean(wellbeing[hardest]),
        "equity_gap": mean(wellbeing[lightest]) - mean(wellbeing[hardest]),
        "citizens": float(len(pop)),
        "waiting": float(np.count_nonzero(pop.waiting)),
        "in_service": float(np.count_nonzero(cases)),
        "served": float(np.count_nonzero(served)),
        "parked": float(np.count_nonzero(cases & pop.parked)),
        "parked_share": share(cases, pop.parked),
        "parked_share_hardest": share(cases & hardest, pop.parked),
        "hardest_turned_away": turned_away(intake.refused_hardest,
                                           np.count_nonzero(cases & hardest & pop.parked),
                                           np.count_nonzero(cases & hardest)),
        "refused": intake.refused,
        "refused_hardest": intake.refused_hardest,
        "waiting_share_hardest": share(hardest, pop.waiting),
        "arrived_total": pop.arrived,
        "resolved_total": pop.resolved,
        "timed_out_total": pop.timed_out,
        "unserved_total": pop.unserved,
        "measure_value": measure_value,
        "true_outcome": true_value,
        "goodhart_gap": measure_value - true_value,
        "gaming_rate": settlement.false_reports / max(settlement.reports, 1.0),
        "false_reports": settlement.false_reports,
        "detected_gaming": settlement.detected,
        "commissioner_knowledge": float(c_quality),
        "provider_knowledge": mean(p_quality[active]),
        "system_knowledge": float(system_quality),
        "commissioner_belief_error": float(c_error),
        "provider_belief_error": mean(p_error[active]),
        "provider_regret": mean(np.array([p.regret for p in providers])),
        "provider_evidence": mean(beliefs.evidence_share(sd[active], world.prior_sd,
                                                         regime.settings.prior_weight)),
        "commissioner_evidence": float(beliefs.evidence_share(c_sd, world.prior_sd,
                                                              regime.settings.prior_weight)),
        "system_belief_error": float(system_error),
        "spend": settlement.spend,
        "spend_total": spent,
        "wellbeing_gained_total": pop.wellbeing_gained,
        "wellbeing_per_1000": 1000.0 * pop.wellbeing_gained / spent if spent > 0 else 0.0,
        "provider_exits_total": market.failures,
        "provider_replaced_total": market.replaced,
        "providers": float(len(providers)),
        "mean_trust": mean(np.array([p.trust for p in providers])),
        "mean_mission": mean(np.array([p.mission for p in providers])),
        "mean_cash": mean(np.array([p.cash for p in providers])),
        "measure_weight_on_domain": float(regime.measure_weights[regime.measured_index]),
        "strategy": regime.strategy,
    }
    return out, p_quality
