"""Comparing regimes fairly: the same people in the same world, the same money, against no service.

- **Same people, same world.** Replicate i of every regime runs from the same seed: the same
  citizens arrive, with the same needs, values and shocks, under the same true effects (common
  random numbers), and outcomes are over everyone referred (intent to treat).
- **Same money** (``equal_spend``). Each regime after the first has its money (outcome prices,
  improvement price, fees, grant and attachment fee: one factor per regime) scaled until its mean
  monthly spend is within ``SPEND_TOLERANCE`` of the first regime's, by a root search over the
  same replicates.
- **Against no service** (``baseline``). The same world with no provider commissioned
  (``no_service``): each regime's gain is its outcome minus what the same people would have had
  anyway, replicate by replicate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize
from tqdm.auto import tqdm

from sim.experiments.runs import replicates
from sim.scenario import Scenario, ScenarioError
from sim.statistics import levels, paired_differences, per_replicate

NO_SERVICE = "no_service"
MONEY = ("outcome_price", "improvement_price", "attachment_fee", "fee_per_month", "grant_per_place")
"""The money of a regime (in ``regime.payment``) that equal-spend matching scales."""
SPEND_TOLERANCE = 0.02  # matched when a regime's mean monthly spend is within 2% of the target
SCALE_LIMITS = (1 / 1024, 256.0)  # the search for a scale factor gives up outside these


def no_service(scenario: Scenario) -> Scenario:
    """The same population, context and world with no provider commissioned: nobody is served."""
    return scenario.with_overrides({"providers.n_providers": 0, "regime.name": NO_SERVICE,
                                    "regime.description": "Nobody is served: what would have "
                                    "happened to the same people anyway."})


def scale_money(scenario: Scenario, factor: float) -> Scenario:
    """``scenario`` with every money term of its payment multiplied by ``factor``."""
    payment = scenario.regime.payment
    return scenario.with_overrides({f"regime.payment.{name}": getattr(payment, name) * factor
                                    for name in MONEY})


@dataclass(frozen=True)
class SpendMatch:
    """How a regime's money was scaled to match the target spend.

    Attributes:
        regime: the regime.
        scale: the factor its money was multiplied by.
        spend: its mean monthly spend at that scale (GBP a month, over months 1..T and replicates).
        target: the first regime's mean monthly spend.
    """

    regime: str
    scale: float
    spend: float
    target: float


def mean_spend(runs: pd.DataFrame) -> float:
    """Mean monthly spend over months 1..T and every replicate."""
    return float(runs.loc[runs["month"] > 0, "spend"].mean())


class Unmatched(ScenarioError):
    """No scale of ``regime``'s money brings its spend to the target (it cannot spend as little or
    as much: its own activities and shared risk cost money whatever it pays, its budget caps it).
    ``unscaled`` holds its runs with its own money, which the search ran first.
    """

    def __init__(self, regime: str, message: str, unscaled: pd.DataFrame):
        super().__init__(message)
        self.regime = regime
        self.unscaled = unscaled


class _Matched(Exception):
    """Raised inside the root search as soon as a scale is close enough (Brent's own tolerance is
    on the scale, not on the spend).
    """


def match_spend(name: str, scenario: Scenario, target: float, run: Callable[[Scenario], pd.DataFrame]
                ) -> tuple[SpendMatch, pd.DataFrame]:
    """Find the money scale at which ``scenario``'s mean monthly spend is within SPEND_TOLERANCE of
    ``target``: from 1, try the scale that would match if spend were proportional to money, widen
    the bracket by doubling or halving if need be, then Brent's method on log(scale).

    ``run(scenario)`` runs the replicates (always the same seeds, so spend is a deterministic
    function of the scale).

    Raises:
        Unmatched: no scale within SCALE_LIMITS reaches the target.
    """
    tried: dict[float, pd.DataFrame] = {}

    def unreachable() -> Unmatched:
        best = min(tried, key=lambda s: abs(mean_spend(tried[s]) - target))
        return Unmatched(
            name, f"--equal-spend: {name} cannot be matched to GBP {target:,.0f} a month: with its money x "
            f"{best:.3g} it spends GBP {mean_spend(tried[best]):,.0f} a month (its budget may cap it "
            f"at GBP {scenario.regime.payment.budget_per_month:,.0f})", tried[1.0])

    def gap(log_scale: float) -> float:
        scale = float(np.exp(log_scale))
        if scale not in tried:
            try:
                scaled = scale_money(scenario, scale)
            except ScenarioError:  # a price beyond what the schema allows
                raise unreachable() from None
            tried[scale] = run(scaled)
        found = mean_spend(tried[scale]) - target
        if abs(found) <= SPEND_TOLERANCE * target:
            raise _Matched(scale)
        return found

    try:
        low, low_gap = 0.0, gap(0.0)
        spend = low_gap + target  # spend is nearly proportional to money: try that scale first
        step = np.log(target / spend) if spend > 0 else np.log(2.0)
        high, high_gap = low + step, gap(low + step)
        while high_gap * low_gap > 0:  # not bracketed yet: keep going the same way, doubling
            step = np.sign(step) * max(abs(step), np.log(2.0))
            if not np.log(SCALE_LIMITS[0]) <= high + step <= np.log(SCALE_LIMITS[1]):
                raise unreachable()
            low, low_gap = high, high_gap
            high, high_gap = high + step, gap(high + step)
        optimize.brentq(gap, min(low, high), max(low, high), xtol=1e-6, maxiter=60)
    except _Matched as matched:
        scale = matched.args[0]
        return SpendMatch(name, scale, mean_spend(tried[scale]), target), tried[scale]
    # Brent converged on a jump in spend (a behaviour that switches with the money), not within it
    best = min(tried, key=lambda s: abs(mean_spend(tried[s]) - target))
    raise Unmatched(name, f"--equal-spend: {name}'s spend jumps past GBP {target:,.0f} a month: the "
                    f"closest is GBP {mean_spend(tried[best]):,.0f} with its money x {best:.4g}", tried[1.0])


def with_gains(runs: pd.DataFrame) -> pd.DataFrame:
    """Each regime's gain over no service, month by month and replicate by replicate.

    ``gain_wellbeing`` and ``gain_hardest_wellbeing``: the regime's intent-to-treat wellbeing minus
    the no-service arm's in the same replicate (the same people); ``wellbeing_gained_vs_none``:
    those gains summed over the people followed and the months so far; ``gain_per_1000`` and
    ``cost_per_wellbeing_gained``: that total against the regime's spend so far.
    """
    keys = ["replicate", "month"]
    none = runs[runs["regime"] == NO_SERVICE].set_index(keys)
    out = []
    for regime, rows in runs.groupby("regime", sort=False):
        rows = rows.copy()
        if regime != NO_SERVICE:
            base = none.loc[pd.MultiIndex.from_frame(rows[keys])]
            rows["gain_wellbeing"] = rows["mean_wellbeing"].to_numpy() - base["mean_wellbeing"].to_numpy()
            rows["gain_hardest_wellbeing"] = (rows["hardest_wellbeing"].to_numpy()
                                              - base["hardest_wellbeing"].to_numpy())
            monthly = (rows["followed"] * rows["gain_wellbeing"]).where(rows["month"] > 0, 0.0)
            gained = monthly.groupby(rows["replicate"]).cumsum()
            rows["wellbeing_gained_vs_none"] = gained
            spent = rows["spend_total"]
            rows["gain_per_1000"] = (1000.0 * gained / spent).where(spent > 0)
            rows["cost_per_wellbeing_gained"] = (spent / gained).where(gained > 0)
        out.append(rows)
    return pd.concat(out, ignore_index=True)


@dataclass
class Comparison:
    """Replicated runs of several regimes, paired by replicate.

    Attributes:
        runs: every run's per-month measures, with ``regime`` and ``replicate`` columns (and, with
            a no-service arm, each regime's gains over it).
        baseline: the regime the others are compared with (the first one given).
        matches: how each regime's money was scaled to equal spend (empty without equal spend).
    """

    runs: pd.DataFrame
    baseline: str
    matches: list[SpendMatch] = field(default_factory=list)

    @property
    def measures(self) -> list[str]:
        skip = {"month", "replicate"}
        return [c for c in self.runs.select_dtypes("number").columns if c not in skip]

    def table(self) -> pd.DataFrame:
        return per_replicate(self.runs, self.measures)

    def levels(self) -> pd.DataFrame:
        """Mean and 95% CI of each measure, final and time-averaged, for each regime."""
        return levels(self.table(), self.measures)

    def differences(self) -> pd.DataFrame:
        """Each regime minus the baseline, paired by replicate, with 95% CIs."""
        return paired_differences(self.table(), self.measures, self.baseline)


def compare(scenarios: dict[str, Scenario], reps: int = 10, steps: int = 120, seed: int = 0,
            progress: bool = True, equal_spend: bool = False, baseline: bool = False) -> Comparison:
    """Run ``reps`` replicates of each scenario; replicate i of every scenario shares a world.

    Args:
        scenarios: regime name -> scenario; the first is the baseline for paired differences and,
            with ``equal_spend``, the spend the others are matched to.
        reps: replicates per scenario.
        steps: months per run.
        seed: the base seed the replicates' seeds are spawned from.
        progress: show a progress bar (it appears only if the work takes over a second).
        equal_spend: scale each later regime's money to the first regime's mean monthly spend;
            where a regime cannot spend that little (or that much), scale every other regime's
            money to that regime's spend instead. ``matches`` says which were scaled, and by what.
        baseline: add a no-service arm on the same world (the first scenario's population, context
            and world) and report each regime's gains over it.

    Raises:
        Unmatched: equal spend cannot be reached either way.
    """
    arms = dict(scenarios)
    if baseline:
        arms[NO_SERVICE] = no_service(next(iter(scenarios.values())))
    with tqdm(total=len(arms) * reps * steps, desc="compare", unit="month", delay=1.0,
              disable=not progress, leave=False) as bar:  # equal spend's search may run more
        def run(scenario: Scenario) -> pd.DataFrame:
            return replicates(scenario, reps, steps, seed, on_step=lambda: bar.update())

        first = next(iter(scenarios))
        done = {name: run(scenario) for name, scenario in arms.items()
                if not equal_spend or name in (first, NO_SERVICE)}
        matches = []
        if equal_spend:
            try:
                matched = [match_spend(name, arms[name], mean_spend(done[first]), run)
                           for name in scenarios if name != first]
            except Unmatched as cannot:  # the first's spend is out of its reach: match all to it
                done[cannot.regime] = cannot.unscaled
                matched = [match_spend(name, arms[name], mean_spend(done[cannot.regime]), run)
                           for name in scenarios if name != cannot.regime]
            matches = [match for match, _ in matched]
            done.update((match.regime, runs) for match, runs in matched)
        frames = [done[name].assign(regime=name) for name in arms]
    runs = pd.concat(frames, ignore_index=True)
    return Comparison(runs=with_gains(runs) if baseline else runs, baseline=first, matches=matches)
