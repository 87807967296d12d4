"""The regime in force: the seven levers and the payment model as one object.

The scenario fixes how a run starts; the commissioner may then change some
levers as it learns (reviews of the measure, the context-led choice). This
object holds the levers as they are now, flat: ``regime.forum_interval``,
``regime.model`` (the payment model), ``regime.measure_weights``...
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.scenario import DOMAINS, Scenario


@dataclass(frozen=True)
class Lever:
    """One of the seven principles of the GO Lab / Collaborate CIC note, as scenario fields.

    Attributes:
        number: the principle's number in the note (1-7).
        principle: its name.
        summary: the principle in one line, in the note's words.
        fields: the scenario fields (dotted paths) that set it.
    """

    number: int
    principle: str
    summary: str
    fields: tuple[str, ...]


LEVERS = (
    Lever(1, "Start with a systems perspective",
          "Broaden the lens to the many factors and actors, including the perspective of the people "
          "who access support.",
          ("regime.data_coverage", "regime.citizen_voice", "regime.voice_check")),
    Lever(2, "Build shared purpose",
          "Give direction through purpose rather than restrictive targets, built together on lasting "
          "trusting relationships.",
          ("regime.shared_purpose",)),
    Lever(3, "Enable informed judgements",
          "Use feedback and learning to build the expertise of funders, practitioners, service users "
          "and citizens.",
          ("regime.forum_interval", "regime.forum_commissioner", "regime.forum_citizens",
           "regime.share_threshold")),
    Lever(4, "Develop legitimate measures",
          "Measure what all key stakeholders need and value, with transparency and equal "
          "responsibility between funders and providers.",
          ("regime.measure", "regime.measured_domain", "regime.measure_threshold",
           "regime.payment.shared_risk")),
    Lever(5, "Review goals",
          "Be prepared to change goals and how success is measured as the system learns.",
          ("regime.review_interval", "regime.review_rate")),
    Lever(6, "Take a context-led approach",
          "Fit accountability to how uncertain cause and effect are and how much control providers "
          "have over outcomes (Ebrahim).",
          ("regime.context_led",)),
    Lever(7, "Take a nuanced approach to evidence",
          "Build on what is known while recognising its limits; share data openly.",
          ("regime.prior_weight", "regime.open_data")),
)
"""The seven levers, in the note's order."""

PAYMENT_AND_MARKET = (
    "regime.payment.model", "regime.payment.outcome_price", "regime.payment.improvement_price",
    "regime.payment.differential_prices", "regime.payment.price_ratio_hardest",
    "regime.payment.attachment_fee", "regime.payment.fee_per_month", "regime.payment.grant_per_place",
    "regime.payment.selection_allowed", "regime.payment.budget_per_month",
    "regime.payment.allow_overspend", "regime.payment.audit_rate", "regime.payment.clawback",
    "regime.league_tables", "regime.contract_months", "regime.retender_rule",
    "regime.referrals_per_place", "regime.replace_share",
)
"""The payment model, its terms and the market rules: the fields of a regime that are not a lever."""

# Ebrahim (2019): the performance system that fits each combination of uncertainty about cause and
# effect and control over outcomes (narrow = low control, broad = high control).
STRATEGIES = {
    # well understood, outcomes beyond the organisation's control: measure and pay for outputs
    "niche": dict(measure="threshold", model="fee_for_service", data_coverage="metric_domain",
                  citizen_voice=False, forum_interval=0, open_data=False, shared_purpose=0.0,
                  retender_rule="replace_bottom"),
    # well understood and within its control: measure and pay for outcomes (here: the measured
    # improvement on a composite of what citizens value, so every segment's progress counts)
    "integrated": dict(measure="composite", model="distance_travelled",
                       data_coverage="all_domains", citizen_voice=True,
                       forum_interval=0, open_data=False, shared_purpose=0.0,
                       retender_rule="replace_bottom"),
    # cause and effect unclear, control narrow: fund the work, learn fast, measure interim progress
    "emergent": dict(measure="composite", model="fee_for_service", data_coverage="all_domains",
                     citizen_voice=True, forum_interval=3, open_data=False, shared_purpose=0.5,
                     retender_rule="keep_learners"),
    # cause and effect unclear, outcomes shaped by the whole system: system-level measures,
    # trust-based funding, open learning
    "ecosystem": dict(measure="composite", model="block_grant", data_coverage="all_domains",
                      citizen_voice=True, forum_interval=3, open_data=True, shared_purpose=1.0,
                      retender_rule="keep_learners"),
}


