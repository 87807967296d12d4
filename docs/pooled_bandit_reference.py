"""A textbook reference for the pooled-learning check: Gaussian Thompson sampling, alone or pooled.

The check compares the model's per-provider regret, M = 8 providers pooling every observation
against 8 learning alone, with the range 1/M to 1/sqrt(M). That range comes from regret bounds
(order log(MT)/M against log T), which are asymptotic. This script asks what the ratio is at the
check's finite horizon in the simplest setting the bounds are about: K arms with true means drawn
from the learners' own prior N(0, tau^2), Gaussian rewards with noise sigma, each learner choosing
N times a month by Thompson sampling on its posterior (pooled learners share one), observations
added at the month's end, month 1 left out as in the check. It prints the ratio at month 120 with a
bootstrap 95% interval over replicates, for several noise levels, and the same with month 1 counted
(every learner's first N choices, made on the prior alone, then dominate both arms).

Usage: .venv/bin/python docs/pooled_bandit_reference.py   (about twenty seconds)
"""

import numpy as np

M, K, N, T, REPLICATES = 8, 5, 20, 120, 400


def monthly_regret(pooled: bool, sigma: float, tau: float = 1.0, seed: int = 0) -> np.ndarray:
    """Regret per learner in each month (replicates x T): the best arm's mean minus the chosen one's."""
    rng = np.random.default_rng(seed)
    mu = rng.normal(0.0, tau, (REPLICATES, K))
    posteriors = 1 if pooled else M
    precision = np.full((REPLICATES, posteriors, K), tau ** -2)
    weighted = np.zeros((REPLICATES, posteriors, K))  # precision-weighted sum of observations
    whose = np.zeros(M, int) if pooled else np.arange(M)
    out = np.zeros((REPLICATES, T))
    for month in range(T):
        mean, sd = weighted / precision, precision ** -0.5
        draw = mean[:, whose, None, :] + sd[:, whose, None, :] * rng.standard_normal((REPLICATES, M, N, K))
        choice = draw.argmax(-1)
        chosen = mu[np.arange(REPLICATES)[:, None, None], choice]
        out[:, month] = (mu.max(1)[:, None, None] - chosen).sum((1, 2)) / M
        seen = np.eye(K)[choice]
        count = seen.sum(2)
        summed = (seen * (chosen + sigma * rng.standard_normal(chosen.shape))[..., None]).sum(2)
        if pooled:
            count, summed = count.sum(1, keepdims=True), summed.sum(1, keepdims=True)
        precision += count / sigma ** 2
        weighted += summed / sigma ** 2
    return out


def totals(monthly: np.ndarray, first: int = 2) -> np.ndarray:
    """Each replicate's regret per learner, months first..T, from ``monthly_regret``."""
    return monthly[:, first - 1:].sum(1)


def cumulative(monthly: np.ndarray) -> np.ndarray:
    """Mean cumulative regret per learner through each month, indexed by month (0..T)."""
    return np.concatenate([[0.0], monthly.mean(0).cumsum()])


def regret(pooled: bool, sigma: float, tau: float = 1.0, seed: int = 0) -> np.ndarray:
    """Each replicate's regret per learner, months 2..T."""
    return totals(monthly_regret(pooled, sigma, tau, seed))


def ratio_ci(pooled: np.ndarray, alone: np.ndarray, seed: int = 1) -> tuple[float, float, float]:
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(pooled), (2000, len(pooled)))
    boot = pooled[picks].mean(1) / alone[picks].mean(1)
    return pooled.mean() / alone.mean(), *np.percentile(boot, [2.5, 97.5])


def main() -> None:
    print(f"M = {M} learners, K = {K} arms, N = {N} choices a month each, {T} months, "
          f"{REPLICATES} replicates; range 1/M = {1 / M:.3f} to 1/sqrt(M) = {M ** -0.5:.3f}")
    for sigma in (0.1, 0.2, 0.5, 1.0, 3.0, 10.0, 30.0):
        pooled, alone = monthly_regret(True, sigma), monthly_regret(False, sigma)
        ratio, low, high = ratio_ci(totals(pooled), totals(alone))
        counted, c_low, c_high = ratio_ci(totals(pooled, first=1), totals(alone, first=1))
        print(f"noise sigma / prior sd tau = {sigma:>4}: pooled / alone at month {T} = {ratio:.3f} "
              f"[{low:.3f}, {high:.3f}]; counting month 1 {counted:.3f} [{c_low:.3f}, {c_high:.3f}]")


if __name__ == "__main__":
    main()
