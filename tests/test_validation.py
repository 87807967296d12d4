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
    # creaming (docs/validation.md, "What the model does not reproduce"): (2) differential prices
    # cut the share of the hardest to help turned away to within noise of the block grant's in
    # two of the five worlds, where the Work Programme found they did little
    ("creaming", 0): {2}, ("creaming", 3): {2},
    # Goodhart: (1) taking three quarters of a deficit off providers narrows the gap by about 0.01,
    # its interval including zero in every world: shared risk eases only providers in deficit,
    # while league tables and re-tendering keep the pressure on every one; (2) a composite measure
    # draws about as many false reports per case that misses it as a threshold does
    **{("goodhart", seed): {1, 2} for seed in SEEDS},
    # knowledge of effects rises under learning for every seed, but with 10 replicates its 95%
    # interval includes 0 for one of the five worlds
    ("knowledge", 3): {0},
    # at equal spend and against no service, the target-driven regime gains more per pound than
    # the learning-oriented one in the complex, uncontrollable corner too
    **{("contingency", seed): {1} for seed in SEEDS},
    # pooled learning, seeds 5-9 (docs/validation.md, "Pooling beats the asymptotic range at 120
    # months"): (a) and (c) hold in all five; (b) the slope of the last doubling's ratio on M is
    # steeper than -1 in all five (-1.01 to -1.31): pooling helps more
    # than the asymptotic rates say at this horizon
    **{("pooled", seed): {2} for seed in (5, 6, 7, 8, 9)},
    # competition: to be measured
}


def failed(check):
    return [f"{f.claim}: {f.effect()} ({f.rule})" for f in check.findings if not f.passed]


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", ["creaming", "goodhart", "knowledge", "contingency", "multitask",
                                  "competition"])
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
