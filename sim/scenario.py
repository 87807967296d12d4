"""Scenario: the validated description of one simulated system.

A scenario has six sections: ``population`` (the citizens), ``context`` (how
uncertain cause and effect are, how much providers control outcomes), ``world``
(the hidden truth's scales), ``providers``, ``regime`` (the seven
accountability levers, the payment model and re-tendering) and ``costs`` (what the
commissioner's own activities cost). Every field has a description, a unit where one
applies, a default and an allowed range.

Scenario files (``sim.presets``) are TOML with the same sections. A regime file and a context
file combine by merging their sections, and any field can be overridden with a
dotted name (``context.uncertainty=0.8``) or, since every field name is unique,
with its bare name (``uncertainty=0.8``).

This module is the schema only: it reads no files (``sim.presets`` finds and reads scenario
files) and does no terminal output: bad input raises ``ScenarioError`` with one readable line;
the command line decides how to show it.
"""

from __future__ import annotations

import difflib
import json
import re
import tomllib
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from annotated_types import MaxLen, MinLen
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_core import core_schema

from sim.payment import PAYMENT_MODELS

DOMAINS = ("employment", "housing", "health", "social")

PENNY = 0.01
"""The least sum of money that means anything (GBP): a price, fee, cost or budget is 0 or at least this."""


class ScenarioError(ValueError):
    """A scenario that cannot be run, with one line saying why."""


@dataclass(frozen=True)
class ZeroOrAtLeast:
    """A field's constraint: 0, or at least ``minimum`` (a sum of money is none, or at least a penny).

    Pydantic reads it from the field's type (``Annotated[float, ZeroOrAtLeast(PENNY)]``) and checks
    it after the type and the range; ``allowed`` describes it.
    """

    minimum: float

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def _check(self, value: float) -> float:
        if 0 < value < self.minimum:
            raise ValueError(f"between 0 and {self.minimum} means nothing")
        return value


Money = Annotated[float, ZeroOrAtLeast(PENNY)]
"""GBP that may be 0: none, or at least a penny (a thousandth of a penny would be no price at all,
and a divisor of it overflows)."""


def field(default: Any, description: str, *, unit: str | None = None, rule: str | None = None,
          **limits: Any) -> Any:
    """A schema field with its description, unit and allowed range.

    Args:
        default: the default value.
        description: what the field means, in one or two sentences.
        unit: its unit, if it has one.
        rule: a constraint that a validator checks beyond the range, in words for ``allowed``.
        limits: pydantic's constraints (``ge``, ``le``, ``min_length``...).
    """
    extra = {key: value for key, value in (("unit", unit), ("rule", rule)) if value}
    return Field(default, description=description, json_schema_extra=extra or None, **limits)


class Section(BaseModel):
    # strict: a TOML boolean or string is never silently read as a number (or the reverse);
    # no NaN or infinity: TOML has them (nan, inf), and no field means anything with them
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, strict=True,
                              allow_inf_nan=False)


class Population(Section):
    """The citizens: how many, how they arrive, what they need."""

    n_citizens: int = field(1000, "Citizens present at the start (providers' caseloads are filled from "
                            "them; the rest wait).",
                            unit="citizens", ge=1, le=10_000_000)
    arrival_rate: float = field(0.03, "New citizens arriving each month, as a share of n_citizens.",
                                unit="share per month", ge=0.0, le=1.0)
    # relative weights (shares, percentages or counts all read the same): the cap keeps their sum finite
    segment_mix: list[Annotated[float, Field(ge=0.0, le=1e6)]] = field(
        [0.25, 0.2, 0.18, 0.15, 0.12, 0.10],
        "Share of arrivals in each segment, from 'one light need' to 'many severe needs' "
        "(the last segment is the hardest to help). Normalised to sum to one.",
        rule="with a positive sum", min_length=2, max_length=12)
    need_drift: float = field(0.006, "Monthly rise of every need without support.",
                              unit="need per month", ge=0.0, le=0.1)
    value_concentration: float = field(
        8.0, "How closely a citizen's value weights follow their segment's typical pattern "
        "(Dirichlet concentration; low = very heterogeneous).", ge=0.5, le=1000.0)
    max_wait_months: int = field(12, "Months a citizen waits for a place before leaving unserved.",
                                 unit="months", ge=1, le=120)
    max_service_months: int = field(24, "Longest spell in service before the case is closed.",
                                    unit="months", ge=1, le=240)
    resolved_need: float = field(0.15, "A citizen whose every need is below this level exits resolved.",
                                 unit="need", ge=0.0, le=1.0)
    followup_months: int = field(24, "Months each referred citizen is followed after referral for the "
                                 "intent-to-treat outcomes, whatever happens to them (waiting, "
                                 "served, parked, refused, timed out or resolved).",
                                 unit="months", ge=1, le=240)

    @field_validator("segment_mix")
    @classmethod
    def _mix_positive(cls, mix: list[float]) -> list[float]:
        if sum(mix) <= 0:
            raise ValueError("the shares must have a positive sum")
        return mix


