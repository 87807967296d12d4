"""The textbook reference for the pooled-learning check: Gaussian Thompson sampling, alone or pooled.

The setting the regret bounds are about, at the check's finite horizon: K arms with true means
drawn from the learners' own prior N(0, tau^2), Gaussian rewards with noise sigma, each of M
learners choosing N times a month by Thompson sampling on its posterior (pooled learners share
one), observations added at the month's end. Regret is the best arm's mean minus the chosen one's,
per learner; month 1 is left out as in the check (every learner's first N choices are made on the
prior alone and would dominate both arms).

The check's third finding compares the model with this reference *matched* to it: the noise of
the model's observations cannot be put on the textbook's scale (they are monthly changes of
several needs, weighted by effort, and each choice is observed for months), so the match is on
behaviour. The matching rule (``matched_reference``): the textbook noise sigma / tau at which lone
learners accrue the same share of their regret of months 2..T by month ``MATCH_BY`` as the
model's isolated providers (mean curves over replicates), found by interpolating log-noise on
``NOISE_GRID``; no match if the share lies outside what the grid spans. The reference is the
textbook's pooled / isolated regret of months 2..T at that noise, over ``REPLICATES`` replicates.

Usage: ``.venv/bin/python -m sim.experiments.bandit_reference`` prints the ratio at several noise
levels, with month 1 counted and not (about twenty seconds).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

import numpy as np

LEARNERS, ARMS, CHOICES, MONTHS, REPLICATES = 8, 5, 20, 120, 400
MATCH_BY = 12  # the month by which the lone learners' share of regret is matched
NOISE_GRID = tuple(np.geomspace(0.05, 30.0, 17))  # sigma / tau searched for the match
GRID_SEED = 0  # the grid's worlds; a matched run uses its own (``matched_reference``)


def monthly_regret(pooled: bool, sigma: float, tau: float = 1.0, seed: int = 0,
                   learners: int = LEARNERS, months: int = MONTHS) -> np.ndarray:
    """Regret per learner in each month (replicates x months): the best arm's mean minus the chosen one's.

    The true means are drawn first from ``seed``, so the pooled and the isolated arm of one seed
    face the same worlds.
    """
    rng = np.random.default_rng(seed)
    mu = rng.normal(0.0, tau, (REPLICATES, ARMS))
    posteriors = 1 if pooled else learners
    precision = np.full((REPLICATES, posteriors, ARMS), tau ** -2)
    weighted = np.zeros((REPLICATES, posteriors, ARMS))  # precision-weighted sum of observations
    whose = np.zeros(learners, int) if pooled else np.arange(learners)
    out = np.zeros((REPLICATES, months))
    for month in range(months):
        mean, sd = weighted / precision, precision ** -0.5
        draw = mean[:, whose, None, :] + sd[:, whose, None, :] * rng.standard_normal(
            (REPLICATES, learners, CHOICES, ARMS))
        choice = draw.argmax(-1)
        chosen = mu[np.arange(REPLICATES)[:, None, None], choice]
        out[:, month] = (mu.max(1)[:, None, None] - chosen).sum((1, 2)) / learners
        seen = np.eye(ARMS)[choice]
        count = seen.sum(2)
        summed = (seen * (chosen + sigma * rng.standard_normal(chosen.shape))[..., None]).sum(2)
        if pooled:
            count, summed = count.sum(1, keepdims=True), summed.sum(1, keepdims=True)
        precision += count / sigma ** 2
        weighted += summed / sigma ** 2
    return out


def totals(monthly: np.ndarray, first: int = 2) -> np.ndarray:
    """Each replicate's regret per learner, months ``first``..T, from ``monthly_regret``."""
    return monthly[:, first - 1:].sum(1)


def cumulative(monthly: np.ndarray) -> np.ndarray:
    """Mean cumulative regret per learner through each month, indexed by month (0..T)."""
    return np.concatenate([[0.0], monthly.mean(0).cumsum()])


