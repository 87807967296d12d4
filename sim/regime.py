"""The regime in force: the seven levers and the payment model as one object.

The scenario fixes how a run starts; the commissioner may then change some levers as it learns
(reviews of the measure, the context-led choice). ``Regime`` holds the levers as they are now:
the validated ``regime`` section of the scenario (``regime.settings``, replaced by an updated copy
when a context-led commissioner adopts a strategy), the payment model built from it
(``regime.payment``, one of ``sim.payment.PAYMENT_MODELS``), and what a review has made of the
measure (``regime.measure_weights``).

``LEVERS`` maps each of the seven principles to its scenario fields and to the functions that
implement it, so a reader can go from a lever's name to every place it acts
(``tests/test_regime.py`` keeps the map true).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.payment import PaymentModel, payment_model
from sim.scenario import DOMAINS, RegimeSettings


@dataclass(frozen=True)
class Lever:
    """One of the seven principles of the GO Lab / Collaborate CIC note, as scenario fields.

    Attributes:
        number: the principle's number in the note (1-7).
        principle: its name.
        summary: the principle in one line, in the note's words.
        fields: the scenario fields (dotted paths) that set it.
        implemented_by: the functions that read those fields (module.qualified_name).
    """

    number: int
    principle: str
    summary: str
    fields: tuple[str, ...]
    implemented_by: tuple[str, ...]


LEVERS = (
    Lever(1, "Start with a systems perspective",
          "Broaden the lens to the many factors and actors, including the perspective of the people "
          "who access support.",
          ("regime.data_coverage", "regime.citizen_voice", "regime.voice_check"),
          ("sim.regime.Regime.covered", "sim.regime.Regime.recorded", "sim.learning.learn",
           "sim.commissioner.Commissioner.evidence", "sim.model.CommissioningModel.step",
           "sim.learning.hear_voice", "sim.learning.hear_change", "sim.regime.Regime.heard_by_providers",
           "sim.regime.Regime.heard_by_commissioner", "sim.commissioner.Commissioner.audit",
           "sim.reporting.false_reports")),
    Lever(2, "Build shared purpose",
          "Give direction through purpose rather than restrictive targets, built together on lasting "
          "trusting relationships.",
          ("regime.shared_purpose",),
          ("sim.providers.Provider.update_mission", "sim.providers.next_mission")),
    Lever(3, "Enable informed judgements",
          "Use feedback and learning to build the expertise of funders, practitioners, service users "
          "and citizens.",
          ("regime.forum_interval", "regime.forum_commissioner", "regime.forum_citizens",
           "regime.share_threshold"),
          ("sim.regime.Regime.forum_due", "sim.model.CommissioningModel.step", "sim.learning.exchange",
           "sim.learning.hear_voice", "sim.providers.Provider.will_share",
           "sim.providers.trust_after_forum")),
    Lever(4, "Develop legitimate measures",
          "Measure what all key stakeholders need and value, with transparency and equal "
          "responsibility between funders and providers.",
          ("regime.measure", "regime.measured_domain", "regime.measure_threshold",
           "regime.payment.shared_risk"),
          ("sim.regime.Regime.__init__", "sim.regime.Regime.initial_weights", "sim.providers.Terms.now",
           "sim.reporting.settle", "sim.measures.measure", "sim.payment.PaymentModel.at_risk")),
    Lever(5, "Review goals",
          "Be prepared to change goals and how success is measured as the system learns.",
          ("regime.review_interval", "regime.review_rate"),
          ("sim.regime.Regime.review_due", "sim.regime.Regime.review",
           "sim.commissioner.Commissioner.review")),
    Lever(6, "Take a context-led approach",
          "Fit accountability to how uncertain cause and effect are and how much control providers "
          "have over outcomes (Ebrahim).",
          ("regime.context_led", "regime.context_margin"),
          ("sim.regime.Regime.assessment_due", "sim.commissioner.Commissioner.review",
           "sim.commissioner.Commissioner.assess_context", "sim.regime.ebrahim_strategy",
           "sim.regime.Regime.adopt")),
    Lever(7, "Take a nuanced approach to evidence",
          "Build on what is known while recognising its limits; share data openly.",
          ("regime.prior_weight", "regime.open_data"),
          ("sim.learning.outlook", "sim.commissioner.Commissioner.beliefs", "sim.measures.measure",
           "sim.learning.exchange", "sim.model.CommissioningModel.step")),
)
"""The seven levers, in the note's order."""