class Context(Section):
    """Ebrahim's two contingency factors for the place and service modelled."""

    name: str = field("moderate", "A short name for the context.")
    description: str = field("", "One line saying what the context is.")
    uncertainty: float = field(0.4, "Cause-effect uncertainty: how far local true effects depart from "
                               "the published evidence and how fast they drift (0 = the evidence is "
                               "exactly right and stable).", ge=0.0, le=1.0)
    control: float = field(0.6, "Control over outcomes: the share of outcome variance caused by "
                           "providers' actions rather than by exogenous shocks.", ge=0.05, le=1.0)


class World(Section):
    """Scales of the hidden truth."""

    # the prior's precision is 1 / (prior_sd effect_scale)^2: these two minimums keep it finite
    # (at most 1e10 before prior_weight); a smaller effect moves no need visibly within a run
    effect_scale: float = field(0.035, "Monthly fall in a need from one unit of effort with a "
                                "well-matched approach, in the published evidence.",
                                unit="need per unit effort per month", ge=0.001, le=0.5)
    departure_sd: float = field(2.0, "Spread of local true effects around the published evidence at "
                                "uncertainty 1, as a multiple of effect_scale.", ge=0.0, le=5.0)
    drift_speed: float = field(0.02, "Monthly mean reversion of the drifting truth at uncertainty 1 "
                               "(higher = faster change).", unit="per month", ge=0.0, le=1.0)
    measurement_sd: float = field(0.04, "Noise in a recorded need score.", unit="need", ge=0.0, le=0.5)
    # a hundredth of the effect: the evidence is as good as certain, for any run length
    prior_sd: float = field(0.6, "Standard deviation of the published evidence about each effect, as a "
                            "multiple of effect_scale.", ge=0.01, le=5.0)


