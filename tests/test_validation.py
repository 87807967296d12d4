"""The model against the published patterns: every check, for five base seeds.

Each check is the same code `commsim validate` runs; its verdict rules are stated in
sim/experiments/validation.py before any data is seen.
"""

import pytest

from sim.experiments.validation import CHECKS, CORNERS, contingency, pooling_by_noise
from sim.statistics import mean_ci

pytestmark = pytest.mark.validation

SEEDS = [0, 1, 2, 3, 4]
# the pooled-learning findings as restated in issue 15 were written after seeds 0-4 had been
# studied (docs/pooled_noise.py), so they are tested on worlds nobody had looked at
POOLED_SEEDS = [5, 6, 7, 8, 9]
REPS = 10


# Findings that fail, as docs/validation.md reports and explains ("What the model does not
# reproduce"): (check, seed) -> the indices of its failing findings. The test fails if any other
# finding fails, and also if one of these starts to pass, so the report is kept true either way.
KNOWN_FAILURES = {
    # knowledge of effects rises for every seed (+0.17 to +0.53), but with 10 replicates its 95%
    # interval includes 0 for two of the five worlds
    ("knowledge", 0): {0}, ("knowledge", 3): {0},
    # at equal spend and against no service, the target-driven regime gains more per pound than
    # the learning-oriented one in the complex, uncontrollable corner too
    **{("contingency", seed): {1} for seed in SEEDS},
    # pooled learning, seeds 5-9 (docs/validation.md, "Pooling beats the asymptotic range at 120
    # months"): (a) the last doubling's ratio is below 1/8 in three worlds (0.086 to 0.114), as
    # matched textbook Thompson sampling's is in four; regret grows about linearly in one pooled
    # replicate of seed 5, which tips the mean curve's fit; (b) the slope on M is steeper than -1
    # in four worlds (-1.003 to -1.24), as the matched textbook's is; (c) holds in all five
    ("pooled", 5): {1, 2}, ("pooled", 6): {0, 2}, ("pooled", 7): {2}, ("pooled", 8): {0, 2},
    ("pooled", 9): {0},
}


def failed(check):
    return [f"{f.claim}: {f.effect()} ({f.rule})" for f in check.findings if not f.passed]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", ["creaming", "goodhart", "knowledge", "contingency", "multitask"])
def test_check_passes_but_for_the_known_failures(name, seed):
    check = (CHECKS[name](REPS, seed) if name != "contingency"  # its findings read two cells only
             else contingency(REPS, seed, cells=CORNERS))
    failing = {i for i, f in enumerate(check.findings) if not f.passed}
    assert failing == KNOWN_FAILURES.get((name, seed), set()), failed(check)


@pytest.mark.parametrize("seed", POOLED_SEEDS)
def test_pooled_learning_but_for_the_known_failures(seed):
    check = CHECKS["pooled"](REPS, seed)
    failing = {i for i, f in enumerate(check.findings) if not f.passed}
    assert failing == KNOWN_FAILURES.get(("pooled", seed), set()), failed(check)


@pytest.mark.parametrize("seed", SEEDS)
def test_pooling_helps_less_when_observations_are_noisier(seed):
    """Bandit theory, and the textbook setting (docs/pooled_noise.py), tie the pooled / isolated
    regret ratio to observation noise: it rises as one observation tells less. From half the default
    measurement noise to twice it, paired by world."""
    ratio = pooling_by_noise([0.02, 0.08], REPS, seed).pivot(
        index="replicate", columns="measurement_sd", values="ratio")
    mean, low, high = mean_ci(ratio[0.08] - ratio[0.02])
    assert low > 0, f"ratio rises by {mean:.3f} [{low:.3f}, {high:.3f}]"
