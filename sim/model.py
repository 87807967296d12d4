"""CommissioningModel: the wiring, the order of a month, and what is measured.

One step is one month:

1. the world drifts; old evidence fades (forgetting); new citizens arrive;
2. the commissioner re-assesses the context (lever 6), reviews its measure (lever 5) and
   re-tenders when a contract ends;
3. providers, in random order, take cases from the queue (creaming where selection is allowed);
4. providers choose an approach for new and reviewed cases (Thompson sampling), set effort, and
   park the cases not worth serving;
5. needs move (drift, shocks, effects); providers observe what they record and learn; citizens'
   voice is heard where it is collected;
6. outcomes are reported (some falsely), the commissioner pays, audits and claws back; providers
   pay their costs and may fail;
7. learning forums (or open data) pool what providers share; trust and mission move;
8. citizens exit (resolved, timed out in service, or unserved after waiting too long);
9. the month's measures are recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import mesa
import numpy as np
import pandas as pd

from sim import beliefs
from sim.citizens import IN_SERVICE, WAITING, Citizen, Population, meets_measure, next_need
from sim.commissioner import Commissioner
from sim.providers import (
    Provider,
    Terms,
    detection_probability,
    effort_cost,
    gaming_probability,
    max_last,
    next_mission,
    parking_value,
    plan,
    pressure,
)
from sim.regime import Regime
from sim.scenario import Scenario, load
from sim.world import APPROACH_COST, APPROACHES, World

SHOCK, MEASUREMENT, VOICE, FORUM_VOICE, INTAKE_RECORD, ASSESSMENT = range(6)  # keyed noise streams
VOICE_SD = 0.05          # noise in a citizen's report of what they value
PSEUDO_REPORTS = 20.0    # weight of the professional view of values, in citizens' reports
NEED_SEEN = 0.05         # least distance from 0 or 1 of a need learnt from (see ``learn``)

PROVIDER_REPORTERS = {"cash": "cash", "mission": "mission", "trust": "trust",
                      "caseload": "caseload", "knowledge": "knowledge", "shared": "shared"}


class CommissioningModel(mesa.Model):
    """Commissioners, providers and citizens under one accountability regime.

    Args:
        scenario: a validated ``Scenario``, a preset name or a TOML path (default: the defaults).
        rng: the seed. One ``SeedSequence`` is spawned into the world's stream and the agents'
            stream, so two regimes run with one seed face the same world.
        **overrides: scenario fields by bare name, e.g. ``uncertainty=0.8, n_citizens=500``.

    Example:
        >>> model = CommissioningModel(scenario="learning_oriented", rng=1)
        >>> model.run_for(120)
        >>> model.results()[["mean_wellbeing", "commissioner_knowledge"]].tail(1)
    """

    def __init__(self, *, scenario: Scenario | str | None = None,
                 rng: int | np.random.SeedSequence | None = None, **overrides: Any) -> None:
        if scenario is None:
            scenario = Scenario()
        elif not isinstance(scenario, Scenario):
            scenario = load(scenario)
        if overrides:
            scenario = scenario.with_overrides(overrides)
        seeds = rng if isinstance(rng, np.random.SeedSequence) else np.random.SeedSequence(rng)
        world_seed, agent_seed = seeds.spawn(2)
        super().__init__(rng=np.random.default_rng(agent_seed))
        self.scenario_config = scenario
        self.world = World(scenario, np.random.default_rng(world_seed))
        w = self.world
        self.shape = (w.n_segments, len(APPROACHES), w.n_domains)
        self.hardest = w.n_segments - 1
        profession = w.need_pattern * 0.8 + 0.2
        self.professional_values = profession / profession.sum(axis=1, keepdims=True)
        self.pseudo_reports = PSEUDO_REPORTS
        self.regime = Regime(scenario, self.segment_mean(self.professional_values))
        self.population = Population(w.n_domains)

        n_slots = scenario.providers.n_providers
        cells = (n_slots, *self.shape)
        self.own = beliefs.empty(cells)          # what each provider has seen itself
        self.external = beliefs.empty(cells)     # what it has received from others
        self.contributed = beliefs.empty(cells)  # what it has put into the pool
        self.reported = beliefs.empty(cells)     # what it has reported to the commissioner
        self.pool = beliefs.empty(self.shape)
        self.voice_sum = np.zeros((n_slots, w.n_segments, w.n_domains))
        self.voice_n = np.zeros((n_slots, w.n_segments))
        self.regret = np.zeros(n_slots)          # cumulative regret of each provider's choices
        self.refused_by_slot = np.zeros((n_slots, w.n_segments), np.int64)  # this month's refusals
        self.slots: list[Provider | None] = [None] * n_slots
        for slot in range(n_slots):
            self.enter(slot)
        self.commissioner = Commissioner(self, self.shape)

        self.counts = dict.fromkeys(
            ["arrived", "resolved", "timed_out", "unserved", "failures", "replaced",
             "provider_received"], 0.0)
        self.gain_total = 0.0
        self.payment_scale = 1.0  # share of what was due that the budget allowed, last month
        self.month_log: dict[str, float] = {}
        self.knowledge_of_providers = np.zeros(n_slots)
        self._citizen_agents: dict[int, Citizen] = {}
        self._caseloads: np.ndarray | None = None
        self.arrive(scenario.population.n_citizens)
        self.start_running()
        self.measures = self.measure()
        self.datacollector = mesa.DataCollector(
            model_reporters={name: _reporter(name) for name in self.measures},
            agenttype_reporters={Provider: PROVIDER_REPORTERS,
                                 Commissioner: {"spent": "spent"}},
        )
        self.datacollector.collect(self)

    # --- the month ---------------------------------------------------------------------------

    def step(self) -> None:
        month = int(round(self.time))
        self.month_log = dict.fromkeys(
            ["refused", "refused_hardest", "reports", "false_reports", "detected", "clawback",
             "gain", "spend"], 0.0)
        for provider in self.providers:
            provider.sanctioned = False
        self.refused_by_slot[:] = 0
        self.world.drift()
        self.forget(self.scenario_config.providers.forgetting)
        self.arrive(self.world.arrivals())
        self.commission(month)
        self._offered = np.zeros(len(self.population), bool)  # referred this month
        self.prepare_beliefs()
        order: list[Provider] = []
        self.agents_by_type[Provider].shuffle_do(order.append)  # Mesa's random order, as drawn
        self.intake(order)
        costs = self.serve(month)
        self.live(month)
        self.report_and_pay(costs)
        if self.regime.open_data or self.regime.forum_due(month):
            self.exchange(forum=self.regime.forum_due(month))
        self.update_mission()
        self.exit()
        self.measures = self.measure()
        self.datacollector.collect(self)

    # --- arrivals and exits ------------------------------------------------------------------

    def arrive(self, n: int) -> None:
        segment, need, values = self.world.new_citizens(n)
        pop = self.population
        ids = np.arange(pop.next_id, pop.next_id + n)
        recorded = self.record(need, ids, INTAKE_RECORD)
        pop.add(segment, need, values, recorded)
        self.counts["arrived"] += n

    def start_running(self) -> None:
        """The service is already running when the simulation starts.

        Each provider inherits a caseload from the front of the queue, at various stages of service,
        and the rest of the queue has been waiting for various times, so that neither the cases nor
        the queue time out all at once (cohort echoes).
        """
        pop, p = self.population, self.scenario_config.population
        self._due = np.zeros(len(self.slots))
        queue, start = np.flatnonzero(pop.waiting), 0  # each takes the front of what is left
        for provider in self.providers:
            self.assign(queue[start:start + provider.capacity], provider)
            start += provider.capacity
        rng = self.world.rng
        pop.months_in_service[pop.in_service] = rng.integers(
            0, p.max_service_months, np.count_nonzero(pop.in_service))
        pop.waited[pop.waiting] = rng.integers(0, p.max_wait_months, np.count_nonzero(pop.waiting))
        for provider in self.providers:
            provider.contract_cases = 0

    def record(self, need: np.ndarray, ids: np.ndarray, stream: int = MEASUREMENT,
               month: int | None = None) -> np.ndarray:
        """Needs as a record or an assessment shows them at the end of ``month`` (default: now):
        with measurement noise, a score, not clipped. Each ``stream`` has errors of its own.
        """
        noise = self.world.noise(ids, int(round(self.time)) if month is None else month, stream)
        noise *= self.world.measurement_sd
        noise += need
        return noise

    def exit(self) -> None:
        pop, p = self.population, self.scenario_config.population
        resolved = max_last(pop.need) < p.resolved_need
        timed_out = pop.in_service & (pop.months_in_service >= p.max_service_months) & ~resolved
        unserved = pop.waiting & (pop.waited >= p.max_wait_months) & ~resolved
        self.counts["resolved"] += np.count_nonzero(resolved)
        self.counts["timed_out"] += np.count_nonzero(timed_out)
        self.counts["unserved"] += np.count_nonzero(unserved)
        pop.keep(~(resolved | timed_out | unserved))
        self._caseloads = None

    def caseload_picture(self) -> pd.DataFrame:
        """Who is where now, by provider slot and segment: served, parked, refused this month.

        One row per (slot, segment) with the counts ``served`` (in service, not parked), ``parked``
        and ``refused`` (referrals this slot turned away this month), and one row per segment with
        slot -1 for the queue (``waiting``). For inspection and the dashboard; never used in a step.
        """
        pop, n_seg, n_slots = self.population, self.world.n_segments, len(self.slots)
        case = pop.in_service
        cell = np.where(case, pop.provider, 0) * n_seg + pop.segment

        def count(mask: np.ndarray) -> np.ndarray:
            return np.bincount(cell[mask], minlength=n_slots * n_seg)

        slots = pd.DataFrame({
            "slot": np.repeat(np.arange(n_slots), n_seg), "segment": np.tile(np.arange(n_seg), n_slots),
            "served": count(case & ~pop.parked), "parked": count(case & pop.parked),
            "refused": self.refused_by_slot.ravel(), "waiting": 0})
        queue = pd.DataFrame({"slot": -1, "segment": np.arange(n_seg), "served": 0, "parked": 0,
                              "refused": 0,
                              "waiting": np.bincount(pop.segment[pop.waiting], minlength=n_seg)})
        return pd.concat([slots, queue], ignore_index=True)

    @property
    def citizens(self) -> mesa.agentset.AgentSet:
        """The active citizens as Mesa agents, in order of arrival.

        Made on demand from the population arrays (and removed once exited), so the monthly step
        never pays for them.
        """
        ids = self.population.id
        for cid in np.setdiff1d(np.fromiter(self._citizen_agents, np.int64), ids):
            self._citizen_agents.pop(int(cid)).remove()
        for cid in np.setdiff1d(ids, np.fromiter(self._citizen_agents, np.int64)):
            self._citizen_agents[int(cid)] = Citizen(self, int(cid))
        return mesa.agentset.AgentSet([self._citizen_agents[int(c)] for c in ids], random=self.random)

    # --- the market --------------------------------------------------------------------------

    def enter(self, slot: int) -> Provider:
        """A new provider takes ``slot`` with only the published evidence (and what is shared)."""
        p = self.scenario_config.providers
        mission = float(np.clip(self.rng.normal(p.mission_mean, p.mission_spread), 0.0, 1.0))
        for arr in (self.own, self.external, self.contributed, self.reported, self.voice_sum,
                    self.voice_n, self.regret):
            arr[slot] = 0.0
        provider = Provider(self, slot, mission, self.scenario_config)
        self.slots[slot] = provider
        return provider

    @property
    def providers(self) -> list[Provider]:
        return [p for p in self.slots if p is not None]

    def commission(self, month: int) -> None:
        """The commissioner's periodic decisions: context-led choice, review, re-tendering."""
        regime, com = self.regime, self.commissioner
        if month <= 0:
            return
        assess_now = regime.review_due(month) or (
            regime.review_interval == 0 and regime.retender_due(month))
        if regime.context_led and assess_now:
            strategy = com.assess_context()
            if strategy != regime.strategy:
                regime.adopt(strategy, self.segment_mean(com.believed_values()))
        if regime.review_due(month):
            regime.review(self.segment_mean(com.believed_values()))
        if regime.retender_due(month):
            self.retender()
        for slot, provider in enumerate(self.slots):
            if provider is None:  # a failed contract is re-let at once to an entrant
                self.enter(slot)

    def retender(self) -> None:
        active = self.providers
        losers = self.commissioner.retender(active, {p.slot: p.ever_shared for p in active})
        for provider in losers:
            self.replace(provider)
        if losers:
            for provider in active:
                if provider not in losers:
                    self.sanction(provider)
        for provider in self.providers:
            provider.contract_outcomes = provider.contract_cases = 0
            provider.ever_shared = False

    def replace(self, provider: Provider) -> None:
        """Terminate a contract: an entrant takes over the slot and its caseload, re-assessing it."""
        provider.remove()
        self.slots[provider.slot] = None
        self.enter(provider.slot)
        pop = self.population
        pop.approach[pop.provider == provider.slot] = -1
        self.counts["replaced"] += 1

    def fail(self, provider: Provider) -> None:
        """A provider out of cash leaves; its cases go back to the queue."""
        provider.remove()
        self.slots[provider.slot] = None
        pop = self.population
        cases = pop.provider == provider.slot
        pop.status[cases], pop.provider[cases], pop.approach[cases] = WAITING, -1, -1
        pop.waited[cases] = 0
        pop.parked[cases] = False
        self._caseloads = None
        self.counts["failures"] += 1

    def sanction(self, provider: Provider) -> None:
        """Trust falls after a clawback, detected gaming or a termination seen by others."""
        provider.trust -= self.scenario_config.providers.trust_loss * provider.trust
        provider.sanctioned = True

    # --- intake ------------------------------------------------------------------------------

    def caseloads(self) -> np.ndarray:
        """Cases held by each slot (an empty slot holds none).

        Counted once from the population and then kept up to date: ``pop.provider`` changes only
        in ``assign`` (which adds to the count), ``fail`` and ``exit`` (which drop the count).
        """
        if self._caseloads is None:
            n_slots = len(self.slots)
            self._caseloads = np.bincount(self.population.provider + 1, minlength=n_slots + 1)[1:]
        return self._caseloads

    def intake(self, order: list[Provider]) -> None:
        """Providers, in ``order``, fill their free places from the queue (7.7 in docs/ODD.md).

        Sequential in effect, vectorised in fact: each provider is offered the next referrals of
        one queue in order of arrival (``free`` of them, or ``ceil(referrals_per_place * free)``
        where selection is allowed), and what one takes or refuses never changes what the next is
        offered: a provider's free places, mission and beliefs do not depend on the others'
        intake. So every offer is known up front and all are valued in one ``plan``.
        """
        takers = [p for p in order if p.capacity - self.caseloads()[p.slot] > 0]
        if not takers:
            return
        pop, regime = self.population, self.regime
        queue = np.flatnonzero(pop.waiting & ~self._offered)  # not yet referred, in order of arrival
        free = np.array([p.capacity for p in takers]) - self.caseloads()[[p.slot for p in takers]]
        if regime.selection_allowed:
            offered = np.array([int(np.ceil(regime.referrals_per_place * f)) for f in free.tolist()])
        else:
            offered = free
        end = np.minimum(np.cumsum(offered), len(queue))
        begin = np.append(0, end[:-1])
        counts = end - begin
        rows = queue[: end[-1]]
        self._offered[rows] = True  # a refused citizen is not referred again this month
        owner = np.repeat(np.arange(len(takers)), counts)  # which taker each offered row went to
        if not regime.selection_allowed:
            self._assign_many(rows, owner, takers, counts)
            return
        value = self.intake_value(rows, np.array([p.slot for p in takers])[owner],
                                  np.array([p.effective_mission for p in takers])[owner],
                                  np.array([p.slack for p in takers])[owner])
        # each taker's own offers, best first (stably), accepted while places last and value >= 0
        order_in_group = np.lexsort((-value, owner))
        rank = np.arange(len(rows)) - np.repeat(begin, counts)
        ranked_ok = (rank < np.repeat(free, counts)) & (value[order_in_group] >= 0)
        accept = np.zeros(len(rows), bool)
        accept[order_in_group[ranked_ok]] = True
        self.refuse(rows[~accept], np.array([p.slot for p in takers])[owner[~accept]])
        self._assign_many(rows[accept], owner[accept], takers,
                          np.bincount(owner[accept], minlength=len(takers)))

    def _assign_many(self, rows: np.ndarray, owner: np.ndarray, takers: list[Provider],
                     counts: np.ndarray) -> None:
        """``assign`` for several providers at once: ``rows[i]`` goes to ``takers[owner[i]]``."""
        pop = self.population
        caseloads = self.caseloads()  # counted before the rows change hands, then kept up to date
        slots = np.array([p.slot for p in takers])
        pop.status[rows], pop.provider[rows], pop.approach[rows] = IN_SERVICE, slots[owner], -1
        pop.months_in_service[rows] = 0
        pop.parked[rows] = pop.paid[rows] = pop.gamed[rows] = False
        self._due[slots] += self.regime.attachment_fee * counts
        caseloads[slots] += counts
        for provider, n in zip(takers, counts.tolist(), strict=True):
            provider.contract_cases += n

    def refuse(self, rows: np.ndarray, slots: np.ndarray) -> None:
        """Referrals ``rows`` refused, each by the provider in ``slots``."""
        self.population.refusals[rows] += 1
        self.refused_by_slot += np.bincount(slots * self.world.n_segments + self.population.segment[rows],
                                            minlength=self.refused_by_slot.size
                                            ).reshape(self.refused_by_slot.shape)
        self.month_log["refused"] += len(rows)
        self.month_log["refused_hardest"] += np.count_nonzero(
            self.population.segment[rows] == self.hardest)

    def assign(self, rows: np.ndarray, provider: Provider) -> None:
        """Give ``rows`` to one provider."""
        self._assign_many(rows, np.zeros(len(rows), int), [provider], np.array([len(rows)]))

    def intake_value(self, rows: np.ndarray, slot: np.ndarray, mission: np.ndarray,
                     slack: np.ndarray) -> np.ndarray:
        """What taking each referred citizen is worth to the provider in ``slot`` (per row, as are
        its effective ``mission`` and its ``slack``) over its horizon (GBP).
        """
        pop, sc = self.population, self.scenario_config
        seg = pop.segment[rows]
        months = np.full(len(rows), min(sc.providers.horizon, sc.population.max_service_months))
        value, _ = plan(self._mean[slot, seg], pop.recorded_need[rows], self._values[slot, seg],
                        mission, self.outcome_price(seg), months, self._terms, slack)
        monthly = np.maximum(max_last(value), parking_value(mission, self._terms, slack))
        fee = self.payment_scale * self.regime.attachment_fee / slack
        return months * monthly + (1 - mission) * fee

    def outcome_price(self, segment: np.ndarray, paid: np.ndarray | None = None) -> np.ndarray:
        if self.regime.model != "outcomes":
            return np.zeros(len(segment))
        price = self.regime.prices(self.world.n_segments)[segment]
        return price if paid is None else np.where(paid, 0.0, price)

    # --- service -----------------------------------------------------------------------------

    def prepare_beliefs(self) -> None:
        """Each provider's posterior and value estimates, and this month's payment terms."""
        self._mean, self._sd = beliefs.posterior(self.world.prior_mean, self.world.prior_sd,
                                                 self.regime.prior_weight, self.own + self.external)
        # the month's working hypothesis: what an exploring provider plans effort on
        self._hypothesis = (beliefs.sample(self._mean, self._sd, self.rng)
                            if self.scenario_config.providers.explore else self._mean)
        self._values = beliefs.value_estimate(self.professional_values, self.voice_sum, self.voice_n,
                                              self.pseudo_reports)
        self._terms = Terms.now(self.scenario_config, self.regime, self.world.obs_sd,
                                self.payment_scale)
        self._due = np.zeros(len(self.slots))

    def serve(self, month: int) -> np.ndarray:
        """Approach choice, effort and parking for every case; returns each slot's costs (GBP)."""
        pop, sc = self.population, self.scenario_config
        cases = np.flatnonzero(pop.in_service)
        slot, seg = pop.provider[cases], pop.segment[cases]
        mission = np.array([p.effective_mission if p else 0.0 for p in self.slots])[slot]
        slack = np.array([p.slack if p else 1.0 for p in self.slots])[slot]
        months = np.minimum(sc.providers.horizon,
                            sc.population.max_service_months - pop.months_in_service[cases])
        price = self.outcome_price(seg, pop.paid[cases])
        values = self._values[slot, seg]
        need = pop.recorded_need[cases]

        review = sc.providers.approach_review_months
        choose = (pop.approach[cases] < 0) | (
            (pop.months_in_service[cases] > 0) & (pop.months_in_service[cases] % review == 0))
        if choose.any():
            c = choose
            sample = self._mean[slot[c], seg[c]] + self._sd[slot[c], seg[c]] * self.rng.standard_normal(
                (np.count_nonzero(c), *self.shape[1:]))
            def value_of(effect: np.ndarray) -> np.ndarray:
                return plan(effect, need[c], values[c], mission[c], price[c], months[c],
                            self._terms, slack[c])[0]

            chosen = value_of(sample).argmax(axis=1)
            pop.approach[cases[c]] = chosen
            self.regret += np.bincount(slot[c], weights=self.choice_regret(value_of, cases[c], chosen),
                                       minlength=len(self.slots))

        approach = pop.approach[cases]
        value, effort = plan(self._hypothesis[slot, seg], need, values, mission, price, months,
                             self._terms, slack)
        # parking is a decision about the case: no approach is believed worth its cost
        parked = max_last(value) < parking_value(mission, self._terms, slack)
        effort = np.where(parked[:, None], 0.0, effort[np.arange(len(cases)), approach])
        pop.parked[cases] = parked
        pop.effort[:] = 0.0
        pop.effort[cases] = effort

        t = self._terms
        case_cost = t.admin_cost + np.where(
            parked, 0.0, APPROACH_COST[approach]
            + effort_cost(effort, t.baseline_effort, t.effort_cost, t.substitution))
        costs = np.bincount(slot, weights=case_cost, minlength=len(self.slots))
        overhead = np.array([sc.providers.overhead if p else 0.0 for p in self.slots])
        return costs + overhead

    def choice_regret(self, value_of: Callable[[np.ndarray], np.ndarray], rows: np.ndarray,
                      chosen: np.ndarray) -> np.ndarray:
        """What each approach choice loses, in the provider's own terms, for not knowing the effects.

        ``value_of(effect)`` values every approach for the chosen cases as the provider would (with
        what it knows of the case and of what the citizen values); the oracle knows the true
        effects. Regret is the oracle's best value minus the true value of the approach chosen
        (GBP per month), the regret of the bandit literature.
        """
        true_value = value_of(self.world.truth[self.population.segment[rows]])
        return true_value.max(axis=1) - true_value[np.arange(len(rows)), chosen]

    # --- needs, observation, learning ----------------------------------------------------------

    def live(self, month: int) -> None:
        """Needs move; providers learn from what they record; voice is heard.

        ``record`` is computed in place: one pass fewer over the population.
        """
        pop, w = self.population, self.world
        cases = pop.in_service
        served = cases & ~pop.parked
        approach = np.where(served, pop.approach, 0)
        truth = w.truth
        effect = truth.reshape(-1, w.n_domains)[pop.segment * truth.shape[1] + approach]
        effect *= pop.effort
        effect[~served] = 0.0
        shock = w.noise(pop.id, month, SHOCK)
        shock *= w.shock_sd
        without = next_need(pop.need, w.need_drift, shock, 0.0)  # what no support would have left
        new_need = next_need(pop.need, w.need_drift, shock, effect)
        without -= new_need
        gain = np.einsum("ik,ik->i", without, pop.values)
        self.month_log["gain"] = float(gain.sum())
        self.gain_total += self.month_log["gain"]
        old_record, old_need = pop.recorded_need, pop.need
        pop.need = new_need
        pop.recorded_need = self.record(new_need, pop.id)
        self._old_record = old_record  # for the month's measured drop (distance travelled)
        self.learn(served, old_need, approach)
        pop.waited[pop.status == WAITING] += 1
        pop.months_in_service[cases] += 1
        if self.regime.citizen_voice:
            self.hear_voice(np.flatnonzero(cases), month)

    def learn(self, served: np.ndarray, old_need: np.ndarray, approach: np.ndarray) -> None:
        """Providers learn from assessed changes on the domains they record; reports go up.

        The change is measured between two outcome assessments, whose errors are independent of
        the case record that steered the month's effort: learning from the record itself would
        bias the estimates (effort responds to the record's error, which also enters the change).

        A provider learns from a domain only where the need was far enough from 0 and 1 that the
        month's change could not have hit a bound (a clipped change would bias the estimate): above
        twice the fall it expected plus three shock deviations, and below one minus the drift and
        three shock deviations. Where the need stood is taken from the true need, as a professional
        assessment would tell it: selecting on the noisy record instead would bias the estimates
        (regression to the mean), and nothing is selected on the month's outcome.
        """
        pop, w = self.population, self.world
        slot_all = np.where(served, pop.provider, 0)
        expected = np.clip(self._mean[slot_all, pop.segment, approach] * pop.effort, 0.0, None)
        room = NEED_SEEN + 3 * w.shock_sd
        seen = (served[:, None] & self.regime.recorded[None, :] & (old_need > room + 2 * expected)
                & (old_need < 1.0 - room - w.need_drift))
        assessed = np.flatnonzero(seen.any(axis=1))
        month = int(round(self.time))
        ids = pop.id[assessed]
        fall = (self.record(old_need[assessed], ids, ASSESSMENT, month - 1)
                - self.record(pop.need[assessed], ids, ASSESSMENT, month))
        i, k = np.nonzero(seen[assessed])
        rows = assessed[i]
        slot, seg, a = pop.provider[rows], pop.segment[rows], approach[rows]
        z = w.need_drift + fall[i, k]
        e = pop.effort[rows, k]
        cell = np.ravel_multi_index((slot, seg, a, k), self.own.shape[:-1])
        new = beliefs.accumulate(self.own.shape[:-1], cell, e, z, w.obs_sd)
        self.own += new
        covered = self.regime.covered
        reports = new * covered[:, None]
        self.reported += reports
        self.commissioner.reports += reports.sum(axis=0)
        to_com = covered[k]
        if to_com.any():
            mean, _ = self.commissioner.beliefs()
            resid = z[to_com] - mean[seg[to_com], a[to_com], k[to_com]] * e[to_com]
            self.commissioner.residual_ss += float(resid @ resid)
            self.commissioner.residual_n += len(resid)

    def hear_voice(self, rows: np.ndarray, month: int, at_forum: bool = False) -> None:
        """Citizens say what matters to them (value weights, with noise).

        Month by month (where voice is collected) the commissioner hears every citizen in service and
        each provider hears its own cases; at a forum that citizens attend, every provider present
        hears them all, and so does the commissioner if it attends.
        """
        pop, regime = self.population, self.regime
        stream = FORUM_VOICE if at_forum else VOICE
        report = np.clip(pop.values[rows] + VOICE_SD * self.world.noise(pop.id[rows], month, stream),
                         0.0, None)
        seg = pop.segment[rows]
        n_seg = self.world.n_segments
        by_segment = _sum_rows(seg, report, n_seg)
        count = np.bincount(seg, minlength=n_seg).astype(float)
        if not at_forum or regime.forum_commissioner:
            self.commissioner.voice_sum += by_segment
            self.commissioner.voice_n += count
        if at_forum:
            slots = [p.slot for p in self.providers]
            self.voice_sum[slots] += by_segment
            self.voice_n[slots] += count
        else:
            cell = pop.provider[rows] * n_seg + seg
            n_cells = len(self.slots) * n_seg
            self.voice_sum += _sum_rows(cell, report, n_cells).reshape(self.voice_sum.shape)
            self.voice_n += np.bincount(cell, minlength=n_cells).reshape(self.voice_n.shape)

    # --- reporting, payment, audit -------------------------------------------------------------

    def report_and_pay(self, costs: np.ndarray) -> None:
        pop, regime, com = self.population, self.regime, self.commissioner
        sc = self.scenario_config
        n_slots = len(self.slots)
        active = np.array([p is not None for p in self.slots])
        cases = pop.in_service
        met = cases & meets_measure(pop.recorded_need, regime.measure_weights,
                                    regime.measure_threshold)
        open_cases = cases & ~pop.paid
        truthful = open_cases & met
        cash = np.array([p.cash if p else 0.0 for p in self.slots])
        mission = np.array([p.mission if p else 1.0 for p in self.slots])
        stress = (cash < sc.providers.start_cash / 2).astype(float)
        strain = pressure(regime.payment_at_risk, regime.league_tables, stress)
        detection = detection_probability(regime.audit_rate, regime.voice_check, regime.citizen_voice)
        chance = gaming_probability(sc.providers.gaming_propensity, strain, mission, detection)
        slot_of = np.where(cases, pop.provider, 0)
        gamed = open_cases & ~met & (self.rng.random(len(pop)) < chance[slot_of])
        reported = truthful | gamed
        pop.paid |= reported
        pop.gamed |= gamed
        per_slot = np.bincount(pop.provider[reported], minlength=n_slots)
        for provider in self.providers:
            provider.contract_outcomes += int(per_slot[provider.slot])

        due = self._due
        if regime.model == "outcomes":
            due += np.bincount(pop.provider[reported], weights=self.outcome_price(pop.segment[reported]),
                               minlength=n_slots)
        elif regime.model == "distance_travelled":
            # value added: the measured fall against the expected drift, signed so that noise nets
            # out; a provider's month is never charged (a contract does not bill its provider)
            month_drop = np.where(cases[:, None], self._old_record - pop.recorded_need, 0.0)
            drop = month_drop @ regime.measure_weights + self.world.need_drift
            due += np.clip(np.bincount(pop.provider[cases],
                                       weights=regime.improvement_price * drop[cases],
                                       minlength=n_slots), 0.0, None)
        elif regime.model == "fee_for_service":
            due += regime.fee_per_month * np.bincount(pop.provider[cases], minlength=n_slots)
        else:
            due += regime.grant_per_place * np.array([p.capacity if p else 0 for p in self.slots])
        due += regime.shared_risk * np.clip(costs - due, 0.0, None) * active
        paid = com.pay(due)
        scale = paid.sum() / due.sum() if due.sum() > 0 else 1.0
        self.payment_scale = float(scale)

        audited = self.rng.random(len(pop)) < regime.audit_rate
        exposed = regime.citizen_voice & (self.rng.random(len(pop)) < regime.voice_check)
        detected = gamed & (audited | exposed)
        pop.paid[detected] = pop.gamed[detected] = False
        clawback = np.zeros(n_slots)
        if regime.clawback and regime.model == "outcomes":
            clawback = np.bincount(pop.provider[detected],
                                   weights=scale * self.outcome_price(pop.segment[detected]),
                                   minlength=n_slots)
        com.claw_back(float(clawback.sum()))
        caught = np.bincount(pop.provider[detected], minlength=n_slots)

        self.month_log.update(reports=float(reported.sum()), false_reports=float(gamed.sum()),
                              detected=float(detected.sum()), clawback=float(clawback.sum()),
                              spend=float(paid.sum() - clawback.sum()))
        self.counts["provider_received"] += float(paid.sum() - clawback.sum())
        for provider in self.providers:
            provider.contract_outcomes -= int(caught[provider.slot])  # found false: off the table
            provider.settle(float(paid[provider.slot] - clawback[provider.slot]),
                            float(costs[provider.slot]))
            if caught[provider.slot]:
                self.sanction(provider)
        for provider in self.providers:
            if provider.cash < 0:
                self.fail(provider)

    # --- learning together ---------------------------------------------------------------------

    def exchange(self, forum: bool) -> None:
        """Providers whose trust is high enough add what they learnt to the pool and receive what the
        others shared (everyone receives it, with open data). Each receiver's external evidence
        excludes its own contribution, so nothing is counted twice.
        """
        regime, sc = self.regime, self.scenario_config
        sharers = [p for p in self.providers if p.will_share()]
        for p in self.providers:
            p.shared = p in sharers
        for p in sharers:
            self.pool += self.own[p.slot] - self.contributed[p.slot]
            self.contributed[p.slot] = self.own[p.slot]
            p.ever_shared = True
        receivers = self.providers if regime.open_data else sharers
        covered = regime.covered[:, None]
        for p in receivers:
            from_pool = self.pool - self.contributed[p.slot]
            if regime.open_data:
                from_reports = self.commissioner.reports - self.reported[p.slot]
                self.external[p.slot] = np.where(covered, from_reports, from_pool)
            else:
                self.external[p.slot] = from_pool
        if regime.open_data or regime.forum_commissioner:
            self.commissioner.pool_view = self.pool.copy()
        if forum:
            for p in self.providers:  # every provider attends; contact builds trust
                p.trust += sc.providers.trust_gain * (1.0 - p.trust)
            if regime.forum_citizens:
                self.hear_voice(np.flatnonzero(self.population.in_service), int(round(self.time)),
                                at_forum=True)

    def update_mission(self) -> None:
        """Mission rises with trust under a shared purpose and falls under punitive management."""
        p, regime = self.scenario_config.providers, self.regime
        for provider in self.providers:
            punitive = min(1.0, float(regime.league_tables) + float(provider.sanctioned))
            provider.mission = next_mission(provider.mission, provider.founding_mission,
                                            regime.shared_purpose, provider.trust, punitive,
                                            p.mission_rate)

    def forget(self, factor: float) -> None:
        for arr in (self.own, self.external, self.contributed, self.reported, self.pool,
                    self.voice_sum, self.voice_n):
            arr *= factor
        self.commissioner.forget(factor)

    # --- measures ----------------------------------------------------------------------------

    def segment_mean(self, per_segment: np.ndarray) -> np.ndarray:
        """Average a per-segment quantity (S, ...) over segments, weighted by arrivals."""
        return np.tensordot(self.world.segment_mix, per_segment, axes=1)

    def knowledge(self, mean: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Decision quality and belief error of beliefs ``mean`` (..., S, A, K)."""
        w = self.world
        quality = beliefs.decision_quality(mean, values, w.truth, w.value_pattern, w.need_pattern,
                                           w.segment_mix)
        return quality, beliefs.belief_error(mean, w.truth)

    def measure(self) -> dict[str, float]:
        """Every per-month measure of the model card, as one flat dict."""
        pop, regime, com = self.population, self.regime, self.commissioner
        w = self.world
        active = [p.slot for p in self.providers]
        mean, sd = beliefs.posterior(w.prior_mean, w.prior_sd, regime.prior_weight,
                                     self.own + self.external)
        values = beliefs.value_estimate(self.professional_values, self.voice_sum, self.voice_n,
                                        self.pseudo_reports)
        p_quality, p_error = self.knowledge(mean, values)
        self.knowledge_of_providers = p_quality
        c_mean, c_sd = com.beliefs()
        c_quality, c_error = self.knowledge(c_mean, com.believed_values())
        # the system knows what its best-informed actor (least posterior variance) knows
        spread = np.append((sd[active] ** 2).mean(axis=(1, 2, 3)), (c_sd**2).mean())
        best = int(np.argmin(spread))
        system_quality = np.append(p_quality[active], c_quality)[best]
        system_error = np.append(p_error[active], c_error)[best]
        wellbeing = pop.wellbeing
        hardest = pop.segment == self.hardest
        lightest = pop.segment == 0
        cases = pop.in_service
        served = cases & ~pop.parked
        tau = regime.measure_threshold
        met = meets_measure(pop.recorded_need, regime.measure_weights, tau)
        measure_value = _share(cases, met | pop.gamed)
        true_value = _share(cases, wellbeing >= 1.0 - tau)
        spent = com.spent
        log = self.month_log
        providers = self.providers
        out = {
            "mean_wellbeing": _mean(wellbeing),
            "hardest_wellbeing": _mean(wellbeing[hardest]),
            "equity_gap": _mean(wellbeing[lightest]) - _mean(wellbeing[hardest]),
            "citizens": float(len(pop)),
            "waiting": float(np.count_nonzero(pop.waiting)),
            "in_service": float(np.count_nonzero(cases)),
            "served": float(np.count_nonzero(served)),
            "parked": float(np.count_nonzero(cases & pop.parked)),
            "parked_share": _share(cases, pop.parked),
            "parked_share_hardest": _share(cases & hardest, pop.parked),
            "hardest_turned_away": _turned_away(log.get("refused_hardest", 0.0),
                                                np.count_nonzero(cases & hardest & pop.parked),
                                                np.count_nonzero(cases & hardest)),
            "refused": log.get("refused", 0.0),
            "refused_hardest": log.get("refused_hardest", 0.0),
            "waiting_share_hardest": _share(hardest, pop.waiting),
            "arrived_total": self.counts["arrived"],
            "resolved_total": self.counts["resolved"],
            "timed_out_total": self.counts["timed_out"],
            "unserved_total": self.counts["unserved"],
            "measure_value": measure_value,
            "true_outcome": true_value,
            "goodhart_gap": measure_value - true_value,
            "gaming_rate": log.get("false_reports", 0.0) / max(log.get("reports", 0.0), 1.0),
            "false_reports": log.get("false_reports", 0.0),
            "detected_gaming": log.get("detected", 0.0),
            "commissioner_knowledge": float(c_quality),
            "provider_knowledge": _mean(p_quality[active]),
            "system_knowledge": float(system_quality),
            "commissioner_belief_error": float(c_error),
            "provider_belief_error": _mean(p_error[active]),
            "provider_regret": _mean(self.regret[active]),
            "provider_evidence": _mean(beliefs.evidence_share(sd[active], w.prior_sd,
                                                              regime.prior_weight)),
            "commissioner_evidence": float(beliefs.evidence_share(c_sd, w.prior_sd,
                                                                  regime.prior_weight)),
            "system_belief_error": float(system_error),
            "spend": log.get("spend", 0.0),
            "spend_total": spent,
            "wellbeing_gained_total": self.gain_total,
            "wellbeing_per_1000": 1000.0 * self.gain_total / spent if spent > 0 else 0.0,
            "provider_exits_total": self.counts["failures"],
            "provider_replaced_total": self.counts["replaced"],
            "providers": float(len(providers)),
            "mean_trust": _mean(np.array([p.trust for p in providers])),
            "mean_mission": _mean(np.array([p.mission for p in providers])),
            "mean_cash": _mean(np.array([p.cash for p in providers])),
            "measure_weight_on_domain": float(regime.measure_weights[regime.measured_index]),
            "strategy": regime.strategy,
        }
        return out

    def results(self) -> pd.DataFrame:
        """The per-month measures as a tidy DataFrame: one row per month (0 = the start)."""
        df = self.datacollector.get_model_vars_dataframe().reset_index(drop=True)
        df.insert(0, "month", np.arange(len(df)))
        return df


def _reporter(name: str):
    return lambda model: model.measures[name]


def _sum_rows(group: np.ndarray, rows: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum the rows of ``rows`` (n, K) by ``group`` (n,) into (n_groups, K)."""
    k = rows.shape[1]
    flat = (group[:, None] * k + np.arange(k)).ravel()
    return np.bincount(flat, weights=rows.ravel(), minlength=n_groups * k).reshape(n_groups, k)


def _turned_away(refused: float, parked: int, in_service: int) -> float:
    """Of the hardest to help who met a provider this month, the share refused or parked."""
    met = refused + in_service
    return (refused + parked) / met if met else 0.0


def _mean(x: np.ndarray) -> float:
    """``x.mean()`` of a 1-D float array (the same sum and division), 0 when empty, without the
    overhead of ``ndarray.mean``.
    """
    return float(x.sum() / len(x)) if len(x) else 0.0


def _share(of: np.ndarray, having: np.ndarray) -> float:
    n = np.count_nonzero(of)
    return float(np.count_nonzero(of & having) / n) if n else 0.0