class Providers(Section):
    """The provider market."""

    n_providers: int = field(8, "Providers holding contracts (0: nobody is served, the no-service "
                             "counterfactual).", unit="providers", ge=0, le=100_000)
    capacity: int = field(75, "Caseload places per provider.", unit="citizens", ge=1, le=1_000_000)
    mission_mean: float = field(0.5, "Mean initial mission: the weight a provider puts on citizens' "
                                "wellbeing against payment.", ge=0.0, le=1.0)
    mission_spread: float = field(0.15, "Spread of initial mission across providers.", ge=0.0, le=0.5)
    # divided by in the best effort (Provider.plan): at least a penny
    effort_cost: float = field(600.0, "Cost scale c of effort: one unit of effort on one domain for "
                               "one citizen-month costs c/2.", unit="GBP", ge=PENNY, le=1e6)
    substitution: float = field(0.3, "Substitution d between domains in the effort cost "
                                "(Holmstrom-Milgrom): effort on one domain raises the marginal cost "
                                "of the others.", ge=0.0, le=0.95)
    baseline_effort: float = field(0.25, "Effort a provider gives each domain of an active case "
                                   "without any incentive (professional norm).",
                                   unit="effort", ge=0.0, le=2.0)
    # a hundredth of a unit of effort: below it a provider can do nothing
    max_effort: float = field(3.0, "Most effort on one domain for one citizen-month.",
                              unit="effort", ge=0.01, le=20.0)
    wellbeing_value: Money = field(50000.0, "What a fully mission-driven provider would pay for one "
                                   "unit of a citizen's wellbeing.", unit="GBP", ge=0.0, le=1e7)
    start_cash: Money = field(150000.0, "Cash reserve of a provider when it starts a contract.",
                              unit="GBP", ge=0.0, le=1e9)
    overhead: Money = field(3000.0, "Fixed monthly running cost of a provider.", unit="GBP per month",
                            ge=0.0, le=1e8)
    admin_cost: Money = field(40.0, "Monthly cost of keeping a case on the books (parked cases "
                              "cost only this).", unit="GBP per month", ge=0.0, le=1e5)
    forgetting: float = field(0.95, "Monthly weight kept on old observations in every posterior "
                              "(1 = never forget; lower tracks drift faster).", ge=0.5, le=1.0)
    gaming_propensity: float = field(0.03, "Share of the cases that miss the measure whose records a "
                                     "provider could falsify in a month (its opportunity: whether it "
                                     "does is its decision, weighing gain against risk and "
                                     "integrity).", unit="per case-month", ge=0.0, le=1.0)
    integrity_cost: Money = field(3000.0, "What falsifying an outcome record costs a fully "
                                  "mission-driven provider in its own terms (not lying to its "
                                  "commissioner), weighed against the money a false report brings; "
                                  "a provider bears it in proportion to its mission.",
                                  unit="GBP per false report", ge=0.0, le=1e7)
    contract_value: Money = field(100000.0, "What losing its contract at re-tendering costs a "
                                  "provider: the surplus and the work it would lose. Each outcome on "
                                  "its score lowers its chance of losing it.", unit="GBP",
                                  ge=0.0, le=1e9)
    reputation_value: Money = field(50000.0, "Where league tables are public, what rising from the "
                                    "bottom to the top of the ranking is worth to a provider (its "
                                    "standing with funders and in future tenders).", unit="GBP",
                                    ge=0.0, le=1e9)
    initial_trust: float = field(0.5, "Trust between the commissioner and a provider when a contract "
                                 "starts.", ge=0.0, le=1.0)
    trust_gain: float = field(0.06, "Rise of trust (towards 1) at a learning forum where every other "
                              "provider present shares (in proportion where some do).",
                              ge=0.0, le=1.0)
    trust_loss: float = field(0.15, "Fall of trust (towards 0) at each sanction: a clawback, detected "
                              "gaming, or a termination seen by the remaining providers.",
                              ge=0.0, le=1.0)
    mission_rate: float = field(0.03, "Monthly pull of mission up towards 1 under a shared purpose "
                                "(scaled by trust) and down under punitive management.",
                                ge=0.0, le=1.0)
    horizon: int = field(12, "Months ahead a provider looks when valuing a case.", unit="months",
                         ge=1, le=120)
    approach_review_months: int = field(6, "A case's approach is re-chosen (Thompson sampling) at "
                                        "intake and every this many months.", unit="months",
                                        ge=1, le=240)
    explore: bool = field(False, "Providers try out what might work: each month they plan effort "
                          "and parking on a draw from their beliefs (Thompson sampling), as they "
                          "already do when choosing an approach, instead of on their best estimate. "
                          "Acting only on the estimate can leave a wrong belief uncorrected for good "
                          "(a domain believed not to respond gets no effort, so nothing is learnt "
                          "about it).")
    # the market of potential entrants: capability, bids and practices (ODD 7.23)
    capability_spread: float = field(
        0.2, "Spread of capability across the market of potential entrants: each entrant delivers "
        "each approach with its own multiplier on the approach's true effect, lognormal with mean 1 "
        "and this standard deviation of its logarithm, unknown to everyone (its outcomes show it). "
        "Assumed: the middle two-thirds of providers deliver within about a fifth of the average. "
        "With cost_spread and practice_variation also 0, every provider works at the norm (7.23).",
        unit="sd of log multiplier", ge=0.0, le=1.0)
    cost_spread: float = field(
        0.15, "Spread of delivery costs across potential entrants: each entrant's cost factor "
        "multiplies what its approaches and effort cost it, lognormal with mean 1 and this standard "
        "deviation of its logarithm; a provider knows its own costs. Assumed: unit costs of the "
        "same service differ by about a seventh either way.", unit="sd of log factor", ge=0.0,
        le=1.0)
    bidders: int = field(
        3, "Potential entrants bidding for each contract let (at the start, after a failure and at "
        "re-tendering); the lowest bid, the bidder with the lowest costs, wins. Assumed: a few "
        "bids per competed public service contract.", unit="bidders", ge=1, le=100)
    practice_variation: float = field(
        0.3, "Variation in practices: an entrant's practice (how it splits its effort across "
        "domains, and how cheaply it rates each approach, which also sets how readily it serves "
        "rather than parks) departs from the practice it copies by a normal error of this standard "
        "deviation, on the log scale of each weight. Assumed: imitation is loose.",
        unit="sd of log weight", ge=0.0, le=2.0)
    imitation_rate: float = field(
        0.1, "At each re-tendering, how far a provider that keeps its contract moves its practice "
        "towards that of the provider at the top of the league table (entrants copy it outright). "
        "Assumed: incumbents change their ways slowly.", unit="share per re-tendering", ge=0.0,
        le=1.0)