PAYMENT_AND_MARKET = (
    "regime.payment.model", "regime.payment.outcome_price", "regime.payment.improvement_price",
    "regime.payment.differential_prices", "regime.payment.price_ratio_hardest",
    "regime.payment.attachment_fee", "regime.payment.fee_per_month", "regime.payment.grant_per_place",
    "regime.payment.selection_allowed", "regime.payment.budget_per_month",
    "regime.payment.allow_overspend", "regime.payment.audit_rate", "regime.payment.audit_resolution",
    "regime.payment.clawback",
    "regime.payment.outcome_on_improvement", "regime.payment.sustainment_price",
    "regime.payment.sustainment_months", "regime.payment.discharge_after_payment",
    "regime.league_tables", "regime.contract_months", "regime.retender_rule",
    "regime.referrals_per_place", "regime.replace_share",
)
"""The payment model, its terms and the market rules: the fields of a regime that are not a lever."""

# Ebrahim (2019): the performance system that fits each combination of uncertainty about cause and
# effect and control over outcomes (narrow = low control, broad = high control).
STRATEGIES = {
    # well understood, outcomes beyond the organisation's control: measure and pay for outputs
    "niche": dict(measure="threshold", payment=dict(model="fee_for_service"), data_coverage="metric_domain",
                  citizen_voice=False, forum_interval=0, open_data=False, shared_purpose=0.0,
                  retender_rule="replace_bottom"),
    # well understood and within its control: measure and pay for outcomes (here: the measured
    # improvement on a composite of what citizens value, so every segment's progress counts)
    "integrated": dict(measure="composite", payment=dict(model="distance_travelled"),
                       data_coverage="all_domains", citizen_voice=True,
                       forum_interval=0, open_data=False, shared_purpose=0.0,
                       retender_rule="replace_bottom"),
    # cause and effect unclear, control narrow: fund the work, learn fast, measure interim progress
    "emergent": dict(measure="composite", payment=dict(model="fee_for_service"), data_coverage="all_domains",
                     citizen_voice=True, forum_interval=3, open_data=False, shared_purpose=0.5,
                     retender_rule="keep_learners"),
    # cause and effect unclear, outcomes shaped by the whole system: system-level measures,
    # trust-based funding, open learning
    "ecosystem": dict(measure="composite", payment=dict(model="block_grant"), data_coverage="all_domains",
                      citizen_voice=True, forum_interval=3, open_data=True, shared_purpose=1.0,
                      retender_rule="keep_learners"),
}


# Each strategy's side of the two boundaries: (uncertainty high, control broad).
SIDES = {"niche": (False, False), "integrated": (False, True), "emergent": (True, False),
         "ecosystem": (True, True)}
BOUNDARY = 0.5  # Ebrahim's two axes are split at the middle of their 0..1 scales


def past_boundary(estimate: float, was_past: bool | None, margin: float) -> bool:
    """Hysteresis on one axis: whether an estimate puts the context past the boundary (uncertainty
    high, or control broad), given the side the strategy in force stands on.

    With no side yet (``was_past`` None) the estimate is set against the boundary itself. After,
    the side is kept until the estimate crosses to the other by the margin: past the boundary
    means at least ``BOUNDARY + margin`` when coming from below, and at least ``BOUNDARY - margin``
    when already past it. A margin of 0 is the plain boundary.
    """
    if was_past is None:
        return estimate >= BOUNDARY
    return estimate >= BOUNDARY + (-margin if was_past else margin)


def ebrahim_strategy(uncertainty: float, control: float, current: str = "as set",
                     margin: float = 0.0) -> str:
    """Ebrahim's contingency: the strategy for an (estimated) uncertainty and control, switching
    from ``current`` only where an estimate crosses its boundary by ``margin`` (``past_boundary``).
    """
    high_before, broad_before = SIDES.get(current, (None, None))
    sides = (past_boundary(uncertainty, high_before, margin),
             past_boundary(control, broad_before, margin))
    return next(name for name, side in SIDES.items() if side == sides)


