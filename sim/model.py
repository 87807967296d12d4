"""CommissioningModel: the wiring of the model and the order of a month.

``step`` is the one schedule of a month; each phase is a function or method of the module that
owns its submodel (docs/ODD.md, section 7, names them), and what one phase hands to the next is
an explicit record, collected in ``Month``:

1. the world drifts; old evidence fades (forgetting); new citizens arrive;
2. the commissioner reviews the context (lever 6) and its measure (lever 5), re-tenders when a
   contract ends, and re-lets failed contracts;
3. providers form their outlook for the month (``learning.outlook``);
4. providers, in random order, take cases from the queue (``Market.intake``: creaming where
   selection is allowed);
5. providers choose approaches, set effort and park the cases not worth serving
   (``service.serve``);
6. needs move and are recorded (``Population.live``); providers learn from outcome assessments
   and report (``learning.learn``); citizens' voice is heard where it is collected;
7. outcomes are reported (some falsely), the commissioner pays, audits and claws back, and
   providers settle their cash and may fail (``reporting.settle``);
8. learning forums (or open data) pool what providers share; trust and mission move;
9. citizens exit (resolved, timed out in service, or unserved after waiting too long);
10. the month's measures are recorded (``measures.measure``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import mesa
import numpy as np
import pandas as pd
from mesa.experimental.scenarios import Scenario as MesaScenario

from sim import learning, reporting, service
from sim.citizens import Citizen, Living, Population
from sim.commissioner import Commissioner
from sim.learning import Evidence, Observations, Outlook
from sim.market import Intake, Market
from sim.measures import measure
from sim.providers import Provider
from sim.regime import Regime
from sim.reporting import Settlement
from sim.scenario import Scenario
from sim.service import Service
from sim.world import APPROACHES, World

PROVIDER_REPORTERS = {"cash": "cash", "mission": "mission", "trust": "trust",
                      "caseload": "caseload", "knowledge": "knowledge", "shared": "shared",
                      "capability": "capability", "cost_factor": "cost_factor",
                      "measured_focus": "measured_focus"}


@dataclass
class Month:
    """One month's phases, in order, and what each handed on (``None`` before it ran).

    Attributes:
        number: the month (1 for the first step; 0 for the starting state).
        outlook: what every provider acted on (``learning.Outlook``).
        intake: who was referred, refused and taken on (``market.Intake``).
        service: each slot's costs (``service.Service``).
        living: what the month of needs handed on (``citizens.Living``).
        observed: what providers observed and reported (``learning.Observations``).
        settlement: reports, payments, audits (``reporting.Settlement``).
    """

    number: int
    intake: Intake
    settlement: Settlement = Settlement.none()
    outlook: Outlook | None = None
    service: Service | None = None
    living: Living | None = None
    observed: Observations | None = None


class RunScenario(MesaScenario):
    """The run's parameters and seed as Mesa sees them (``model.scenario``).

    ``rng`` is the seed the run was given (an int or a ``numpy.random.SeedSequence``): a model
    made again from ``config`` and ``rng`` repeats the run. ``config`` is the validated
    ``sim.scenario.Scenario``, and its sections are attributes too (``model.scenario.context``).
    """


class CommissioningModel(mesa.Model):
    """Commissioners, providers and citizens under one accountability regime.

    Args:
        scenario: a validated ``Scenario``, a preset name or a TOML path (default: the defaults),
            or a ``RunScenario`` (another run's ``model.scenario``: its parameters and its seed).
        rng: the seed. One ``SeedSequence`` is spawned into the world's stream and the agents'
            stream, so two regimes run with one seed face the same world.
        **overrides: scenario fields by bare name, e.g. ``uncertainty=0.8, n_citizens=500``.

    Example:
        >>> model = CommissioningModel(scenario="learning_oriented", rng=1)
        >>> model.run_for(120)
        >>> model.results()[["mean_wellbeing", "commissioner_knowledge"]].tail(1)
    """

    def __init__(self, *, scenario: Scenario | RunScenario | str | None = None,
                 rng: int | np.random.SeedSequence | None = None, **overrides: Any) -> None:
        if isinstance(scenario, RunScenario):
            scenario, rng = scenario.config, scenario.rng if rng is None else rng
        if scenario is None:
            scenario = Scenario()
        elif not isinstance(scenario, Scenario):
            from sim.presets import load  # a convenience: the core itself reads no files

            scenario = load(scenario)
        if overrides:
            scenario = scenario.with_overrides(overrides)
        seeds = rng if isinstance(rng, np.random.SeedSequence) else np.random.SeedSequence(rng)
        world_seed, agent_seed = seeds.spawn(2)
        super().__init__(rng=np.random.default_rng(agent_seed))
        self.scenario = RunScenario(rng=seeds if rng is None else rng, config=scenario,
                                    **dict(scenario))
        self.scenario_config = scenario
        self.world = world = World(scenario, np.random.default_rng(world_seed))
        self.shape = (world.n_segments, len(APPROACHES), world.n_domains)
        self.regime = Regime(scenario.regime, world.segment_mean(world.professional_values),
                             world.n_segments)
        self.population = Population(world.n_domains)
        self.evidence = Evidence(scenario.providers.n_providers, self.shape)
        self.market = Market(self, scenario.providers.n_providers)
        self.commissioner = Commissioner(self, self.shape)
        self._citizen_agents: dict[int, Citizen] = {}
        self.month = Month(0, Intake.open(0, len(self.market.slots), world.n_segments))
        self.population.arrive(world, scenario.population.n_citizens, 0)
        self.market.start_running()
        self.measures, self.knowledge_by_slot = measure(self)
        self.datacollector = mesa.DataCollector(
            model_reporters={name: _reporter(name) for name in self.measures},
            agenttype_reporters={Provider: PROVIDER_REPORTERS, Commissioner: {"spent": "spent"}},
        )
        self.datacollector.collect(self)

    @property
    def providers(self) -> list[Provider]:
        """The providers holding a contract, in slot order."""
        return self.market.providers

    # --- the month -------------------------------------------------------------------------------

    def step(self) -> None:
        """One month, in the order of the module docstring (and of docs/ODD.md, section 3)."""
        number = int(round(self.time))
        sc, world, pop, regime = self.scenario_config, self.world, self.population, self.regime
        evidence, com, market = self.evidence, self.commissioner, self.market
        market.clear_sanctions()
        world.drift()
        evidence.forget(sc.providers.forgetting)
        com.forget(sc.providers.forgetting)
        pop.arrive(world, world.arrivals(), number)

        com.review(number)
        if regime.retender_due(number):
            market.retender()
        market.fill_empty_slots()

        month = Month(number, Intake.open(len(pop), len(market.slots), world.n_segments))
        month.outlook = learning.outlook(evidence, world, regime, sc, com.payment_scale,
                                         market.outcome_stakes(number), self.rng)
        market.intake(self.intake_order(), month.outlook, month.intake)
        month.service = service.serve(self, month.outlook)

        month.living = pop.live(world, number, market.skill())
        month.observed = learning.learn(evidence, com, pop, world, regime, sc.costs, month.living,
                                        month.outlook, number)
        if regime.settings.citizen_voice:
            learning.hear_voice(evidence, com, pop, world, regime, sc.costs, market.providers,
                                np.flatnonzero(pop.in_service), number)
            learning.hear_change(evidence, com, pop, world, regime, month.living, month.outlook,
                                 number)
        month.settlement = reporting.settle(self, number, month)

        forum = regime.forum_due(number)
        if regime.settings.open_data or forum:
            learning.exchange(evidence, com, market.providers, regime, sc.costs, sc.providers.trust_gain,
                              forum)
            if forum and regime.settings.forum_citizens:
                learning.hear_voice(evidence, com, pop, world, regime, sc.costs, market.providers,
                                    np.flatnonzero(pop.in_service), number, at_forum=True)
        market.update_missions()
        pop.exit(sc.population, number, regime.payment.discharged(pop.outcome_month, number))

        self.month = month
        self.measures, self.knowledge_by_slot = measure(self)
        self.datacollector.collect(self)

    def intake_order(self) -> list[Provider]:
        """The order of this month's intake: Mesa's random order of the providers, as drawn."""
        order: list[Provider] = []
        if self.market.providers:  # with no provider (no service) Mesa holds no Provider set
            self.agents_by_type[Provider].shuffle_do(order.append)
        return order

    # --- inspection --------------------------------------------------------------------------------

    def results(self) -> pd.DataFrame:
        """The per-month measures as a tidy DataFrame: one row per month (0 = the start)."""
        df = self.datacollector.get_model_vars_dataframe().reset_index(drop=True)
        df.insert(0, "month", np.arange(len(df)))
        return df

    def caseload_picture(self) -> pd.DataFrame:
        """Who is where now, by provider slot and segment: served, parked, refused this month.

        One row per (slot, segment) with the counts ``served`` (in service, not parked), ``parked``
        and ``refused`` (referrals this slot turned away this month), and one row per segment with
        slot -1 for the queue (``waiting``). For inspection and the dashboard; never used in a step.
        """
        pop, n_seg, n_slots = self.population, self.world.n_segments, len(self.market.slots)
        case = pop.in_service
        cell = np.where(case, pop.provider, 0) * n_seg + pop.segment

        def count(mask: np.ndarray) -> np.ndarray:
            return np.bincount(cell[mask], minlength=n_slots * n_seg)

        slots = pd.DataFrame({
            "slot": np.repeat(np.arange(n_slots), n_seg), "segment": np.tile(np.arange(n_seg), n_slots),
            "served": count(case & ~pop.parked), "parked": count(case & pop.parked),
            "refused": self.month.intake.refused_by_slot.ravel(), "waiting": 0})
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


def _reporter(name: str):
    return lambda model: model.measures[name]