class PaymentSettings(Section):
    """How the commissioner pays providers."""

    model: Literal[tuple(PAYMENT_MODELS)] = field(
        "fee_for_service", "Payment model: payment by results on the measure ('outcomes'), a linear "
        "payment on measured improvement ('distance_travelled'), a fee per case-month, or a block "
        "grant per caseload place.")
    outcome_price: Money = field(3500.0, "Price of one outcome (a case first meeting the measure).",
                                 unit="GBP", ge=0.0, le=1e7)
    improvement_price: Money = field(40000.0, "Price per unit fall in the measured need beyond its "
                                     "expected drift ('distance_travelled': value added).",
                                     unit="GBP per unit need", ge=0.0, le=1e7)
    differential_prices: bool = field(False, "Outcome prices rise with the segment's severity.")
    price_ratio_hardest: float = field(3.0, "With differential prices: price for the hardest-to-help "
                                       "segment over that for the lightest.", ge=1.0, le=50.0)
    attachment_fee: Money = field(0.0, "Fee paid when a provider takes on a case.", unit="GBP",
                                  ge=0.0, le=1e6)
    fee_per_month: Money = field(400.0, "Fee per case-month ('fee_for_service').",
                                 unit="GBP per case-month", ge=0.0, le=1e6)
    grant_per_place: Money = field(400.0, "Block grant per caseload place per month.",
                                   unit="GBP per place-month", ge=0.0, le=1e6)
    selection_allowed: bool = field(False, "Providers may refuse referrals (and so cream); false: "
                                    "mandatory referral, as on the UK Work Programme: referrals are "
                                    "allocated and cannot be refused, so creaming can only be by "
                                    "parking.")
    budget_per_month: float = field(250000.0, "The commissioner's budget each month.",
                                    unit="GBP per month", ge=PENNY, le=1e12)
    allow_overspend: bool = field(False, "Payments may exceed the monthly budget; otherwise they are "
                                  "scaled down pro rata.")
    audit_rate: float = field(0.05, "Share of reported outcomes audited each month.", ge=0.0, le=1.0)
    audit_resolution: float = field(0.2, "How large a falsification an audit (or a citizen's own "
                                    "report) sees: a recorded score lowered by this much is found "
                                    "two times in three (1 - 1/e), smaller changes pass for honest "
                                    "error more often (assumed: a fifth of the need scale).",
                                    unit="need", ge=0.001, le=1.0)
    clawback: bool = field(True, "Payments for outcomes found to be false are recovered.")
    outcome_on_improvement: bool = field(
        True, "An outcome is a case that did not meet the measure when a provider took it on and now "
        "does, as programmes define one (a job outcome for someone out of work); false: any case "
        "first meeting the measure in service counts, including those that met it from the start.")
    sustainment_price: Money = field(0.0, "Payment by results: paid for each month a case keeps meeting "
                                     "the measure after its outcome, up to sustainment_months.",
                                     unit="GBP per case-month", ge=0.0, le=1e6)
    sustainment_months: int = field(0, "Payment by results: months after an outcome for which a kept "
                                    "outcome earns the sustainment price.", unit="months", ge=0, le=120)
    discharge_after_payment: bool = field(
        True, "Payment by results: a case leaves service once its outcome (and sustainment period) "
        "has been paid for, as programmes close a case, instead of staying on the books until it "
        "times out.")
    shared_risk: float = field(0.0, "Shared responsibility: the share of a provider's monthly deficit "
                               "that the commissioner covers.", ge=0.0, le=1.0)


