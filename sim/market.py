"""The market: providers entering, failing and being replaced, and intake (ODD 7.7, 7.13, 7.14,
7.23).

``Market`` holds the provider slots. A slot is a contract: a provider holds it until it fails
(out of cash) or loses it at re-tendering, and an entrant then takes the slot (a failed slot is
re-let the next month; a replaced provider's entrant takes over its caseload at once). Every
contract let goes to the lowest of a few bids from potential entrants, each with its own
capability and costs, and the entrant copies the practice of the provider at the top of the league
table (``sim.competition``).
``Intake`` is what the month's intake hands on: who was referred, who was refused by whom, and the
attachment fees due.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim import competition
from sim.arrays import max_last
from sim.citizens import IN_SERVICE, WAITING, meets_measure
from sim.providers import Provider, Traits, bottom_of_table, parking_value, plan

if TYPE_CHECKING:
    from sim.learning import Outlook
    from sim.model import CommissioningModel


@dataclass(frozen=True)
class Intake:
    """What the month's intake did (filled in as providers take their turns).

    Attributes:
        offered: each citizen was referred to a provider this month (n,); a refused citizen is
            not referred again the same month.
        refused_by_slot: referrals each slot turned away, by segment (P, S).
        attachment_due: attachment fees each slot earned by taking cases (P,), GBP.
    """

    offered: np.ndarray
    refused_by_slot: np.ndarray
    attachment_due: np.ndarray

    @classmethod
    def open(cls, n_citizens: int, n_slots: int, n_segments: int) -> Intake:
        """A month's intake before anyone is referred."""
        return cls(np.zeros(n_citizens, bool), np.zeros((n_slots, n_segments), np.int64),
                   np.zeros(n_slots))

    @property
    def refused(self) -> float:
        return float(self.refused_by_slot.sum())

    @property
    def refused_hardest(self) -> float:
        """Refusals of the hardest-to-help segment (the last)."""
        return float(self.refused_by_slot[:, -1].sum())


def referral_blocks(free: np.ndarray, selection_allowed: bool, referrals_per_place: float,
                    queue_length: int) -> tuple[np.ndarray, np.ndarray]:
    """Where each taker's referrals begin in the queue, and how many it is offered.

    Each taker is offered the next ``free`` referrals, or ``ceil(referrals_per_place * free)``
    where selection is allowed, as far as the queue goes.
    """
    if selection_allowed:
        offered = np.array([int(np.ceil(referrals_per_place * f)) for f in free.tolist()])
    else:
        offered = free
    end = np.minimum(np.cumsum(offered), queue_length)
    begin = np.append(0, end[:-1])
    return begin, end - begin


# the part of a public ranking that reads as failure, as the lowest bands of a star rating do (the
# English NHS's zero-star trusts were "named and shamed"; Bevan and Hood 2006)
BOTTOM_OF_TABLE = 0.25
MIN_SCORE_SPREAD = 0.02  # the least spread of scores providers allow for (a few outcomes in 100 cases)


def expected_cases(cases: np.ndarray, referrals_per_provider: float, months_left: int) -> np.ndarray:
    """The cases each provider expects to have taken by the end of its contract: those taken so
    far, and its share of the referrals still to come. An outcome early in a contract moves the
    score it will be judged on as one case among all of them, not among the few taken so far.
    """
    return cases + referrals_per_provider * months_left


