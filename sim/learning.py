"""Learning: what providers know, how they learn from their cases, voice, and forums (ODD 7.4, 7.8,
7.9, 7.15).

``Evidence`` holds what every provider slot has learnt, stacked (P, S, A, K, 2) so that a month's
learning stays vectorised over cases: its own observations, what it received from others, what it
contributed to the pool and what it reported to the commissioner, with the pool and each slot's
record of citizens' voice. The functions are the month's learning phases:

- ``outlook``: what every provider acts on this month (posteriors, values, terms);
- ``learn``: providers learn from outcome assessments of their served cases; reports go up;
- ``hear_voice``: citizens say what matters to them;
- ``exchange``: forums and open data pool what providers share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim import beliefs
from sim.providers import Terms
from sim.world import ASSESSMENT, FORUM_VOICE, VOICE

if TYPE_CHECKING:
    from sim.citizens import Living, Population
    from sim.commissioner import Commissioner
    from sim.providers import Provider
    from sim.regime import Regime
    from sim.scenario import Costs, Scenario
    from sim.world import World

VOICE_SD = 0.05          # noise in a citizen's report of what they value
PSEUDO_REPORTS = 20.0    # weight of the professional view of values, in citizens' reports
NEED_SEEN = 0.05         # least distance from 0 or 1 of a need learnt from (see ``learnable``)


class Evidence:
    """What every provider slot has learnt, and the shared pool (sufficient statistics, 7.4).

    Attributes:
        own: what each slot's provider has seen itself (P, S, A, K, 2).
        falsified: what its falsified records add to what it has seen (information only: a
            falsified record claims a larger fall than the case made; 7.10). Its records, which
            it reports and shares, are ``own + falsified``; its own beliefs rest on ``own``.
        external: what it has received from others.
        contributed: what it has put into the pool.
        reported: what it has reported to the commissioner.
        pool: the sum of what sharers contributed (S, A, K, 2).
        voice_sum, voice_n: citizens' reports of what they value that each slot has heard, summed
            by segment (P, S, K) and counted (P, S).
    """

    def __init__(self, n_slots: int, shape: tuple[int, int, int]) -> None:
        cells = (n_slots, *shape)
        self.own = beliefs.empty(cells)
        self.falsified = beliefs.empty(cells)
        self.external = beliefs.empty(cells)
        self.contributed = beliefs.empty(cells)
        self.reported = beliefs.empty(cells)
        self.pool = beliefs.empty(shape)
        n_segments, _, n_domains = shape
        self.voice_sum = np.zeros((n_slots, n_segments, n_domains))
        self.voice_n = np.zeros((n_slots, n_segments))

    def clear(self, slot: int) -> None:
        """An entrant in ``slot`` starts with only the published evidence."""
        for arr in (self.own, self.falsified, self.external, self.contributed, self.reported,
                    self.voice_sum, self.voice_n):
            arr[slot] = 0.0

    def forget(self, factor: float) -> None:
        """Old evidence fades: every statistic is multiplied by ``factor`` (4.4 forgetting)."""
        for arr in (self.own, self.falsified, self.external, self.contributed, self.reported, self.pool,
                    self.voice_sum, self.voice_n):
            arr *= factor

    def records(self, slot: int) -> np.ndarray:
        """What a slot's records say it has seen: its own observations and its falsifications."""
        return self.own[slot] + self.falsified[slot]

    def posterior(self, world: World, prior_weight: float) -> tuple[np.ndarray, np.ndarray]:
        """Each slot's posterior mean and sd over the effects (P, S, A, K)."""
        return beliefs.posterior(world.prior_mean, world.prior_sd, prior_weight,
                                 self.own + self.external)

    def values(self, world: World) -> np.ndarray:
        """What each slot believes each segment values (P, S, K)."""
        return beliefs.value_estimate(world.professional_values, self.voice_sum, self.voice_n,
                                      PSEUDO_REPORTS)


@dataclass(frozen=True)
class Outlook:
    """What every provider acts on this month, computed once at its start.

    Attributes:
        mean, sd: each slot's posterior over the effects (P, S, A, K).
        hypothesis: what each slot plans effort on: the mean, or (exploring providers) one draw.
        values: what each slot believes each segment values (P, S, K).
        terms: the month's payment terms and costs.
        stakes: what one more outcome on its score is worth to each slot's standing (P,), GBP.
    """

    mean: np.ndarray
    sd: np.ndarray
    hypothesis: np.ndarray
    values: np.ndarray
    terms: Terms
    stakes: np.ndarray