class RegimeSettings(Section):
    """The seven accountability levers, the payment model and re-tendering."""

    name: str = field("custom", "A short name for the regime.")
    description: str = field("", "One line saying what the regime is.")
    # 1. systems perspective
    data_coverage: Literal["metric_counts", "metric_domain", "all_domains"] = field(
        "metric_counts", "Lever 1, systems perspective: what data reaches the commissioner: outcome "
        "counts per provider, case-level data on the measured domain, or on every domain.")
    citizen_voice: bool = field(False, "Lever 1: citizens' own reports are collected: what "
                                "matters to them and how their needs changed.")
    # 2. shared purpose
    shared_purpose: float = field(0.0, "Lever 2: strength of the shared purpose that raises providers' "
                                  "mission as trust grows.", ge=0.0, le=1.0)
    # 3. informed judgement
    forum_interval: int = field(0, "Lever 3: months between learning forums (0 = no forums).",
                                unit="months", ge=0, le=240)
    forum_commissioner: bool = field(True, "Lever 3: the commissioner attends forums.")
    forum_citizens: bool = field(False, "Lever 3: citizens attend forums (their voice is shared).")
    share_threshold: float = field(0.4, "Lever 3: trust a provider needs before it shares its records "
                                   "(at a forum, or to the open pool).", ge=0.0, le=1.0)
    voice_check: float = field(0.3, "Lever 1: chance that citizens' own reports expose a false outcome "
                               "report (only where voice is collected).", ge=0.0, le=1.0)
    # 4. legitimate measures
    measure: Literal["threshold", "composite"] = field(
        "threshold", "Lever 4: the paid-for measure is a threshold on one domain, or on a composite "
        "weighted by what citizens value.")
    measured_domain: Literal[DOMAINS] = field("employment", "Lever 4: the domain of a 'threshold' measure.")
    measure_threshold: float = field(0.25, "Lever 4: a case meets the measure when its measured need is "
                                     "at or below this level.", unit="need", ge=0.0, le=1.0)
    # 5. review goals
    review_interval: int = field(0, "Lever 5: months between reviews of the measure's weights "
                                 "(0 = never).", unit="months", ge=0, le=240)
    review_rate: float = field(0.5, "Lever 5: how far each review moves the weights towards what the "
                               "commissioner has learnt citizens value.", ge=0.0, le=1.0)
    # 6. context-led
    context_led: bool = field(False, "Lever 6: the commissioner estimates uncertainty and control from "
                              "its own data and picks its approach by Ebrahim's contingency.")
    context_margin: float = field(0.1, "Lever 6: hysteresis: how far past the 0.5 boundary an estimate "
                                  "of uncertainty or of control must go before the commissioner "
                                  "leaves the strategy in force for the other side's (0 = switch at "
                                  "the boundary).", unit="0-1 scale", ge=0.0, le=0.5)
    # 7. nuanced evidence
    prior_weight: float = field(1.0, "Lever 7: weight of the published evidence against local "
                                "learning (multiplies the prior's precision).", ge=0.01, le=100.0)
    open_data: bool = field(False, "Lever 7: the pool (what sharers share) is published "
                            "every month to every provider and the commissioner.")
    # pressure and market
    league_tables: bool = field(False, "Providers are ranked publicly on the measure (adds pressure).")
    contract_months: int = field(36, "Contract length: re-tendering happens every this many months.",
                                 unit="months", ge=1, le=600)
    retender_rule: Literal["none", "replace_bottom", "keep_learners"] = field(
        "replace_bottom", "At re-tendering: keep everyone, replace the lowest scorers on the measure, or "
        "keep providers that share and replace the lowest scorers among the rest.")
    referrals_per_place: float = field(2.0, "Referrals a provider may choose from per free place when "
                                       "selection is allowed.", ge=1.0, le=100.0)
    replace_share: float = field(0.25, "Share of providers replaced at re-tendering.", ge=0.0, le=1.0)
    payment: PaymentSettings = Field(default_factory=PaymentSettings)