def ratio_ci(pooled: np.ndarray, alone: np.ndarray, seed: int = 1) -> tuple[float, float, float]:
    """Ratio of the mean regrets, pooled / alone, with a percentile bootstrap 95% interval."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(pooled), (2000, len(pooled)))
    boot = pooled[picks].mean(1) / alone[picks].mean(1)
    return float(pooled.mean() / alone.mean()), *(float(b) for b in np.percentile(boot, [2.5, 97.5]))


def early_share(cumulative: np.ndarray, by: int) -> float:
    """Share of the regret of months 2..T accrued by month ``by`` (``cumulative[m]``: through month m)."""
    return float((cumulative[by] - cumulative[1]) / (cumulative[-1] - cumulative[1]))


@cache
def _grid_curves(learners: int, months: int) -> tuple[np.ndarray, ...]:
    """Lone learners' mean cumulative regret at every noise of ``NOISE_GRID`` (computed once)."""
    return tuple(cumulative(monthly_regret(False, sigma, seed=GRID_SEED, learners=learners,
                                           months=months)) for sigma in NOISE_GRID)


def matched_noise(share: float, by: int = MATCH_BY, learners: int = LEARNERS,
                  months: int = MONTHS) -> float:
    """The textbook noise at which lone learners accrue ``share`` of their regret by month ``by``.

    The share falls as noise rises (learning takes longer), so log-noise is interpolated on it.
    NaN where no noise on the grid is that fast or that slow: extrapolating would be a guess.
    """
    shares = np.array([early_share(c, by) for c in _grid_curves(learners, months)])[::-1]
    if not shares.min() <= share <= shares.max():
        return np.nan
    return float(np.exp(np.interp(share, shares, np.log(NOISE_GRID)[::-1])))


@dataclass(frozen=True)
class Match:
    """The textbook matched to the model's lone learners, and its pooled / isolated ratio.

    Attributes:
        share: the model's isolated share of regret (months 2..T) accrued by month ``by``.
        by: that month.
        noise: the matched textbook noise sigma / tau (NaN: no match on the grid).
        ratio: the textbook's pooled / isolated regret of months 2..T at that noise (NaN: no match).
        low: the ratio's bootstrap 95% interval, lower bound.
        high: its upper bound.
    """

    share: float
    by: int
    noise: float
    ratio: float
    low: float
    high: float


def matched_reference(isolated: np.ndarray, seed: int, by: int = MATCH_BY,
                      learners: int = LEARNERS) -> Match:
    """Textbook Thompson sampling whose lone learners learn as fast as the model's isolated ones.

    Args:
        isolated: the model's isolated arm, mean cumulative regret per provider through each month
            (indexed by month, 0..T).
        seed: the model's base seed; the textbook's worlds are drawn from ``seed + 1`` (not the
            grid's).
        by: the month by which the share of regret is matched.
        learners: M, as many as the model's providers.
    """
    months = len(isolated) - 1
    share = early_share(isolated, by)
    noise = matched_noise(share, by, learners, months)
    if np.isnan(noise):
        return Match(share, by, noise, np.nan, np.nan, np.nan)
    regrets = (totals(monthly_regret(arm, noise, seed=seed + 1, learners=learners, months=months))
               for arm in (True, False))
    return Match(share, by, noise, *ratio_ci(*regrets))


def main() -> None:
    print(f"M = {LEARNERS} learners, K = {ARMS} arms, N = {CHOICES} choices a month each, {MONTHS} "
          f"months, {REPLICATES} replicates; range 1/M = {1 / LEARNERS:.3f} to 1/sqrt(M) = "
          f"{LEARNERS ** -0.5:.3f}")
    for sigma in (0.1, 0.2, 0.5, 1.0, 3.0, 10.0, 30.0):
        pooled, alone = monthly_regret(True, sigma), monthly_regret(False, sigma)
        ratio, low, high = ratio_ci(totals(pooled), totals(alone))
        counted, c_low, c_high = ratio_ci(totals(pooled, first=1), totals(alone, first=1))
        print(f"noise sigma / prior sd tau = {sigma:>4}: pooled / alone at month {MONTHS} = "
              f"{ratio:.3f} [{low:.3f}, {high:.3f}]; counting month 1 {counted:.3f} "
              f"[{c_low:.3f}, {c_high:.3f}]")


if __name__ == "__main__":
    main()