def standing_stakes(scores: np.ndarray, cases: np.ndarray, at_risk: np.ndarray, replace_share: float,
                    contract_value: float, league_tables: bool, reputation_value: float) -> np.ndarray:
    """What one more outcome on its score is worth to each provider (GBP): its stake in its
    standing (7.14).

    Re-tendering replaces the lowest scorers (``replace_share`` of those ``at_risk``), so an
    outcome lowers a provider's chance of losing its contract, worth ``contract_value``, by the
    density of that chance at its score, read from a normal spread of its peers' scores around the
    cut-off. Where league tables make the ranking public, an outcome also lifts its rank, worth
    ``reputation_value`` from bottom to top. One outcome moves the score at re-tendering by
    1 / the cases taken by then (``expected_cases``).

    Args:
        scores: each provider's score this contract (outcomes per case taken).
        cases: the cases each provider expects to have taken by the end of the contract.
        at_risk: which providers the re-tendering rule could replace.
        replace_share: share of providers replaced at re-tendering.
        contract_value: what losing the contract costs a provider (GBP).
        league_tables: whether the ranking is public.
        reputation_value: what moving from the bottom to the top of a public ranking is worth (GBP).
    """
    from scipy.stats import norm

    per_outcome = 1.0 / np.maximum(cases, 1)
    stake = np.zeros(len(scores))
    if len(scores) < 2:
        return stake
    spread = max(float(np.std(scores)), MIN_SCORE_SPREAD)
    if at_risk.any() and replace_share > 0:
        cutoff = np.quantile(scores[at_risk], replace_share)
        stake += at_risk * contract_value * norm.pdf((scores - cutoff) / spread) / spread
    if league_tables:
        stake += reputation_value * norm.pdf((scores - scores.mean()) / spread) / spread
    return stake * per_outcome


def accept_best(value: np.ndarray, owner: np.ndarray, begin: np.ndarray, counts: np.ndarray,
                free: np.ndarray) -> np.ndarray:
    """Which offers are accepted: each taker's best ``free`` offers (ties in referral order, as a
    stable sort keeps them) whose value is at least zero.
    """
    order_in_group = np.lexsort((-value, owner))
    rank = np.arange(len(value)) - np.repeat(begin, counts)
    ranked_ok = (rank < np.repeat(free, counts)) & (value[order_in_group] >= 0)
    accept = np.zeros(len(value), bool)
    accept[order_in_group[ranked_ok]] = True
    return accept