class Costs(Section):
    """What the commissioner's own activities cost: each is charged to its monthly budget."""

    procurement_cost: Money = field(
        8000.0, "Cost to the commissioner of competing one contract: every contract at each "
        "re-tendering, and a failed contract re-let (the average cost to a UK public body of a "
        "competitive procurement, CEBR 2013).", unit="GBP per contract", ge=0.0, le=1e7)
    audit_cost: Money = field(250.0, "Cost of auditing one outcome report against the case records "
                              "(assumed: about a day of a contract officer's time per eight reports).",
                              unit="GBP per audited report", ge=0.0, le=1e6)
    case_data_cost: Money = field(5.0, "Cost of collecting case-level data on one domain for one case "
                                  "in a month, beyond the outcome counts every contract reports "
                                  "(assumed: data returns and their checking).",
                                  unit="GBP per case-month per domain", ge=0.0, le=1e5)
    voice_cost: Money = field(15.0, "Cost of collecting one citizen's report of what matters to them "
                              "(assumed: a short structured conversation or survey).",
                              unit="GBP per report", ge=0.0, le=1e5)
    forum_cost: Money = field(400.0, "Cost of one attendee at one learning forum, each provider and "
                              "the commissioner where it attends; citizens' voice heard there is "
                              "charged as voice reports (assumed: half a day of staff time and "
                              "facilitation).", unit="GBP per attendee", ge=0.0, le=1e6)


class Scenario(Section):
    """Everything one run needs, validated."""

    population: Population = Field(default_factory=Population)
    context: Context = Field(default_factory=Context)
    world: World = Field(default_factory=World)
    providers: Providers = Field(default_factory=Providers)
    regime: RegimeSettings = Field(default_factory=RegimeSettings)
    costs: Costs = Field(default_factory=Costs)

    def with_overrides(self, overrides: dict[str, Any]) -> Scenario:
        """A copy with fields replaced, by dotted path or by bare field name."""
        return apply_overrides(self.model_dump(), overrides, source="overrides")

    def summary(self) -> dict[str, Any]:
        """The resolved parameters as plain JSON-able data."""
        return json.loads(self.model_dump_json())


# --- field paths -----------------------------------------------------------------------------------

FIELDS_HINT = " (see `commsim fields` for the list)"