def outlook(evidence: Evidence, world: World, regime: Regime, scenario: Scenario,
            payment_scale: float, stakes: np.ndarray, rng: np.random.Generator) -> Outlook:
    """Each provider's posterior, its value estimates and this month's terms (3, step 5).

    ``payment_scale`` is last month's pro-rata payment factor, which providers expect to continue;
    ``stakes`` what an outcome is worth to each slot's standing (``Market.outcome_stakes``).
    """
    mean, sd = evidence.posterior(world, regime.settings.prior_weight)
    # the month's working hypothesis: what an exploring provider plans effort on
    hypothesis = beliefs.sample(mean, sd, rng) if scenario.providers.explore else mean
    terms = Terms.now(scenario, regime, world.obs_sd, payment_scale)
    return Outlook(mean, sd, hypothesis, evidence.values(world), terms, stakes)


def learnable(served: np.ndarray, recorded: np.ndarray, need_before: np.ndarray,
              expected_fall: np.ndarray, shock_sd: float, drift: float) -> np.ndarray:
    """Which (case, domain) changes a provider learns from (7.8): served cases, recorded domains,
    and a need far enough from 0 and 1 that the month's change could not have hit a bound.

    A clipped change would bias the estimate, so the bounds leave room for three shock deviations
    and, below, for twice the fall the provider expected; above, for the drift. Everything here is
    known before the month's outcome, so nothing is selected on it.
    """
    room = NEED_SEEN + 3 * shock_sd
    return (served[:, None] & recorded[None, :] & (need_before > room + 2 * expected_fall)
            & (need_before < 1.0 - room - drift))


@dataclass(frozen=True)
class Observations:
    """What providers observed this month, to learn from and to report (one entry per case and
    domain observed).

    Attributes:
        rows: the case's row in the population.
        domain: the domain observed.
        effort: the effort behind the observation.
        cell: its flat index in the (P, S, A, K) evidence cells.
    """

    rows: np.ndarray
    domain: np.ndarray
    effort: np.ndarray
    cell: np.ndarray


def learn(evidence: Evidence, commissioner: Commissioner, pop: Population, world: World,
          regime: Regime, costs: Costs, living: Living, outlook: Outlook, month: int) -> Observations:
    """Providers learn from assessed changes on the domains they record; reports go up (7.4, 7.8).

    The change is measured between two outcome assessments, whose errors are independent of the
    case record that steered the month's effort: learning from the record itself would bias the
    estimates (effort responds to the record's error, which also enters the change). Where the
    need stood is taken from the true need, as a professional assessment would tell it: selecting
    on the noisy record instead would bias the estimates (regression to the mean).
    """
    served, approach, old_need = living.served, living.approach, living.old_need
    expected = np.zeros_like(pop.effort)  # the fall each provider expected on its served cases
    cases = np.flatnonzero(served)
    expected[cases] = np.clip(outlook.mean[pop.provider[cases], pop.segment[cases], approach[cases]]
                              * pop.effort[cases], 0.0, None)
    seen = learnable(served, regime.recorded, old_need, expected, world.shock_sd, world.need_drift)
    assessed = np.flatnonzero(seen.any(axis=1))
    ids = pop.id[assessed]
    fall = (world.record(old_need[assessed], ids, month - 1, ASSESSMENT)
            - world.record(pop.need[assessed], ids, month, ASSESSMENT))
    i, k = np.nonzero(seen[assessed])
    rows = assessed[i]
    slot, seg, a = pop.provider[rows], pop.segment[rows], approach[rows]
    z = world.need_drift + fall[i, k]
    e = pop.effort[rows, k]
    cell = np.ravel_multi_index((slot, seg, a, k), evidence.own.shape[:-1])
    new = beliefs.accumulate(evidence.own.shape[:-1], cell, e, z, world.obs_sd)
    evidence.own += new
    covered = regime.covered
    reports = new * covered[:, None]
    evidence.reported += reports
    to_com = covered[k]
    commissioner.receive_reports(reports.sum(axis=0), seg[to_com], a[to_com], k[to_com], z[to_com],
                                 e[to_com])
    # the case-level data behind the reports: every case in service, on every covered domain
    commissioner.charge(costs.case_data_cost * np.count_nonzero(pop.in_service) * int(covered.sum()))
    return Observations(rows, k, e, cell)