def ebrahim_strategy(uncertainty: float, control: float) -> str:
    """Ebrahim's contingency: the strategy for an (estimated) uncertainty and control."""
    if uncertainty < 0.5:
        return "integrated" if control >= 0.5 else "niche"
    return "ecosystem" if control >= 0.5 else "emergent"


class Regime:
    """The levers in force now, flat, initialised from a scenario's ``regime`` section.

    Attributes:
        measure_weights: weights of the paid-for measure over domains (sum to one); a threshold
            measure puts all weight on its domain.
        strategy: "as set" until a context-led commissioner picks one of ``STRATEGIES``.
    """

    def __init__(self, scenario: Scenario, professional_values: np.ndarray) -> None:
        settings = scenario.regime
        self.__dict__.update(settings.model_dump(exclude={"payment"}))
        self.__dict__.update(settings.payment.model_dump())
        self.strategy = "as set"
        self.measured_index = DOMAINS.index(settings.measured_domain)
        self.measure_weights = self.initial_weights(professional_values)

    def initial_weights(self, citizen_values: np.ndarray) -> np.ndarray:
        """The measure's weights for the lever setting: one-hot, or what citizens are believed to value."""
        if self.measure == "composite":
            return citizen_values / citizen_values.sum()
        weights = np.zeros(len(DOMAINS))
        weights[self.measured_index] = 1.0
        return weights

    def review(self, believed_values: np.ndarray) -> None:
        """Lever 5: move the measure's weights towards what the commissioner has learnt citizens value."""
        target = believed_values / believed_values.sum()
        self.measure_weights = self.measure_weights + self.review_rate * (target - self.measure_weights)

    def adopt(self, strategy: str, believed_values: np.ndarray) -> None:
        """Lever 6: switch to the measurement and payment approach of one of Ebrahim's strategies."""
        self.__dict__.update(STRATEGIES[strategy])
        self.strategy = strategy
        self.measure_weights = self.initial_weights(believed_values)

    def prices(self, n_segments: int) -> np.ndarray:
        """Outcome price for each segment: flat, or rising to ``price_ratio_hardest`` times."""
        if not self.differential_prices:
            return np.full(n_segments, self.outcome_price)
        return self.outcome_price * np.linspace(1.0, self.price_ratio_hardest, n_segments)

    @property
    def covered(self) -> np.ndarray:
        """Lever 1: domains on which case-level data reaches the commissioner."""
        if self.data_coverage == "all_domains":
            return np.ones(len(DOMAINS), bool)
        if self.data_coverage == "metric_domain":
            return self.measure_weights > 0
        return np.zeros(len(DOMAINS), bool)

    @property
    def recorded(self) -> np.ndarray:
        """Domains providers record for each case: what is measured, paid for, or reported."""
        return (self.measure_weights > 0) | self.covered

    @property
    def payment_at_risk(self) -> float:
        """Share of provider income that depends on the measure (the pressure of the payment model)."""
        on_measure = self.model in ("outcomes", "distance_travelled")
        return (1.0 - self.shared_risk) if on_measure else 0.0

    def forum_due(self, month: int) -> bool:
        return self.forum_interval > 0 and month % self.forum_interval == 0

    def review_due(self, month: int) -> bool:
        return self.review_interval > 0 and month % self.review_interval == 0

    def retender_due(self, month: int) -> bool:
        return month % self.contract_months == 0