def field_paths(model: type[BaseModel] = Scenario, prefix: str = "") -> dict[str, Any]:
    """Every leaf field as ``{dotted.path: FieldInfo}``."""
    out: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        ann = info.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out.update(field_paths(ann, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = info
    return out


def resolve_field(key: str) -> str:
    """The dotted path of a field named by its path, or by any unique tail of it
    (``differential_prices``, ``payment.differential_prices``).

    Raises:
        ScenarioError: no field has that name (with the closest name, if one is close), or
            several do.
    """
    paths = field_paths()
    if key in paths:
        return key
    matches = [p for p in paths if p.endswith("." + key)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise ScenarioError(f"field '{key}' is ambiguous: say {' or '.join(matches)}")
    names = paths if "." in key else [p.rsplit(".", 1)[-1] for p in paths]
    raise ScenarioError(f"unknown field '{key}'{did_you_mean(key, names)}{FIELDS_HINT}")


def did_you_mean(key: str, names: list[str]) -> str:
    """``"; did you mean 'name'?"`` for the one of ``names`` closest to a misspelt ``key``, else ``""``."""
    close = difflib.get_close_matches(key, names, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set the field at dotted ``path`` in nested ``data``, making sections as needed."""
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


KINDS = {int: "an integer", float: "a number", bool: "true or false", str: "a string"}
PLURALS = {int: "integers", float: "numbers", str: "strings"}


def allowed(info: Any) -> str:
    """The allowed values of a field, in words: its kind, range and any further rule."""
    ann = info.annotation
    if typing.get_origin(ann) is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(ann))
    if typing.get_origin(ann) is list:
        item, item_limits = list_item(info)
        lengths = {type(m): m for m in info.metadata}
        text = (f"a list of {lengths[MinLen].min_length} to {lengths[MaxLen].max_length} "
                f"{PLURALS[item]}{interval(item_limits)}")
    else:
        floor = smallest_positive(info)
        text = KINDS[ann] + interval(info.metadata, floor=floor)
        text = text if floor is None else f"0, or {text}"
    rule = (info.json_schema_extra or {}).get("rule")
    return f"{text} {rule}" if rule else text


def list_item(info: Any) -> tuple[type, list[Any]]:
    """A list field's item type and the constraints on each item."""
    item = typing.get_args(info.annotation)[0]
    kind, *constraints = typing.get_args(item) or (item,)  # Annotated[float, Field(ge=...)]
    return kind, constraints


def limits(constraints: list[Any]) -> dict[str, Any]:
    """A range from pydantic's constraints, as ``{"ge" | "gt" | "le" | "lt": value}``.

    Args:
        constraints: annotated-types' ``Ge``, ``Gt``, ``Le``, ``Lt``, or ``FieldInfo``s holding them
            (a field's ``metadata``), among others, which are passed over.
    """
    found: dict[str, Any] = {}
    for constraint in constraints:
        for inner in getattr(constraint, "metadata", [constraint]):  # a FieldInfo holds its own
            found.update({k: getattr(inner, k) for k in ("ge", "gt", "le", "lt") if hasattr(inner, k)})
    return found


def interval(constraints: list[Any], floor: float | None = None) -> str:
    """`` in [lo, hi]`` (or with open ends) from pydantic's constraints, ``""`` where there are none.

    Args:
        constraints: as for ``limits``.
        floor: a lower end that replaces the constraints' (``ZeroOrAtLeast``'s minimum).
    """
    found = limits(constraints)
    if floor is not None:
        found["ge"] = floor
        found.pop("gt", None)
    lo, hi = found.get("ge", found.get("gt")), found.get("le", found.get("lt"))
    if lo is None and hi is None:
        return ""
    left, right = "(" if "gt" in found else "[", ")" if "lt" in found else "]"
    return f" in {left}{'' if lo is None else lo}, {'' if hi is None else hi}{right}"


def smallest_positive(info: Any) -> float | None:
    """The least positive value of a field that is 0 or at least some minimum (money), else None."""
    return next((m.minimum for m in info.metadata if isinstance(m, ZeroOrAtLeast)), None)


def unit(info: Any) -> str:
    extra = info.json_schema_extra or {}
    return extra.get("unit", "") if isinstance(extra, dict) else ""


# --- overrides and validation ----------------------------------------------------------------------

def parse_override(text: str) -> tuple[str, Any]:
    """``field=value`` as (dotted path, value); ScenarioError naming the ``--set`` it came from."""
    try:
        return _override(text)
    except ScenarioError as err:
        raise ScenarioError(f"--set {err}") from None


def _override(text: str) -> tuple[str, Any]:
    """``field=value`` as (dotted path, value read as TOML: numbers, booleans, strings, lists).

    Raises:
        ScenarioError: ``text: what is wrong`` (no ``=``, or no such field).
    """
    if "=" not in text:
        raise ScenarioError(f"{text!r}: expected FIELD=VALUE, e.g. context.uncertainty=0.8")
    key, raw = (s.strip() for s in text.split("=", 1))
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw  # a bare word is a string: measure=composite
    try:
        return resolve_field(key), value
    except ScenarioError as err:
        raise ScenarioError(f"{key}={raw}: {err}") from None


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any] | list[str], source: str) -> Scenario:
    """A Scenario from plain ``data`` (changed in place) with overrides applied.

    Args:
        data: a scenario's sections as plain data, valid on their own.
        overrides: ``{field: value}``, or ``["field=value", ...]`` as given to ``--set``; a field is
            named by its dotted path or a unique tail of it.
        source: where the overrides came from, for the message.

    Raises:
        ScenarioError: one line naming ``source`` and every problem: each unknown field and each
            value out of range.
    """
    found = []
    for item in overrides:
        try:
            path, value = ((resolve_field(item), overrides[item]) if isinstance(overrides, dict)
                           else _override(item))
            set_path(data, path, value)
        except ScenarioError as err:
            found.append(str(err))
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        found += describe(err)
    if found:
        raise ScenarioError(one_line(source, found))
    return scenario


def validate(data: dict[str, Any], source: str) -> Scenario:
    """A Scenario from plain data; ScenarioError (one line, naming ``source`` and every problem) if it
    is not valid.
    """
    try:
        return Scenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(one_line(source, describe(err))) from None


def one_line(source: str, problems: list[str]) -> str:
    """``source: problem``, or every problem numbered on one line: ``source: 3 errors: (1) ...``."""
    if len(problems) == 1:
        return f"{source}: {problems[0]}"
    numbered = "; ".join(f"({i}) {text}" for i, text in enumerate(problems, 1))
    return f"{source}: {len(problems)} errors: {numbered}"


def describe(err: ValidationError, hint: str = FIELDS_HINT, known: list[str] | None = None) -> list[str]:
    """Every validation error, each in words: ``field = value: problem; allowed: range``.

    Serves scenario files and sweep specifications alike: a location that is not a scenario field
    gets no allowed range, and a check over a whole table names only the table.

    Args:
        err: pydantic's error.
        hint: what follows "unknown field 'name'", saying where the known fields are listed.
        known: the field names an unknown one may be a misspelling of (default: the scenario's).
    """
    known = list(field_paths()) if known is None else known
    return [_describe(error, hint, known) for error in err.errors()]


def _describe(error: Any, hint: str, known: list[str]) -> str:
    where = ""
    for part in error["loc"]:  # population.segment_mix[0]
        where += f"[{part}]" if isinstance(part, int) else f".{part}" if where else str(part)
    if error["type"] == "extra_forbidden":
        return f"unknown field '{where}'{did_you_mean(where, known)}{hint}"
    msg = error["msg"].removeprefix("Value error, ")
    value = error.get("input")
    info = field_paths().get(".".join(str(p) for p in error["loc"] if not isinstance(p, int)))
    if info is not None:
        return f"{where} = {value!r}: {msg}; allowed: {allowed(info)}"
    if where and "input" in error and not isinstance(value, dict):
        return f"{where} = {value!r}: {msg}"
    return f"{where}: {msg}" if where else msg


def field_label(path: str) -> str:
    """A field's human name for tables and figures: its ``label`` where the schema gives one, else
    the opening words of its description (without a "Lever N:" prefix).
    """
    info = field_paths().get(path)
    if info is None:
        return path
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    if extra.get("label"):
        return extra["label"]
    text = re.sub(r"^Lever \d+(, [^:]+)?: ", "", info.description).split(". ")[0].rstrip(".")
    text = re.sub(r" \([^)]*\)$", "", text.split(": ")[0])
    if len(text) > 48:
        text = text[:48].rsplit(" ", 1)[0] + "..."
    return text[0].upper() + text[1:]