class Regime:
    """The levers in force now, initialised from a scenario's validated ``regime`` section.

    Attributes:
        settings: the ``regime`` section in force (``sim.scenario.RegimeSettings``, frozen).
        payment: the payment model in force, built from ``settings.payment``.
        measure_weights: weights of the paid-for measure over domains (sum to one); a threshold
            measure puts all weight on its domain until a review moves them.
        measured_index: the index of ``settings.measured_domain`` in ``DOMAINS``.
        strategy: "as set" until a context-led commissioner adopts one of ``STRATEGIES``.
    """

    def __init__(self, settings: RegimeSettings, believed_values: np.ndarray, n_segments: int) -> None:
        self.settings = settings
        self.n_segments = n_segments
        self.payment: PaymentModel = payment_model(settings.payment, n_segments)
        self.strategy = "as set"
        self.measured_index = DOMAINS.index(settings.measured_domain)
        self.measure_weights = self.initial_weights(believed_values)

    # --- lever 1: systems perspective ----------------------------------------------------------

    @property
    def covered(self) -> np.ndarray:
        """Domains on which case-level data reaches the commissioner."""
        coverage = self.settings.data_coverage
        if coverage == "all_domains":
            return np.ones(len(DOMAINS), bool)
        if coverage == "metric_domain":
            return self.measure_weights > 0
        return np.zeros(len(DOMAINS), bool)

    @property
    def recorded(self) -> np.ndarray:
        """Domains providers record for each case: what is measured, paid for, or reported."""
        return (self.measure_weights > 0) | self.covered

    @property
    def heard_by_providers(self) -> np.ndarray:
        """Domains on which a provider learns from its citizens' accounts of change: those it does
        not record (where it does, the assessment already measures the same change).
        """
        return ~self.recorded if self.settings.citizen_voice else np.zeros(len(DOMAINS), bool)

    @property
    def heard_by_commissioner(self) -> np.ndarray:
        """Domains on which the commissioner learns from citizens' accounts of change: those on
        which no case data reaches it, neither providers' reports nor (where it sees the pool)
        their pooled records.
        """
        if not self.settings.citizen_voice:
            return np.zeros(len(DOMAINS), bool)
        s = self.settings
        sees_pool = s.open_data or (s.forum_interval > 0 and s.forum_commissioner)
        return ~self.covered & ~(self.recorded & sees_pool)

    # --- lever 3: informed judgement -----------------------------------------------------------

    def forum_due(self, month: int) -> bool:
        interval = self.settings.forum_interval
        return interval > 0 and month % interval == 0

    # --- lever 4: legitimate measures ----------------------------------------------------------

    def initial_weights(self, citizen_values: np.ndarray) -> np.ndarray:
        """The measure's weights for the lever setting: one-hot, or what citizens are believed to value."""
        if self.settings.measure == "composite":
            return citizen_values / citizen_values.sum()
        weights = np.zeros(len(DOMAINS))
        weights[self.measured_index] = 1.0
        return weights

    # --- lever 5: review goals -----------------------------------------------------------------

    def review_due(self, month: int) -> bool:
        interval = self.settings.review_interval
        return interval > 0 and month % interval == 0

    def review(self, believed_values: np.ndarray) -> None:
        """Move the measure's weights towards what the commissioner has learnt citizens value."""
        target = believed_values / believed_values.sum()
        self.measure_weights = self.measure_weights + self.settings.review_rate * (
            target - self.measure_weights)

    # --- lever 6: context-led ------------------------------------------------------------------

    def assessment_due(self, month: int) -> bool:
        """A context-led commissioner re-assesses the context at reviews, or without reviews at
        re-tendering.
        """
        return self.settings.context_led and (self.review_due(month) or (
            self.settings.review_interval == 0 and self.retender_due(month)))

    def adopt(self, strategy: str, believed_values: np.ndarray) -> None:
        """Switch to the measurement and payment approach of one of Ebrahim's strategies."""
        update = dict(STRATEGIES[strategy])
        payment = self.settings.payment.model_copy(update=update.pop("payment"))
        self.settings = self.settings.model_copy(update={**update, "payment": payment})
        self.payment = payment_model(payment, self.n_segments)
        self.strategy = strategy
        self.measure_weights = self.initial_weights(believed_values)

    # --- payment and market --------------------------------------------------------------------

    def retender_due(self, month: int) -> bool:
        return month % self.settings.contract_months == 0