class Market:
    """The provider slots, who holds them, and the market's history.

    Attributes:
        slots: the provider in each slot (None while a failed slot waits to be re-let).
        failures: providers that ran out of cash, so far.
        replaced: providers that lost their contract at re-tendering, so far.
        received: money providers received, net of clawbacks, so far (GBP).
        entries: contracts let in each slot so far (the entry number keys its bidders' draws).
        tendered: one record per provider competed at each re-tendering: the month, its slot,
            capability, cost factor, focus on the measure and score, and whether it was replaced.
    """

    def __init__(self, model: CommissioningModel, n_slots: int) -> None:
        self.model = model
        self.slots: list[Provider | None] = [None] * n_slots
        self.failures = 0.0
        self.replaced = 0.0
        self.received = 0.0
        self.entries = np.zeros(n_slots, np.int64)
        self.tendered: list[dict[str, float]] = []
        self._caseloads: np.ndarray | None = None
        self._counted_at = -1  # the population's generation the caseloads were counted at
        for slot in range(n_slots):
            self.enter(slot)

    @property
    def providers(self) -> list[Provider]:
        """The providers holding a contract, in slot order."""
        return [p for p in self.slots if p is not None]

    # --- entry, failure, replacement -------------------------------------------------------------

    def enter(self, slot: int, model_practice: np.ndarray | None = None) -> Provider:
        """A new provider wins ``slot`` at a tender (7.23) and starts with only the published
        evidence (and what is shared).

        The lowest of ``providers.bidders`` bids wins; it brings its own capability, and the
        practice of ``model_practice`` (the provider it copies; None: the professional norm), with
        its own variation, as far as its mission lets it.
        """
        model = self.model
        p = model.scenario_config.providers
        mission = float(np.clip(model.rng.normal(p.mission_mean, p.mission_spread), 0.0, 1.0))
        n_approaches, n_domains = model.shape[1], model.shape[2]
        bids = competition.candidates(model.world.key, slot, int(self.entries[slot]), p.bidders,
                                      n_approaches, n_domains, p.capability_spread, p.cost_spread)
        self.entries[slot] += 1
        win = competition.lowest_bid(bids.cost)
        practice = competition.adopt(model_practice, p.practice_variation * bids.variation[win],
                                     mission)
        model.evidence.clear(slot)
        provider = Provider(model, slot, mission, model.scenario_config, bids.skill[win],
                            float(bids.cost[win]), practice)
        self.slots[slot] = provider
        return provider

    def leader(self) -> Provider | None:
        """The provider at the top of the league table this contract (ties to the lowest slot),
        among those that have taken cases; None if none has.
        """
        ranked = [p for p in self.providers if p.contract_cases > 0]
        return max(ranked, key=lambda p: (p.score, -p.slot)) if ranked else None

    def fill_empty_slots(self) -> None:
        """A failed contract is re-let to an entrant, through a procurement the commissioner pays;
        the entrant copies the practice of the provider at the top of the league table.
        """
        for slot, provider in enumerate(self.slots):
            if provider is None:
                leader = self.leader()
                self.enter(slot, None if leader is None else leader.practice)
                self.model.commissioner.charge(self.model.scenario_config.costs.procurement_cost)

    def fail(self, provider: Provider) -> None:
        """A provider out of cash leaves; its cases go back to the queue."""
        provider.remove()
        self.slots[provider.slot] = None
        pop = self.model.population
        cases = pop.provider == provider.slot
        pop.status[cases], pop.provider[cases], pop.approach[cases] = WAITING, -1, -1
        pop.waited[cases] = 0
        pop.parked[cases] = False
        self._caseloads = None
        self.failures += 1

    def replace(self, provider: Provider, model_practice: np.ndarray | None = None) -> None:
        """Terminate a contract: an entrant (copying ``model_practice``) takes over the slot and its
        caseload, re-assessing it.
        """
        provider.remove()
        self.slots[provider.slot] = None
        self.enter(provider.slot, model_practice)
        pop = self.model.population
        pop.approach[pop.provider == provider.slot] = -1
        self.replaced += 1

    def sanction(self, provider: Provider) -> None:
        """Trust falls after a clawback, detected gaming or a termination seen by others."""
        provider.trust -= self.model.scenario_config.providers.trust_loss * provider.trust
        provider.sanctioned = True

    def clear_sanctions(self) -> None:
        for provider in self.providers:
            provider.sanctioned = False

    def retender(self) -> None:
        """Re-tendering (7.14, 7.23): the commissioner chooses the losers, entrants replace them
        copying the practice of the provider at the top of the league table, the providers that
        stay see the terminations and move their practice towards it, and every contract starts
        afresh.
        """
        active = self.providers
        commissioner = self.model.commissioner
        competed = self.model.regime.settings.retender_rule != "none"
        if competed:  # every contract is competed
            commissioner.charge(self.model.scenario_config.costs.procurement_cost * len(active))
        leader = self.leader()
        model_practice = None if leader is None else leader.practice.copy()
        losers = commissioner.retender(active)
        if competed:
            self.tendered += [dict(month=float(self.model.time), slot=float(p.slot),
                                   capability=p.capability, cost_factor=p.cost_factor,
                                   measured_focus=p.measured_focus, score=p.score,
                                   replaced=float(p in losers)) for p in active]
        for provider in losers:
            self.replace(provider, model_practice)
        spreads = competed and model_practice is not None  # what won the last contract spreads
        rate = self.model.scenario_config.providers.imitation_rate
        for provider in (p for p in active if p not in losers):
            if spreads:
                provider.practice = competition.imitate(provider.practice, model_practice, rate,
                                                        provider.mission)
            if losers:  # the providers that stay see the terminations
                self.sanction(provider)
        caseloads = self.caseloads()
        for provider in self.providers:  # the new contract's cases: those it holds, then those it takes
            provider.contract_outcomes, provider.contract_cases = 0, int(caseloads[provider.slot])
            provider.ever_shared = False

    def outcome_stakes(self, month: int) -> np.ndarray:
        """Each slot's stake in its standing per outcome in ``month`` (GBP; 0 for an empty slot):
        what an outcome on its score is worth through re-tendering and public ranking.
        """
        providers, settings = self.providers, self.model.regime.settings
        p = self.model.scenario_config.providers
        stakes = np.zeros(len(self.slots))
        if not providers:
            return stakes
        scores = np.array([q.score for q in providers])
        months_left = settings.contract_months - month % settings.contract_months
        cases = expected_cases(np.array([q.contract_cases for q in providers]),
                               self.model.world.arrivals_mean / len(providers), months_left)
        rule = settings.retender_rule
        at_risk = np.array([rule == "replace_bottom" or (rule == "keep_learners" and not q.ever_shared)
                            for q in providers])
        stakes[[q.slot for q in providers]] = standing_stakes(
            scores, cases, at_risk, settings.replace_share, p.contract_value, settings.league_tables,
            p.reputation_value)
        return stakes

    def traits(self) -> Traits:
        """How each slot's provider works (one row per slot; an empty slot at the norm)."""
        n_approaches, n_domains = self.model.shape[1], self.model.shape[2]
        cost, practice = np.ones(len(self.slots)), np.zeros((len(self.slots), n_domains + n_approaches))
        for provider in self.providers:
            cost[provider.slot], practice[provider.slot] = provider.cost_factor, provider.practice
        return Traits(cost, competition.emphasis(practice, n_domains),
                      competition.favour(practice, n_domains))

    def skill(self) -> np.ndarray:
        """Each slot's provider's multiplier on the true effect of each approach (P, A; 1 where
        the slot is empty).
        """
        skill = np.ones((len(self.slots), self.model.shape[1]))
        for provider in self.providers:
            skill[provider.slot] = provider.skill
        return skill

    def update_missions(self) -> None:
        """Every provider's mission moves with trust and management (7.16)."""
        regime, rate = self.model.regime, self.model.scenario_config.providers.mission_rate
        providers = self.providers
        scores = np.array([q.score for q in providers])
        named = bottom_of_table(scores, BOTTOM_OF_TABLE)
        for provider, at_bottom in zip(providers, named.tolist(), strict=True):
            provider.update_mission(regime, rate, at_bottom)

    # --- caseloads and intake ---------------------------------------------------------------------

    def caseloads(self) -> np.ndarray:
        """Cases held by each slot (an empty slot holds none).

        Counted from the population and then kept up to date: ``pop.provider`` changes only in
        ``assign`` (which adds to the count), ``fail`` (which drops the count) and when citizens
        exit (a new generation of the population, which is counted afresh).
        """
        pop = self.model.population
        if self._caseloads is None or self._counted_at != pop.generation:
            self._caseloads = np.bincount(pop.provider + 1, minlength=len(self.slots) + 1)[1:]
            self._counted_at = pop.generation
        return self._caseloads

    def start_running(self) -> None:
        """The service is already running when the simulation starts.

        Each provider inherits a caseload from the front of the queue, at various stages of service,
        and the rest of the queue has been waiting for various times, so that neither the cases nor
        the queue time out all at once (cohort echoes). No attachment fee is due on them.
        """
        model = self.model
        pop, p = model.population, model.scenario_config.population
        queue, start = np.flatnonzero(pop.waiting), 0  # each takes the front of what is left
        for provider in self.providers:
            rows = queue[start:start + provider.capacity]
            self.assign(rows, np.zeros(len(rows), int), [provider], np.array([len(rows)]))
            start += provider.capacity
        # drawn for every citizen, whatever the regime's places: the world's stream, and so every
        # later arrival, shock and drift, stays the same in every regime (common random numbers)
        rng, n = model.world.rng, len(pop)
        in_service, waited = rng.integers(0, p.max_service_months, n), rng.integers(0, p.max_wait_months, n)
        pop.months_in_service[pop.in_service] = in_service[pop.in_service]
        pop.waited[pop.waiting] = waited[pop.waiting]

    def intake(self, order: list[Provider], outlook: Outlook, intake: Intake) -> None:
        """Providers, in ``order``, fill their free places from the queue (7.7).

        Sequential in effect, vectorised in fact: each provider is offered the next referrals of
        one queue in order of arrival (``free`` of them, or ``ceil(referrals_per_place * free)``
        where selection is allowed), and what one takes or refuses never changes what the next is
        offered: a provider's free places, mission and beliefs do not depend on the others'
        intake. So every offer is known up front and all are valued in one ``plan``.
        """
        caseloads = self.caseloads()
        takers = [p for p in order if p.capacity - caseloads[p.slot] > 0]
        if not takers:
            return
        pop, terms = self.model.population, self.model.regime.settings.payment
        queue = np.flatnonzero(pop.waiting & ~intake.offered)  # not yet referred, in order of arrival
        slots = np.array([p.slot for p in takers])
        free = np.array([p.capacity for p in takers]) - caseloads[slots]
        begin, counts = referral_blocks(free, terms.selection_allowed, self.model.regime.settings
                                        .referrals_per_place, len(queue))
        rows = queue[: begin[-1] + counts[-1]]
        intake.offered[rows] = True  # a refused citizen is not referred again this month
        owner = np.repeat(np.arange(len(takers)), counts)  # which taker each offered row went to
        if not terms.selection_allowed:
            self.assign(rows, owner, takers, counts, intake)
            return
        value = self.referral_value(rows, slots[owner],
                                    np.array([p.effective_mission for p in takers])[owner],
                                    np.array([p.thrift for p in takers])[owner], outlook)
        accept = accept_best(value, owner, begin, counts, free)
        self.refuse(rows[~accept], slots[owner[~accept]], intake)
        self.assign(rows[accept], owner[accept], takers, np.bincount(owner[accept], minlength=len(takers)),
                    intake)

    def referral_value(self, rows: np.ndarray, slot: np.ndarray, mission: np.ndarray,
                       thrift: np.ndarray, outlook: Outlook) -> np.ndarray:
        """What taking each referred citizen is worth to the provider in ``slot`` (per row, as are
        its effective ``mission`` and the value of a pound to it, ``thrift``) over its horizon (GBP).
        """
        model = self.model
        pop, sc, regime = model.population, model.scenario_config, model.regime
        seg = pop.segment[rows]
        months = np.full(len(rows), min(sc.providers.horizon, sc.population.max_service_months))
        terms = outlook.terms
        # a referral meeting the measure already would be a case "met at intake"
        meets = meets_measure(pop.recorded_need[rows], regime.measure_weights,
                              regime.settings.measure_threshold)
        closed = regime.payment.closed(np.zeros(len(rows), bool), meets)
        price = regime.payment.outcome_value(seg, closed)
        stake = np.where(closed, 0.0, outlook.stakes[slot])
        value, _ = plan(outlook.mean[slot, seg], pop.recorded_need[rows], outlook.values[slot, seg],
                        mission, price, months, terms, thrift, stake, self.traits().take(slot))
        monthly = np.maximum(max_last(value), parking_value(mission, terms, thrift))
        fee = terms.payment_scale * regime.settings.payment.attachment_fee * thrift
        return months * monthly + (1 - mission) * fee

    def assign(self, rows: np.ndarray, owner: np.ndarray, takers: list[Provider], counts: np.ndarray,
               intake: Intake | None = None) -> None:
        """``rows[i]`` becomes a case of ``takers[owner[i]]`` (``counts`` per taker); attachment
        fees accrue to ``intake`` when one is given.
        """
        pop = self.model.population
        caseloads = self.caseloads()  # counted before the rows change hands, then kept up to date
        slots = np.array([p.slot for p in takers])
        pop.status[rows], pop.provider[rows], pop.approach[rows] = IN_SERVICE, slots[owner], -1
        pop.months_in_service[rows] = 0
        pop.parked[rows] = pop.paid[rows] = pop.gamed[rows] = False
        regime = self.model.regime  # for deadweight: paid outcomes of cases that met the measure anyway
        pop.met_at_intake[rows] = meets_measure(pop.recorded_need[rows], regime.measure_weights,
                                                regime.settings.measure_threshold)
        if intake is not None:
            intake.attachment_due[slots] += self.model.regime.settings.payment.attachment_fee * counts
        caseloads[slots] += counts
        for provider, n in zip(takers, counts.tolist(), strict=True):
            provider.contract_cases += n

    def refuse(self, rows: np.ndarray, slots: np.ndarray, intake: Intake) -> None:
        """Referrals ``rows`` refused, each by the provider in ``slots``."""
        pop = self.model.population
        pop.refusals[rows] += 1
        refused = intake.refused_by_slot
        refused += np.bincount(slots * refused.shape[1] + pop.segment[rows],
                               minlength=refused.size).reshape(refused.shape)
