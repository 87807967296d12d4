"""What is measured every month (ODD 4.11, 7.21): outcomes, accountability, knowledge, money and
the market, as one flat dict (``measure``), and what each measure is (``MEASURES``).

A measure with nothing to measure (a mean over nobody, a share of nothing) is NaN, never a
stand-in number: ``Measure.undefined_when`` says when that happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from sim import beliefs

if TYPE_CHECKING:
    from sim.citizens import Population
    from sim.model import CommissioningModel
    from sim.world import World


@dataclass(frozen=True)
class Measure:
    """What one measure is, for tables, figures and checks.

    Attributes:
        name: its column in ``model.results()``.
        label: a human name.
        unit: its unit in words ("" for a pure number); money is in GBP.
        low, high: the values it can take (None where unbounded).
        kind: "level" (a state at the end of the month), "flow" (what happened this month) or
            "total" (a running total since the start, or a ratio of such totals: read its final
            value, never its average over months).
        better: whether higher or lower values are better for citizens and the system (None where
            neither is).
        undefined_when: when there is nothing to measure and the measure is NaN ("" if never).
        source: "model" (every run measures it) or "comparison" (a comparison against the
            no-service arm adds it: ``sim.experiments.compare.with_gains``).
    """

    name: str
    label: str
    unit: str = ""
    low: float | None = None
    high: float | None = None
    kind: Literal["level", "flow", "total", "label"] = "level"
    better: Literal["higher", "lower"] | None = None
    undefined_when: str = ""
    source: Literal["model", "comparison"] = "model"

    @property
    def bounded(self) -> bool:
        return self.low is not None or self.high is not None


SHARE = {"unit": "share", "low": 0.0, "high": 1.0}
WELLBEING = {"unit": "wellbeing (0 to 1)", "low": 0.0, "high": 1.0, "better": "higher"}
COUNT = {"unit": "citizens", "low": 0.0}
QUALITY = {"unit": "decision quality: 1 = oracle, 0 = random choice",
           "high": 1.0, "better": "higher"}
ERROR = {"unit": "effect per unit effort (rmse)", "low": 0.0, "better": "lower"}
NO_PROVIDER = "no provider holds a contract"

FOLLOWED = "nobody referred is in follow-up"
KNOWLEDGE_PARTS = {  # name suffix: what the part judges, and what counts as 0
    "": ("", QUALITY),
    "_effects": (" about effects (acted on with the true values)", QUALITY),
    "_values": (" about values (the true effects acted on with its values)", QUALITY),
    "_gain": (" over the published evidence", {
        "unit": "decision quality: 1 = oracle, 0 = the published evidence", "high": 1.0,
        "better": "higher"}),
}
KNOWERS = {"commissioner": ("Commissioner's knowledge", ""),
           "provider": ("Providers' knowledge (mean)", NO_PROVIDER),
           "system": ("System knowledge (its best-informed actor)", "")}
COHORT_AGES = (6, 12, 24)  # months after referral at which each cohort's wellbeing is measured

MEASURES: dict[str, Measure] = {m.name: m for m in (
    Measure("mean_wellbeing", "Mean wellbeing of everyone referred (intent to treat)", **WELLBEING,
            undefined_when=FOLLOWED),
    Measure("hardest_wellbeing", "Mean wellbeing of the hardest to help referred (intent to treat)",
            **WELLBEING, undefined_when="no hardest-to-help citizen referred is in follow-up"),
    Measure("equity_gap", "Equity gap: wellbeing of the lightest segment minus the hardest, of "
            "everyone referred", "wellbeing (0 to 1)", -1.0, 1.0, better="lower",
            undefined_when="either segment has nobody in follow-up"),
    Measure("in_service_wellbeing", "Mean wellbeing of the cases in service only", **WELLBEING,
            undefined_when="nobody is in service"),
    Measure("in_service_hardest_wellbeing", "Mean wellbeing of the hardest to help in service only",
            **WELLBEING, undefined_when="no hardest-to-help citizen is in service"),
    *(Measure(f"cohort{who}_wellbeing_{age}", f"Wellbeing of {whom} referred {age} months before",
              **WELLBEING, undefined_when=f"month {age} or earlier, or nobody{none} was referred then")
      for age in COHORT_AGES
      for who, whom, none in (("", "everyone", ""), ("_hardest", "the hardest to help",
                                                     " hardest to help"))),
    Measure("followed", "Citizens referred and in follow-up (intent to treat)", **COUNT),
    Measure("citizens", "Citizens present (waiting or in service)", **COUNT),
    Measure("waiting", "Citizens waiting", **COUNT, better="lower"),
    Measure("in_service", "Citizens in service", **COUNT),
    Measure("served", "Citizens served (in service, not parked)", **COUNT, better="higher"),
    Measure("parked", "Citizens parked (in service, not served)", **COUNT, better="lower"),
    Measure("parked_share", "Share of cases parked", **SHARE, better="lower",
            undefined_when="nobody is in service"),
    Measure("parked_share_hardest", "Share of the hardest to help in service who are parked", **SHARE,
            better="lower", undefined_when="no hardest-to-help citizen is in service"),
    Measure("hardest_turned_away", "Share of the hardest to help meeting a provider who were "
            "refused or parked", **SHARE, better="lower",
            undefined_when="no hardest-to-help citizen met a provider this month"),
    Measure("refused", "Referrals refused (a citizen can be refused again each month they wait)",
            "referrals a month", 0.0, kind="flow", better="lower"),
    Measure("refused_share_hardest", "Share of the hardest to help referred who have been refused at "
            "least once", **SHARE, better="lower",
            undefined_when="no hardest-to-help citizen referred is in follow-up"),
    Measure("refused_hardest", "Referrals of the hardest to help refused", "referrals a month", 0.0,
            kind="flow", better="lower"),
    Measure("waiting_share_hardest", "Share of the hardest to help present who are waiting", **SHARE,
            better="lower", undefined_when="no hardest-to-help citizen is present"),
    Measure("arrived_total", "Citizens arrived so far", **COUNT, kind="total"),
    Measure("resolved_total", "Citizens resolved so far", **COUNT, kind="total", better="higher"),
    Measure("timed_out_total", "Cases closed unresolved after the longest spell, so far", **COUNT,
            kind="total", better="lower"),
    Measure("discharged_total", "Cases discharged once their outcome had been paid for, so far",
            **COUNT, kind="total"),
    Measure("unserved_total", "Citizens who left unserved after waiting too long, so far", **COUNT,
            kind="total", better="lower"),
    Measure("measure_value", "Paid-for measure as reported: share of everyone referred with an "
            "outcome on the books", **SHARE, undefined_when=FOLLOWED),
    Measure("true_outcome", "The same threshold on true wellbeing: share of everyone referred "
            "meeting it now", **SHARE, better="higher", undefined_when=FOLLOWED),
    Measure("goodhart_gap", "Goodhart gap: reported measure minus the same threshold on true "
            "wellbeing, of everyone referred", "share of citizens", -1.0, 1.0, better="lower",
            undefined_when=FOLLOWED),
    Measure("gaming_rate", "Share of outcome reports that are false", **SHARE, kind="flow",
            better="lower", undefined_when="no outcome was reported this month"),
    Measure("false_reports", "False outcome reports", "reports a month", 0.0, kind="flow",
            better="lower"),
    Measure("false_report_rate", "False outcome reports per case that missed the measure",
            **SHARE, kind="flow", better="lower",
            undefined_when="no case could have been reported falsely this month"),
    Measure("detected_gaming", "False outcome reports found out", "reports a month", 0.0,
            kind="flow"),
    *(Measure(f"{knower}_knowledge{suffix}", label + words, **kind,
              undefined_when=", or ".join(filter(None, [none, "the published evidence is the "
                                                  "oracle's choice" if suffix == "_gain" else ""])))
      for knower, (label, none) in KNOWERS.items() for suffix, (words, kind) in KNOWLEDGE_PARTS.items()),
    Measure("commissioner_belief_error", "Error of the commissioner's beliefs", **ERROR),
    Measure("provider_belief_error", "Error of providers' beliefs (mean)", **ERROR,
            undefined_when=NO_PROVIDER),
    Measure("provider_regret", "Providers' regret of approach choices since they entered (mean)",
            "GBP per case-month, summed over choices", 0.0, kind="total", better="lower",
            undefined_when=NO_PROVIDER),
    Measure("provider_evidence", "Providers' evidence: share of the prior's variance their data "
            "removed (mean)", **SHARE, better="higher", undefined_when=NO_PROVIDER),
    Measure("commissioner_evidence", "Commissioner's evidence: share of the prior's variance its "
            "data removed", **SHARE, better="higher"),
    Measure("system_belief_error", "Error of the system's best-informed beliefs", **ERROR),
    Measure("spend", "Commissioner's net spend: its own activities and payments, less clawbacks",
            "GBP a month", kind="flow"),
    Measure("commissioning_cost", "Commissioner's own activities: procurement, audits, data, voice, "
            "forums", "GBP a month", 0.0, kind="flow"),
    Measure("unspent_budget", "Budget left unspent", "GBP a month", kind="flow",
            undefined_when="month 0"),
    Measure("spend_total", "Commissioner's net spend so far", "GBP", kind="total"),
    Measure("cost_per_outcome", "Spend so far per outcome reported and not found false", "GBP",
            0.0, kind="total", better="lower", undefined_when="no outcome has been reported"),
    Measure("deadweight_share", "Share of outcome payments for cases that met the measure when "
            "taken on (deadweight)", **SHARE, kind="total", better="lower",
            undefined_when="no outcome has been paid for"),
    Measure("wellbeing_gained_total", "Wellbeing gained by service so far",
            "wellbeing summed over citizen-months", kind="total", better="higher"),
    Measure("wellbeing_per_1000", "Wellbeing gained per GBP 1,000 spent, so far",
            "wellbeing per GBP 1,000", kind="total", better="higher",
            undefined_when="nothing has been spent"),
    Measure("provider_exits_total", "Providers failed so far", "providers", 0.0, kind="total",
            better="lower"),
    Measure("provider_replaced_total", "Providers replaced at re-tendering so far", "providers", 0.0,
            kind="total"),
    Measure("providers", "Providers holding a contract", "providers", 0.0),
    Measure("mean_trust", "Trust between providers and the commissioner (mean)", **SHARE,
            better="higher", undefined_when=NO_PROVIDER),
    Measure("mean_mission", "Providers' mission (mean)", **SHARE, better="higher",
            undefined_when=NO_PROVIDER),
    Measure("mean_cash", "Providers' cash (mean)", "GBP", undefined_when=NO_PROVIDER),
    Measure("measure_weight_on_domain", "Weight of the measure on its measured domain", **SHARE),
    Measure("strategy", "Ebrahim strategy in force", kind="label"),
    # against the no-service arm of a comparison, replicate by replicate (the same people)
    Measure("gain_wellbeing", "Wellbeing gained over no service, everyone referred",
            "wellbeing (0 to 1)", -1.0, 1.0, better="higher", source="comparison",
            undefined_when=FOLLOWED),
    Measure("gain_hardest_wellbeing", "Wellbeing gained over no service, the hardest to help referred",
            "wellbeing (0 to 1)", -1.0, 1.0, better="higher", source="comparison",
            undefined_when="no hardest-to-help citizen referred is in follow-up"),
    Measure("wellbeing_gained_vs_none", "Wellbeing gained over no service so far",
            "wellbeing summed over citizen-months", kind="total", better="higher", source="comparison"),
    Measure("gain_per_1000", "Wellbeing gained over no service per GBP 1,000 spent, so far",
            "wellbeing per GBP 1,000", kind="total", better="higher", source="comparison",
            undefined_when="nothing has been spent"),
    Measure("cost_per_wellbeing_gained", "Spend so far per unit of wellbeing gained over no service",
            "GBP per citizen-month of wellbeing", 0.0, kind="total", better="lower",
            source="comparison", undefined_when="no wellbeing has been gained over no service"),
)}
"""Every measure ``measure`` returns, by name."""


def knowledge(world: World, mean: np.ndarray, values: np.ndarray) -> tuple[dict[str, np.ndarray],
                                                                             np.ndarray]:
    """Decision quality in its parts (``beliefs.knowledge_parts``) and the belief error of beliefs
    ``mean`` (..., S, A, K) with ``values``.
    """
    truth = world.truth
    parts = beliefs.knowledge_parts(mean, values, truth, world.value_pattern, world.need_pattern,
                                    world.segment_mix, world.prior_mean, world.professional_values)
    return parts, beliefs.belief_error(mean, truth)


def cohort_wellbeing(pop: Population, wellbeing: np.ndarray, month: int, n_segments: int
                     ) -> np.ndarray:
    """Each cohort's wellbeing k months after referral, by segment: sums and counts (2, k, S).

    A cohort is the citizens referred in one month of the simulation (month 1 on); at month t the
    cohort k months old is the one referred in month t - k, wherever its members now are.
    """
    out = np.zeros((2, len(COHORT_AGES), n_segments))
    for i, age in enumerate(COHORT_AGES):
        if month - age >= 1:
            rows = pop.referred == month - age
            out[0, i] = np.bincount(pop.segment[rows], weights=wellbeing[rows], minlength=n_segments)
            out[1, i] = np.bincount(pop.segment[rows], minlength=n_segments)
    return out


def turned_away(refused: float, parked: int, in_service: int) -> float:
    """Of the hardest to help who met a provider this month, the share refused or parked (NaN if
    none met one).
    """
    met = refused + in_service
    return (refused + parked) / met if met else np.nan


def mean(x: np.ndarray) -> float:
    """``x.mean()`` of a 1-D float array (the same sum and division), NaN when empty, without the
    overhead of ``ndarray.mean``.
    """
    return float(x.sum() / len(x)) if len(x) else np.nan


def share(of: np.ndarray, having: np.ndarray) -> float:
    """The share of ``of`` that is ``having`` (NaN when ``of`` is empty)."""
    n = np.count_nonzero(of)
    return float(np.count_nonzero(of & having) / n) if n else np.nan


def measure(model: CommissioningModel) -> tuple[dict[str, float], np.ndarray]:
    """Every per-month measure of the model card, and each slot's knowledge (decision quality).

    The headline outcomes are intent to treat: over everyone referred within the follow-up window,
    wherever they now are; the ``in_service_`` ones are over the cases in service. The month's
    flows (refusals, reports, spend) come from ``model.month``.
    """
    pop, regime, com, market = model.population, model.regime, model.commissioner, model.market
    world, month = model.world, model.month
    providers = market.providers
    active = [p.slot for p in providers]
    mean_, sd = model.evidence.posterior(world, regime.settings.prior_weight)
    c_mean, c_sd = com.beliefs()
    # every provider slot's beliefs and then the commissioner's, judged in one pass
    parts, error = knowledge(world, np.concatenate([mean_, c_mean[None]]),
                             np.concatenate([model.evidence.values(world), com.believed_values()[None]]))
    p_parts, c_parts = {k: v[:-1] for k, v in parts.items()}, {k: v[-1] for k, v in parts.items()}
    p_error, c_error = error[:-1], error[-1]
    # the system knows what its best-informed actor (least posterior variance) knows
    spread = np.append((sd[active] ** 2).mean(axis=(1, 2, 3)), (c_sd**2).mean())
    best = int(np.argmin(spread))
    wellbeing = pop.wellbeing
    hardest = pop.segment == world.n_segments - 1
    lightest = pop.segment == 0
    present = pop.active
    followed = pop.followed(month.number, model.scenario_config.population.followup_months)
    cases = pop.in_service
    served = cases & ~pop.parked
    tau = regime.settings.measure_threshold
    # the official figure against the truth, for the same people: everyone referred, as in a survey
    # beside the official figures (an outcome on the books stays counted after discharge)
    measure_value = share(followed, pop.paid)
    true_value = share(followed, wellbeing >= 1.0 - tau)
    spent = com.spent
    intake, settlement = month.intake, month.settlement
    cohorts = cohort_wellbeing(pop, wellbeing, month.number, world.n_segments)
    out = {
        "mean_wellbeing": mean(wellbeing[followed]),
        "hardest_wellbeing": mean(wellbeing[followed & hardest]),
        "equity_gap": mean(wellbeing[followed & lightest]) - mean(wellbeing[followed & hardest]),
        "in_service_wellbeing": mean(wellbeing[cases]),
        "in_service_hardest_wellbeing": mean(wellbeing[cases & hardest]),
        "followed": float(np.count_nonzero(followed)),
        "citizens": float(np.count_nonzero(present)),
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
        "waiting_share_hardest": share(present & hardest, pop.waiting),
        "refused_share_hardest": share(followed & hardest, pop.refusals > 0),
        "arrived_total": pop.arrived,
        "resolved_total": pop.resolved,
        "timed_out_total": pop.timed_out,
        "discharged_total": pop.discharged,
        "unserved_total": pop.unserved,
        "measure_value": measure_value,
        "true_outcome": true_value,
        "goodhart_gap": measure_value - true_value,
        "gaming_rate": (settlement.false_reports / settlement.reports if settlement.reports
                        else np.nan),
        "false_reports": settlement.false_reports,
        "false_report_rate": (settlement.false_reports / settlement.unmet if settlement.unmet
                              else np.nan),
        "detected_gaming": settlement.detected,
    }
    for i, age in enumerate(COHORT_AGES):
        sums, counts = cohorts[:, i]
        out[f"cohort_wellbeing_{age}"] = float(sums.sum() / counts.sum()) if counts.sum() else np.nan
        out[f"cohort_hardest_wellbeing_{age}"] = float(sums[-1] / counts[-1]) if counts[-1] else np.nan
    for part, suffix in (("combined", ""), ("effects", "_effects"), ("values", "_values"),
                         ("gain", "_gain")):
        p_part = p_parts[part]
        out[f"commissioner_knowledge{suffix}"] = float(c_parts[part])
        out[f"provider_knowledge{suffix}"] = mean(p_part[active])
        out[f"system_knowledge{suffix}"] = float(np.append(p_part[active], c_parts[part])[best])
    outcomes = com.outcomes
    out.update({
        "commissioner_belief_error": float(c_error),
        "provider_belief_error": mean(p_error[active]),
        "provider_regret": mean(np.array([p.regret for p in providers])),
        "provider_evidence": mean(beliefs.evidence_share(sd[active], world.prior_sd,
                                                         regime.settings.prior_weight)),
        "commissioner_evidence": float(beliefs.evidence_share(c_sd, world.prior_sd,
                                                              regime.settings.prior_weight)),
        "system_belief_error": float(np.append(p_error[active], c_error)[best]),
        "spend": settlement.spend,
        "commissioning_cost": settlement.commissioning,
        "unspent_budget": (regime.settings.payment.budget_per_month - settlement.spend
                           if month.number else np.nan),
        "spend_total": spent,
        "cost_per_outcome": spent / outcomes if outcomes else np.nan,
        "deadweight_share": com.deadweight / com.outcome_payments if com.outcome_payments else np.nan,
        "wellbeing_gained_total": pop.wellbeing_gained,
        "wellbeing_per_1000": 1000.0 * pop.wellbeing_gained / spent if spent > 0 else np.nan,
        "provider_exits_total": market.failures,
        "provider_replaced_total": market.replaced,
        "providers": float(len(providers)),
        "mean_trust": mean(np.array([p.trust for p in providers])),
        "mean_mission": mean(np.array([p.mission for p in providers])),
        "mean_cash": mean(np.array([p.cash for p in providers])),
        "measure_weight_on_domain": float(regime.measure_weights[regime.measured_index]),
        "strategy": regime.strategy,
    })
    return out, p_parts["combined"]