def spread_falsification(evidence: Evidence, commissioner: Commissioner, regime: Regime,
                         observed: Observations, change: np.ndarray, sigma: float) -> None:
    """Falsified records flow on (7.10): where a falsified case was observed this month on a
    falsified domain, its records claim a fall larger by the change, so what it reports on covered
    domains (to the commissioner) and what it shares at forums carry the extra information
    ``effort * change / sigma^2``; the provider's own beliefs do not.

    Args:
        evidence: what providers know and share.
        commissioner: the commissioner, whose reports on covered domains carry the falsification.
        regime: the regime in force (which domains the commissioner's data covers).
        observed: this month's observations.
        change: each population row's falsification this month (n, K); 0 where none.
        sigma: the noise sd agents assume in one observation.
    """
    extra = change[observed.rows, observed.domain]
    if not extra.any():
        return
    shape = evidence.own.shape[:-1]
    size = int(np.prod(shape))
    info = np.bincount(observed.cell, weights=observed.effort * extra, minlength=size) / sigma**2
    falsified = np.zeros((size, 2))
    falsified[:, beliefs.INFORMATION] = info
    falsified = falsified.reshape(*shape, 2)
    evidence.falsified += falsified
    reports = falsified * regime.covered[:, None]
    evidence.reported += reports
    commissioner.reports += reports.sum(axis=0)


def sum_rows(group: np.ndarray, rows: np.ndarray, n_groups: int) -> np.ndarray:
    """Sum the rows of ``rows`` (n, K) by ``group`` (n,) into (n_groups, K)."""
    k = rows.shape[1]
    flat = (group[:, None] * k + np.arange(k)).ravel()
    return np.bincount(flat, weights=rows.ravel(), minlength=n_groups * k).reshape(n_groups, k)


def hear_voice(evidence: Evidence, commissioner: Commissioner, pop: Population, world: World,
               regime: Regime, costs: Costs, providers: list[Provider], rows: np.ndarray, month: int,
               at_forum: bool = False) -> None:
    """Citizens in ``rows`` say what matters to them (value weights, with noise; 7.9).

    Month by month (where voice is collected) the commissioner hears every citizen in service and
    each provider hears its own cases; at a forum that citizens attend, every provider present
    hears them all, and so does the commissioner if it attends. Each report is charged to the
    commissioner.
    """
    stream = FORUM_VOICE if at_forum else VOICE
    commissioner.charge(costs.voice_cost * len(rows))
    report = np.clip(pop.values[rows] + VOICE_SD * world.noise(pop.id[rows], month, stream), 0.0, None)
    seg = pop.segment[rows]
    n_seg = world.n_segments
    by_segment = sum_rows(seg, report, n_seg)
    count = np.bincount(seg, minlength=n_seg).astype(float)
    if not at_forum or regime.settings.forum_commissioner:
        commissioner.hear_voice(by_segment, count)
    if at_forum:
        slots = [p.slot for p in providers]
        evidence.voice_sum[slots] += by_segment
        evidence.voice_n[slots] += count
    else:
        n_slots = len(evidence.voice_n)
        cell = pop.provider[rows] * n_seg + seg
        n_cells = n_slots * n_seg
        evidence.voice_sum += sum_rows(cell, report, n_cells).reshape(evidence.voice_sum.shape)
        evidence.voice_n += np.bincount(cell, minlength=n_cells).reshape(evidence.voice_n.shape)


def exchange(evidence: Evidence, commissioner: Commissioner, providers: list[Provider],
             regime: Regime, costs: Costs, trust_gain: float, forum: bool) -> None:
    """Pool what providers share; everyone receives it with open data, else only the sharers (7.15).

    Providers whose trust is high enough add what they learnt to the pool and receive what the
    others shared. Each receiver's external evidence excludes its own contribution, so nothing is
    counted twice. At a forum every provider attends and gains trust.
    """
    settings = regime.settings
    sharers = [p for p in providers if p.will_share()]
    for p in providers:
        p.shared = p in sharers
    for p in sharers:  # a provider shares its records: what it saw, and what it falsified
        records = evidence.records(p.slot)
        evidence.pool += records - evidence.contributed[p.slot]
        evidence.contributed[p.slot] = records
        p.ever_shared = True
    receivers = providers if settings.open_data else sharers
    covered = regime.covered[:, None]
    for p in receivers:
        from_pool = evidence.pool - evidence.contributed[p.slot]
        if settings.open_data:
            from_reports = commissioner.reports - evidence.reported[p.slot]
            evidence.external[p.slot] = np.where(covered, from_reports, from_pool)
        else:
            evidence.external[p.slot] = from_pool
    if settings.open_data or settings.forum_commissioner:
        commissioner.see_pool(evidence.pool)
    if forum:
        for p in providers:  # every provider attends; contact builds trust
            p.trust += trust_gain * (1.0 - p.trust)
        commissioner.charge(costs.forum_cost * (len(providers) + int(settings.forum_commissioner)))
